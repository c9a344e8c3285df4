"""BootstrapEnsembleStrategy: Thompson-style exploration from bootstrapped ridge heads."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import special, stats
from sklearn.utils._param_validation import Interval, StrOptions

from hillmix._random import uniforms

from ._base import (
    BOOTSTRAP_STREAM,
    PRIOR_STREAM,
    counter_uniforms,
    stream_base,
    unscale,
)
from ._crossed import EXPLORATION_CONSTRAINT, RIDGE_CONSTRAINT, _CrossedStrategy
from ._policies import POLICY_CONSTRAINTS

__all__ = ["BootstrapEnsembleStrategy"]

# Poisson(1) bootstrap weights by inverse CDF; the tail past 20 has mass < 1e-19.
_POISSON_CDF = stats.poisson(1.0).cdf(np.arange(20))


class BootstrapEnsembleStrategy(_CrossedStrategy):
    """An ensemble of bootstrapped ridge heads: Thompson-style exploration.

    The role of a bootstrapped DQN in a contextual bandit: ``n_heads``
    linear models over the same crossed features as
    :class:`LinUCBStrategy` (``z(x, a) = x_aug kron phi(a)``), each fitted
    on its own bootstrap of the stream (every observation gets a Poisson(1)
    or double-or-nothing weight per head) and pulled towards its own random
    prior, ``theta_h = (ridge * I + sum w z z^T)^{-1} (sum w r z + ridge *
    theta0_h)`` with ``theta0_h ~ N(0, prior_scale^2 / dim(z))`` (so a
    head's prior score has standard deviation about ``prior_scale``). The
    spread of the heads stands for the posterior: where they disagree, they
    explore.

    Each decision draws a head uniformly and acts on its estimates; the
    logged propensity is the exact probability of that two-stage draw: the
    mean over heads of each head's rule, epsilon-greedy (``1 - epsilon`` on
    the head's best action, shared between exact ties, plus ``epsilon /
    n_actions`` on every action) or a softmax with ``temperature``. With
    epsilon-greedy it is ``epsilon / n_actions + (1 - epsilon)`` times the
    fraction of heads whose best action is the chosen one.

    Parameters set with ``set_params`` between batches are validated at
    the next call, which an invalid value refuses until it is set right.
    ``policy``, ``epsilon``, ``temperature`` and ``bootstrap`` act from that
    call on; the others shape the model and act at the next :meth:`fit`
    (``use_pca``, ``pca_components`` and ``prior_scale`` also at ``set_bank(..., refit_pca=True)``).

    Parameters
    ----------
    n_heads : int, default=10
        Models in the ensemble.
    bootstrap : {"poisson", "bernoulli"}, default="poisson"
        Weight of each observation in each head: Poisson(1), or 0 or 2 with
        equal probability.
    prior_scale : float, default=0.1
        Standard deviation of a head's prior score, in reward units, in [0,
        1e6]; 0 starts every head at zero (ties everywhere until data
        arrive).
    ridge : float, default=1.0
        Weight of the prior: the ridge penalty towards ``theta0_h``; at
        least 1e-6 (see :class:`LinUCBStrategy`).
    use_pca : bool, default=True
        Project embeddings on their principal components (see
        :class:`LinUCBStrategy`).
    pca_components : int, default=16
    policy : {"epsilon_greedy", "softmax"}, default="epsilon_greedy"
        Each head's rule.
    epsilon : float, default=0.05
    temperature : float, default=0.1
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the priors, the bootstrap weights (a counter-based stream
        indexed by observation, so they do not depend on how the stream is
        batched) and the decisions.

    Attributes
    ----------
    classes_ : ndarray of int64 of shape (n_actions,)
    coef_ : ndarray of shape (n_heads, n_features_in + 1, n_action_features)
        Each head's estimate as a matrix.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    user_mean_, user_scale_ : ndarray of shape (n_features_in,)
    n_embedding_features_, n_action_features_ : int
    pca_mean_, pca_components_, embedding_scale_
        The projection of embeddings, as in :class:`LinUCBStrategy`.
    n_decisions_, n_observations_ : int

    See Also
    --------
    LinUCBStrategy : Optimism instead of sampling.
    RandomStrategy : The uniform baseline.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BootstrapEnsembleStrategy
    >>> rng = np.random.default_rng(0)
    >>> bank = (np.arange(5), rng.normal(size=(5, 12)))
    >>> strategy = BootstrapEnsembleStrategy(n_heads=4, pca_components=3, random_state=0)
    >>> users = rng.normal(size=(3, 8))
    >>> proba = strategy.set_bank(bank).predict_proba(users)
    >>> proba.round(2)
    array([[0.25, 0.48, 0.01, 0.01, 0.25],
           [0.25, 0.25, 0.01, 0.48, 0.01],
           [0.01, 0.48, 0.01, 0.48, 0.01]])

    Before any data the heads disagree through their priors alone: for the
    first user, two of the four heads prefer action 1, one action 0 and one
    action 4.

    >>> ids, propensities = strategy.decide(users)
    >>> strategy.partial_fit(users, ids, [0.0, 1.0, 0.0]).coef_.shape
    (4, 9, 4)
    """

    _parameter_constraints: dict = {
        **_CrossedStrategy._parameter_constraints,
        **POLICY_CONSTRAINTS,
        "n_heads": [Interval(numbers.Integral, 1, None, closed="left")],
        "bootstrap": [StrOptions({"poisson", "bernoulli"})],
        "prior_scale": [EXPLORATION_CONSTRAINT],
        "ridge": [RIDGE_CONSTRAINT],
        "use_pca": ["boolean"],
        "pca_components": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_heads: int = 10,
        bootstrap: str = "poisson",
        prior_scale: float = 0.1,
        ridge: float = 1.0,
        use_pca: bool = True,
        pca_components: int = 16,
        policy: str = "epsilon_greedy",
        epsilon: float = 0.05,
        temperature: float = 0.1,
        random_state=None,
    ):
        self.n_heads = n_heads
        self.bootstrap = bootstrap
        self.prior_scale = prior_scale
        self.ridge = ridge
        self.use_pca = use_pca
        self.pca_components = pca_components
        self.policy = policy
        self.epsilon = epsilon
        self.temperature = temperature
        self.random_state = random_state

    def _n_heads(self):
        return int(self.n_heads)

    def _bootstrap_weights(self, start, n):
        heads = self._heads
        u = counter_uniforms(self._seed, BOOTSTRAP_STREAM, start * heads, n * heads)
        u = u.reshape(n, heads)
        if self.bootstrap == "bernoulli":
            return np.where(u < 0.5, 2.0, 0.0)
        return np.searchsorted(_POISSON_CDF, u, side="right").astype(np.float64)

    def _model_rebuilt(self):
        # A new projection (or the first users) fixes the model's dimension;
        # each one gets its own prior draws.
        self._n_priors = getattr(self, "_n_priors", -1) + 1
        d = self._A.shape[1]
        # Normal quantiles of uniforms strictly inside (0, 1): finite.
        base = stream_base(self._seed, PRIOR_STREAM + 2 * self._n_priors)
        draws = special.ndtri(uniforms(base, np.arange(self._heads * d))).reshape(self._heads, d)
        self._prior = draws * (float(self.prior_scale) / np.sqrt(d))

    def _refresh(self):
        if not self._dirty:
            return
        dx, dphi = self.n_features_in_ + 1, self.n_action_features_
        rhs = self._b + self._ridge * self._prior
        theta = np.linalg.solve(self._A, rhs[:, :, None])[:, :, 0]
        coef = theta.reshape(self._heads, dx, dphi)
        # W[i, h * K + a] = (coef_h phi_a)_i: one product scores every head.
        W = np.einsum("hij,aj->iha", coef, self._bank_phi).reshape(dx, -1)
        self._coef = coef
        self._W = np.ascontiguousarray(W)
        self._dirty = False

    def _scaled_scores(self, X, start):
        self._refresh()
        out, exponents = self._linear_scores(self._W.T, X, start)
        # (n, heads * actions) -> (n, heads, actions)
        return out.reshape(X.shape[0], self._heads, self.classes_.size), exponents

    def _scores(self, X, start):
        return unscale(*self._scaled_scores(X, start))

    def _expected(self, X, start):
        return self._scores(X, start).mean(axis=1)
