"""PolicyValue: an off-policy estimate with its interval, and how it is computed.

Every estimator here is a ratio of sums over the log's rows, ``sum(a_i) /
sum(b_i)`` (``b_i = 1`` for all but the self-normalised one): the
interval is the normal one of its influence function, or a percentile
bootstrap over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["PolicyValue", "effective_sample_size", "policy_value"]

# Bootstrap resamples drawn at once: bounds the (resamples x rows) counts.
_BOOTSTRAP_BLOCK = 64


def _g(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True)
class PolicyValue:
    """An estimate of a policy's value from a log, with its interval.

    Attributes
    ----------
    estimator : str
        Which estimator (``"IPW"``, ``"DR"``, ...).
    estimate : float
        The estimated expected reward of the target policy.
    ci_low, ci_high : float
        The interval of mass ``coverage``.
    coverage : float
        The interval's nominal coverage.
    std_error : float
        The estimate's standard error (analytic, or the bootstrap's).
    effective_sample_size : float
        ``(sum w)^2 / sum w^2`` of the importance weights as used (clipped
        or switched off where the estimator does so): how many rows of an
        on-policy log the estimate is worth. ``n_samples`` for the direct
        method, which weighs no row.
    n_samples : int
        Rows of the log.
    unsupported_share : float
        The target's probability on actions the logging policy never takes
        for the user, averaged over the log's users (for the
        embedding-based estimator: on clusters it never takes).
    interval_method : str
        ``"normal"`` or ``"bootstrap"``.

    Examples
    --------
    >>> from hillmix_opt import PolicyValue
    >>> PolicyValue("IPW", 0.1234, 0.1101, 0.1367, 0.95, 0.0068, 812.5, 1000, 0.0, "normal")
    PolicyValue(IPW: 0.1234, 95% interval [0.1101, 0.1367], std_error=0.0068, \
effective_sample_size=812.5 of 1000)
    """

    estimator: str
    estimate: float
    ci_low: float
    ci_high: float
    coverage: float
    std_error: float
    effective_sample_size: float
    n_samples: int
    unsupported_share: float = 0.0
    interval_method: str = "normal"

    @property
    def interval(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return self.ci_low, self.ci_high

    def covers(self, value: float) -> bool:
        """Whether the interval holds ``value``."""
        return bool(self.ci_low <= value <= self.ci_high)

    def __repr__(self) -> str:
        unsupported = (
            f", unsupported_share={self.unsupported_share:.3g}" if self.unsupported_share else ""
        )
        bootstrap = ", bootstrap" if self.interval_method == "bootstrap" else ""
        return (
            f"PolicyValue({self.estimator}: {_g(self.estimate)}, {self.coverage:.0%} interval "
            f"[{_g(self.ci_low)}, {_g(self.ci_high)}]{bootstrap}, std_error={_g(self.std_error)}, "
            f"effective_sample_size={_g(self.effective_sample_size)} of {self.n_samples}"
            f"{unsupported})"
        )


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``; 0 when every weight is 0."""
    w = np.asarray(weights, dtype=np.float64)
    squares = float(np.sum(w * w))
    return float(np.sum(w) ** 2 / squares) if squares > 0 else 0.0


def policy_value(
    label: str,
    numerator: np.ndarray,
    *,
    denominator: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    coverage: float = 0.95,
    n_bootstrap: int = 0,
    seed: int = 0,
    unsupported_share: float = 0.0,
) -> PolicyValue:
    """The estimate ``sum(numerator) / sum(denominator)`` with its interval.

    Parameters
    ----------
    label : str
    numerator : ndarray of shape (n_samples,)
    denominator : ndarray of shape (n_samples,), default=None
        Ones (a mean) when None.
    weights : ndarray of shape (n_samples,), default=None
        The importance weights, for the effective sample size; ones when None.
    coverage : float, default=0.95
    n_bootstrap : int, default=0
        0: the normal interval of the influence function
        ``(a_i - V b_i) / mean(b)``; otherwise a percentile bootstrap over
        that many resamples of the rows (nothing refitted).
    seed : int, default=0
        Seeds the bootstrap.
    unsupported_share : float, default=0.0

    Returns
    -------
    value : PolicyValue
    """
    a = np.asarray(numerator, dtype=np.float64)
    n = a.size
    b = np.ones(n) if denominator is None else np.asarray(denominator, dtype=np.float64)
    total = float(b.sum())
    estimate = float(a.sum() / total) if total > 0 else np.nan
    alpha = 1.0 - coverage
    if n_bootstrap == 0:
        if np.isnan(estimate) or n < 2:
            se = np.nan
        else:
            influence = (a - estimate * b) / (total / n)
            se = float(np.std(influence, ddof=1) / np.sqrt(n))
        half = float(stats.norm.ppf(1.0 - alpha / 2.0)) * se
        low, high, method = estimate - half, estimate + half, "normal"
    else:
        draws = _bootstrap(a, b, n_bootstrap, seed)
        finite = draws[np.isfinite(draws)]
        if finite.size:
            low, high = (float(q) for q in np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0]))
            se = float(np.std(finite, ddof=1)) if finite.size > 1 else np.nan
        else:
            low = high = se = np.nan
        method = "bootstrap"
    w = np.ones(n) if weights is None else weights
    return PolicyValue(
        estimator=label,
        estimate=estimate,
        ci_low=float(low),
        ci_high=float(high),
        coverage=float(coverage),
        std_error=float(se),
        effective_sample_size=effective_sample_size(w),
        n_samples=int(n),
        unsupported_share=float(unsupported_share),
        interval_method=method,
    )


def _bootstrap(a: np.ndarray, b: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """Ratios of the resampled sums, one per resample (NaN where a denominator is 0)."""
    rng = np.random.default_rng(seed)
    n = a.size
    uniform = np.full(n, 1.0 / n)
    out = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, _BOOTSTRAP_BLOCK):
        size = min(_BOOTSTRAP_BLOCK, n_bootstrap - start)
        counts = rng.multinomial(n, uniform, size=size).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + size] = (counts @ a) / (counts @ b)
    return out
