"""Ridge models over users crossed with projected action embeddings: LinUCB's and the ensemble's.

The feature of user ``x`` and action ``a`` is ``z = x_aug kron phi(a)``:
one linear model shared by all actions through their embeddings, so what
is learnt carries over to actions never tried and survives bank changes.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import _BaseStrategy, one_blas_thread

__all__ = ["EXPLORATION_CONSTRAINT", "RIDGE_CONSTRAINT", "_CrossedStrategy"]


# Ridge penalties the crossed models accept. Users are standardised and
# action features scaled to unit root mean square, so the Gram matrix holds
# entries of the order of the observations; a penalty below 1e-6 no longer
# keeps it invertible in double precision (1e-300 left the ensemble's system
# singular, and LinUCB's inverse beyond the range of its scores).
RIDGE_CONSTRAINT = Interval(numbers.Real, 1e-6, None, closed="left")

# Exploration scales in reward units (rewards lie in [0, 1]): far beyond a
# few units exploration is all there is, and the cap keeps their squares
# and the scores finite.
EXPLORATION_CONSTRAINT = Interval(numbers.Real, 0, 1e6, closed="both")


# Users per action of a batch above which the per-action sums of x x^T are
# one product per action rather than sums of outer products (measured).
_GROUP_PRODUCT_ROWS = 150


# ------------------------------------------------------ crossed-feature ridge
@functools.cache
def _pairs_of(dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pairs ``i <= k`` of ``dx`` features, row by row."""
    return np.triu_indices(dx)


@functools.cache
def _pair_weights_of(dx: int) -> np.ndarray:
    """1 for the pairs ``i == k`` of :func:`_pairs_of`, 2 for the others (counted twice)."""
    rows, cols = _pairs_of(dx)
    return np.where(rows == cols, 1.0, 2.0)


def _pair_products(XT: np.ndarray) -> np.ndarray:
    """``x_i x_k`` for the pairs ``i <= k`` of each column: shape (..., n_pairs, n).

    ``XT`` has shape (..., d, n): users as columns, optionally in blocks.
    Row by row into one array: fancy-indexed temporaries of this size cost
    ten times more here (allocation, not arithmetic).
    """
    *lead, d, n = XT.shape
    out = np.empty((*lead, d * (d + 1) // 2, n), XT.dtype)
    row = 0
    for i in range(d):
        np.multiply(XT[..., i : i + 1, :], XT[..., i:, :], out=out[..., row : row + d - i, :])
        row += d - i
    return out


def _add_kron_gram(A: np.ndarray, S: np.ndarray, Phi: np.ndarray):
    """Add ``sum_a S[a, h] kron phi_a phi_a^T`` to ``A[h]`` for each head ``h``.

    ``S`` of shape (n_actions, n_heads, dx, dx) holds each action's
    (weighted) sums of ``x x^T``; ``Phi`` of shape (n_actions, dphi) the
    actions' features. The crossed feature ``z = x kron phi_a`` has ``z z^T
    = (x x^T) kron (phi_a phi_a^T)``, so a batch's Gram matrix is one
    product over the actions, not one outer product per user.
    """
    n_actions, n_heads, dx, _ = S.shape
    dphi = Phi.shape[1]
    PP = (Phi[:, :, None] * Phi[:, None, :]).reshape(n_actions, dphi * dphi)
    T = (S.reshape(n_actions, -1).T @ PP).reshape(n_heads, dx, dx, dphi, dphi)
    # A[h] seen as (i, j, k, l) with z = (i, j): block (i, k) gets T[h, i, k].
    A5 = A.reshape(n_heads, dx, dphi, dx, dphi)
    A5 += T.transpose(0, 1, 3, 2, 4)


class _CrossedStrategy(_BaseStrategy):
    """Ridge models over users crossed with projected action embeddings.

    The feature of user ``x`` and action ``a`` is ``z = x_aug kron phi(a)``
    with ``x_aug = [1, standardised x]`` and ``phi(a) = [1, projection of
    a's embedding]``: one linear model shared by all actions, through their
    embeddings, so what is learnt carries over to actions never tried and
    survives bank changes. The projection is a PCA fitted on the first bank
    (or refitted on every embedding seen, when asked). Each action's
    statistics ``sum x x^T`` and ``sum r x`` are kept by id (per head, for
    ensembles), so the shared ridge statistics can be rebuilt exactly after
    a refit of the projection.
    """

    @property
    def coef_(self) -> np.ndarray:
        """Ridge coefficients over the crossed features, (user, action) blocks."""
        if not hasattr(self, "_A"):
            raise AttributeError("coef_: the strategy has not seen users yet.")
        self._refresh()
        return self._coef

    # Heads of the model and, when bootstrapped, their weights per row.
    def _n_heads(self) -> int:
        return 1

    def _bootstrap_weights(self, start: int, n: int) -> np.ndarray | None:
        return None

    @one_blas_thread
    def set_bank(self, actions, *, refit_pca: bool = False):
        """Make ``actions`` the bank that decisions choose from.

        Actions are remembered by id: one seen before keeps what was learnt
        about it (its statistics, and through the shared model, the
        estimate of its reward), and must come with the same embedding.

        Parameters
        ----------
        actions : ActionBank or tuple (action_ids, embeddings)
            Distinct integer ids of shape (n_actions,) and embeddings of
            shape (n_actions, n_embedding_features).
        refit_pca : bool, default=False
            Refit the projection of the embeddings (PCA) on every embedding
            seen so far, this bank's included, and rebuild the model's
            statistics in the new coordinates from the per-action memory.
            By default the projection fitted on the first bank is kept, so
            the model's coordinates do not move when the bank changes.

        Returns
        -------
        self : estimator
        """
        self._set_bank(actions, refit=refit_pca)
        return self

    # -------------------------------------------------------- projection
    def _on_first_bank(self, embeddings):
        self._ridge = float(self.ridge)
        self._heads = self._n_heads()
        self._fit_projection(embeddings)
        self._add_memory("_phi_mem", (self.n_action_features_,))

    def _fit_projection(self, embeddings):
        if self.use_pca:
            n, d = embeddings.shape
            k = min(self.pca_components, n - 1, d)
            mean = embeddings.mean(axis=0)
            _, _, vt = np.linalg.svd(embeddings - mean, full_matrices=False)
            components = vt[:k]
            # Deterministic signs: each component's largest loading positive.
            rows = np.arange(k)
            signs = np.sign(components[rows, np.argmax(np.abs(components), axis=1)])
            components = components * np.where(signs == 0, 1.0, signs)[:, None]
            projected = (embeddings - mean) @ components.T
            rms = float(np.sqrt(np.mean(projected**2))) if k else 0.0
            self.pca_mean_ = mean
            self.pca_components_ = components
            self.embedding_scale_ = rms if rms > 0 else 1.0
            self.n_action_features_ = k + 1
        else:
            self.pca_mean_ = None
            self.pca_components_ = None
            self.embedding_scale_ = 1.0
            self.n_action_features_ = embeddings.shape[1] + 1

    def _phi(self, embeddings: np.ndarray) -> np.ndarray:
        out = np.empty((embeddings.shape[0], self.n_action_features_))
        out[:, 0] = 1.0
        if self.pca_components_ is None:
            out[:, 1:] = embeddings
        else:
            out[:, 1:] = (embeddings - self.pca_mean_) @ self.pca_components_.T
            out[:, 1:] /= self.embedding_scale_
        return out

    def _on_new_slots(self, slots):
        self._phi_mem[slots] = self._phi(self._emb[slots])

    def _on_bank(self):
        self._bank_phi = self._phi_mem[self._bank_slots]
        self._dirty = True

    def _refit(self, embeddings):
        n = self._n_slots
        self._fit_projection(self._emb[:n])
        capacity = len(self._ids)
        self._phi_mem = np.zeros((capacity, self.n_action_features_))
        self._phi_mem[:n] = self._phi(self._emb[:n])
        if hasattr(self, "n_features_in_"):
            self._init_model()
            self._add_stats(self._xx[:n], self._xr[:n], self._phi_mem[:n])
            self._model_rebuilt()

    # ------------------------------------------------------------- model
    def _on_users(self):
        dx = self.n_features_in_ + 1
        self._add_memory("_xx", (self._heads, dx, dx))
        self._add_memory("_xr", (self._heads, dx))
        self._init_model()
        self._model_rebuilt()

    def _init_model(self):
        dx, dphi = self.n_features_in_ + 1, self.n_action_features_
        d = dx * dphi
        self._A = np.tile(self._ridge * np.eye(d), (self._heads, 1, 1))
        self._b = np.zeros((self._heads, d))
        self._pairs = _pairs_of(dx)
        self._pair_weights = _pair_weights_of(dx)[:, None]
        self._dirty = True

    def _model_rebuilt(self):
        """The ridge statistics were rebuilt: derived quantities are stale."""

    def _add_stats(self, S, R, Phi):
        """Add per-action sums ``S`` of x x^T (n, heads, dx, dx) and ``R`` of r x (n, heads, dx)."""
        _add_kron_gram(self._A, S, Phi)
        self._b += np.matmul(R.transpose(1, 2, 0), Phi).reshape(self._b.shape)
        self._dirty = True

    def _learn(self, X, slots, rewards, start):
        m, dx = X.shape[0], X.shape[1] + 1
        # A radix sort when the ids fit 16 bits (the usual case).
        keys = slots.astype(np.int16) if self._n_slots < 2**15 else slots
        order = np.argsort(keys, kind="stable")
        counts = np.bincount(slots)
        groups = np.flatnonzero(counts)
        sizes = counts[groups]
        starts = np.cumsum(sizes) - sizes
        # [1, standardised x, r] of the users as columns, grouped by action:
        # the sums of their pairwise products hold both sum x x^T and sum r x.
        # (np.take: fancy indexing of rows costs several times more here.)
        YT = np.empty((dx + 1, m))
        YT[0] = 1.0
        self._standardise_into(np.take(X, order, axis=0).T, YT[1:dx])
        np.take(rewards, order, out=YT[dx])
        weights = self._bootstrap_weights(start, m)
        if weights is None and m >= _GROUP_PRODUCT_ROWS * groups.size:
            # Many users per action: one small product per action is cheaper
            # than every user's pairwise products and their sums.
            G = np.empty((groups.size, 1, dx + 1, dx + 1))
            for g, (lo, hi) in enumerate(zip(starts, starts + sizes, strict=True)):
                np.matmul(YT[:, lo:hi], YT[:, lo:hi].T, out=G[g, 0])
        else:
            rows, cols = _pairs_of(dx + 1)
            pairs = _pair_products(YT)
            if weights is None:
                sums = np.add.reduceat(pairs, starts, axis=1).T[:, None, :]
            else:
                w = np.take(weights, order, axis=0).T[:, None, :]  # (heads, 1, m)
                sums = np.add.reduceat(w * pairs, starts, axis=2).transpose(2, 0, 1)
            G = np.empty((groups.size, sums.shape[1], dx + 1, dx + 1))
            G[..., rows, cols] = sums
            G[..., cols, rows] = sums
        S, R = G[..., :dx, :dx], G[..., :dx, dx]
        self._xx[groups] += S
        self._xr[groups] += R
        self._add_stats(S, R, self._phi_mem[groups])
        self._after_learn(YT[:dx].T, np.take(slots, order))

    def _after_learn(self, Xa, slots):
        """Hook: users ``Xa`` (rows [1, standardised x]) who got ``slots`` were learnt from."""
