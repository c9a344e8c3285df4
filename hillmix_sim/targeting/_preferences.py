"""Ground-truth preferences: the true click probability of every user and action.

A ground truth is a fixed function P(click | user, action) of the user's
features and the action's embedding, drawn once in ``fit``. Embeddings are
first mapped into a small latent action space (centred, projected on the
principal directions of a reference bank and whitened), so embedders of any
dimension and scale give comparable truths, and an action proposed later
lands in the same space as the ones seen at fit time.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from hillmix.utils import check_generator, estimator_from_name

from ._users import user_matrix

__all__ = [
    "GROUND_TRUTHS",
    "GMMPreference",
    "LinearPreference",
    "MixtureOfExpertsPreference",
    "make_ground_truth",
]

# Principal directions of the reference embeddings with less spread than
# this fraction of the largest are not spanned by the bank.
_SPAN_RTOL = 1e-6


def _embeddings_of(actions) -> np.ndarray:
    embeddings = getattr(actions, "embeddings", actions)
    E = np.asarray(embeddings, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] == 0:
        raise ValueError(
            "actions must be an ActionBank or a 2-D array of embeddings with at least one row, "
            f"got shape {E.shape}."
        )
    if not np.all(np.isfinite(E)):
        raise ValueError("action embeddings contain NaN or infinite values.")
    return E


def _unit_rows(E):
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(norms > 0, norms, 1.0)


class _PreferenceBase(BaseEstimator):
    """Shared fit and scoring; subclasses draw parameters and score latents."""

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "min_utility": [Interval(Real, 0, 1, closed="both")],
        "max_utility": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state", np.random.Generator],
    }

    def fit(self, X, y=None, *, action_embeddings=None):
        """Draw the ground truth.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_users, n_features)
            A population of users: a frame with the user features (see
            :func:`hillmix_sim.user_matrix`), or an already standardised
            matrix. Sets the feature dimension and calibrates the scale of
            the utilities.
        y : None
            Ignored.
        action_embeddings : ActionBank or array-like of shape (n_actions, dim), optional
            A reference bank: fixes the embedding dimension and the latent
            action space. Without it, ``embedding_dim`` is used and the latent
            space is a random projection.

        Returns
        -------
        self
        """
        self._validate_params()
        if self.min_utility >= self.max_utility:
            raise ValueError(
                f"min_utility ({self.min_utility}) must be below max_utility ({self.max_utility})."
            )
        Z = self._users(X, reset=True)
        rng = check_generator(self.random_state)
        space_rng, truth_rng = rng.spawn(2)
        reference = None if action_embeddings is None else _embeddings_of(action_embeddings)
        dim = self.embedding_dim if reference is None else reference.shape[1]
        self._fit_action_space(reference, dim, space_rng)
        if reference is None:
            latent = space_rng.standard_normal((64, self.latent_dim))
        else:
            latent = self._latent(reference)
        self._draw(Z.shape[1], latent, truth_rng)
        raw = self._utility(Z, latent)
        self.utility_mean_ = float(np.mean(raw))
        self.utility_scale_ = float(np.std(raw)) or 1.0
        return self

    def click_probability(self, X_users, actions) -> np.ndarray:
        """True click probability of every user for every action.

        Parameters
        ----------
        X_users : pandas.DataFrame or array-like of shape (n_users, n_features)
        actions : ActionBank or array-like of shape (n_actions, embedding_dim)

        Returns
        -------
        P : ndarray of shape (n_users, n_actions)
            In ``[min_utility, max_utility]``.
        """
        check_is_fitted(self, "utility_scale_")
        Z = self._users(X_users, reset=False)
        E = _embeddings_of(actions)
        if E.shape[1] != self.embedding_dim_:
            raise ValueError(
                f"actions have embeddings of dimension {E.shape[1]}; this ground truth was "
                f"fitted on dimension {self.embedding_dim_}."
            )
        u = (self._utility(Z, self._latent(E)) - self.utility_mean_) / self.utility_scale_
        return self._probability(u)

    def _users(self, X, reset):
        if isinstance(X, pd.DataFrame) and "age" in X.columns:
            Z = user_matrix(X)
            if reset:
                self.n_features_in_ = Z.shape[1]
            elif Z.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X_users has {Z.shape[1]} features; fitted on {self.n_features_in_}."
                )
            return Z
        return validate_data(self, X, reset=reset, dtype=np.float64)

    def _fit_action_space(self, reference, dim, rng):
        self.embedding_dim_ = int(dim)
        k = self.latent_dim
        if reference is not None and len(reference) > 2 * k:
            unit = _unit_rows(reference)
            self.action_mean_ = unit.mean(axis=0)
            _, s, Vt = np.linalg.svd(unit - self.action_mean_, full_matrices=False)
            scale = s[:k] / np.sqrt(len(unit) - 1)
            # Directions the reference barely spans (repeated embeddings) are
            # rounding noise: whitening them would blow distances up by 1e16.
            rank = int(np.sum(scale > _SPAN_RTOL * scale[0])) if scale.size else 0
            self.action_projection_ = Vt[:rank].T / scale[:rank]
            if self.action_projection_.shape[1] < k:  # fewer dimensions than latents
                extra = rng.standard_normal((dim, k - self.action_projection_.shape[1]))
                self.action_projection_ = np.hstack([self.action_projection_, extra])
        else:
            # A random projection: a unit vector maps to standard normal latents.
            self.action_mean_ = np.zeros(dim)
            self.action_projection_ = rng.standard_normal((dim, k))
            if reference is not None:
                spread = np.std(_unit_rows(reference) @ self.action_projection_, axis=0)
                self.action_projection_ /= np.where(spread > 0, spread, 1.0)

    def _latent(self, E):
        return (_unit_rows(E) - self.action_mean_) @ self.action_projection_

    def _probability(self, u):
        # A logistic link: standardised utility 0 gives a click rate a quarter
        # of the way up the range, so good actions stand out from the bulk.
        low, high = self.min_utility, self.max_utility
        return low + (high - low) / (1.0 + np.exp(-(2.0 * u - 1.0)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags


class MixtureOfExpertsPreference(_PreferenceBase):
    """Ground truth from a mixture of experts.

    A softmax gate on the user's features weighs ``n_experts`` experts; each
    expert's preferred direction in the latent action space moves with the
    user's features. So users in different parts of feature space like
    different actions, smoothly.

    Parameters
    ----------
    n_experts : int, default=4
    latent_dim : int, default=8
        Dimension of the latent action space.
    embedding_dim : int, default=16
        Embedding dimension when ``fit`` is given no reference bank.
    min_utility, max_utility : float, default=0.01, 0.3
        Range of the click probability.
    random_state : int, numpy.random.Generator or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_sim import MixtureOfExpertsPreference, UserGenerator
    >>> users = UserGenerator(random_state=0).fit().generate(100)
    >>> bank = np.random.default_rng(0).normal(size=(30, 16))
    >>> truth = MixtureOfExpertsPreference(random_state=0).fit(users, action_embeddings=bank)
    >>> P = truth.click_probability(users, bank)
    >>> P.shape, bool(P.min() >= 0.01 and P.max() <= 0.3)
    ((100, 30), True)
    """

    _parameter_constraints: dict = {
        **_PreferenceBase._parameter_constraints,
        "n_experts": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_experts: int = 4,
        latent_dim: int = 8,
        embedding_dim: int = 16,
        min_utility: float = 0.01,
        max_utility: float = 0.3,
        random_state=None,
    ):
        self.n_experts = n_experts
        self.latent_dim = latent_dim
        self.embedding_dim = embedding_dim
        self.min_utility = min_utility
        self.max_utility = max_utility
        self.random_state = random_state

    def _draw(self, n_features, latent, rng):
        E, k = self.n_experts, self.latent_dim
        self.gate_weights_ = rng.standard_normal((n_features, E)) * (2.0 / np.sqrt(n_features))
        self.expert_centres_ = rng.standard_normal((E, k))
        self.expert_slopes_ = rng.standard_normal((E, n_features, k)) / np.sqrt(n_features)

    def _utility(self, Z, latent):
        logits = Z @ self.gate_weights_
        gate = np.exp(logits - logits.max(axis=1, keepdims=True))
        gate /= gate.sum(axis=1, keepdims=True)
        # Preferred direction of each user under each expert: (users, experts, latent).
        direction = self.expert_centres_[None] + np.einsum("up,epk->uek", Z, self.expert_slopes_)
        preferred = np.einsum("ue,uek->uk", gate, direction)
        return preferred @ latent.T / np.sqrt(self.latent_dim)


class GMMPreference(_PreferenceBase):
    """Ground truth from Gaussian mixtures over users and actions.

    Users fall softly into ``n_components`` segments (a Gaussian mixture in
    feature space); each segment has an ideal point in the latent action
    space, and an action's appeal to a segment decays with its distance from
    that point (a Gaussian kernel whose width is ``density_scale_factor``
    times half the typical distance). A user's click probability mixes the
    segments by the user's membership.

    Parameters
    ----------
    n_components : int, default=5
    density_scale_factor : float, default=1.0
        Widens (>1) or narrows (<1) each segment's band of liked actions.
    latent_dim : int, default=8
    embedding_dim : int, default=16
    min_utility, max_utility : float, default=0.01, 0.3
    random_state : int, numpy.random.Generator or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_sim import GMMPreference, UserGenerator
    >>> users = UserGenerator(random_state=0).fit().generate(100)
    >>> bank = np.random.default_rng(0).normal(size=(30, 16))
    >>> truth = GMMPreference(n_components=3, random_state=0)
    >>> truth.fit(users, action_embeddings=bank).click_probability(users, bank).shape
    (100, 30)
    """

    _parameter_constraints: dict = {
        **_PreferenceBase._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "density_scale_factor": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        n_components: int = 5,
        density_scale_factor: float = 1.0,
        latent_dim: int = 8,
        embedding_dim: int = 16,
        min_utility: float = 0.01,
        max_utility: float = 0.3,
        random_state=None,
    ):
        self.n_components = n_components
        self.density_scale_factor = density_scale_factor
        self.latent_dim = latent_dim
        self.embedding_dim = embedding_dim
        self.min_utility = min_utility
        self.max_utility = max_utility
        self.random_state = random_state

    def _draw(self, n_features, latent, rng):
        K = self.n_components
        self.segment_means_ = rng.normal(0.0, 1.0, size=(K, n_features))
        self.segment_log_weights_ = np.log(rng.dirichlet(np.full(K, 2.0)))
        # Ideal points near actions of the reference bank, so some actions
        # are close to what each segment wants.
        anchors = latent[rng.integers(len(latent), size=K)]
        self.ideal_points_ = anchors + rng.normal(0.0, 0.5, size=anchors.shape)
        distance = np.linalg.norm(latent[:, None] - self.ideal_points_[None], axis=-1)
        self.bandwidth_ = self.density_scale_factor * 0.5 * float(np.median(distance))

    def _membership(self, Z):
        logits = -0.5 * ((Z[:, None] - self.segment_means_[None]) ** 2).sum(-1)
        logits = logits + self.segment_log_weights_
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        return w / w.sum(axis=1, keepdims=True)

    def _utility(self, Z, latent):
        sq = ((latent[:, None] - self.ideal_points_[None]) ** 2).sum(-1)
        appeal = np.exp(-sq / (2.0 * self.bandwidth_**2))  # (actions, segments)
        return self._membership(Z) @ appeal.T

    def _probability(self, u):
        # The kernel mixture is already in [0, 1]; undo the standardisation
        # and map it onto the range linearly.
        raw = u * self.utility_scale_ + self.utility_mean_
        return self.min_utility + (self.max_utility - self.min_utility) * np.clip(raw, 0, 1)


class LinearPreference(_PreferenceBase):
    """A linear ground truth: click probability linear in user x action features.

    ``P = mid + half * (u - m) / (3 s)`` with ``u = [1, z]^T Theta [1, a]``,
    clipped to ``[min_utility, max_utility]``, where z are the standardised
    user features, a the latent action, and m and s the mean and standard
    deviation of u over the fitting population and bank (so clipping is
    rare). A linear contextual
    bandit on crossed features is well specified here, which makes it the
    truth for regret tests.

    Parameters
    ----------
    latent_dim : int, default=8
    embedding_dim : int, default=16
    min_utility, max_utility : float, default=0.01, 0.3
    random_state : int, numpy.random.Generator or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_sim import LinearPreference
    >>> X = np.random.default_rng(0).normal(size=(50, 8))
    >>> truth = LinearPreference(random_state=0).fit(X)
    >>> truth.click_probability(X, np.eye(16)[:4]).shape
    (50, 4)
    """

    def __init__(
        self,
        *,
        latent_dim: int = 8,
        embedding_dim: int = 16,
        min_utility: float = 0.01,
        max_utility: float = 0.3,
        random_state=None,
    ):
        self.latent_dim = latent_dim
        self.embedding_dim = embedding_dim
        self.min_utility = min_utility
        self.max_utility = max_utility
        self.random_state = random_state

    def _draw(self, n_features, latent, rng):
        self.theta_ = rng.standard_normal((n_features + 1, self.latent_dim + 1))

    def _utility(self, Z, latent):
        Zb = np.hstack([np.ones((len(Z), 1)), Z])
        Ab = np.hstack([np.ones((len(latent), 1)), latent])
        return Zb @ self.theta_ @ Ab.T

    def _probability(self, u):
        mid = 0.5 * (self.min_utility + self.max_utility)
        half = 0.5 * (self.max_utility - self.min_utility)
        return np.clip(mid + half * u / 3.0, self.min_utility, self.max_utility)


GROUND_TRUTHS = {
    "mixture_of_experts": MixtureOfExpertsPreference,
    "gmm": GMMPreference,
    "linear": LinearPreference,
}


def make_ground_truth(name: str, **params) -> _PreferenceBase:
    """A ground truth by name, as the command line and configuration files give it.

    Parameters
    ----------
    name : {"mixture_of_experts", "gmm", "linear"}
    **params
        Constructor parameters of that class.

    Returns
    -------
    ground_truth : estimator
        Unfitted.

    Examples
    --------
    >>> from hillmix_sim import make_ground_truth
    >>> make_ground_truth("gmm", n_components=3)
    GMMPreference(n_components=3)
    """
    return estimator_from_name(GROUND_TRUTHS, name, "ground truth", **params)
