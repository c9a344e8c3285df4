"""Media-mix data with a known truth: spend, target and the curves behind it."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from hillmix import geometric_adstock, hill_mixture
from hillmix._jax_setup import in_double_precision
from hillmix.utils import check_generator

__all__ = ["MMMDataGenerator", "make_mmm_data"]

_DGP_COMPONENTS = {"single": 1, "mixture_k2": 2, "mixture_k3": 3, "mixture_k5": 5}


class MMMDataGenerator(BaseEstimator):
    """Weekly spend and target generated from a known Hill-mixture truth.

    Each channel's response is a mixture of Hill curves after geometric
    adstock, as in :class:`hillmix.HillMixtureMMM`: ``dgp="single"`` has one
    curve per channel, ``"mixture_kK"`` has K segments whose half-saturation
    points are spread over the range of the channel's spend, so that the
    aggregate curve has several bends a single Hill curve cannot follow.
    Spend comes in flights: campaigns switch on and off, with zero weeks in
    between, and some channels run always-on at a varying level. The
    baseline has a level, a linear trend and yearly seasonality.

    Parameters
    ----------
    dgp : {"single", "mixture_k2", "mixture_k3", "mixture_k5"}, default="mixture_k3"
        Number of Hill components per channel in the truth.
    n_periods : int, default=156
        Weeks to generate.
    n_channels : int, default=5
        Media channels (ignored when ``fit`` is given a spend plan).
    noise : float, default=0.05
        Standard deviation of the observation noise as a fraction of the
        mean noiseless target.
    adstock_max_lag : int, default=8
        Lags of the true adstock.
    media_share : float, default=0.35
        Share of the mean target that media drive at the typical spend.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the truth, the spend and the noise.

    Attributes
    ----------
    true_params_ : dict
        ``adstock_alpha`` (n_channels,), ``pi``, ``A``, ``kappa``, ``n``
        (n_channels, n_components, on the original spend and target
        scales), ``intercept``, ``trend`` (per period), ``seasonality``
        (amplitude) and ``sigma`` (noise standard deviation).
    X_ : DataFrame of shape (n_periods, n_channels)
        The spend.
    y_ : Series of shape (n_periods,)
        The target.
    mean_ : ndarray of shape (n_periods,)
        The noiseless target.
    contributions_ : DataFrame of shape (n_periods, n_channels)
        Each channel's true contribution.
    channel_names_ : list of str
    n_features_in_ : int
        Number of channels, when ``fit`` was given a spend plan.

    Examples
    --------
    >>> from hillmix_sim import MMMDataGenerator
    >>> gen = MMMDataGenerator(dgp="mixture_k2", n_periods=52, n_channels=3,
    ...                        random_state=0).fit()
    >>> X, y = gen.generate()
    >>> X.shape, y.shape
    ((52, 3), (52,))
    >>> gen.true_params_["kappa"].shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        "dgp": [StrOptions(set(_DGP_COMPONENTS))],
        "n_periods": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_channels": [Interval(numbers.Integral, 1, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "adstock_max_lag": [Interval(numbers.Integral, 1, None, closed="left")],
        "media_share": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(
        self,
        *,
        dgp: str = "mixture_k3",
        n_periods: int = 156,
        n_channels: int = 5,
        noise: float = 0.05,
        adstock_max_lag: int = 8,
        media_share: float = 0.35,
        random_state=None,
    ):
        self.dgp = dgp
        self.n_periods = n_periods
        self.n_channels = n_channels
        self.noise = noise
        self.adstock_max_lag = adstock_max_lag
        self.media_share = media_share
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    @in_double_precision
    def fit(self, X=None, y=None):
        """Draw the truth, the spend (unless given) and the target.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_channels), default=None
            A spend plan to use instead of generated spend.
        y : None
            Ignored.

        Returns
        -------
        self : MMMDataGenerator
        """
        rng = check_generator(self.random_state)
        if X is None:
            n_periods, n_channels = self.n_periods, self.n_channels
            names = [f"channel_{i}" for i in range(n_channels)]
            spend = None
        else:
            spend = validate_data(self, X, dtype=np.float64)
            if np.any(spend < 0):
                raise ValueError("Negative values in data: X (the spend plan) must be >= 0.")
            n_periods, n_channels = spend.shape
            names = (
                [str(c) for c in self.feature_names_in_]
                if hasattr(self, "feature_names_in_")
                else [f"channel_{i}" for i in range(n_channels)]
            )
        truth_rng, spend_rng, noise_rng = rng.spawn(3)
        if spend is None:
            spend = _flighted_spend(spend_rng, n_periods, n_channels)
        params, mean, contributions = _draw_truth(
            truth_rng, spend, _DGP_COMPONENTS[self.dgp], self.adstock_max_lag, self.media_share
        )
        params["sigma"] = self.noise * float(np.mean(mean))
        y = mean + noise_rng.normal(0.0, params["sigma"], size=n_periods)

        self.channel_names_ = names
        self.true_params_ = params
        self.X_ = pd.DataFrame(spend, columns=names)
        self.y_ = pd.Series(y, name="y")
        self.mean_ = mean
        self.contributions_ = pd.DataFrame(contributions, columns=names)
        return self

    def generate(self):
        """The spend and target drawn in :meth:`fit`.

        Returns
        -------
        X : DataFrame of shape (n_periods, n_channels)
        y : Series of shape (n_periods,)
        """
        check_is_fitted(self)
        return self.X_.copy(), self.y_.copy()

    @in_double_precision
    def true_response(self, channel, spend) -> np.ndarray:
        """True steady-state response of a channel per period of constant spend.

        Parameters
        ----------
        channel : str or int
            Channel name or position.
        spend : array-like of shape (n_points,)
            Spend per period, finite and non-negative.

        Returns
        -------
        response : ndarray of shape (n_points,)
            In target units.
        """
        check_is_fitted(self)
        n_channels = len(self.channel_names_)
        if isinstance(channel, numbers.Integral) and not isinstance(channel, bool):
            if not -n_channels <= channel < n_channels:
                raise ValueError(
                    f"channel {channel} is out of range for {n_channels} channels "
                    f"{self.channel_names_}."
                )
            c = int(channel) % n_channels
        elif channel in self.channel_names_:
            c = self.channel_names_.index(channel)
        else:
            raise ValueError(f"Unknown channel {channel!r}; expected one of {self.channel_names_}.")
        p = self.true_params_
        spend = np.asarray(spend, dtype=float)
        if not np.all(np.isfinite(spend)) or np.any(spend < 0):
            raise ValueError("spend must be finite and non-negative.")
        return np.asarray(hill_mixture(spend, p["pi"][c], p["A"][c], p["kappa"][c], p["n"][c]))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        return tags


def make_mmm_data(
    dgp: str = "mixture_k3",
    n_periods: int = 156,
    n_channels: int = 5,
    noise: float = 0.05,
    random_state=None,
):
    """Generate media-mix data with a known truth.

    A functional shortcut for :class:`MMMDataGenerator`, in the shape of
    ``sklearn.datasets.make_*``.

    Parameters
    ----------
    dgp : {"single", "mixture_k2", "mixture_k3", "mixture_k5"}, default="mixture_k3"
        Number of Hill components per channel in the truth.
    n_periods : int, default=156
        Weeks to generate.
    n_channels : int, default=5
        Media channels.
    noise : float, default=0.05
        Noise standard deviation as a fraction of the mean target.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds everything.

    Returns
    -------
    X : DataFrame of shape (n_periods, n_channels)
        Spend.
    y : Series of shape (n_periods,)
        Target.
    truth : MMMDataGenerator
        The fitted generator: ``true_params_``, ``true_response``, ...

    Examples
    --------
    >>> from hillmix_sim import make_mmm_data
    >>> X, y, truth = make_mmm_data(dgp="single", n_periods=30, n_channels=2, random_state=1)
    >>> truth.true_params_["n"].shape
    (2, 1)
    """
    gen = MMMDataGenerator(
        dgp=dgp,
        n_periods=n_periods,
        n_channels=n_channels,
        noise=noise,
        random_state=random_state,
    ).fit()
    X, y = gen.generate()
    return X, y, gen


def _flighted_spend(rng, n_periods, n_channels):
    """Bursty spend: on/off flights per channel, some channels always on."""
    spend = np.zeros((n_periods, n_channels))
    for c in range(n_channels):
        level = rng.lognormal(np.log(1000.0), 0.8)
        always_on = rng.random() < 0.3
        p_on_off, p_off_on = (0.05, 0.9) if always_on else (0.25, 0.3)
        on = rng.random() < 0.7
        for t in range(n_periods):
            on = rng.random() > p_on_off if on else rng.random() < p_off_on
            if on:
                spend[t, c] = level * rng.lognormal(0.0, 0.5)
    return spend


def _draw_truth(rng, spend, n_components, max_lag, media_share):
    n_periods, n_channels = spend.shape
    alpha = rng.uniform(0.2, 0.7, size=n_channels)
    adstocked = np.asarray(geometric_adstock(spend, alpha, max_lag))
    K = n_components
    kappa = np.empty((n_channels, K))
    n = np.empty((n_channels, K))
    pi = np.empty((n_channels, K))
    for c in range(n_channels):
        positive = adstocked[:, c][adstocked[:, c] > 0]
        typical = np.median(positive) if positive.size else 1.0
        if K == 1:
            kappa[c] = typical * rng.uniform(0.5, 1.5)
            n[c] = rng.uniform(0.8, 2.5)
            pi[c] = 1.0
        else:
            # Segments saturate at well separated spend levels: from a fifth
            # to three times the typical adstocked spend.
            kappa[c] = typical * np.exp(np.sort(rng.uniform(np.log(0.2), np.log(3.0), K)))
            spread = np.log(kappa[c, -1] / kappa[c, 0])
            if spread < np.log(4.0):
                kappa[c] = typical * np.exp(np.linspace(np.log(0.25), np.log(2.5), K))
            n[c] = rng.uniform(1.5, 4.0, size=K)
            pi[c] = rng.dirichlet(np.full(K, 4.0))
    curves = np.asarray(hill_mixture(adstocked, pi, np.ones_like(pi), kappa, n))
    intercept = 1000.0
    # Amplitudes so that media drive `media_share` of the mean target.
    weights = rng.dirichlet(np.full(n_channels, 3.0))
    mean_curve = curves.mean(0)
    total_media = intercept * media_share / (1 - media_share)
    spent = mean_curve > 0
    if not spent.all():
        # A channel never spent on drives nothing here: the others carry the
        # media share, and its own curve gets an amplitude of the size the
        # others' have (dividing by its zero mean curve gave 1e11).
        typical = 1.0
        if spent.any():
            typical = mean_curve[spent].mean()
            weights = np.where(spent, weights / weights[spent].sum(), weights)
        mean_curve = np.where(spent, mean_curve, typical)
    channel_amp = total_media * weights / mean_curve
    A = np.repeat(channel_amp[:, None], K, axis=1) * rng.uniform(0.8, 1.25, size=(n_channels, K))
    contributions = np.asarray(hill_mixture(adstocked, pi, A, kappa, n))
    t = np.arange(n_periods)
    trend = 0.1 * intercept * t / max(n_periods - 1, 1) * rng.uniform(-1, 1)
    season_amp = 0.05 * intercept * rng.uniform(0.5, 1.5)
    season = season_amp * np.sin(2 * np.pi * t / (365.25 / 7) + rng.uniform(0, 2 * np.pi))
    mean = intercept + trend + season + contributions.sum(1)
    params = {
        "adstock_alpha": alpha,
        "pi": pi,
        "A": A,
        "kappa": kappa,
        "n": n,
        "intercept": intercept,
        "trend": trend,
        "seasonality": season_amp,
    }
    return params, mean, contributions
