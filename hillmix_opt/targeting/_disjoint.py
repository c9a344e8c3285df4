"""DisjointLinUCBStrategy: LinUCB with one ridge model per action on user features.

The textbook model (Li et al. 2010, "LinUCB with disjoint linear models"),
and MABWiser's: each action ``a`` has its own ``A_a = ridge * I + sum x
x^T`` and ``b_a = sum r x`` over the users who got it, with ``x = [1,
standardised user features]``. Nothing is shared between actions, so an
action's embedding plays no part: a new action starts from the prior.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import _BaseStrategy, aligned_blocks, aligned_matmul
from ._crossed import _pair_weights_of, _pairs_of
from ._linucb import _FLOAT32_ROUNDOFF, _WIDTH_RTOL, LinUCBStrategy
from ._policies import POLICY_CONSTRAINTS, epsilon_greedy_draw

__all__ = ["DisjointLinUCBStrategy", "disjoint_linucb_scores"]

# Users per distinct action of a batch from which the per-action sums of
# x x^T are one product per action over the users sorted by action; below,
# one product of the users' rows scattered into their action's columns
# (no sort, no loop; its zeros cost more than they save beyond that).
_SORTED_ROWS = 24


def disjoint_linucb_scores(
    X_aug: np.ndarray, coef: np.ndarray, A_inv: np.ndarray, alpha: float
) -> np.ndarray:
    """Upper confidence bounds of every user for every action (the reference maths).

    ``score[n, a] = x^T theta_a + alpha * sqrt(x^T A_a^{-1} x)`` with ``x =
    X_aug[n]``. The strategy computes the same numbers through the pairwise
    products of ``x``, in single precision when that keeps a width's
    rounding below 1e-3 of it, else in double.

    Parameters
    ----------
    X_aug : ndarray of shape (n_users, dx)
        ``[1, standardised user features]``.
    coef : ndarray of shape (n_actions, dx)
        Each action's ridge estimate ``theta_a``.
    A_inv : ndarray of shape (n_actions, dx, dx)
        Each action's ``A_a^{-1}``.
    alpha : float

    Returns
    -------
    scores : ndarray of shape (n_users, n_actions)
    """
    mean = X_aug @ coef.T
    width = np.einsum("ni,aij,nj->na", X_aug, A_inv, X_aug)
    return mean + alpha * np.sqrt(np.maximum(width, 0.0))


def _per_action_gram(YT: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``slots`` and, for each, the sum of ``y y^T`` over its users.

    ``YT`` of shape (q, m) holds the users as columns; returns ``(groups,
    G)`` with ``G`` of shape (n_groups, q, q).
    """
    q, m = YT.shape
    counts = np.bincount(slots)
    groups = np.flatnonzero(counts)
    if m >= _SORTED_ROWS * groups.size:
        # A radix sort when the slots fit 16 bits (the usual case).
        keys = slots.astype(np.int16) if counts.size < 2**15 else slots
        YT = np.take(YT, np.argsort(keys, kind="stable"), axis=1)
        G = np.empty((groups.size, q, q))
        start = 0
        for g, end in enumerate(np.cumsum(counts[groups]).tolist()):
            np.matmul(YT[:, start:end], YT[:, start:end].T, out=G[g])
            start = end
        return groups, G
    # Each user's row in its group's block of columns, then one product:
    # Z^T Y stacks every group's sum of y y^T.
    index = np.zeros(counts.size, dtype=np.intp)
    index[groups] = np.arange(groups.size)
    Z = np.zeros((m, groups.size, q))
    Z[np.arange(m), index[slots]] = YT.T
    return groups, (Z.reshape(m, -1).T @ YT.T).reshape(groups.size, q, q)


def _single_precision_suffices(A: np.ndarray, row_sums: np.ndarray) -> np.ndarray:
    """For each action, whether its widths ``x^T A^{-1} x`` may be scored in single precision.

    The criterion of :func:`hillmix_opt.targeting._linucb._single_precision_suffices`,
    a bound on a width's rounding in single precision below 1e-3 of it, on
    each action's own ``G = A^{-1}``: ``lambda_min(G) > r (n_pairs + 3) u /
    1e-3``, ``r`` the largest absolute row sum of ``G``. Here ``lambda_min(G)
    = 1 / lambda_max(A) >= 1 / ||A||_F``, so ``||A||_F r (n_pairs + 3) u <
    1e-3`` suffices: a condition number of ``A`` below about 300, where a
    Cholesky test would cost as much as the inverses.

    ``row_sums`` holds the absolute row sums of each ``A^{-1}``, (n, dx).
    """
    dx = A.shape[1]
    factor = (dx * (dx + 1) // 2 + 3) * _FLOAT32_ROUNDOFF / _WIDTH_RTOL
    frobenius = np.sqrt(np.einsum("aij,aij->a", A, A))
    # Not finite: False (NaN compares false), and double precision shows it no worse.
    return frobenius * row_sums.max(axis=1) * factor < 1.0


def _spd_inverses(A: np.ndarray) -> np.ndarray:
    """Inverses of a stack of symmetric positive definite matrices."""
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:  # singular to working precision (a tiny ridge)
        return np.linalg.pinv(A, hermitian=True)


class DisjointLinUCBStrategy(_BaseStrategy):
    """LinUCB with one ridge model per action (disjoint models), with logged propensities.

    The textbook LinUCB, and the model MABWiser's ``LinUCB`` fits: each
    action ``a`` has its own ridge regression of rewards on ``x_aug = [1,
    standardised user features]``, ``A_a = ridge * I + sum x_aug x_aug^T``
    and ``b_a = sum r x_aug`` over the users who got ``a``, ``theta_a =
    A_a^{-1} b_a``. Each action's score for a user is its upper confidence
    bound::

        score(x, a) = theta_a . x_aug + alpha * sqrt(x_aug^T A_a^{-1} x_aug)

    and the decision rule turns scores into propensities, as for
    :class:`LinUCBStrategy`: epsilon-greedy or a softmax, every action with
    a positive propensity, so off-policy estimators are valid on the logs.

    Unlike :class:`LinUCBStrategy`, which fits one model over users crossed
    with the actions' embeddings, nothing is shared between actions: the
    embeddings are not used (a bank still carries them, so that the two
    strategies take the same banks), an action is learnt only from its own
    users, and a new action starts from the prior whatever it resembles.
    With a fixed bank and many users per action this model is the better
    specified one; where banks change, the crossed model is the default,
    since only it scores a new action from its embedding. When the bank
    changes, actions whose ids are kept keep their models, new actions
    start fresh, and an action that leaves and comes back finds its model
    as it left it.

    Scores are vectorised over users and actions: action ``a``'s width is
    a quadratic form in ``x_aug`` with weights refreshed once per update
    (the ``n_actions`` small inverses in one batched call), the means and
    widths of all actions one product each over all users, in single
    precision while a bound on a width's rounding stays below 1e-3 of it.
    Decisions and propensities do not depend on how users are split into
    batches (see :meth:`decide`). Users whose features would overflow the
    scoring precision are scored in double precision, and those beyond it
    divided by a power of two, which keeps the order of their actions;
    learning refuses features beyond 1e100, raw or standardised.

    Parameters set with ``set_params`` between batches are validated at
    the next call, which an invalid value refuses until it is set right;
    ``alpha``, ``policy``, ``epsilon`` and ``temperature`` act from that
    call on, ``ridge`` at the next :meth:`fit`.

    Parameters
    ----------
    alpha : float, default=1.0
        Width of the confidence bound (exploration), in [0, 1e6]; 0 acts on
        the ridge estimates alone. Rewards lie in [0, 1], so a few units is
        already all exploration.
    ridge : float, default=1.0
        Regularisation ``lambda`` of each action's ridge regression, at
        least 1e-6: users are standardised, so the statistics are of the
        order of the observations, and a smaller ridge leaves a rarely
        tried action's model singular in double precision.
    policy : {"epsilon_greedy", "softmax"}, default="epsilon_greedy"
        How scores become propensities.
    epsilon : float, default=0.05
        Exploration of ``"epsilon_greedy"``, in (0, 1]. Exact ties of the best
        score share the greedy probability.
    temperature : float, default=0.1
        Temperature of ``"softmax"``, in score units.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the decisions; resolved at the first :meth:`set_bank` (or
        :meth:`fit`).

    Attributes
    ----------
    classes_ : ndarray of int64 of shape (n_actions,)
        The ids of the current bank, the columns of :meth:`predict_proba`.
    coef_ : ndarray of shape (n_actions, n_features_in + 1)
        Each action's ridge estimate ``theta_a`` (intercept first), rows in
        the order of ``classes_``.
    n_features_in_ : int
        User features.
    feature_names_in_ : ndarray of str
        When the first users came as a DataFrame with string column names.
    user_mean_, user_scale_ : ndarray of shape (n_features_in,)
        The standardisation of users, learnt from the first users learnt
        from and kept; zero and one until then.
    n_embedding_features_ : int
        Of the first bank's embeddings (later banks must match it).
    n_decisions_ : int
        Decisions drawn so far: the index of the next one in the stream.
    n_observations_ : int
        Rewards learnt from.

    See Also
    --------
    LinUCBStrategy : One model over users crossed with action embeddings.
    RandomStrategy : The uniform baseline.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import DisjointLinUCBStrategy
    >>> rng = np.random.default_rng(0)
    >>> bank = (np.arange(3), rng.normal(size=(3, 4)))  # ids and (unused) embeddings
    >>> strategy = DisjointLinUCBStrategy(random_state=0).set_bank(bank)
    >>> users = rng.normal(size=(4, 2))
    >>> ids, propensities = strategy.decide(users)
    >>> propensities  # before any data every action ties: the seed breaks ties
    array([0.33333333, 0.33333333, 0.33333333, 0.33333333])
    >>> strategy.partial_fit(users, [0, 0, 1, 1], rewards=[1.0, 1.0, 0.0, 0.0])
    DisjointLinUCBStrategy(random_state=0)
    >>> strategy.coef_.round(2)  # [intercept, features] per action; 2 is untried
    array([[ 0.39, -0.28, -0.28],
           [ 0.  ,  0.  ,  0.  ],
           [ 0.  ,  0.  ,  0.  ]])
    >>> strategy.predict_proba(users).round(2)  # 0 clicked; untried 2 keeps a wide bound
    array([[0.02, 0.02, 0.97],
           [0.97, 0.02, 0.02],
           [0.97, 0.02, 0.02],
           [0.02, 0.02, 0.97]])
    """

    _parameter_constraints: dict = {
        **_BaseStrategy._parameter_constraints,
        **POLICY_CONSTRAINTS,
        # alpha's square and the inverses must stay finite (alpha=1e300
        # overflowed, ridge=1e-300 left users' models singular).
        "alpha": [Interval(numbers.Real, 0, 1e6, closed="both")],
        "ridge": [Interval(numbers.Real, 1e-6, None, closed="left")],
    }

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        ridge: float = 1.0,
        policy: str = "epsilon_greedy",
        epsilon: float = 0.05,
        temperature: float = 0.1,
        random_state=None,
    ):
        self.alpha = alpha
        self.ridge = ridge
        self.policy = policy
        self.epsilon = epsilon
        self.temperature = temperature
        self.random_state = random_state

    @property
    def coef_(self) -> np.ndarray:
        """Each action's ridge estimate, rows in the order of ``classes_``."""
        if not hasattr(self, "_xx"):
            raise AttributeError("coef_: the strategy has not seen users yet.")
        self._refresh()
        return self._coef

    # ------------------------------------------------------------- model
    def _on_first_bank(self, embeddings):
        self._ridge = float(self.ridge)

    def _on_users(self):
        dx = self.n_features_in_ + 1
        # Each action's sums, kept by id: a model outlives the banks.
        self._add_memory("_xx", (dx, dx))
        self._add_memory("_xr", (dx,))
        rows, cols = _pairs_of(dx)
        self._pair_entries = rows * dx + cols
        self._pair_weights = _pair_weights_of(dx)
        self._dirty = True

    def _on_bank(self):
        self._dirty = True

    def _learn(self, X, slots, rewards, start):
        dx = X.shape[1] + 1
        # [1, standardised x, r] of each user: the sums of their outer
        # products hold both sum x x^T and sum r x.
        # (Users as columns: rows as long as the batch keep NumPy's loops long.)
        YT = np.empty((dx + 1, X.shape[0]))
        YT[0] = 1.0
        self._standardise_into(X.T, YT[1:dx])
        YT[dx] = rewards
        groups, G = _per_action_gram(YT, slots)
        self._xx[groups] += G[:, :dx, :dx]
        self._xr[groups] += G[:, :dx, dx]
        self._dirty = True

    def _refresh(self):
        """The bank's estimates and width weights after an update or a bank change."""
        if not self._dirty:
            return
        # Every action of the bank at once: the inverses of a few dozen small
        # matrices cost less than keeping track of which changed.
        slots = self._bank_slots
        dx = self.n_features_in_ + 1
        A = self._xx[slots]
        A.reshape(slots.size, dx * dx)[:, :: dx + 1] += self._ridge
        A_inv = _spd_inverses(A)
        coef = np.matmul(A_inv, self._xr[slots][:, :, None])[:, :, 0]
        # The width x^T A^{-1} x is linear in the products x_i x_k (i <= k),
        # off-diagonal ones counted twice.
        W_width = np.take(A_inv.reshape(slots.size, dx * dx), self._pair_entries, axis=1)
        W_width *= self._pair_weights
        row_sums = np.abs(A_inv).sum(axis=2)
        single = bool(np.all(_single_precision_suffices(A, row_sums)))
        self._score_dtype = np.float32 if single else np.float64
        # The largest absolute sums of a width's and a mean's weights, which
        # bound the users each precision scores without overflow.
        self._weight_sums = (
            float(row_sums.sum(axis=1).max()),
            float(np.abs(coef).sum(axis=1).max()),
        )
        self._coef = coef
        # Actions never tried have the same model and must tie exactly, but a
        # product may round the same row differently at different places:
        # they are scored once, as one row.
        untried = np.flatnonzero(self._counts[slots] == 0)
        if untried.size > 1:
            keep = np.ones(slots.size, dtype=bool)
            keep[untried[1:]] = False
            self._score_index = np.cumsum(keep) - 1
            self._score_index[untried] = self._score_index[untried[0]]
            coef, W_width = coef[keep], W_width[keep]
        else:
            self._score_index = None
        self._W_mean_score = coef.astype(self._score_dtype)
        self._W_width = W_width
        self._width_alpha = None
        self._dirty = False

    def _width_weights(self):
        """The widths' weights with alpha^2 folded in, for the current ``alpha``."""
        alpha = float(self.alpha)
        if self._width_alpha != alpha:
            self._W_width_score = (self._W_width * alpha**2).astype(self._score_dtype)
            self._score_limit = self._user_limit(self._score_dtype)
            self._width_alpha = alpha
        return self._W_width_score

    # ------------------------------------------------------------- scoring
    def _user_limit(self, dtype) -> float:
        """The largest entry of ``x_aug`` whose bounds stay finite in ``dtype``.

        A width sums ``alpha**2 A^{-1}[a, i, k]`` times products of two
        entries, a mean ``theta[a, i]`` times entries: for entries up to ``m``
        both stay below an eighth of the precision's range (so do their sums
        and differences) while ``m**2 alpha**2 max_a sum_ik |A^{-1}[a, i, k]|``
        and ``m max_a sum_i |theta[a, i]|`` do.
        """
        room = float(np.finfo(dtype).max) / 8.0
        width, mean = self._weight_sums
        width = max(1.0, width * float(self.alpha) ** 2)
        return min(math.sqrt(room / width), room / max(1.0, mean))

    # The same bound as the crossed model's, on per-action weights.
    _ucb_blocks = staticmethod(LinUCBStrategy._ucb_blocks)

    def _score_blocks(self, X, start):
        """Upper confidence bounds in blocks aligned on ``start``, the offset and the far users.

        Shape (n_blocks, n_actions, block), in ``_score_dtype``. Users whose
        features would overflow single precision (or double) are scored in
        double precision, those beyond double divided by ``2**k``: a bound
        is positively homogeneous in ``x_aug``, so the order of a user's
        actions is kept. The third value is ``(far, k)``, the users scored
        divided and their exponents, or None.
        """
        self._refresh()
        W_width, W_mean = self._width_weights(), self._W_mean_score
        # Users whose [1, standardised x] may exceed the limit (the usual
        # batch has none: one comparison).
        bound = self._log2_user_bound(X, self._score_limit)
        far = np.empty(0, np.intp)
        if bound is not None:
            far = np.flatnonzero(bound > math.log2(self._score_limit))
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
        scaled = None
        if far.size:
            # In double precision, each far user in its own column of the same
            # blocks (the others zero): independent of batching.
            W_width = self._W_width * float(self.alpha) ** 2
            W_mean = self._W_mean_score.astype(np.float64)
            k = np.maximum(np.ceil(bound[far] - math.log2(self._user_limit(np.float64))), 0)
            k = k.astype(np.int64)
            Xa_far = np.zeros((X.shape[0], X.shape[1] + 1))
            Xa_far[far] = self._scaled_augmented(X_far, k)
            redone = self._ucb_blocks(aligned_blocks(Xa_far, start)[0], W_width, W_mean)
            at = offset + far
            place = (at // scores.shape[2], slice(None), at % scores.shape[2])
            scores = scores.astype(np.float64)
            scores[place] = redone[place]
            scaled = (far, k) if k.any() else None
        if self._score_index is not None:
            scores = np.take(scores, self._score_index, axis=1)
        return scores, offset, scaled

    def _scores(self, X, start):
        """Each user's bounds, (n_users, n_actions).

        Rows of users too large for double precision hold their bounds minus
        the best, times ``2**k`` (-inf far below the best), which rank and
        weigh the actions as the bounds would.
        """
        scores, offset, scaled = self._score_blocks(X, start)
        by_user = scores.transpose(0, 2, 1).reshape(-1, scores.shape[1])
        by_user = np.ascontiguousarray(by_user[offset : offset + X.shape[0]], dtype=np.float64)
        if scaled is not None:
            far, k = scaled
            rows = by_user[far]
            with np.errstate(over="ignore"):
                rows = np.ldexp(rows - rows.max(axis=1, keepdims=True), k[:, None])
            # Far below the best is as good as -inf to either rule, and keeps
            # a softmax's division by its temperature from overflowing.
            rows[rows < -1e200] = -np.inf
            by_user[far] = rows
        return by_user

    def _draw(self, X, start, uniforms):
        if self.policy == "epsilon_greedy":
            # The order of each user's actions is all it needs.
            scores, offset, _ = self._score_blocks(X, start)
            return epsilon_greedy_draw(scores, offset, uniforms, self.epsilon)
        return super()._draw(X, start, uniforms)

    def _expected(self, X, start):
        self._refresh()
        return np.ascontiguousarray(aligned_matmul(self._coef, self._augmented_T(X), start).T)
