"""HillMixtureMMM: the scikit-learn estimator around the NumPyro model."""

from __future__ import annotations

import numbers
import pickle
import warnings
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._adstock import lag_stack, lag_windows
from ._diagnostics import (
    ESS_MIN,
    RHAT_MAX,
    SVI_DRIFT_MAX,
    SVI_TREND_MAX,
    effective_k,
    mcmc_diagnostics,
    svi_diagnostics,
)
from ._inference import run_nuts, run_svi
from ._jax_setup import double_precision, in_double_precision, traced
from ._model import (
    Design,
    baseline_mean,
    hill_mixture_mmm,
    lags_innermost,
    media_contributions,
    steady_state_response,
)
from ._priors import priors_key, resolve_priors
from ._random import resolve_seed
from .exceptions import ConvergenceWarning, InferenceError

__all__ = ["HillMixtureMMM"]

_FORMAT_VERSION = 2
_DERIVED = ("A", "n", "kappa", "pi", "intercept")
_PREDICTIVE_SITES = (
    "intercept",
    "trend",
    "seasonality",
    "controls",
    "adstock_alpha",
    "A",
    "n",
    "kappa",
    "pi",
    "sigma",
    "nu",
)
# Fourier terms are measured in periods; 52.1775 weeks make a mean year.
_WEEKS_PER_YEAR = 365.25 / 7


def _spend_scales(media: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's mean positive spend, the unit of its half-saturation prior.

    A channel never spent on has no scale of its own: it gets the mean of the
    others' (a scale of one currency unit would put its prior curve's
    saturation at a single unit of spend, making it look like the best
    channel there is). Returns the scales and the names of such channels.
    """
    spent = np.any(media > 0, axis=0)
    if not spent.any():
        raise ValueError(
            "Every spend column of X is zero in every period: the model needs spend to "
            "learn a response from."
        )
    positive_mean = np.array(
        [col[col > 0].mean() if any_ else np.nan for col, any_ in zip(media.T, spent, strict=True)]
    )
    unspent = names[~spent]
    if unspent.size:
        warnings.warn(
            f"Spend column(s) {unspent.tolist()} are zero in every period of X: the data say "
            "nothing of their response, which is the prior's alone. Drop them, or keep them "
            "out of allocations (BudgetAllocator holds them at zero unless given bounds).",
            UserWarning,
            stacklevel=3,
        )
    return np.where(spent, positive_mean, positive_mean[spent].mean()), unspent


class HillMixtureMMM(RegressorMixin, BaseEstimator):
    """Bayesian media-mix model whose channel responses are Hill mixtures.

    For channel ``c`` and period ``t`` spend is carried over by geometric
    adstock with retention ``alpha[c]`` over ``adstock_max_lag`` periods
    (normalised weights), then saturated by a mixture of Hill curves::

        f_c(x) = sum_k pi[c, k] * A[c, k] * x**n[c, k] / (x**n[c, k] + kappa[c, k]**n[c, k])
        y[t] = baseline[t] + sum_c f_c(adstock(spend)[t, c]) + eps[t]

    A channel's audience is a population of segments that saturate at
    different spend levels; each component is one such segment. Half-
    saturation points are ordered within a channel, so components keep their
    labels across chains. Amplitudes and exponents of a channel's components
    share non-centred LogNormal-scaled hyperpriors (see
    :func:`hillmix.default_priors` for every default and why).

    Spend and target are scaled internally; every output is on the original
    scales.

    Parameters
    ----------
    n_components : int, default=3
        Hill curves per channel. ``1`` is the single-Hill baseline.
    adstock_max_lag : int, default=8
        Periods over which spend keeps working, the current one included.
    hierarchical : bool, default=True
        Pool amplitudes and exponents of a channel's components. ``False``
        gives independent components. Ignored when ``n_components=1``.
    control_columns : list of str or int, default=None
        Columns of ``X`` that are controls (linear effects) rather than
        spend: names when ``X`` is a DataFrame, positions otherwise.
    trend : bool, default=True
        Include a linear trend in the baseline.
    yearly_seasonality : int, default=2
        Number of Fourier orders of the yearly seasonality; 0 disables it.
    seasonality_period : float, default=52.1775
        Length of a year in periods (52.1775 for weekly data).
    likelihood : {"normal", "student_t"}, default="normal"
        Observation noise.
    priors : dict, default=None
        Priors overriding the defaults, by name (see
        :data:`hillmix.PRIOR_NAMES`): numpyro distributions, and a positive
        number for ``"pi_concentration"``.
    inference : {"nuts", "svi"}, default="nuts"
        NUTS for the full posterior; SVI for a fast approximation.
    num_warmup : int, default=1000
        NUTS warm-up iterations per chain.
    num_samples : int, default=1000
        Posterior draws per chain (NUTS), or in total (SVI).
    num_chains : int, default=4
        NUTS chains, run in parallel when JAX sees enough CPU devices.
    target_accept : float or "auto", default="auto"
        NUTS target acceptance probability of the step size it samples with.
        ``"auto"`` is 0.95 for one component and 0.99 for a mixture: a
        mixture's weights and amplitudes enter the likelihood only through
        their products, a curved ridge on which step sizes tuned for 0.95
        diverge now and then (one to a few transitions in 9 of 10 fits of
        the recovery study's data); smaller steps make them rarer (one to a
        few in about a fifth of the fits) for about 40% more sampling time.
        When a fit still has divergent transitions, ``"auto"`` samples
        again, once, at half the rejection rate (0.995 for a mixture, 0.975
        for one component) and keeps only the second run;
        ``diagnostics_["target_accept"]`` says which target the draws come
        from. A number is used as given.
        The step size is tuned for it at the end of warm-up; the warm-up
        before (burn-in and the windows that estimate the mass matrix)
        tunes for ``min(target_accept, 0.85)``, at a fraction of the
        leapfrog steps.
    dense_mass : bool, default=False
        Adapt a dense mass matrix. With a few hundred parameters its
        adaptation needs long warm-ups; the diagonal one mixes faster here.
    max_tree_depth : int, default=10
        Largest NUTS tree depth: at most ``2**max_tree_depth`` leapfrog
        steps per draw.
    svi_steps : int, default=5000
        Optimisation steps for ``inference="svi"``. Fit warns
        (:class:`~hillmix.ConvergenceWarning`) when the guide or the ELBO
        still moved at the end of them (see ``diagnostics_``).
    svi_guide : {"normal", "multivariate_normal"}, default="normal"
        AutoNormal or AutoMultivariateNormal guide.
    svi_learning_rate : float, default=0.01
        Adam step size for SVI.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the sampler and the predictive draws; the same int gives the
        same posterior, bit for bit, with or without a progress bar and
        whatever the number of CPU devices the chains are split over, as
        long as it is more than one. Chains that all run on one device
        (one core, a ``num_chains`` no device count above one divides, or
        JAX started before ``hillmix`` was imported) run a program XLA
        compiles without partitioning, which rounds differently: their draws
        differ from the split ones after a few iterations.
    progress : bool, default=False
        Show a progress bar while fitting.

    Attributes
    ----------
    posterior_samples_ : dict of str to ndarray of shape (n_draws, ...)
        Posterior draws of every site, on internal scales, chains one after
        the other.
    diagnostics_ : dict
        ``summary`` (DataFrame of mean, sd, R-hat and bulk ESS per scalar),
        ``max_rhat``, ``min_ess_bulk``, ``divergences``, ``converged`` and,
        for NUTS, ``target_accept`` (the target the kept draws were sampled
        at) and ``first_run_divergences`` (those that made ``"auto"`` sample
        again, or ``divergences``) or, for SVI, ``elbo`` (mean over the last
        tenth of the steps), ``drift`` (the largest change of a guide
        location over that last tenth, in posterior standard deviations) and
        ``elbo_trend`` (the change of the median ELBO between the last two
        quarters of the steps, in units of its step-to-step noise);
        ``converged`` when the drift is at most 2 and the trend at most 1 in
        size, else fit warns with
        :class:`~hillmix.ConvergenceWarning`. An SVI fit whose ELBO or draws
        are not finite raises :class:`~hillmix.InferenceError` instead.
    effective_k_ : DataFrame of shape (n_channels, 3)
        Effective number of components per channel, ``1 / sum_k w**2``:
        posterior mean and 90% interval. The weights ``w = pi * A / sum(pi *
        A)`` are each component's share of the channel's saturation level.
        They equal ``pi`` when the amplitudes are equal; unlike ``pi``, they
        are identified by the data, since a segment's size and its per-head
        response enter the curve only as a product.
    channel_names_ : ndarray of str
        The spend columns, in model order.
    channels_without_spend_ : ndarray of str
        Spend columns that were zero in every period of ``X``: the data say
        nothing of their response, which is their prior's alone (with the
        half-saturation prior set against the other channels' typical
        spend). Fit warns about them, and
        :class:`~hillmix_opt.BudgetAllocator` holds them at zero spend unless
        given bounds for them.
    control_names_ : ndarray of str
        The control columns.
    feature_names_in_ : ndarray of str
        All columns of ``X`` at fit, when ``X`` had string column names.
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    hillmix.default_priors : The priors and their reasons.
    hillmix_sim.MMMDataGenerator : Data with a known truth.

    Examples
    --------
    >>> from hillmix import HillMixtureMMM
    >>> from hillmix_sim import make_mmm_data
    >>> X, y, truth = make_mmm_data(n_periods=60, n_channels=2, random_state=0)
    >>> mmm = HillMixtureMMM(n_components=2, inference="svi", svi_steps=300,
    ...                      num_samples=100, random_state=0).fit(X, y)
    >>> mmm.predict(X).shape
    (60,)
    >>> list(mmm.effective_k_.columns)
    ['mean', 'lower', 'upper']
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "adstock_max_lag": [Interval(numbers.Integral, 1, None, closed="left")],
        "hierarchical": ["boolean"],
        "control_columns": [list, tuple, None],
        "trend": ["boolean"],
        "yearly_seasonality": [Interval(numbers.Integral, 0, None, closed="left")],
        "seasonality_period": [Interval(numbers.Real, 0, None, closed="neither")],
        "likelihood": [StrOptions({"normal", "student_t"})],
        "priors": [dict, None],
        "inference": [StrOptions({"nuts", "svi"})],
        "num_warmup": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_chains": [Interval(numbers.Integral, 1, None, closed="left")],
        "target_accept": [Interval(numbers.Real, 0, 1, closed="neither"), StrOptions({"auto"})],
        "dense_mass": ["boolean"],
        "max_tree_depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "svi_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "svi_guide": [StrOptions({"normal", "multivariate_normal"})],
        "svi_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        n_components: int = 3,
        adstock_max_lag: int = 8,
        hierarchical: bool = True,
        control_columns: list | None = None,
        trend: bool = True,
        yearly_seasonality: int = 2,
        seasonality_period: float = _WEEKS_PER_YEAR,
        likelihood: str = "normal",
        priors: dict | None = None,
        inference: str = "nuts",
        num_warmup: int = 1000,
        num_samples: int = 1000,
        num_chains: int = 4,
        target_accept: float | str = "auto",
        dense_mass: bool = False,
        max_tree_depth: int = 10,
        svi_steps: int = 5000,
        svi_guide: str = "normal",
        svi_learning_rate: float = 0.01,
        random_state=None,
        progress: bool = False,
    ):
        self.n_components = n_components
        self.adstock_max_lag = adstock_max_lag
        self.hierarchical = hierarchical
        self.control_columns = control_columns
        self.trend = trend
        self.yearly_seasonality = yearly_seasonality
        self.seasonality_period = seasonality_period
        self.likelihood = likelihood
        self.priors = priors
        self.inference = inference
        self.num_warmup = num_warmup
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.target_accept = target_accept
        self.dense_mass = dense_mass
        self.max_tree_depth = max_tree_depth
        self.svi_steps = svi_steps
        self.svi_guide = svi_guide
        self.svi_learning_rate = svi_learning_rate
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    @in_double_precision
    def fit(self, X, y):
        """Sample the posterior given spend (and controls) ``X`` and target ``y``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
            Spend per channel (non-negative) and control columns, one row per
            period in time order.
        y : array-like of shape (n_periods,)
            The target (sales, revenue, ...).

        Returns
        -------
        self : HillMixtureMMM
            The fitted model.
        """
        state = dict(vars(self))
        try:
            return self._fit(X, y)
        except BaseException:
            # A failed fit leaves the estimator as it was, with no attribute
            # of a half-finished fit (feature_names_in_ included).
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit(self, X, y):
        priors = resolve_priors(self.priors)
        _check_numeric_columns(X)
        fitted = _FitState()
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        fitted.control_idx, fitted.media_idx = self._split_columns(X.shape[1])
        min_periods = max(self.adstock_max_lag + 1, 3)
        if X.shape[0] < min_periods:
            raise ValueError(
                f"HillMixtureMMM needs at least {min_periods} periods (rows) with "
                f"adstock_max_lag={self.adstock_max_lag}; got n_samples = {X.shape[0]}."
            )
        if len(fitted.media_idx) == 0:
            raise ValueError("X has no spend column: every column is a control.")
        media = X[:, fitted.media_idx]
        names = self._column_names(X.shape[1])
        _check_non_negative(media, names[fitted.media_idx])
        y_scale = float(np.std(y))
        if not y_scale > 0:
            raise ValueError("y is constant: the model needs variation in the target.")

        fitted.y_loc, fitted.y_scale = float(np.mean(y)), y_scale
        fitted.spend_scale, unspent = _spend_scales(media, names[fitted.media_idx])
        controls = X[:, fitted.control_idx]
        fitted.control_loc = controls.mean(axis=0)
        control_sd = controls.std(axis=0)
        fitted.control_scale = np.where(control_sd > 0, control_sd, 1.0)
        fitted.n_fit_periods = X.shape[0]

        n_padded = _bucket_length(X.shape[0])
        design = self._design(X, fitted, n_padded=n_padded)
        # The media curves in single precision for NUTS and SVI alike, about
        # half the cost of a gradient (see ``_media_by_channel``); their
        # rounding, near 1e-7 of the scaled target, is far below any noise.
        # The sampler's state and the rest of the log density stay double,
        # and so does everything computed from the draws after the fit
        # (``_design`` builds double-precision inputs for it).
        # Cast on the host: a JAX cast would compile a program of its own.
        lags = np.asarray(design.media_lags, dtype=np.float32)
        design = design._replace(media_lags=jnp.asarray(lags))
        y_scaled = np.zeros(n_padded)
        y_scaled[: X.shape[0]] = (y - fitted.y_loc) / fitted.y_scale
        seed = resolve_seed(self.random_state)
        model = partial(
            hill_mixture_mmm,
            n_components=self.n_components,
            hierarchical=self.hierarchical,
            likelihood=self.likelihood,
            priors=priors,
        )
        key = jax.random.PRNGKey(seed)
        data = (design, jnp.asarray(y_scaled))
        model_key = (self.n_components, self.hierarchical, self.likelihood, priors_key(priors))
        if self.inference == "nuts":
            sample = partial(
                run_nuts,
                model,
                data,
                key,
                num_warmup=self.num_warmup,
                num_samples=self.num_samples,
                num_chains=self.num_chains,
                dense_mass=self.dense_mass,
                max_tree_depth=self.max_tree_depth,
                progress=self.progress,
                cache_key=model_key,
            )
            target = self._target_accept()
            samples, sample_stats = sample(target_accept=target)
            first_divergences = int(sample_stats["diverging"].sum())
            if self.target_accept == "auto" and first_divergences:
                # Divergent transitions mean the step size was too large
                # somewhere the chains went, and their draws may be biased:
                # sample again with half the rejection rate, as one would by
                # hand. Only the second run's draws are kept.
                target = _rerun_target(target)
                samples, sample_stats = sample(target_accept=target)
            n_chains = self.num_chains
            diagnostics = mcmc_diagnostics(samples, n_chains, sample_stats["diverging"])
            diagnostics["target_accept"] = target
            diagnostics["first_run_divergences"] = first_divergences
        else:
            samples, losses, drift = run_svi(
                model,
                data,
                key,
                num_steps=self.svi_steps,
                num_samples=self.num_samples,
                guide=self.svi_guide,
                learning_rate=self.svi_learning_rate,
                return_sites=_DERIVED,
                progress=self.progress,
                cache_key=model_key,
            )
            _check_svi_finite(samples, losses, self.svi_learning_rate)
            n_chains, sample_stats = 1, None
            diagnostics = svi_diagnostics(samples, losses, drift)

        # Set fitted attributes only now: a failed fit leaves none behind.
        self.channel_names_ = names[fitted.media_idx]
        self.control_names_ = names[fitted.control_idx]
        self.channels_without_spend_ = unspent
        self._fitted = fitted
        self._seed = seed
        self._n_chains = n_chains
        self._sample_stats = sample_stats
        self.posterior_samples_ = samples
        self.diagnostics_ = diagnostics
        self.effective_k_ = effective_k(samples["pi"], samples["A"], self.channel_names_)
        if self.inference == "nuts" and not diagnostics["converged"]:
            warnings.warn(
                "HillMixtureMMM did not pass its convergence checks: "
                f"max R-hat {diagnostics['max_rhat']:.3f} (limit {RHAT_MAX}), "
                f"min bulk ESS {diagnostics['min_ess_bulk']:.0f} (limit {ESS_MIN}), "
                f"{diagnostics['divergences']} divergent transitions (limit 0). "
                "Try more num_warmup/num_samples, a higher target_accept, or "
                "fewer components; see diagnostics_['summary'].",
                ConvergenceWarning,
                stacklevel=4,
            )
        elif self.inference == "svi" and not diagnostics["converged"]:
            warnings.warn(
                f"HillMixtureMMM's SVI fit did not converge in {self.svi_steps} steps: "
                f"{_svi_unsettled(diagnostics, self.svi_learning_rate)} See "
                "diagnostics_['drift'] and diagnostics_['elbo_trend'].",
                ConvergenceWarning,
                stacklevel=4,
            )
        return self

    # ------------------------------------------------------------ internals
    def _target_accept(self):
        if self.target_accept == "auto":
            return 0.95 if self.n_components == 1 else 0.99
        return self.target_accept

    def _column_names(self, n_features):
        if hasattr(self, "feature_names_in_"):
            return np.asarray(self.feature_names_in_, dtype=object)
        return np.asarray([f"x{i}" for i in range(n_features)], dtype=object)

    def _split_columns(self, n_features):
        if not self.control_columns:
            return np.array([], dtype=int), np.arange(n_features)
        names = list(self._column_names(n_features))
        idx = []
        for col in self.control_columns:
            if isinstance(col, numbers.Integral) and not isinstance(col, bool):
                if not 0 <= col < n_features:
                    raise ValueError(
                        f"control_columns has position {col}, but X has {n_features} columns."
                    )
                idx.append(int(col))
            elif col in names:
                idx.append(names.index(col))
            else:
                raise ValueError(
                    f"control_columns names {col!r}, which is not a column of X (columns: {names})."
                )
        control = np.array(sorted(set(idx)), dtype=int)
        return control, np.setdiff1d(np.arange(n_features), control)

    def _design(self, X, fitted, offset=0, n_padded=None):
        n_obs = X.shape[0]
        n_padded = n_obs if n_padded is None else n_padded
        # Zero rows after the data: no spend, masked out of the likelihood.
        X = np.vstack([X, np.zeros((n_padded - n_obs, X.shape[1]))])
        mask = (np.arange(n_padded) < n_obs).astype(float)
        media = X[:, fitted.media_idx] / fitted.spend_scale
        # Centred on the fit period, so the trend does not trade off against
        # the level.
        t = (np.arange(X.shape[0]) + offset - (fitted.n_fit_periods - 1) / 2) / fitted.n_fit_periods
        trend = t[:, None] if self.trend else np.zeros((X.shape[0], 0))
        periods = np.arange(X.shape[0]) + offset
        orders = np.arange(1, self.yearly_seasonality + 1)
        angle = 2 * np.pi * periods[:, None] * orders / self.seasonality_period
        fourier = np.concatenate([np.sin(angle), np.cos(angle)], axis=1)
        controls = (X[:, fitted.control_idx] - fitted.control_loc) / fitted.control_scale
        return Design(
            media_lags=jnp.asarray(lags_innermost(lag_stack(media, self.adstock_max_lag))),
            trend=jnp.asarray(trend),
            fourier=jnp.asarray(fourier),
            controls=jnp.asarray(controls),
            mask=jnp.asarray(mask),
        )

    def _validate_X(self, X):
        check_is_fitted(self)
        _check_numeric_columns(X)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        _check_non_negative(
            X[:, self._fitted.media_idx], self._column_names(X.shape[1])[self._fitted.media_idx]
        )
        return X

    def _param_draws(self, n_draws=None):
        samples = self.posterior_samples_
        n_total = len(samples["sigma"])
        draws = {k: jnp.asarray(samples[k]) for k in _PREDICTIVE_SITES if k in samples}
        for block in ("trend", "seasonality", "controls"):
            # Empty baseline blocks have no site; their coefficients are zero.
            draws.setdefault(block, jnp.zeros((n_total, 0)))
        if n_draws is not None:
            idx = np.linspace(0, n_total - 1, min(n_draws, n_total)).astype(int)
            draws = {k: v[idx] for k, v in draws.items()}
        return draws

    def _mean_draws(self, X):
        """Baseline and per-channel contributions per draw, internal scale."""
        baseline, media = _mean_parts(self._param_draws(), self._design(X, self._fitted))
        return np.asarray(baseline), np.asarray(media)

    def _predictive_draws(self, X, key):
        baseline, media = self._mean_draws(X)
        mean = baseline + media.sum(-1)
        sigma = self.posterior_samples_["sigma"][:, None]
        if self.likelihood == "student_t":
            nu = jnp.asarray(self.posterior_samples_["nu"])[:, None]
            noise = jax.random.t(key, nu, shape=mean.shape)
        else:
            noise = jax.random.normal(key, mean.shape)
        return self._unscale_y(mean + sigma * np.asarray(noise))

    def _unscale_y(self, value):
        return value * self._fitted.y_scale + self._fitted.y_loc

    # ------------------------------------------------------------ predict
    @in_double_precision
    def predict(self, X, return_std: bool = False):
        """Posterior mean of the target, and optionally its predictive std.

        Rows of ``X`` are periods from the start of the fit period on; spend
        before the first row counts as zero.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
            Same columns as at fit.
        return_std : bool, default=False
            Also return the posterior predictive standard deviation
            (parameter uncertainty and observation noise).

        Returns
        -------
        y_mean : ndarray of shape (n_periods,)
        y_std : ndarray of shape (n_periods,)
            Only when ``return_std=True``.
        """
        X = self._validate_X(X)
        baseline, media = self._mean_draws(X)
        mean_draws = baseline + media.sum(-1)
        y_mean = self._unscale_y(mean_draws.mean(0))
        if not return_std:
            return y_mean
        noise_var = self.posterior_samples_["sigma"] ** 2
        if self.likelihood == "student_t":
            nu = self.posterior_samples_["nu"]
            noise_var = np.where(nu > 2, noise_var * nu / np.maximum(nu - 2, 1e-12), np.inf)
        y_std = np.sqrt(mean_draws.var(0) + noise_var.mean()) * self._fitted.y_scale
        return y_mean, y_std

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination R^2 of :meth:`predict` on ``X``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
            Same columns as at fit.
        y : array-like of shape (n_periods,)
            Observed target.
        sample_weight : array-like of shape (n_periods,), default=None
            Weights of the periods.

        Returns
        -------
        score : float
        """
        return super().score(X, y, sample_weight=sample_weight)

    @in_double_precision
    def sample_posterior_predictive(self, X, n_samples: int | None = None, random_state=None):
        """Draws from the posterior predictive distribution of the target.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
            Same columns as at fit.
        n_samples : int, default=None
            Number of draws; all posterior draws when None (cycled when more
            are asked for).
        random_state : int, numpy.random.Generator or None, default=None
            Seeds the observation noise; None uses the fit's seed.

        Returns
        -------
        draws : ndarray of shape (n_samples, n_periods)
        """
        X = self._validate_X(X)
        seed = self._seed + 1 if random_state is None else resolve_seed(random_state)
        draws = self._predictive_draws(X, jax.random.PRNGKey(seed))
        if n_samples is None:
            return draws
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}.")
        idx = np.arange(n_samples) % len(draws)
        return draws[idx]

    def predict_interval(self, X, coverage: float = 0.9):
        """Equal-tailed posterior predictive interval of the target.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
            Same columns as at fit.
        coverage : float, default=0.9
            Probability mass inside the interval, in (0, 1).

        Returns
        -------
        lower, upper : ndarray of shape (n_periods,), or Series for a DataFrame ``X``
            The interval's bounds. For a DataFrame ``X``, two Series named
            ``"lower"`` and ``"upper"`` on the index of ``X``, so that
            ``lower, upper = mmm.predict_interval(X)`` works for both and
            ``pd.concat(mmm.predict_interval(X), axis=1)`` is a table.
        """
        tail = _tail(coverage)
        index = X.index if isinstance(X, pd.DataFrame) else None
        draws = self.sample_posterior_predictive(X)
        lower, upper = np.quantile(draws, tail, axis=0), np.quantile(draws, 1 - tail, axis=0)
        if index is None:
            return lower, upper
        return (
            pd.Series(lower, index=index, name="lower"),
            pd.Series(upper, index=index, name="upper"),
        )

    @in_double_precision
    def contributions(self, X, coverage: float = 0.9) -> pd.DataFrame:
        """Per-channel and baseline contributions to the target, per period.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
            Same columns as at fit.
        coverage : float, default=0.9
            Mass of the posterior interval reported.

        Returns
        -------
        contributions : DataFrame
            One row per period (the index of ``X`` when a DataFrame); columns
            a MultiIndex of (``baseline`` or channel name, ``mean`` /
            ``lower`` / ``upper``). Channel and baseline means add up to
            :meth:`predict`.
        """
        tail = _tail(coverage)
        index = X.index if isinstance(X, pd.DataFrame) else None
        X = self._validate_X(X)
        baseline, media = self._mean_draws(X)
        parts = {"baseline": self._unscale_y(baseline)}
        for i, name in enumerate(self.channel_names_):
            parts[str(name)] = media[..., i] * self._fitted.y_scale
        frames = {
            name: pd.DataFrame(
                {
                    "mean": d.mean(0),
                    "lower": np.quantile(d, tail, axis=0),
                    "upper": np.quantile(d, 1 - tail, axis=0),
                },
                index=index,
            )
            for name, d in parts.items()
        }
        return pd.concat(frames, axis=1)

    def _channel_index(self, channel):
        check_is_fitted(self)
        names = [str(c) for c in self.channel_names_]
        if isinstance(channel, numbers.Integral) and not isinstance(channel, bool):
            if not 0 <= channel < len(names):
                raise ValueError(f"channel position {channel} out of range for {names}.")
            return int(channel)
        if str(channel) not in names:
            raise ValueError(f"Unknown channel {channel!r}; expected one of {names}.")
        return names.index(str(channel))

    @in_double_precision
    def response_curve(self, channel, spend=None, coverage: float = 0.9) -> pd.DataFrame:
        """Steady-state response of one channel over a grid of spend.

        The response per period to a spend held constant at each grid value,
        once adstock has reached steady state.

        Parameters
        ----------
        channel : str or int
            Channel name (or position among the spend columns).
        spend : array-like of shape (n_points,), default=None
            Spend per period; defaults to 50 points from 0 to four times
            the channel's mean positive spend at fit.
        coverage : float, default=0.9
            Mass of the posterior interval reported.

        Returns
        -------
        curve : DataFrame
            Columns ``spend``, ``mean``, ``lower``, ``upper`` (response, target
            units), ``roi`` (mean response per unit spend) and
            ``marginal_roi`` (posterior mean of the derivative; at zero
            spend its one-sided limit, infinite when any draw's curve has a
            Hill exponent below one, and 0 when every exponent is above).
        """
        c = self._channel_index(channel)
        tail = _tail(coverage)
        scale = self._fitted.spend_scale[c]
        if spend is None:
            spend = np.linspace(0.0, 4.0 * scale, 50)
        spend = np.asarray(spend, dtype=float)
        if spend.ndim != 1 or not np.all(np.isfinite(spend)) or np.any(spend < 0):
            raise ValueError("spend must be a 1-D array of finite, non-negative values.")
        params = self._param_draws()
        single = {k: params[k][:, c] for k in ("A", "n", "kappa", "pi")}

        values, slopes = _curve_and_slope(single, jnp.asarray(spend) / scale)
        slopes = np.array(slopes)
        # Automatic differentiation gives 0 at zero spend whatever the
        # exponent (the Hill curve is a sigmoid of a guarded log x); the
        # one-sided limit is 0, 1 / kappa or infinite for n above, at or
        # below one.
        slopes[:, spend == 0] = _slope_at_zero(single)[:, None]
        values = np.asarray(values) * self._fitted.y_scale
        # d/d(spend) = d/d(scaled spend) / scale
        slopes = slopes * self._fitted.y_scale / scale
        mean = values.mean(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(spend > 0, mean / spend, np.nan)
        return pd.DataFrame(
            {
                "spend": spend,
                "mean": mean,
                "lower": np.quantile(values, tail, axis=0),
                "upper": np.quantile(values, 1 - tail, axis=0),
                "roi": roi,
                "marginal_roi": slopes.mean(0),
            }
        )

    # ---------------------------------------------------- allocator protocol
    def media_response(self, spend_plan, n_draws: int | None = None):
        """Posterior draws of the media response to a spend plan (JAX-traceable).

        This is the response protocol the allocators in :mod:`hillmix_opt`
        use: pure JAX operations on ``spend_plan``, so callers can ``jit``
        and ``grad`` through it. Called on an array it computes in double
        precision; traced (inside ``jax.jit``, ``grad``...) it computes in
        the precision of the trace: trace under
        :func:`hillmix.utils.double_precision` for double precision, as
        :class:`hillmix_opt.BudgetAllocator` does.

        Parameters
        ----------
        spend_plan : array of shape (n_periods, n_channels)
            Spend per period for each channel of ``channel_names_`` (in that
            order), original units; spend before the first row is zero.
        n_draws : int, default=None
            Use this many evenly spaced posterior draws (all when None).

        Returns
        -------
        response : jax.Array of shape (n_draws, n_periods, n_channels)
            Per-channel response in target units.
        """
        check_is_fitted(self)
        if traced(spend_plan):  # in the caller's precision, as its trace is
            return self._media_response(spend_plan, n_draws)
        with double_precision():
            return self._media_response(spend_plan, n_draws)

    def _media_response(self, spend_plan, n_draws):
        params = self._param_draws(n_draws)
        scaled = jnp.asarray(spend_plan) / jnp.asarray(self._fitted.spend_scale)
        lags = lags_innermost(lag_windows(scaled, self.adstock_max_lag))
        media = jax.vmap(media_contributions, in_axes=(0, None))(params, lags)
        return media * self._fitted.y_scale

    # ------------------------------------------------------------ outputs
    def to_inference_data(self):
        """The posterior as ArviZ data (chains and draws as dimensions).

        NUTS fits also carry the sampler's statistics per draw
        (``sample_stats``): ``diverging``, ``acceptance_rate``,
        ``step_size``, ``n_steps``, ``energy`` (for E-BFMI) and ``lp``.

        Returns
        -------
        idata : arviz.InferenceData or DataTree
            Whatever :func:`arviz.from_dict` returns in the installed ArviZ.
        """
        import arviz as az

        check_is_fitted(self)
        posterior = {
            k: v.reshape(self._n_chains, -1, *v.shape[1:])
            for k, v in self.posterior_samples_.items()
        }
        data = {"posterior": posterior}
        if self._sample_stats is not None:
            data["sample_stats"] = dict(self._sample_stats)
        if int(az.__version__.split(".")[0]) < 1:  # groups as keyword arguments
            return az.from_dict(**data)
        return az.from_dict(data)

    def save(self, path) -> None:
        """Write the fitted model to ``path`` (a pickle with a format version).

        Only load files you trust: like every pickle, loading runs code.

        Parameters
        ----------
        path : str or path-like
            Destination file.
        """
        check_is_fitted(self)
        with open(Path(path), "wb") as fh:
            pickle.dump({"format_version": _FORMAT_VERSION, "model": self}, fh)

    @classmethod
    def load(cls, path) -> HillMixtureMMM:
        """Read a model written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.

        Returns
        -------
        model : HillMixtureMMM
        """
        with open(Path(path), "rb") as fh:
            payload = pickle.load(fh)
        if not isinstance(payload, dict) or payload.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{path} is not a HillMixtureMMM file of format {_FORMAT_VERSION}.")
        model = payload["model"]
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}.")
        diagnostics = getattr(model, "diagnostics_", None)
        if model.inference == "nuts" and diagnostics is not None:
            # Saved before "auto" could sample again: one run, at the first target.
            diagnostics.setdefault("target_accept", model._target_accept())
            diagnostics.setdefault("first_run_divergences", diagnostics["divergences"])
        return model

    def plot_response_curves(self, channels=None, ax=None, coverage: float = 0.9):
        """Plot steady-state response curves with their intervals.

        See :func:`hillmix.plot_response_curves`.
        """
        from ._plotting import plot_response_curves

        return plot_response_curves(self, channels=channels, ax=ax, coverage=coverage)

    def plot_contributions(self, X, ax=None):
        """Plot the baseline and channel contributions over time.

        See :func:`hillmix.plot_contributions`.
        """
        from ._plotting import plot_contributions

        return plot_contributions(self, X, ax=ax)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.non_deterministic = False
        return tags

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this estimator fails by design, with the reason."""
        reason = (
            "rows are periods in time order: adstock carries spend into later "
            "rows and the trend and seasonality depend on the row's position, "
            "so predictions on reordered rows or on a subset legitimately differ"
        )
        return {
            "check_methods_sample_order_invariance": reason,
            "check_methods_subset_invariance": reason,
        }


def _bucket_length(n_periods):
    """Padded length of a series: multiples of 16, then of 64 past 256."""
    step = 16 if n_periods <= 256 else 64
    return -(-n_periods // step) * step


@jax.jit
def _mean_parts(params, design):
    baseline = jax.vmap(baseline_mean, in_axes=(0, None))(params, design)
    media = jax.vmap(media_contributions, in_axes=(0, None))(params, design.media_lags)
    return baseline, media


class _FitState:
    """Scalers and column bookkeeping learnt in fit (plain NumPy, picklable)."""


def _slope_at_zero(params) -> np.ndarray:
    """Per draw, the one-sided slope at zero spend of a mixture of Hill curves (scaled units)."""
    weight = np.asarray(params["pi"]) * np.asarray(params["A"])
    n, kappa = np.asarray(params["n"]), np.asarray(params["kappa"])
    per_unit = np.where(n < 1, np.inf, np.where(n == 1, 1.0 / kappa, 0.0))
    return np.sum(np.where(weight > 0, weight * per_unit, 0.0), axis=-1)


@jax.jit
def _curve_and_slope(params, scaled_spend):
    """One channel's steady-state response and its slope, per draw and grid point."""

    def curve(p, x):
        return steady_state_response({k: v[None] for k, v in p.items()}, x[None])[0]

    grid = jax.vmap(jax.vmap(jax.value_and_grad(curve, argnums=1), (None, 0)), (0, None))
    return grid(params, scaled_spend)


def _tail(coverage):
    if not isinstance(coverage, numbers.Real) or not 0 < coverage < 1:
        raise ValueError(f"coverage must be a number in (0, 1), got {coverage!r}.")
    return (1 - coverage) / 2


def _check_numeric_columns(X):
    if isinstance(X, pd.DataFrame):
        bad = [
            str(c)
            for c, t in X.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t))
        ]
        if bad:
            raise ValueError(
                f"X has non-numeric column(s) {bad}; spend and controls must be numbers."
            )


def _svi_unsettled(diagnostics, learning_rate):
    """Why an SVI fit failed its checks, and what to change."""
    reasons = []
    if diagnostics["drift"] > SVI_DRIFT_MAX:
        reasons.append(
            f"a location of the guide still moved by {diagnostics['drift']:.2g} posterior "
            f"standard deviations over the last tenth of the steps (limit {SVI_DRIFT_MAX:g}): "
            f"the steps are too large to settle, lower svi_learning_rate (now "
            f"{learning_rate:g})."
        )
    if abs(diagnostics["elbo_trend"]) > SVI_TREND_MAX:
        reasons.append(
            f"the ELBO still moved by {diagnostics['elbo_trend']:.2g} times its noise between "
            f"the last two quarters of the steps (limit {SVI_TREND_MAX:g}): give it more "
            "svi_steps."
        )
    return " ".join(reasons) or "its loss is not finite."


def _check_svi_finite(samples, losses, learning_rate):
    """Refuse an SVI fit whose loss or draws are not finite: every output would be NaN."""
    bad_sites = sorted(name for name, v in samples.items() if not np.all(np.isfinite(v)))
    finite = np.isfinite(losses)
    if finite.all() and not bad_sites:
        return
    what = []
    if not finite.all():
        what.append(f"the ELBO became non-finite at step {int(np.argmin(finite)) + 1}")
    if bad_sites:
        what.append(f"the draws of {bad_sites} are not finite")
    raise InferenceError(
        f"SVI diverged: {' and '.join(what)}. The optimiser's steps are too large for this "
        f"model and data: lower svi_learning_rate (now {learning_rate:g}; the default is "
        "0.01), or use inference='nuts'."
    )


def _check_non_negative(media, names):
    negative = np.any(media < 0, axis=0)
    if np.any(negative):
        raise ValueError(
            f"Negative values in data: spend column(s) {[str(n) for n in names[negative]]} "
            "must be non-negative (declare other columns in control_columns)."
        )


def _rerun_target(target):
    """The target of ``"auto"``'s second run: half the first one's rejection rate."""
    return 1.0 - (1.0 - target) / 2.0
