"""The torch networks of the reward models: two towers, and the FT-Transformer.

Imported only when torch is installed and a torch reward model is fitted or
used (the estimators import this module lazily).

Both networks score a user and an action from separate encodings, so
scoring every user against every action costs one encoding per user and per
action, then a cheap combination per pair: a dot product for the two
towers, a small head (or an attention over the user's tokens) for the
FT-Transformer.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

__all__ = ["FTTransformerNet", "TwoTowerNet"]


class _MLP(nn.Module):
    """A ReLU perceptron with dropout before every hidden weight layer and, if asked, the first.

    Dropout before each weight layer (Gal and Ghahramani 2016) makes every
    layer's output vary with the sampled network; on the input too, the
    more so the larger the input, so that an input far from the training
    data gets a wider spread (``input_dropout``). In training, dropout draws
    a mask per row as usual.
    For Monte Carlo dropout a caller passes ``masks`` (one per weight layer,
    of the layer's input size): one sampled network, the same for every row,
    so that a row's prediction does not depend on the other rows of its
    batch.
    """

    def __init__(self, n_in, hidden_units, n_out, dropout, input_dropout=0.0):
        super().__init__()
        sizes = [n_in, *hidden_units, n_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.rates = [float(input_dropout)] + [float(dropout)] * len(hidden_units)

    def forward(self, x, masks=None):
        for i, (layer, rate) in enumerate(zip(self.layers, self.rates, strict=True)):
            if i:
                x = torch.relu(x)
            if masks is not None:
                x = x * masks[i]
            elif self.training and rate > 0:
                x = nn.functional.dropout(x, rate, training=True)
            x = layer(x)
        return x

    def last_input(self, x):
        """What enters the last layer, without dropout: the features it is linear in."""
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(torch.relu(x) if i else x)
        return torch.relu(x) if len(self.layers) > 1 else x

    def draw_masks(self, generator):
        """One network's dropout masks, each scaled by ``1 / (1 - rate)``."""
        dtype = self.layers[0].weight.dtype
        masks = []
        for layer, rate in zip(self.layers, self.rates, strict=True):
            u = torch.rand(layer.in_features, generator=generator)
            masks.append((u >= rate).to(dtype) / (1.0 - rate))
        return masks


class TwoTowerNet(nn.Module):
    """``logit = f(u) . g(a) + b(u) + c(a) + bias``: a user tower and an action tower.

    Parameters
    ----------
    n_user_features, n_action_features : int
    hidden_units : tuple of int, default=(64, 64)
        Hidden layers of the user tower.
    action_hidden_units : tuple of int, default=()
        Hidden layers of the action tower; none makes it linear. A log holds
        few distinct actions (a bank of tens), too few points for a
        nonlinear map of the action space to generalise to new actions.
    interaction_dim : int, default=16
        Length of the vectors whose dot product is the interaction.
    dropout : float, default=0.2
        Dropout after each hidden layer.
    input_dropout : float, default=0.0
        Dropout of the user features.
    action_input_dropout : float, default=0.0
        Dropout of the action's features. For Monte Carlo dropout, it makes
        the spread grow with an action's distance from the logged ones.
    """

    def __init__(
        self,
        n_user_features,
        n_action_features,
        hidden_units=(64, 64),
        action_hidden_units=(),
        interaction_dim=16,
        dropout=0.2,
        input_dropout=0.0,
        action_input_dropout=0.0,
    ):
        super().__init__()
        hidden_units = tuple(int(h) for h in hidden_units)
        action_hidden_units = tuple(int(h) for h in action_hidden_units)
        self.user_tower = _MLP(
            n_user_features, hidden_units, interaction_dim + 1, dropout, input_dropout
        )
        self.action_tower = _MLP(
            n_action_features,
            action_hidden_units,
            interaction_dim + 1,
            dropout,
            action_input_dropout,
        )
        self.bias = nn.Parameter(torch.zeros(()))

    def encode(self, U, A, masks=None):
        """The towers' outputs: (n_users, dim + 1) and (n_actions, dim + 1)."""
        user_masks, action_masks = masks if masks is not None else (None, None)
        return self.user_tower(U, user_masks), self.action_tower(A, action_masks)

    def forward(self, U, A, masks=None):
        fu, ga = self.encode(U, A, masks)
        return (fu[:, :-1] * ga[:, :-1]).sum(-1) + fu[:, -1] + ga[:, -1] + self.bias

    def matrix(self, U, A, masks=None):
        """Users x actions logits, by a matrix product."""
        fu, ga = self.encode(U, A, masks)
        return fu[:, :-1] @ ga[:, :-1].T + fu[:, -1:] + ga[:, -1][None, :] + self.bias

    def last_inputs(self, U, A):
        """The features the logit is bilinear in: what enters each tower's last layer."""
        return self.user_tower.last_input(U), self.action_tower.last_input(A)

    def draw_masks(self, generator):
        """One sampled network's dropout masks, for both towers."""
        return self.user_tower.draw_masks(generator), self.action_tower.draw_masks(generator)


class FTTransformerNet(nn.Module):
    """The FT-Transformer over user features, fused with an action encoding.

    Each user feature becomes a token (``x_j * w_j + b_j``, the feature
    tokenizer of Gorishniy et al. 2021), a learnt [CLS] token is prepended,
    and a pre-norm transformer encoder (torch's own) mixes them. The action's
    projected embedding goes through a small perceptron. ``fusion_type``
    joins the two: ``"concat"`` feeds the [CLS] output and the action
    encoding to a perceptron head; ``"attention"`` lets the action attend to
    the user's tokens and feeds the result, with the action encoding, to the
    head.

    Parameters
    ----------
    n_user_features, n_action_features : int
    d_token : int, default=32
    n_blocks : int, default=2
    n_heads : int, default=4
    dropout : float, default=0.1
    head_units : int, default=64
    fusion_type : {"concat", "attention"}, default="concat"
    """

    def __init__(
        self,
        n_user_features,
        n_action_features,
        d_token=32,
        n_blocks=2,
        n_heads=4,
        dropout=0.1,
        head_units=64,
        fusion_type="concat",
    ):
        super().__init__()
        if fusion_type not in ("concat", "attention"):
            raise TypeError(f"fusion_type must be 'concat' or 'attention', got {fusion_type!r}")
        self.fusion_type = fusion_type
        self.d_token = d_token
        bound = 1.0 / math.sqrt(d_token)
        self.token_weight = nn.Parameter(
            torch.empty(n_user_features, d_token).uniform_(-bound, bound)
        )
        self.token_bias = nn.Parameter(
            torch.empty(n_user_features, d_token).uniform_(-bound, bound)
        )
        self.cls = nn.Parameter(torch.empty(1, 1, d_token).uniform_(-bound, bound))
        layer = nn.TransformerEncoderLayer(
            d_token,
            n_heads,
            dim_feedforward=2 * d_token,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, n_blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_token)
        self.action = nn.Sequential(
            nn.Linear(max(n_action_features, 1), d_token), nn.ReLU(), nn.Linear(d_token, d_token)
        )
        self.n_action_features = n_action_features
        if fusion_type == "attention":
            self.query = nn.Linear(d_token, d_token)
            self.key = nn.Linear(d_token, d_token)
            self.value = nn.Linear(d_token, d_token)
        self.head_in = nn.Linear(2 * d_token, head_units)
        self.head_out = nn.Linear(head_units, 1)

    def encode_users(self, U):
        """The user's token outputs: (n_users, n_features + 1, d_token), [CLS] first."""
        tokens = U[:, :, None] * self.token_weight + self.token_bias
        tokens = torch.cat([self.cls.expand(len(U), -1, -1), tokens], dim=1)
        return self.norm(self.encoder(tokens))

    def encode_actions(self, A):
        if self.n_action_features == 0:
            A = torch.zeros(len(A), 1, dtype=A.dtype, device=A.device)
        return self.action(A)

    def _fused(self, tokens, actions):
        """Pairs (users x actions, or rows) of [user summary, action encoding] halves."""
        if self.fusion_type == "concat":
            return tokens[..., 0, :]
        # The action attends to the user's tokens.
        q = self.query(actions)
        k, v = self.key(tokens), self.value(tokens)
        weights = torch.softmax((k @ q[..., None])[..., 0] / math.sqrt(self.d_token), dim=-1)
        return (weights[..., None] * v).sum(-2)

    def forward(self, U, A):
        tokens, actions = self.encode_users(U), self.encode_actions(A)
        summary = self._fused(tokens, actions)
        hidden = torch.relu(self.head_in(torch.cat([summary, actions], dim=-1)))
        return self.head_out(hidden)[:, 0]

    def matrix(self, U, A, chunk_pairs=2**18):
        """Users x actions logits: each user and action encoded once, pairs in chunks."""
        tokens, actions = self.encode_users(U), self.encode_actions(A)
        n_users, n_actions = len(U), len(A)
        w_user = self.head_in.weight[:, : self.d_token]
        w_action = self.head_in.weight[:, self.d_token :]
        from_action = actions @ w_action.T + self.head_in.bias  # (n_actions, head)
        out = torch.empty(n_users, n_actions, dtype=actions.dtype)
        step = max(1, chunk_pairs // n_actions)
        for start in range(0, n_users, step):
            part = tokens[start : start + step]
            if self.fusion_type == "concat":
                from_user = (part[:, 0, :] @ w_user.T)[:, None, :]
            else:
                q = self.query(actions)  # (n_actions, d)
                k, v = self.key(part), self.value(part)  # (users, tokens, d)
                scores = torch.einsum("utd,ad->uat", k, q) / math.sqrt(self.d_token)
                context = torch.einsum("uat,utd->uad", torch.softmax(scores, dim=-1), v)
                from_user = context @ w_user.T
            hidden = torch.relu(from_user + from_action[None])
            out[start : start + len(part)] = self.head_out(hidden)[..., 0]
        return out
