"""LinUCBStrategy: upper confidence bounds of one ridge model over users crossed with actions."""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
from scipy.linalg import lapack
from sklearn.utils._param_validation import Interval

from ._base import _ROW_BLOCK, SCORE_RANGE, aligned_blocks, unscale
from ._crossed import (
    EXPLORATION_CONSTRAINT,
    RIDGE_CONSTRAINT,
    _CrossedStrategy,
    _pair_products,
    _pair_weights_of,
    _pairs_of,
)
from ._policies import POLICY_CONSTRAINTS, epsilon_greedy_draw

__all__ = ["LinUCBStrategy"]

# Largest relative rounding error of a width that single-precision scoring
# may carry (a bound; the typical error is about a hundred times smaller).
_WIDTH_RTOL = 1e-3
_FLOAT32_ROUNDOFF = float(np.finfo(np.float32).eps) / 2

# Single precision scores users whose standardised features reach at least
# this without overflow, or the model scores in double precision: users
# beyond the limit are scored again in double, which ordinary users should
# not need.
_FLOAT32_MIN_USER_LIMIT = 2.0**16

# A batch of at most this fraction of the model's dimension updates the
# inverse by Woodbury's identity; a larger one refactorises (cheaper then).
_WOODBURY_FRACTION = 0.25


def _spd_inverse(A: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix through its Cholesky factor."""
    factor, info = lapack.dpotrf(A, lower=False, clean=True)
    if info == 0:
        # The upper triangle of the inverse; the lower one stays zero.
        inverse, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:  # not positive definite to working precision
        return np.linalg.pinv(A, hermitian=True)
    inverse += inverse.T
    diagonal = np.arange(inverse.shape[0])
    inverse[diagonal, diagonal] *= 0.5
    return inverse


def _single_precision_suffices(W_width: np.ndarray) -> bool:
    """Whether every width ``x^T G_a x`` keeps its rounding in single precision small.

    The width of action ``a`` is a sum of ``n_pairs`` terms ``W[a, p] x_i
    x_k``; in single precision (unit roundoff ``u``) its error is at most
    about ``(n_pairs + 3) u |x|^T |G_a| |x|``, and relative to the width at
    most that factor times ``kappa_a = || |G_a| ||_2 / lambda_min(G_a)``.
    Well-explored models keep ``kappa`` in the tens; features collinear with
    each other or with the intercept (one-hot columns) make ``G_a`` huge in
    directions users never take, and cancellation then swamps the width.
    Single precision is used while ``lambda_min(G_a) > r_a (n_pairs + 3) u /
    _WIDTH_RTOL`` for every action, ``r_a`` the largest absolute row sum of
    ``G_a`` (which bounds ``|| |G_a| ||_2`` for a symmetric matrix, and equals
    it for a diagonal one), checked by a Cholesky factorisation of ``G_a``
    minus that bound.
    """
    if not np.all(np.isfinite(W_width)):
        return False  # scores are then not finite either way; double shows it no better
    n_actions, n_pairs = W_width.shape
    dx = _n_features_of(n_pairs)
    # Off-diagonal pairs carry their entry twice in W; the upper triangle
    # then fills the whole matrix through the pair index of each (i, k).
    G = np.take(W_width / _pair_weights_of(dx), _pair_index(dx), axis=1)
    G = G.reshape(n_actions, dx, dx)
    row_sums = np.abs(G).sum(axis=2).max(axis=1)
    diagonal = G.reshape(n_actions, dx * dx)[:, :: dx + 1]
    diagonal -= (row_sums * ((n_pairs + 3) * _FLOAT32_ROUNDOFF / _WIDTH_RTOL))[:, None]
    try:
        np.linalg.cholesky(G)
    except np.linalg.LinAlgError:
        return False
    return True


def _user_limit(W_width: np.ndarray, W_mean: np.ndarray, dtype) -> float:
    """The largest entry of ``x_aug`` whose UCBs stay finite in ``dtype``, with a margin.

    The width of action ``a`` sums ``W_width[a, p]`` times pairwise products
    of ``x_aug`` (each at most ``m**2`` for entries up to ``m``), its mean
    ``W_mean[a, i]`` times entries: both stay below the range while
    ``m**2 max_a sum_p |W_width[a, p]|`` and ``m max_a sum_i |W_mean[a, i]|``
    do, and so does every partial sum.
    """
    room = float(np.finfo(dtype).max) / SCORE_RANGE
    width = max(1.0, float(np.abs(W_width).sum(axis=1).max()))
    mean = max(1.0, float(np.abs(W_mean).sum(axis=1).max()))
    if not math.isfinite(width + mean):
        return math.inf  # a model that no scaling of users can help
    return min(math.sqrt(room / width), room / mean)


def _n_features_of(n_pairs: int) -> int:
    return (math.isqrt(8 * n_pairs + 1) - 1) // 2


@functools.cache
def _pair_index(dx: int) -> np.ndarray:
    """For each entry (i, k) of a dx x dx matrix, the index of the pair min(i, k) <= max(i, k)."""
    index = np.empty((dx, dx), dtype=np.intp)
    rows, cols = _pairs_of(dx)
    index[rows, cols] = np.arange(rows.size)
    index[cols, rows] = np.arange(rows.size)
    return index.ravel()


def linucb_scores(
    X_aug: np.ndarray, phi: np.ndarray, coef: np.ndarray, A_inv: np.ndarray, alpha: float
) -> np.ndarray:
    """Upper confidence bounds of every user for every action (the reference maths).

    ``score[n, a] = z^T theta + alpha * sqrt(z^T A^{-1} z)`` with
    ``z = X_aug[n] kron phi[a]`` and ``theta = coef.ravel()``. The strategy
    computes the same numbers through per-action quadratic forms in the
    user features, without forming ``z``, in single precision when that
    keeps a width's rounding below 1e-3 of it, else in double.

    Parameters
    ----------
    X_aug : ndarray of shape (n_users, dx)
    phi : ndarray of shape (n_actions, dphi)
    coef : ndarray of shape (dx, dphi)
    A_inv : ndarray of shape (dx * dphi, dx * dphi)
    alpha : float

    Returns
    -------
    scores : ndarray of shape (n_users, n_actions)
    """
    dx, dphi = coef.shape
    Z = np.einsum("ni,aj->naij", X_aug, phi).reshape(X_aug.shape[0], phi.shape[0], dx * dphi)
    mean = Z @ coef.ravel()
    width = np.einsum("nad,de,nae->na", Z, A_inv, Z)
    return mean + alpha * np.sqrt(np.maximum(width, 0.0))


class LinUCBStrategy(_CrossedStrategy):
    """LinUCB over user features crossed with action embeddings, with logged propensities.

    One ridge regression of rewards on ``z(x, a) = x_aug kron phi(a)``,
    where ``x_aug = [1, standardised user features]`` and ``phi(a) = [1,
    PCA of a's embedding]``: ``A = ridge * I + sum z z^T``, ``b = sum r z``,
    ``theta = A^{-1} b``. Each action's score for a user is its upper
    confidence bound::

        score(x, a) = theta . z(x, a) + alpha * sqrt(z(x, a)^T A^{-1} z(x, a))

    and the decision rule turns scores into propensities: epsilon-greedy
    (the best action gets ``1 - epsilon`` more than the others' ``epsilon /
    n_actions``) or a softmax with ``temperature``. Every action keeps a
    positive propensity, so off-policy estimators (IPW, DR) are valid on the
    logs. A constant ``epsilon`` (or temperature) costs a regret per
    decision of about ``epsilon`` times the mean gap to the best action, on
    top of LinUCB's sublinear regret.

    The model is shared by all actions through their embeddings, so an
    action never tried starts from what similar actions taught, and
    knowledge survives bank changes. Per action id the strategy also keeps
    its counts and its statistics in the user features (see
    :meth:`action_stats`). Scores are vectorised over users and actions:
    the exploration width of action ``a`` is a quadratic form ``x_aug^T
    G_a x_aug`` with ``G_a`` of size dx x dx, refreshed once per update.
    ``A^{-1}`` is updated by Woodbury's identity for small batches and
    refactorised (Cholesky) for large ones.
    Decisions and :meth:`predict_proba` score in single precision, which
    halves the memory a batch passes through, while a bound on a width's
    rounding error stays below 1e-3 of the width (typically it is near
    1e-5 of it); models whose ``G_a`` are ill-conditioned, as with user
    features collinear with each other or with the intercept (one-hot
    columns), score in double precision. :meth:`expected_reward` and
    ``coef_`` are double precision.

    Parameters set with ``set_params`` between batches are validated at
    the next call, which an invalid value refuses until it is set right.
    ``alpha``, ``policy``, ``epsilon`` and ``temperature`` act from that
    call on; the others shape the model and act at the next :meth:`fit`
    (``use_pca`` and ``pca_components`` also at ``set_bank(..., refit_pca=True)``).

    Parameters
    ----------
    alpha : float, default=1.0
        Width of the confidence bound (exploration), in [0, 1e6]; 0 acts on
        the ridge estimate alone. Rewards lie in [0, 1], so a few units is
        already all exploration; the cap keeps ``alpha**2`` and the scores
        finite.
    ridge : float, default=1.0
        Regularisation ``lambda`` of the ridge regression, the prior
        precision of ``theta``; at least 1e-6, below which the ridge no
        longer keeps the model invertible in double precision (users are
        standardised, so the statistics are of the order of the
        observations).
    use_pca : bool, default=True
        Project embeddings on their principal components; otherwise ``phi``
        holds the raw embedding (the model then has ``(n_features + 1) *
        (n_embedding_features + 1)`` coefficients: keep embeddings small).
    pca_components : int, default=16
        Components kept: at most the first bank's size minus one and its
        embedding dimension. The projection is fitted on the first bank,
        centred, and scaled by one number (the root mean square of the
        projected embeddings, so ``phi`` is of order one without changing
        the geometry); it is kept when the bank changes unless
        ``set_bank(..., refit_pca=True)``.
    policy : {"epsilon_greedy", "softmax"}, default="epsilon_greedy"
        How scores become propensities.
    epsilon : float, default=0.05
        Exploration of ``"epsilon_greedy"``, in (0, 1]. Exact ties of the best
        score share the greedy probability.
    temperature : float, default=0.1
        Temperature of ``"softmax"``, in score units. No action gets less
        than 1e-12 times the probability of the most likely.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the decisions; resolved at the first :meth:`set_bank` (or
        :meth:`fit`).

    Attributes
    ----------
    classes_ : ndarray of int64 of shape (n_actions,)
        The ids of the current bank, the columns of :meth:`predict_proba`.
    coef_ : ndarray of shape (n_features_in + 1, n_action_features)
        The ridge estimate ``theta`` as a matrix: ``theta . z(x, a) =
        x_aug^T coef_ phi(a)``.
    n_features_in_ : int
        User features.
    feature_names_in_ : ndarray of str
        When the first users came as a DataFrame with string column names.
    user_mean_, user_scale_ : ndarray of shape (n_features_in,)
        The standardisation of users, learnt from the first users learnt
        from (fit's log, or the first partial_fit) and kept; zero and one
        until then.
    n_embedding_features_ : int
    n_action_features_ : int
        Length of ``phi(a)``: the kept components plus one.
    pca_mean_ : ndarray of shape (n_embedding_features,) or None
    pca_components_ : ndarray of shape (n_components, n_embedding_features) or None
    embedding_scale_ : float
    n_decisions_ : int
        Decisions drawn so far: the index of the next one in the stream.
    n_observations_ : int
        Rewards learnt from.

    See Also
    --------
    BootstrapEnsembleStrategy : Thompson-style exploration from bootstrapped heads.
    RandomStrategy : The uniform baseline.
    hillmix_sim.CompanySimulator : Runs a strategy in a simulated company.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import LinUCBStrategy
    >>> rng = np.random.default_rng(0)
    >>> bank = (np.arange(5), rng.normal(size=(5, 12)))  # ids and embeddings
    >>> strategy = LinUCBStrategy(pca_components=3, random_state=0).set_bank(bank)
    >>> users = rng.normal(size=(4, 8))
    >>> ids, propensities = strategy.decide(users)
    >>> ids  # before any data, every user got the same optimistic action
    array([3, 3, 3, 3])
    >>> propensities.round(2)  # 1 - 0.05 + 0.05 / 5
    array([0.96, 0.96, 0.96, 0.96])
    >>> strategy.partial_fit(users, ids, rewards=[1.0, 0.0, 0.0, 1.0])
    LinUCBStrategy(pca_components=3, random_state=0)
    >>> strategy.predict_proba(users).round(2)  # action 3 is now known, 1 is not
    array([[0.01, 0.96, 0.01, 0.01, 0.01],
           [0.01, 0.96, 0.01, 0.01, 0.01],
           [0.01, 0.96, 0.01, 0.01, 0.01],
           [0.01, 0.96, 0.01, 0.01, 0.01]])
    >>> strategy.coef_.shape  # (n_features + 1, pca_components + 1)
    (9, 4)
    """

    _parameter_constraints: dict = {
        **_CrossedStrategy._parameter_constraints,
        **POLICY_CONSTRAINTS,
        "alpha": [EXPLORATION_CONSTRAINT],
        "ridge": [RIDGE_CONSTRAINT],
        "use_pca": ["boolean"],
        "pca_components": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        ridge: float = 1.0,
        use_pca: bool = True,
        pca_components: int = 16,
        policy: str = "epsilon_greedy",
        epsilon: float = 0.05,
        temperature: float = 0.1,
        random_state=None,
    ):
        self.alpha = alpha
        self.ridge = ridge
        self.use_pca = use_pca
        self.pca_components = pca_components
        self.policy = policy
        self.epsilon = epsilon
        self.temperature = temperature
        self.random_state = random_state

    def __setstate__(self, state):
        # Pickled by a hillmix that kept other scoring weights: rebuilt.
        if "_W_width" in state and "_W_mean_phi" not in state:
            state = {**state, "_dirty": True}
        super().__setstate__(state)

    # ------------------------------------------------------------- updates
    def _model_rebuilt(self):
        self._A_inv = None  # refactorised at the next refresh
        self._woodbury_rows = 0

    def _after_learn(self, Xa, slots):
        d = self._A.shape[1]
        m = Xa.shape[0]
        if self._A_inv is None or m > _WOODBURY_FRACTION * d or self._woodbury_rows + m > d:
            # Refactorising also bounds the rounding that Woodbury updates
            # accumulate: at most d rows between two factorisations.
            self._A_inv = None
            self._woodbury_rows = 0
            return
        Z = (Xa[:, :, None] * self._phi_mem[slots][:, None, :]).reshape(m, d)
        U = self._A_inv[0] @ Z.T
        S = Z @ U
        S[np.diag_indices(m)] += 1.0
        self._A_inv[0] -= U @ np.linalg.solve(S, U.T)
        self._woodbury_rows += m

    def _on_bank(self):
        super()._on_bank()
        # Decisions score each distinct action feature once: single-precision
        # products may round the same row differently at different places,
        # and actions with the same embedding must tie exactly.
        unique, inverse = np.unique(self._bank_phi, axis=0, return_inverse=True)
        distinct = unique.shape[0] < self._bank_phi.shape[0]
        self._score_phi = unique if distinct else self._bank_phi
        self._score_index = inverse.reshape(-1) if distinct else None
        Phi = self._score_phi
        self._score_phi_outer = (Phi[:, :, None] * Phi[:, None, :]).reshape(Phi.shape[0], -1)

    def _refresh(self):
        """Bank-dependent quantities after an update or a bank change."""
        if not self._dirty:
            return
        if self._A_inv is None:
            self._A_inv = _spd_inverse(self._A[0])[None]
        A_inv = self._A_inv[0]
        dx, dphi = self.n_features_in_ + 1, self.n_action_features_
        coef = (A_inv @ self._b[0]).reshape(dx, dphi)
        rows, cols = self._pairs
        # The width of action a is x_aug^T G[a] x_aug with G[a] = (I kron
        # phi_a)^T A^{-1} (I kron phi_a): linear in the products x_i x_k
        # (i <= k, off-diagonal ones counted twice), with weights
        # G[a, i, k] = sum_jl phi_aj phi_al A^{-1}[(i, j), (k, l)].
        H = A_inv.reshape(dx, dphi, dx, dphi).transpose(0, 2, 1, 3)[rows, cols]
        H = H.reshape(rows.size, dphi * dphi) * self._pair_weights
        self._W_mean_T = self._bank_phi @ coef.T
        self._W_width = self._score_phi_outer @ H.T
        self._W_mean_phi = self._score_phi @ coef.T
        # Decisions score in single precision, which halves the memory the
        # scores pass through, unless the widths' quadratic forms would lose
        # too much to rounding in it: the means from x_aug, the widths from
        # the pairwise products of x_aug.
        self._single = _single_precision_suffices(self._W_width)
        self._width_alpha = None
        self._coef = coef
        self._dirty = False

    def _score_weights(self):
        """Width (alpha^2 folded in) and mean weights in the scoring precision, for ``alpha``.

        Also the largest entry of ``[1, standardised x]`` that scores in that
        precision without overflow; users beyond it are scored again in
        double precision (see :meth:`_score_blocks`).
        """
        alpha = float(self.alpha)
        if self._width_alpha != alpha:
            # set_params(alpha=...) between batches takes effect at once.
            W_width = self._W_width * alpha**2
            double = (W_width, self._W_mean_phi, _user_limit(W_width, self._W_mean_phi, np.float64))
            limit = _user_limit(W_width, self._W_mean_phi, np.float32)
            # Single precision needs a model that users of ordinary size do
            # not overflow (a tiny ridge, a huge alpha or raw embeddings).
            if self._single and limit >= _FLOAT32_MIN_USER_LIMIT:
                self._weights = (
                    W_width.astype(np.float32),
                    self._W_mean_phi.astype(np.float32),
                    limit,
                )
            else:
                self._weights = double
            self._weights_double = double
            self._score_dtype = self._weights[0].dtype.type
            self._width_alpha = alpha
        return self._weights

    # ------------------------------------------------------------- scoring
    @staticmethod
    def _ucb_blocks(Xa, W_width, W_mean):
        """UCBs of users ``Xa`` as aligned blocks (n_blocks, dx, block): (n_blocks, m, block)."""
        width = np.matmul(W_width, _pair_products(Xa))
        # A quadratic form of a positive semidefinite matrix: negative values
        # are rounding errors around zero.
        np.abs(width, out=width)
        np.sqrt(width, out=width)
        scores = np.matmul(W_mean, Xa)
        scores += width
        return scores

    def _score_blocks(self, X, start):
        """Upper confidence bounds in blocks aligned on ``start``, the offset and the users' scale.

        Shape (n_blocks, n_actions, block), in the scoring precision; see
        :func:`~hillmix_opt.targeting._base.aligned_blocks`. Users whose
        features would overflow it (or lose their scores' order to it) are
        scored in double precision, and those too large even for double
        precision divided by a power of two, which keeps the order of their
        actions (the UCB is positively homogeneous in ``x_aug``): the third
        value is those powers' exponents per user, or None.
        """
        self._refresh()
        W_width, W_mean, limit = self._score_weights()
        bound = self._log2_user_bound(X, limit)
        far = np.empty(0, np.intp) if bound is None else np.flatnonzero(bound > np.log2(limit))
        if far.size:
            X_far = X[far]
            X = X.copy()
            X[far] = self.user_mean_  # placeholders, scored again below
        blocks, offset = aligned_blocks(X, start)
        shape = (blocks.shape[0], X.shape[1] + 1, blocks.shape[2])
        Xa = np.empty(shape, dtype=W_width.dtype)
        Xa[:, 0] = 1.0
        self._standardise_into(blocks, Xa[:, 1:])
        scores = self._ucb_blocks(Xa, W_width, W_mean)
        exponents = None
        if far.size:
            # Each user in its own column of the same blocks: the scores stay
            # independent of batching.
            W_width, W_mean, limit = self._weights_double
            k = np.zeros(X.shape[0], dtype=np.int64)
            k[far] = np.maximum(np.ceil(bound[far] - np.log2(limit)), 0)
            Xa_far = np.zeros((X.shape[0], X.shape[1] + 1))
            Xa_far[far] = self._scaled_augmented(X_far, k[far])
            blocks, _ = aligned_blocks(Xa_far, start)
            redone = self._ucb_blocks(blocks, W_width, W_mean)
            at = offset + far
            scores = scores.astype(np.float64)
            place = (at // _ROW_BLOCK, slice(None), at % _ROW_BLOCK)
            scores[place] = redone[place]
            exponents = k if k.any() else None
        if self._score_index is not None:
            scores = np.take(scores, self._score_index, axis=1)
        return scores, offset, exponents

    def _scaled_scores(self, X, start):
        scores, offset, exponents = self._score_blocks(X, start)
        by_user = scores.transpose(0, 2, 1).reshape(-1, scores.shape[1])
        # C order whatever the number of blocks: reductions over a row
        # must run the same way in every batch.
        by_user = np.ascontiguousarray(by_user[offset : offset + X.shape[0]], dtype=np.float64)
        return by_user, exponents

    def _scores(self, X, start):
        return unscale(*self._scaled_scores(X, start))

    def _draw(self, X, start, uniforms):
        if self.policy == "epsilon_greedy":
            # The ranking of each user's actions is all it needs.
            scores, offset, _ = self._score_blocks(X, start)
            return epsilon_greedy_draw(scores, offset, uniforms, self.epsilon)
        return super()._draw(X, start, uniforms)

    def _expected(self, X, start):
        self._refresh()
        expected, exponents = self._linear_scores(self._W_mean_T, X, start)
        return unscale(expected, exponents)
