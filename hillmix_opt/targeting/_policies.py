"""Decision rules as propensities: epsilon-greedy and softmax over a strategy's scores.

Every strategy logs the exact probability of the action it chose, so that
off-policy estimators (IPW, DR) are valid on its logs. The rules are
written as propensity matrices and drawn from by inverse CDF, one uniform
per decision; epsilon-greedy is also drawn directly from scores laid out
in aligned blocks (:func:`hillmix_opt.targeting._base.aligned_blocks`),
without forming the matrix.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = [
    "POLICY_CONSTRAINTS",
    "epsilon_greedy",
    "epsilon_greedy_draw",
    "policy_propensities",
    "sample",
    "softmax",
]


# Softmax: no action gets less than 1e-12 times the probability of the
# most likely one (exp underflows to an exact zero past ~745 otherwise, and
# a zero propensity would void inverse-propensity weighting).
_SOFTMAX_LOG_FLOOR = float(np.log(1e12))


# --------------------------------------------------------------- propensities
def epsilon_greedy(scores: np.ndarray, epsilon: float) -> np.ndarray:
    """Propensities of epsilon-greedy over the last axis of ``scores``.

    Probability ``epsilon / K`` for every action plus ``1 - epsilon`` for the
    best, split equally between exact ties (so ties are broken the same way
    whatever the order of evaluation). With a head axis, ``scores`` of shape
    (n, n_heads, K), the greedy part is averaged over heads: the exact
    probability of acting greedily on a head drawn uniformly.
    """
    n_actions = scores.shape[-1]
    best = scores == scores.max(axis=-1, keepdims=True)
    greedy = best / best.sum(axis=-1, keepdims=True)
    if greedy.ndim == 3:
        greedy = greedy.mean(axis=1)
    return epsilon / n_actions + (1.0 - epsilon) * greedy


def softmax(
    scores: np.ndarray, temperature: float, exponents: np.ndarray | None = None
) -> np.ndarray:
    """Propensities of a softmax over the last axis, averaged over heads if any.

    ``exponents``, when given, says that row ``i`` of ``scores`` holds the
    scores divided by ``2**exponents[i]`` (users too large to score
    unscaled): their differences are scaled back before the temperature.
    """
    z = scores - scores.max(axis=-1, keepdims=True)
    # Differences beyond the floor only need to be far below it: an
    # overflow to -inf is as good.
    with np.errstate(over="ignore"):
        if exponents is not None:
            z = np.ldexp(z, exponents.reshape(-1, *(1,) * (z.ndim - 1)))
        z /= temperature
    p = np.exp(np.maximum(z, -_SOFTMAX_LOG_FLOOR))
    p /= p.sum(axis=-1, keepdims=True)
    return p.mean(axis=1) if p.ndim == 3 else p


def policy_propensities(scores, policy: str, epsilon: float, temperature: float, exponents=None):
    """The propensities of ``policy``; ``exponents`` as in :func:`softmax`.

    Epsilon-greedy depends on each row's ranking alone, which scaling a row
    by a power of two keeps.
    """
    if policy == "softmax":
        return softmax(scores, temperature, exponents)
    return epsilon_greedy(scores, epsilon)


def epsilon_greedy_draw(
    scores: np.ndarray, offset: int, uniforms: np.ndarray, epsilon: float
) -> tuple[np.ndarray, np.ndarray]:
    """Epsilon-greedy draws from one uniform each, and their propensities.

    ``scores`` holds users in aligned blocks, shape (n_blocks, K, block)
    (actions on the middle axis; see :func:`aligned_blocks`), the ``i``-th
    user at flat position ``offset + i``. The same distribution as sampling
    :func:`epsilon_greedy`'s propensities by inverse CDF, without forming
    them: ``u < epsilon`` explores (action ``floor(u / epsilon * K)``),
    otherwise the best action is taken (the ``floor(v * n_ties)``-th of exact
    ties, ``v`` the rescaled uniform).
    """
    _, n_actions, block = scores.shape
    n = uniforms.size
    users = slice(offset, offset + n)
    # max, == and sums run along the users; an argmax over the actions' axis
    # would cost as much as the rest of a decision.
    ties = np.empty(scores.shape, np.float32)
    np.equal(scores, scores.max(axis=1, keepdims=True), out=ties, casting="unsafe")
    # Exact in single precision: the number of ties and the sum of their
    # indices (the index itself when there is one), by one product.
    counted = np.matmul(_tie_counter(n_actions), ties)  # (n_blocks, 2, block)
    n_ties = counted[:, 0].reshape(-1)[users].astype(np.int64)
    chosen = counted[:, 1].reshape(-1)[users].astype(np.int64)
    several = np.flatnonzero(n_ties > 1)
    if several.size:
        v = (uniforms[several] - epsilon) / (1.0 - epsilon) if epsilon < 1 else uniforms[several]
        k = n_ties[several]
        rank = np.minimum((np.clip(v, 0.0, 1.0) * k).astype(np.int64), k - 1)
        rows = _block_rows(ties, offset + several)  # (n_several, K)
        chosen[several] = np.argmax(np.cumsum(rows, axis=1) > rank[:, None], axis=1)
    greedy = 1.0 / n_ties
    explore = np.flatnonzero(uniforms < epsilon)
    if explore.size:
        picked = (uniforms[explore] / epsilon * n_actions).astype(np.int64)
        chosen[explore] = np.minimum(picked, n_actions - 1)
        at = offset + explore
        hit = ties[at // block, chosen[explore], at % block]
        greedy[explore] *= hit
    return chosen, epsilon / n_actions + (1.0 - epsilon) * greedy


def _block_rows(blocks: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Rows of the users at flat ``positions`` of aligned blocks (n_blocks, m, block): (len, m)."""
    block = blocks.shape[2]
    return blocks[positions // block, :, positions % block]


@functools.cache
def _tie_counter(n_actions: int) -> np.ndarray:
    return np.stack([np.ones(n_actions), np.arange(n_actions)]).astype(np.float32)


def sample(propensities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one column per row; a zero-probability column is never drawn."""
    cdf = np.cumsum(propensities, axis=1)
    return np.count_nonzero(cdf <= (uniforms * cdf[:, -1])[:, None], axis=1)


# Parameters of the decision rules, shared by the model-based strategies.
POLICY_CONSTRAINTS: dict = {
    "policy": [StrOptions({"epsilon_greedy", "softmax"})],
    "epsilon": [Interval(numbers.Real, 0, 1, closed="right")],
    "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
}
