"""Convergence diagnostics: rank-normalised split R-hat and bulk ESS.

Implements the diagnostics of Vehtari, Gelman, Simpson, Carpenter and
Bürkner (2021), "Rank-normalization, folding, and localization: an improved
R-hat for assessing convergence of MCMC", on top of NumPyro's classic
estimators, so that results do not depend on the installed ArviZ version.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = [
    "ESS_MIN",
    "RHAT_MAX",
    "SVI_DRIFT_MAX",
    "SVI_TREND_MAX",
    "bulk_ess",
    "effective_k",
    "mcmc_diagnostics",
    "rank_rhat",
    "summarize_draws",
    "svi_diagnostics",
]

# A fit passes its checks with every R-hat at most RHAT_MAX, every bulk ESS
# at least ESS_MIN and no divergent transition (Vehtari et al. 2021).
RHAT_MAX, ESS_MIN = 1.01, 400
# An SVI fit has converged when its guide stopped moving and its ELBO
# stopped rising (see svi_diagnostics): no location moved by more than
# SVI_DRIFT_MAX posterior standard deviations over the last tenth of the
# steps, and the ELBO's median over the last quarter of the steps is within
# SVI_TREND_MAX of its step-to-step noise of the median over the quarter
# before. Measured on small fits of the tests and of issue 25: learning rates
# of 1 and 0.3 moved the guide by 13 and 1.9 standard deviations at the end,
# settled fits at 0.01 to 0.05 by 0.2 to 1.2 (0.75 and 1.2 with the default
# 5000 steps on two and four channels: the largest of more coordinates grows
# with their number, hence a limit of 2); 150 steps at 0.01 moved it by 0.3
# only, but raised the ELBO by 1.9 noise SDs between the last quarters,
# settled fits by -0.3 to 0.7.
SVI_DRIFT_MAX = 2.0
SVI_TREND_MAX = 1.0


def _rank_normalize(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks; draws has shape (chains, samples, ...)."""
    n_chains, n_samples = draws.shape[:2]
    flat = draws.reshape(n_chains * n_samples, -1)
    ranks = rankdata(flat, axis=0, method="average")
    size = flat.shape[0]
    scores = ndtri((ranks - 0.375) / (size + 0.25))
    return scores.reshape(draws.shape)


def _split(draws: np.ndarray) -> np.ndarray:
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half :]], axis=0)


def _is_constant(draws: np.ndarray) -> np.ndarray:
    flat = draws.reshape(draws.shape[0] * draws.shape[1], -1)
    return (np.ptp(flat, axis=0) == 0).reshape(draws.shape[2:])


def bulk_ess(draws) -> np.ndarray:
    """Bulk effective sample size of each scalar in ``draws``.

    Parameters
    ----------
    draws : array-like of shape (n_chains, n_samples, ...)

    Returns
    -------
    ess : ndarray of shape draws.shape[2:]
        NaN for a parameter that is constant across all draws.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix import bulk_ess
    >>> draws = np.random.default_rng(0).normal(size=(4, 500))
    >>> bool(1500 < bulk_ess(draws) < 2500)
    True
    """
    draws = np.asarray(draws, dtype=float)
    # Constant parameters divide zero by zero; they are reported as NaN.
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = np.asarray(effective_sample_size(_split(_rank_normalize(draws))), dtype=float)
    # The autocorrelation estimate of very short chains can make the
    # estimator negative; no draws are worth less than none.
    return np.where(_is_constant(draws), np.nan, np.maximum(ess, 0.0))


def rank_rhat(draws) -> np.ndarray:
    """Rank-normalised split R-hat (the larger of bulk and folded tail R-hat).

    Parameters
    ----------
    draws : array-like of shape (n_chains, n_samples, ...)

    Returns
    -------
    rhat : ndarray of shape draws.shape[2:]
        NaN for a parameter that is constant across all draws.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix import rank_rhat
    >>> draws = np.random.default_rng(0).normal(size=(4, 500))
    >>> bool(rank_rhat(draws) < 1.01)
    True
    """
    draws = np.asarray(draws, dtype=float)
    if draws.shape[0] * (draws.shape[1] // 2) < 4 or draws.shape[1] < 4:
        return np.full(draws.shape[2:], np.nan)
    folded = np.abs(draws - np.median(draws.reshape(-1, *draws.shape[2:]), axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        bulk = np.asarray(split_gelman_rubin(_rank_normalize(draws)), dtype=float)
        tail = np.asarray(split_gelman_rubin(_rank_normalize(folded)), dtype=float)
    return np.where(_is_constant(draws), np.nan, np.maximum(bulk, tail))


def summarize_draws(samples: dict, n_chains: int) -> pd.DataFrame:
    """R-hat and bulk ESS for every scalar of every site.

    Parameters
    ----------
    samples : dict of str to ndarray of shape (n_chains * n_samples, ...)
        Draws of each site, chains one after the other.
    n_chains : int
        Number of chains.

    Returns
    -------
    summary : DataFrame
        Indexed by ``site[i,j]``, with columns ``mean``, ``sd``, ``r_hat``
        and ``ess_bulk``.
    """
    rows = []
    for name, values in samples.items():
        values = np.asarray(values, dtype=float)
        draws = values.reshape(n_chains, -1, *values.shape[1:])
        rhat, ess = rank_rhat(draws), bulk_ess(draws)
        mean, sd = values.mean(axis=0), values.std(axis=0)
        for index in np.ndindex(values.shape[1:]):
            label = name if not index else f"{name}[{','.join(map(str, index))}]"
            rows.append((label, mean[index], sd[index], rhat[index], ess[index]))
    return pd.DataFrame(rows, columns=["parameter", "mean", "sd", "r_hat", "ess_bulk"]).set_index(
        "parameter"
    )


def effective_k(pi, A, channel_names) -> pd.DataFrame:
    """Effective number of components per channel, ``1 / sum_k w**2``, with its interval.

    Parameters
    ----------
    pi, A : array-like of shape (n_draws, n_channels, n_components)
        Mixture weights and amplitudes per draw; ``w = pi * A / sum(pi * A)``
        is each component's share of the channel's saturation level.
    channel_names : sequence of str

    Returns
    -------
    effective_k : DataFrame of shape (n_channels, 3)
        Posterior ``mean`` and 90% interval (``lower``, ``upper``).
    """
    w = np.asarray(pi) * np.asarray(A)
    w = w / w.sum(axis=-1, keepdims=True)
    k = 1.0 / np.sum(w**2, axis=-1)
    return pd.DataFrame(
        {
            "mean": k.mean(0),
            "lower": np.quantile(k, 0.05, axis=0),
            "upper": np.quantile(k, 0.95, axis=0),
        },
        index=pd.Index([str(c) for c in channel_names], name="channel"),
    )


def mcmc_diagnostics(samples: dict, n_chains: int, diverging) -> dict:
    """A NUTS fit's convergence checks: R-hat, bulk ESS and divergences.

    Parameters
    ----------
    samples : dict of str to ndarray of shape (n_chains * n_samples, ...)
    n_chains : int
    diverging : array-like of bool
        Per draw, whether the transition diverged.

    Returns
    -------
    diagnostics : dict
        ``summary``, ``max_rhat``, ``min_ess_bulk``, ``divergences`` and
        ``converged`` (every R-hat at most ``RHAT_MAX``, every bulk ESS at
        least ``ESS_MIN``, no divergence, more than one chain).
    """
    summary = summarize_draws({k: v for k, v in samples.items() if v.size}, n_chains)
    divergences = int(np.sum(diverging))
    max_rhat = float(np.nanmax(summary["r_hat"])) if summary["r_hat"].notna().any() else np.nan
    min_ess = float(np.nanmin(summary["ess_bulk"])) if summary["ess_bulk"].notna().any() else np.nan
    converged = bool(
        n_chains > 1 and max_rhat <= RHAT_MAX and min_ess >= ESS_MIN and divergences == 0
    )
    return {
        "summary": summary,
        "max_rhat": max_rhat,
        "min_ess_bulk": min_ess,
        "divergences": divergences,
        "converged": converged,
    }


def svi_diagnostics(samples: dict, losses, drift=np.nan) -> dict:
    """An SVI fit's checks: its ELBO, and whether the guide and the ELBO settled.

    Parameters
    ----------
    samples : dict of str to ndarray of shape (n_samples, ...)
    losses : ndarray of shape (n_steps,)
        The negative ELBO per step.
    drift : float, default=nan
        The largest change of a guide location over the last tenth of the
        steps, in posterior standard deviations (as
        :func:`hillmix._inference.run_svi` measures it).

    Returns
    -------
    diagnostics : dict
        As :func:`mcmc_diagnostics` (R-hat and ESS NaN, no divergences),
        with ``elbo`` (mean over the last tenth of the steps), ``drift`` and
        ``elbo_trend``: the median ELBO of the last quarter of the steps
        minus that of the quarter before, in units of the ELBO's
        step-to-step noise over that half (positive while it still rises).
        ``converged`` when every loss is finite, ``drift`` is at most
        ``SVI_DRIFT_MAX`` and ``abs(elbo_trend)`` at most ``SVI_TREND_MAX``.
        The loss alone cannot tell: its one-draw noise hides a slow climb
        of the ELBO, and steps too large to settle keep the loss level while
        the guide jumps about; the guide alone cannot either, since early
        on its standard deviations are wide and its small steps look settled.
    """
    losses = np.asarray(losses, dtype=float)
    tail = losses[-max(len(losses) // 10, 1) :]
    quarter = len(losses) // 4
    trend = np.nan
    if quarter >= 2 and np.all(np.isfinite(losses)):
        half = losses[-2 * quarter :]
        steps = np.diff(half)
        # Differences remove a slow trend; their MAD, spikes.
        noise = 1.4826 * np.median(np.abs(steps - np.median(steps))) / np.sqrt(2)
        rise = np.median(half[:quarter]) - np.median(half[quarter:])
        trend = rise / noise if noise > 0 else (0.0 if rise == 0 else np.inf * np.sign(rise))
    settled = bool(
        np.all(np.isfinite(losses)) and not drift > SVI_DRIFT_MAX and not abs(trend) > SVI_TREND_MAX
    )
    return {
        "summary": summarize_draws({k: v for k, v in samples.items() if v.size}, 1),
        "max_rhat": np.nan,
        "min_ess_bulk": np.nan,
        "divergences": 0,
        "converged": settled,
        "elbo": -float(np.mean(tail)),
        "drift": float(drift),
        "elbo_trend": float(trend),
    }
