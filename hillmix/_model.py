"""The Hill-mixture media-mix model as pure JAX functions and a NumPyro model.

Everything here works on the model's internal scales (see
:mod:`hillmix._priors`); :class:`~hillmix.HillMixtureMMM` maps to and from
the user's scales.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from ._adstock import geometric_adstock_weights
from ._saturation import hill, summed_hill_curves

__all__ = [
    "Design",
    "baseline_mean",
    "hill_mixture_mmm",
    "lags_innermost",
    "media_contributions",
    "steady_state_response",
]


class Design(NamedTuple):
    """Model inputs for a run of periods, on internal scales.

    Attributes
    ----------
    media_lags : array of shape (n_channels, n_periods, max_lag)
        Lag stack of scaled spend (:func:`hillmix.lag_stack`, axes
        reversed): with lags innermost, adstock and its gradient are about
        a tenth of a sampler's time faster than with lags first.
    trend : array of shape (n_periods, n_trend)
        Time on the fit's [0, 1) scale; ``n_trend`` is 0 or 1.
    fourier : array of shape (n_periods, n_fourier)
        Yearly Fourier terms.
    controls : array of shape (n_periods, n_controls)
        Standardised control columns.
    mask : array of shape (n_periods,)
        1 for observed periods, 0 for padding. Fits pad the time axis to a
        few bucket lengths so that series of similar length share one
        compiled sampler.
    """

    media_lags: jnp.ndarray
    trend: jnp.ndarray
    fourier: jnp.ndarray
    controls: jnp.ndarray
    mask: jnp.ndarray


def lags_innermost(stack):
    """A lag stack in the model's layout (see :class:`Design`).

    Parameters
    ----------
    stack : array of shape (max_lag, n_periods, n_channels)
        As :func:`hillmix.lag_stack` returns it.

    Returns
    -------
    media_lags : array of shape (n_channels, n_periods, max_lag)
    """
    return stack.transpose(2, 1, 0)


def media_contributions(params, media_lags):
    """Per-channel media response over time for one parameter draw.

    Parameters
    ----------
    params : dict
        Needs ``adstock_alpha`` (n_channels,), and ``pi``, ``A``, ``kappa``,
        ``n`` of shape (n_channels, n_components).
    media_lags : array of shape (n_channels, n_periods, max_lag)
        As in :class:`Design`.

    Returns
    -------
    contributions : array of shape (n_periods, n_channels)
    """
    return _media_by_channel(params, media_lags).T


def _media_by_channel(params, media_lags):
    """:func:`media_contributions` transposed, of shape (n_channels, n_periods).

    The Hill curves are evaluated with components first and time last: the
    long axis innermost is what XLA vectorises, and the sampler's gradient
    is about a quarter faster than with the (periods, channels, components)
    layout.

    The curves are computed in the precision of ``media_lags``. Fits pass
    the lag stack in single precision: the curves and their gradient, most
    of the sampler's work, then take about half the time they take in
    double precision.
    """
    dtype = media_lags.dtype
    weights = geometric_adstock_weights(params["adstock_alpha"].astype(dtype), media_lags.shape[-1])
    adstocked = jnp.einsum("ctl,lc->ct", media_lags, weights)
    scale, kappa, n = (
        value.T.astype(dtype)[..., None]
        for value in (
            params["pi"] * params["A"],
            _in_range(params["kappa"], dtype),
            _in_range(params["n"], dtype),
        )
    )
    return summed_hill_curves(adstocked, scale, kappa, n)


def _in_range(value, dtype):
    """``value`` clipped to the positive normal numbers of ``dtype``.

    Single precision overflows beyond about ``exp(88)``: a half-saturation
    point or exponent out there would put ``0 * inf`` in the curves'
    gradient. The curves are flat there, and the gradient through the clip,
    zero, is what double precision gives.
    """
    info = jnp.finfo(dtype)
    return jnp.clip(value, info.tiny, info.max)


def steady_state_response(params, spend):
    """Response to a spend held constant long enough to reach steady state.

    With normalised adstock weights the steady-state adstock of a constant
    spend is the spend itself, so the response is the mixture of Hill curves
    evaluated at ``spend``.

    Parameters
    ----------
    params : dict
        As for :func:`media_contributions`.
    spend : array of shape (..., n_channels)
        Scaled spend per period.

    Returns
    -------
    response : array of shape (..., n_channels)
    """
    return _channel_response(params, spend)


def _channel_response(params, adstocked):
    curves = hill(adstocked[..., None], params["kappa"], params["n"])
    return jnp.sum(params["pi"] * params["A"] * curves, axis=-1)


def baseline_mean(params, design: Design):
    """Intercept, trend, seasonality and controls for one parameter draw.

    Returns
    -------
    baseline : array of shape (n_periods,)
    """
    return (
        params["intercept"]
        + design.trend @ params["trend"]
        + design.fourier @ params["seasonality"]
        + design.controls @ params["controls"]
    )


def _coefficients(name, size, priors):
    """Linear coefficients of a baseline block; no site when the block is empty."""
    if size == 0:
        return jnp.zeros(0)
    return numpyro.sample(name, priors[name].expand([size]).to_event(1))


def _component_params(name, n_channels, n_components, hierarchical, priors):
    """Log-scale component parameters, hierarchical and non-centred if asked."""
    shape = (n_channels, n_components)
    if hierarchical and n_components > 1:
        with numpyro.plate("channels_" + name, n_channels, dim=-2):
            mu = numpyro.sample(f"mu_log_{name}", priors[f"mu_log_{name}"])
            sigma = numpyro.sample(f"sigma_log_{name}", priors[f"sigma_log_{name}"])
        # Non-centred: the sampler sees independent standard normals, so the
        # geometry does not narrow as sigma shrinks.
        z = numpyro.sample(f"z_log_{name}", dist.Normal(0.0, 1.0).expand(shape).to_event(2))
        return mu + sigma * z
    return numpyro.sample(f"log_{name}", priors[f"log_{name}"].expand(shape).to_event(2))


def hill_mixture_mmm(
    design: Design,
    y=None,
    *,
    n_components: int,
    hierarchical: bool,
    likelihood: str,
    priors: dict,
):
    """NumPyro model: baseline plus, per channel, a Hill mixture after adstock.

    Parameters
    ----------
    design : Design
        Inputs on internal scales.
    y : array of shape (n_periods,), optional
        Standardised target; ``None`` samples the prior predictive.
    n_components : int
        Hill curves per channel.
    hierarchical : bool
        Pool amplitudes and exponents of a channel's components through
        LogNormal-scaled hyperpriors (ignored with one component).
    likelihood : {"normal", "student_t"}
        Observation noise.
    priors : dict
        Resolved priors (see :func:`hillmix.default_priors`).
    """
    n_channels, n_periods, _ = design.media_lags.shape
    K = n_components

    level = numpyro.sample("level", priors["level"])
    trend = _coefficients("trend", design.trend.shape[1], priors)
    seasonality = _coefficients("seasonality", design.fourier.shape[1], priors)
    controls = _coefficients("controls", design.controls.shape[1], priors)
    alpha = numpyro.sample(
        "adstock_alpha", priors["adstock_alpha"].expand([n_channels]).to_event(1)
    )

    log_A = _component_params("A", n_channels, K, hierarchical, priors)
    log_n = _component_params("n", n_channels, K, hierarchical, priors)
    A = numpyro.deterministic("A", jnp.exp(log_A))
    n = numpyro.deterministic("n", jnp.exp(log_n))

    log_kappa_mean = numpyro.sample(
        "log_kappa", priors["log_kappa"].expand([n_channels]).to_event(1)
    )
    if K > 1:
        gaps = numpyro.sample(
            "log_kappa_gap",
            priors["log_kappa_gap"].expand([n_channels, K - 1]).to_event(2),
        )
        # Ordered half-saturation points, centred on their mean: component k
        # is always the k-th to saturate, so labels cannot switch.
        offsets = jnp.concatenate([jnp.zeros((n_channels, 1)), jnp.cumsum(gaps, -1)], -1)
        offsets = offsets - offsets.mean(-1, keepdims=True)
        kappa = numpyro.deterministic("kappa", jnp.exp(log_kappa_mean[:, None] + offsets))
        pi = numpyro.sample(
            "pi",
            dist.Dirichlet(jnp.full((n_channels, K), float(priors["pi_concentration"]))).to_event(
                1
            ),
        )
    else:
        kappa = numpyro.deterministic("kappa", jnp.exp(log_kappa_mean)[:, None])
        pi = numpyro.deterministic("pi", jnp.ones((n_channels, 1)))

    params = {
        "intercept": 0.0,
        "trend": trend,
        "seasonality": seasonality,
        "controls": controls,
        "adstock_alpha": alpha,
        "A": A,
        "n": n,
        "kappa": kappa,
        "pi": pi,
    }
    signal = baseline_mean(params, design) + _media_by_channel(params, design.media_lags).sum(0)
    # The prior sits on the mean level of the fit period, not on the
    # intercept: media effects are positive, so the intercept moves against
    # every amplitude at once, a long diagonal valley the sampler would have
    # to crawl along. The level is nearly independent of them.
    fit_mean = jnp.sum(signal * design.mask) / jnp.sum(design.mask)
    intercept = numpyro.deterministic("intercept", level - fit_mean)
    mean = intercept + signal
    sigma = numpyro.sample("sigma", priors["sigma"])
    if likelihood == "student_t":
        nu = numpyro.sample("nu", priors["nu"])
        noise = dist.StudentT(nu, mean, sigma)
    else:
        noise = dist.Normal(mean, sigma)
    with numpyro.plate("periods", n_periods):
        numpyro.sample("y", noise.mask(design.mask > 0), obs=y)
