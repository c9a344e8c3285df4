"""Retail transactions with a known truth: heterogeneous households, promotions and media."""

from __future__ import annotations

import hashlib
import json
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import metadata_routing
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from tqdm.auto import tqdm

from hillmix import lag_stack
from hillmix.utils import resolve_seed

from .._files import write_json
from . import _io as rio
from ._catalog import draw_catalog, promotions_table, weekly_state
from ._engine import (
    SCALAR_TRAITS,
    STORE_TYPES,
    BatchContext,
    counterfactual_cents,
    draw_batch,
    simulate_batch,
    weekly_totals,
)
from ._io import (
    TRANSACTION_COLUMNS,
    RetailData,
    collect_batch,
    concat_parts,
    household_columns,
    sum_totals,
    weekly_frame,
    write_parquet_batch,
)
from ._traits import Domain, check_trait, trait_support

__all__ = ["RetailSimulator", "make_retail_data"]

_TRAIT_PARAMS = (*SCALAR_TRAITS, "media_responsiveness", "base_price", "tpr_depth")
_PROBABILITY = Domain(0.0, 1.0)
_POSITIVE = Domain(0.0, math.inf, low_closed=False)
_NON_NEGATIVE = Domain(0.0, math.inf)
_MEAN_COUNT = Domain(1.0, math.inf)  # counts start at one
#: The values each trait means something for; fit refuses distributions
#: that can produce others.
TRAIT_DOMAINS = {
    "visit_rate": _POSITIVE,
    "basket_size": _MEAN_COUNT,
    "price_sensitivity": _NON_NEGATIVE,
    "promo_responsiveness": _NON_NEGATIVE,
    "display_sensitivity": _NON_NEGATIVE,
    "mailer_sensitivity": _NON_NEGATIVE,
    "coupon_usage": _PROBABILITY,
    "quantity": _MEAN_COUNT,
    "store_loyalty": _PROBABILITY,
    "online_share": _PROBABILITY,
    # Negative: media that put households off.
    "media_responsiveness": Domain(-math.inf, math.inf, False, False),
    "base_price": _POSITIVE,
    # A share of the price taken off: all of it would be a gift.
    "tpr_depth": Domain(0.0, 1.0, high_closed=False),
}
# exp() of more overflows float64 (trip rates).
_LOG_MAX = math.log(np.finfo(np.float64).max)
# scikit-learn checks that fail by design, each with why (run a check
# without its entry to see it fail).
_EXPECTED_FAILURES = dict.fromkeys(
    ("check_methods_sample_order_invariance", "check_methods_subset_invariance"),
    "transform's rows are consecutive weeks from week 1: a row's outcome depends on its "
    "position (that week's prices, promotions, seasonality and draws) and, through adstock, "
    "on the spend of the rows before it, so reordering the rows or transforming a later "
    "slice on its own (which restarts at week 1) changes the outcome",
)
# The channels when neither the parameter nor a plan given to fit names them.
_DEFAULT_CHANNELS = ("tv", "search", "social")
# Households simulated at once by generate() and transform(): bounds the
# temporaries without changing any draw.
_WORK_BATCH = 5000


_SETTINGS = (
    "price_volatility",
    "promo_frequency",
    "display_share",
    "mailer_share",
    "seasonality",
    "media_half_saturation_spread",
    "promo_visit_effect",
    "promo_quantity_lift",
    "adstock_max_lag",
    "n_households",
)


class RetailSimulator(TransformerMixin, BaseEstimator):
    """Retail transactions of heterogeneous households, with a known truth.

    A retailer sells products in categories in physical and online stores,
    with shelf prices that drift, weekly promotions (temporary price
    reductions, displays, mailers) and yearly seasonality. Households shop
    it week by week; each has its own traits, drawn from bounded
    distributions: how often it shops, how large its baskets are, how it
    reacts to price, reductions, displays and mailers, how loyal it is to
    its home store, how much it shops online, and how its trips respond to
    each media channel's adstocked spend, through a Hill curve whose
    half-saturation and exponent come from the household's media segment.
    Added up over households, revenue against a channel's spend is a
    mixture of Hill curves: the model :class:`hillmix.HillMixtureMMM` fits.

    Each household's randomness is its own counter-based stream, a function
    of ``random_state`` and its id only, so the data are the same, bit for
    bit, whatever the batch size and the number of workers.

    Trait distributions are flat tuples ``(family, *parameters, lo, hi)``:
    ``("beta", a, b, lo, hi)``, ``("lognormal", mu, sigma, lo, hi)`` (of the
    log), ``("normal", mu, sigma, lo, hi)``, ``("uniform", lo, hi)`` or
    ``("constant", value)``; ``set_params`` replaces any of them, so a tuner
    can search every one. Each trait has a domain, given with its parameter
    below; :meth:`fit` refuses a distribution that can produce values
    outside it (a lognormal's draws are positive whatever its lower bound),
    and settings whose trip rates would overflow. See
    :doc:`/retail` for the model in full.

    Parameters
    ----------
    n_households : int, default=2500
        Households (ids ``1 .. n_households``).
    n_products : int, default=3000
        Products (ids ``1 .. n_products``), spread evenly over categories.
    n_categories : int, default=300
        Product categories; a trip's lines pick a category, then a product.
    n_stores : int, default=10
        Stores, online ones included (at most 1000).
    n_online_stores : int, default=1
        How many of the stores are online (the last ids); fewer than
        ``n_stores``.
    channels : tuple of str, default=None
        Media channels, the columns of a spend plan. None takes them from
        the spend plan given to :meth:`fit` (its column names, or
        ``channel_0 ..`` for an array), or ``("tv", "search", "social")``
        when :meth:`fit` gets none. Given together with a plan, they must
        be its columns, in order (or as many as its columns, for an array).
    reference_spend : float or tuple of float, default=10000.0
        A channel's typical weekly spend (one value, or one per channel):
        the default plan spends around it and the media segments'
        half-saturation points are multiples of it.
    adstock_retention : float or tuple of float, default=0.5
        Geometric adstock retention per week, in [0, 1).
    adstock_max_lag : int, default=8
        Weeks over which spend keeps working (normalised weights, as in
        :func:`hillmix.geometric_adstock`).
    media_segment_weights : tuple of float, default=(0.5, 0.3, 0.2)
        Shares of the households in each media segment.
    media_half_saturation : tuple of float, default=(0.3, 1.0, 3.0)
        Each segment's half-saturation point, as a multiple of the
        channel's reference spend (times a channel factor drawn in ``fit``).
    media_hill_exponent : tuple of float, default=(1.0, 2.0, 3.0)
        Each segment's Hill exponent.
    media_half_saturation_spread : float, default=0.25
        Log-scale standard deviation of a household's half-saturation point
        around its segment's.
    media_responsiveness : tuple, default=("lognormal", log(0.1), 0.5, 0.0, 1.0)
        Relative lift of a household's trip rate when a channel saturates
        (per household and channel, times the channel's effect). Any real:
        it may be negative (media that put households off); a summed lift
        below -1 stops the household's trips.
    visit_rate : tuple, default=("lognormal", log(0.9), 0.5, 0.05, 5.0)
        Trips per week without media, at mean seasonality; in (0, inf).
    basket_size : tuple, default=("lognormal", log(8.0), 0.6, 1.0, 80.0)
        Mean lines per basket (geometric counts); in [1, inf).
    price_sensitivity : tuple, default=("lognormal", log(1.5), 0.4, 0.2, 6.0)
        Coefficient of ``-log(price)`` in the product choice; in [0, inf).
    promo_responsiveness : tuple, default=("beta", 3.0, 2.0, 0.5, 2.0)
        How much more a reduction counts than a regular price cut of the
        same size; also scales stockpiling and mailer-driven trips; in
        [0, inf).
    display_sensitivity : tuple, default=("beta", 3.0, 3.0, 0.3, 1.2)
        Utility of a product being on display; in [0, inf).
    mailer_sensitivity : tuple, default=("beta", 2.0, 3.0, 0.0, 1.0)
        Utility of a product being in the week's mailer; in [0, inf).
    coupon_usage : tuple, default=("beta", 1.0, 4.0, 0.0, 1.0)
        Chance of redeeming an available manufacturer coupon; in [0, 1].
    quantity : tuple, default=("lognormal", log(1.15), 0.15, 1.0, 3.0)
        Mean units per line at regular price (geometric counts); in [1, inf).
    store_loyalty : tuple, default=("beta", 5.0, 2.0, 0.0, 1.0)
        Chance that a trip to a physical store goes to the home store; in
        [0, 1].
    online_share : tuple, default=("beta", 1.0, 6.0, 0.0, 1.0)
        Chance that a trip is online; in [0, 1].
    base_price : tuple, default=("lognormal", log(2.5), 0.6, 0.3, 50.0)
        A category's typical shelf price in dollars (products vary around
        it); in (0, inf).
    price_volatility : float, default=0.05
        Log-scale size of a product's occasional permanent price changes.
    promo_frequency : float, default=0.08
        Chance that a product is on promotion in a week.
    tpr_depth : tuple, default=("beta", 2.0, 4.0, 0.05, 0.6)
        Depth of a temporary price reduction, the share of the price taken
        off (rounded to 5%, at least 5% and at most 95%); in [0, 1).
    display_share : float, default=0.3
        Chance that a physical store displays a product it reduces.
    mailer_share : float, default=0.5
        Chance that a promotion is in the week's mailer.
    promo_visit_effect : float, default=0.2
        Log-lift of trips per unit of relative mailer size, times the
        household's promotion responsiveness. Any real whose trip rates
        stay within float64 (checked in :meth:`fit`).
    promo_quantity_lift : float, default=1.0
        Relative rise of the mean quantity per unit of reduction depth,
        times the promotion responsiveness.
    seasonality : float, default=0.1
        Amplitude (log scale) of the yearly cycle of trips, peaking in week 49.
    random_state : int, numpy.random.Generator or None, default=None
        Resolved in :meth:`fit` into the seed of everything.
    progress : bool, default=False
        Show a progress bar over batches in :meth:`to_parquet`.

    Attributes
    ----------
    seed_ : int
        The seed all streams derive from.
    n_features_in_ : int
        Columns of the spend plan given to :meth:`fit`; only when it got one.
    feature_names_in_ : ndarray of str
        Their names, when that plan was a DataFrame.
    channel_names_ : list of str
        The channels: the columns of every spend plan.
    channels_ : pandas.DataFrame
        Per channel: ``reference_spend``, ``adstock_retention``, ``effect``
        (scales households' media responsiveness) and
        ``half_saturation_factor``.
    segments_ : pandas.DataFrame
        Per media segment: ``weight``, ``half_saturation`` (multiple of the
        reference spend) and ``hill_exponent``.
    products_ : pandas.DataFrame
    stores_ : pandas.DataFrame
    trait_specs_ : dict of str to TraitSpec
        The validated trait distributions.
    catalog_ : Catalog
        The static catalog as the engine uses it.

    See Also
    --------
    hillmix.HillMixtureMMM : The model of the weekly revenue this produces.
    MMMDataGenerator : Weekly media data from a Hill-mixture truth, directly.

    Examples
    --------
    >>> from hillmix_sim import RetailSimulator
    >>> sim = RetailSimulator(n_households=50, n_products=200, n_categories=20,
    ...                       random_state=0).fit()
    >>> data = sim.generate(n_weeks=4)
    >>> list(data.transactions.columns[:4])
    ['household_id', 'store_id', 'basket_id', 'product_id']
    >>> data.weekly[["week", "tv", "revenue"]].shape
    (4, 3)
    >>> data.transactions.equals(sim.generate(n_weeks=4).transactions)
    True
    """

    # transform's spend_plan is the method's data, not metadata to route:
    # no set_transform_request.
    __metadata_request__transform = {"spend_plan": metadata_routing.UNUSED}

    _parameter_constraints: dict = {
        "n_households": [Interval(Integral, 1, None, closed="left")],
        "n_products": [Interval(Integral, 1, None, closed="left")],
        "n_categories": [Interval(Integral, 1, None, closed="left")],
        "n_stores": [Interval(Integral, 1, 1000, closed="both")],
        "n_online_stores": [Interval(Integral, 0, None, closed="left")],
        "channels": [tuple, list, None],
        "reference_spend": [Interval(Real, 0, None, closed="neither"), tuple, list],
        "adstock_retention": [Interval(Real, 0, 1, closed="left"), tuple, list],
        "adstock_max_lag": [Interval(Integral, 1, None, closed="left")],
        "media_segment_weights": [tuple, list],
        "media_half_saturation": [tuple, list],
        "media_hill_exponent": [tuple, list],
        "media_half_saturation_spread": [Interval(Real, 0, None, closed="left")],
        **{name: [tuple, list] for name in _TRAIT_PARAMS},
        "price_volatility": [Interval(Real, 0, None, closed="left")],
        "promo_frequency": [Interval(Real, 0, 1, closed="both")],
        "display_share": [Interval(Real, 0, 1, closed="both")],
        "mailer_share": [Interval(Real, 0, 1, closed="both")],
        "promo_visit_effect": [Interval(Real, None, None, closed="neither")],
        "promo_quantity_lift": [Interval(Real, 0, None, closed="left")],
        "seasonality": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        n_households: int = 2500,
        n_products: int = 3000,
        n_categories: int = 300,
        n_stores: int = 10,
        n_online_stores: int = 1,
        channels: tuple | None = None,
        reference_spend: float | tuple = 10000.0,
        adstock_retention: float | tuple = 0.5,
        adstock_max_lag: int = 8,
        media_segment_weights: tuple = (0.5, 0.3, 0.2),
        media_half_saturation: tuple = (0.3, 1.0, 3.0),
        media_hill_exponent: tuple = (1.0, 2.0, 3.0),
        media_half_saturation_spread: float = 0.25,
        media_responsiveness: tuple = ("lognormal", math.log(0.1), 0.5, 0.0, 1.0),
        visit_rate: tuple = ("lognormal", math.log(0.9), 0.5, 0.05, 5.0),
        basket_size: tuple = ("lognormal", math.log(8.0), 0.6, 1.0, 80.0),
        price_sensitivity: tuple = ("lognormal", math.log(1.5), 0.4, 0.2, 6.0),
        promo_responsiveness: tuple = ("beta", 3.0, 2.0, 0.5, 2.0),
        display_sensitivity: tuple = ("beta", 3.0, 3.0, 0.3, 1.2),
        mailer_sensitivity: tuple = ("beta", 2.0, 3.0, 0.0, 1.0),
        coupon_usage: tuple = ("beta", 1.0, 4.0, 0.0, 1.0),
        quantity: tuple = ("lognormal", math.log(1.15), 0.15, 1.0, 3.0),
        store_loyalty: tuple = ("beta", 5.0, 2.0, 0.0, 1.0),
        online_share: tuple = ("beta", 1.0, 6.0, 0.0, 1.0),
        base_price: tuple = ("lognormal", math.log(2.5), 0.6, 0.3, 50.0),
        price_volatility: float = 0.05,
        promo_frequency: float = 0.08,
        tpr_depth: tuple = ("beta", 2.0, 4.0, 0.05, 0.6),
        display_share: float = 0.3,
        mailer_share: float = 0.5,
        promo_visit_effect: float = 0.2,
        promo_quantity_lift: float = 1.0,
        seasonality: float = 0.1,
        random_state=None,
        progress: bool = False,
    ):
        self.n_households = n_households
        self.n_products = n_products
        self.n_categories = n_categories
        self.n_stores = n_stores
        self.n_online_stores = n_online_stores
        self.channels = channels
        self.reference_spend = reference_spend
        self.adstock_retention = adstock_retention
        self.adstock_max_lag = adstock_max_lag
        self.media_segment_weights = media_segment_weights
        self.media_half_saturation = media_half_saturation
        self.media_hill_exponent = media_hill_exponent
        self.media_half_saturation_spread = media_half_saturation_spread
        self.media_responsiveness = media_responsiveness
        self.visit_rate = visit_rate
        self.basket_size = basket_size
        self.price_sensitivity = price_sensitivity
        self.promo_responsiveness = promo_responsiveness
        self.display_sensitivity = display_sensitivity
        self.mailer_sensitivity = mailer_sensitivity
        self.coupon_usage = coupon_usage
        self.quantity = quantity
        self.store_loyalty = store_loyalty
        self.online_share = online_share
        self.base_price = base_price
        self.price_volatility = price_volatility
        self.promo_frequency = promo_frequency
        self.tpr_depth = tpr_depth
        self.display_share = display_share
        self.mailer_share = mailer_share
        self.promo_visit_effect = promo_visit_effect
        self.promo_quantity_lift = promo_quantity_lift
        self.seasonality = seasonality
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Learn the channels, resolve the seed, check the traits, draw the catalog.

        Households are not drawn here: each is drawn from its own stream
        when a batch needs it, so memory does not grow with their number.
        The retailer comes from the parameters and ``random_state``, not
        from data: to make its data look like observed transactions, search
        its parameters with :class:`SimulatorCalibrator`, or start from
        calibrated ones with :meth:`from_preset`.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_weeks, n_channels), default=None
            A spend plan (finite, non-negative numbers, at least one week)
            whose columns are the channels: a DataFrame's column names, or
            ``channel_0 .. channel_{n_channels - 1}`` for an array. Fit
            learns only this layout (``channel_names_``, ``n_features_in_``
            and, for a DataFrame, ``feature_names_in_``): the plan is neither
            kept nor simulated; pass it to :meth:`transform` or
            :meth:`generate` for that. With None, the channels are the
            ``channels`` parameter's, or ``("tv", "search", "social")``. Transactions (a
            DataFrame with the simulator's columns, or an object holding one
            as ``transactions``) are refused rather than taken for a plan:
            calibrating to them is :class:`SimulatorCalibrator`'s work.
        y : None
            Ignored; present for the estimator API.

        Returns
        -------
        self : RetailSimulator
        """
        _refuse_reference(X)
        plan_channels = None if X is None else self._plan_channels(X)
        channels = self._check_channels(plan_channels, X)
        n_channels = len(channels)
        if self.n_online_stores >= self.n_stores:
            raise ValueError(
                f"n_online_stores={self.n_online_stores} must be below n_stores={self.n_stores}: "
                "households need a physical home store."
            )
        if self.n_products < self.n_categories:
            raise ValueError(
                f"n_products={self.n_products} must be at least n_categories={self.n_categories}."
            )
        specs = {
            name: check_trait(name, getattr(self, name), TRAIT_DOMAINS[name])
            for name in _TRAIT_PARAMS
        }
        reference_spend = _per_channel("reference_spend", self.reference_spend, n_channels)
        if np.any(reference_spend <= 0):
            raise ValueError("reference_spend must be > 0.")
        retention = _per_channel("adstock_retention", self.adstock_retention, n_channels)
        if np.any((retention < 0) | (retention >= 1)):
            raise ValueError("adstock_retention must be in [0, 1).")
        weights = _positive_vector(
            "media_segment_weights", self.media_segment_weights, allow_zero=True
        )
        if weights.sum() <= 0:
            raise ValueError("media_segment_weights must not all be zero.")
        half = _positive_vector("media_half_saturation", self.media_half_saturation)
        exponent = _positive_vector("media_hill_exponent", self.media_hill_exponent)
        if not weights.size == half.size == exponent.size:
            raise ValueError(
                "media_segment_weights, media_half_saturation and media_hill_exponent must have "
                f"one value per segment, got {weights.size}, {half.size} and {exponent.size}."
            )

        seed = resolve_seed(self.random_state)
        catalog = draw_catalog(
            seed,
            n_products=self.n_products,
            n_categories=self.n_categories,
            n_stores=self.n_stores,
            n_online_stores=self.n_online_stores,
            n_channels=n_channels,
            base_price=specs["base_price"],
        )
        self._check_trip_rates(specs, catalog.channel_effect)
        self.seed_ = seed
        self.trait_specs_ = specs
        self.channel_names_ = list(channels)
        self.catalog_ = catalog
        self.channels_ = pd.DataFrame(
            {
                "reference_spend": reference_spend,
                "adstock_retention": retention,
                "effect": self.catalog_.channel_effect,
                "half_saturation_factor": self.catalog_.channel_half_saturation,
            },
            index=pd.Index(self.channel_names_, name="channel"),
        )
        self.segments_ = pd.DataFrame(
            {"weight": weights / weights.sum(), "half_saturation": half, "hill_exponent": exponent},
            index=pd.RangeIndex(weights.size, name="segment"),
        )
        self.products_ = self.catalog_.products
        self.stores_ = self.catalog_.stores
        # What every later call simulates with: parameters changed by
        # set_params after fit (unvalidated) take effect at the next fit only.
        self.settings_ = {name: getattr(self, name) for name in _SETTINGS}
        self.fitted_params_ = self.get_params(deep=False)
        if X is None:
            # A previous fit's plan layout does not describe this one.
            for name in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(name, None)
        else:
            # Checked in full by _plan_channels above; set here, with the
            # rest, so that a fit refused midway leaves the estimator as it was.
            validate_data(self, X, skip_check_array=True, reset=True)
        return self

    def _plan_channels(self, X) -> tuple:
        """The channels a spend plan given to fit names, the plan checked."""
        if sparse.issparse(X):
            raise TypeError(
                "X is a sparse matrix; fit takes a dense spend plan (weeks x channels): pass "
                "X.toarray() or a DataFrame."
            )
        if isinstance(X, pd.DataFrame):
            names = list(X.columns)
            if not all(isinstance(c, str) for c in names):
                raise TypeError(
                    f"The columns of the spend plan X name its channels and must be strings, "
                    f"got {names}; rename them, or pass an array for channel_0, channel_1, ..."
                )
        values = check_array(
            X, dtype=np.float64, ensure_min_samples=1, input_name="X", estimator=self
        )
        if np.any(values < 0):
            bad = np.flatnonzero((values < 0).any(axis=0)).tolist()
            which = [names[i] for i in bad] if isinstance(X, pd.DataFrame) else bad
            # "Negative values in data" as scikit-learn words it (positive_only tag).
            raise ValueError(
                f"Negative values in data passed to RetailSimulator.fit: the spend plan X has "
                f"negative spend in column(s) {which}; spend must be >= 0."
            )
        if isinstance(X, pd.DataFrame):
            return tuple(names)
        return tuple(f"channel_{c}" for c in range(values.shape[1]))

    def _check_trip_rates(self, specs, channel_effect):
        """Refuse settings whose trip rates overflow, before any household is drawn.

        The rate is a product of factors (visit rate, seasonality, the
        mailer's pull, the media lift); an infinite one would turn into NaN
        in the Poisson draw, and NaN into zero trips.
        """
        promo = trait_support(specs["promo_responsiveness"])
        # Mailer size over its mean: at most every product in the mailer.
        share = self.promo_frequency * self.mailer_share
        mailer_excess = (-1.0, 1.0 / share - 1.0 if share > 0 else -1.0)
        gamma = float(self.promo_visit_effect)
        beta = trait_support(specs["media_responsiveness"]).high
        with np.errstate(over="ignore"):
            media = float(np.sum(np.maximum(beta * channel_effect, 0.0)))
        logs = {
            "visit_rate": math.log(trait_support(specs["visit_rate"]).high),
            "seasonality": float(self.seasonality),
            "promo_visit_effect": max(gamma * p * m for p in promo[:2] for m in mailer_excess),
            "media_responsiveness": math.log1p(media) if math.isfinite(media) else math.inf,
        }
        partial = np.cumsum(list(logs.values()))
        if max(*logs.values(), *partial) < _LOG_MAX:
            return
        culprit = max(logs, key=logs.get)
        factors = ", ".join(f"{k} {v:.3g}" for k, v in logs.items())
        raise ValueError(
            f"Trip rates overflow: their log can reach {partial[-1]:.4g}, beyond the "
            f"{_LOG_MAX:.4g} that float64 holds (log of each factor at most: {factors}); "
            f"bring {culprit} closer to 0."
        )

    @classmethod
    def from_preset(cls, preset: str = "complete_journey", **params) -> RetailSimulator:
        """A simulator with calibrated parameters, unfitted.

        Parameters
        ----------
        preset : str or path-like, default="complete_journey"
            A shipped preset (``"complete_journey"``: calibrated to The
            Complete Journey, see :doc:`/calibration`) or the path of a file
            that ``hillmix sim calibrate --out`` wrote.
        **params
            Parameters to set on top (``n_households``, ``random_state``, ...).

        Returns
        -------
        simulator : RetailSimulator

        Examples
        --------
        >>> from hillmix_sim import RetailSimulator
        >>> sim = RetailSimulator.from_preset("complete_journey", n_households=10,
        ...                                   random_state=0)
        >>> sim.get_params()["n_categories"]
        100
        """
        from ._presets import preset_params

        return cls(**{**preset_params(preset), **params})

    def _check_channels(self, plan_channels=None, X=None):
        """The channels: the parameter's, checked against fit's plan, or the plan's."""
        if self.channels is None:
            channels = _DEFAULT_CHANNELS if plan_channels is None else plan_channels
            source = "channels" if plan_channels is None else "the spend plan's columns"
        else:
            channels = tuple(self.channels)
            source = "channels"
            named = isinstance(X, pd.DataFrame)
            if plan_channels is not None and (
                list(channels) != list(plan_channels)
                if named
                else len(channels) != len(plan_channels)
            ):
                columns = list(plan_channels) if named else f"{len(plan_channels)} column(s)"
                raise ValueError(
                    f"channels={list(channels)} do not match the spend plan X given to fit, "
                    f"whose columns are {columns}: give channels=None to take the plan's, or "
                    "a plan with one column per channel, in order."
                )
        if (
            len(channels) == 0
            or not all(isinstance(c, str) and c for c in channels)
            or len(set(channels)) != len(channels)
        ):
            raise ValueError(f"{source} must be distinct non-empty strings, got {channels!r}.")
        reserved = {"week", "mailer_items", "revenue", "baskets", "shoppers", "units"}
        reserved |= {f"revenue_{t}" for t in STORE_TYPES}
        clash = reserved.intersection(channels)
        if clash:
            raise ValueError(
                f"channel names {sorted(clash)} (from {source}) clash with weekly table columns."
            )
        return tuple(channels)

    # --------------------------------------------------------------- spend
    def default_spend(self, n_weeks: int) -> pd.DataFrame:
        """The default media plan: flighted bursts around the reference spend.

        The first channel runs in flights (several weeks on, several off),
        the second always on with a varying level, the third in irregular
        bursts, and so on in turn, so that every channel's spend ranges from
        zero to a few times its reference.

        Parameters
        ----------
        n_weeks : int

        Returns
        -------
        spend : DataFrame of shape (n_weeks, n_channels)
        """
        check_is_fitted(self, "seed_")
        n_weeks = _check_n_weeks(n_weeks)
        rng = np.random.default_rng([self.seed_, 2])
        reference = self.channels_["reference_spend"].to_numpy()
        plan = np.zeros((n_weeks, reference.size))
        for c in range(reference.size):
            level = reference[c] * rng.lognormal(0.0, 0.6, n_weeks)
            kind = c % 3
            if kind == 0:
                on, weeks_left, t = bool(rng.random() < 0.5), 0, 0
                while t < n_weeks:
                    on = not on
                    weeks_left = int(rng.integers(3, 8)) if on else int(rng.integers(2, 7))
                    plan[t : t + weeks_left, c] = level[t : t + weeks_left] * 1.5 * on
                    t += weeks_left
            elif kind == 1:
                plan[:, c] = reference[c] * rng.lognormal(-0.2, 0.45, n_weeks)
            else:
                plan[:, c] = np.where(rng.random(n_weeks) < 0.45, level * 1.8, 0.0)
        return pd.DataFrame(np.round(plan, 2), columns=self.channel_names_)

    def _check_spend(self, n_weeks, spend) -> pd.DataFrame:
        """The spend plan as a (weeks x channels) DataFrame, checked."""
        check_is_fitted(self, "seed_")
        if spend is None:
            if n_weeks is None:
                raise ValueError("Give n_weeks, or a spend plan whose rows are the weeks.")
            return self.default_spend(n_weeks)
        names = self.channel_names_
        if isinstance(spend, pd.DataFrame):
            columns = [str(c) for c in spend.columns]
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise ValueError(
                    f"Unknown channel(s) {unknown} in the spend plan; expected {names}."
                )
            repeated = sorted({c for c in columns if columns.count(c) > 1})
            if repeated:
                # Assigning the columns would keep the last copy of each.
                raise ValueError(f"The spend plan has the channel(s) {repeated} more than once.")
            values = _real_values(spend.to_numpy(na_value=np.nan))
            frame = pd.DataFrame(0.0, index=range(len(spend)), columns=names)
            frame[columns] = values
        else:
            if sparse.issparse(spend):
                raise TypeError(
                    "The spend plan is a sparse matrix; pass a dense array (.toarray()) or a "
                    "DataFrame."
                )
            values = _real_values(np.asarray(spend))
            if values.ndim == 1:
                raise ValueError(
                    "Expected a 2-D spend plan (weeks x channels), got a 1-D array. "
                    "Reshape your data with array.reshape(-1, 1) for a single channel."
                )
            if values.ndim != 2:
                raise ValueError(
                    f"spend must be a DataFrame or an array of shape (n_weeks, {len(names)}) "
                    f"with columns {names}, got shape {values.shape}."
                )
            if values.shape[1] != len(names):
                # Worded as scikit-learn's check of n_features_in_.
                raise ValueError(
                    f"The spend plan X has {values.shape[1]} features, but RetailSimulator is "
                    f"expecting {len(names)} features as input: one column per channel, "
                    f"{names}."
                )
            frame = pd.DataFrame(values, columns=names)
        if len(frame) == 0:
            raise ValueError("The spend plan has no weeks.")
        if not np.all(np.isfinite(frame.to_numpy())):
            bad = [c for c in names if not np.isfinite(frame[c]).all()]
            raise ValueError(f"The spend plan has NaN or infinite values in channel(s) {bad}.")
        if np.any(frame.to_numpy() < 0):
            bad = [c for c in names if (frame[c] < 0).any()]
            raise ValueError(f"Negative spend in channel(s) {bad}: spend must be >= 0.")
        if n_weeks is not None and _check_n_weeks(n_weeks) != len(frame):
            raise ValueError(f"n_weeks={n_weeks} but the spend plan has {len(frame)} weeks.")
        return frame

    def _adstock(self, spend: np.ndarray) -> np.ndarray:
        retention = self.channels_["adstock_retention"].to_numpy()
        lags = np.arange(self.settings_["adstock_max_lag"])[:, None]
        weights = retention[None, :] ** lags
        weights /= weights.sum(axis=0)
        return np.einsum("ltc,lc->tc", lag_stack(spend, self.settings_["adstock_max_lag"]), weights)

    def _context(self, spend: pd.DataFrame) -> BatchContext:
        n_weeks = len(spend)
        values = spend.to_numpy(dtype=np.float64)
        state = weekly_state(
            self.catalog_,
            self.seed_,
            n_weeks,
            price_volatility=self.settings_["price_volatility"],
            promo_frequency=self.settings_["promo_frequency"],
            tpr_depth=self.trait_specs_["tpr_depth"],
            display_share=self.settings_["display_share"],
            mailer_share=self.settings_["mailer_share"],
            seasonality=self.settings_["seasonality"],
        )
        segments = self.segments_
        return BatchContext(
            seed=self.seed_,
            catalog=self.catalog_,
            state=state,
            spend=values,
            adstock=self._adstock(values),
            channels=tuple(self.channel_names_),
            specs={name: self.trait_specs_[name] for name in SCALAR_TRAITS},
            media={
                "segment_weights": segments["weight"].to_numpy(),
                "segment_half_saturation": segments["half_saturation"].to_numpy(),
                "segment_exponent": segments["hill_exponent"].to_numpy(),
                "half_saturation_spread": float(self.settings_["media_half_saturation_spread"]),
                "media_responsiveness": self.trait_specs_["media_responsiveness"],
                "reference_spend": self.channels_["reference_spend"].to_numpy(),
            },
            promo_visit_effect=float(self.settings_["promo_visit_effect"]),
            promo_quantity_lift=float(self.settings_["promo_quantity_lift"]),
        )

    # ------------------------------------------------------------ outputs
    def generate(
        self,
        n_weeks: int | None = None,
        spend=None,
        *,
        batch_size: int = _WORK_BATCH,
        n_jobs: int | None = None,
    ) -> RetailData:
        """Simulate every household for ``n_weeks`` weeks, in memory.

        Households are simulated in batches, through joblib when ``n_jobs``
        asks for workers (any joblib backend runs them, a dask cluster's
        included); the data are the same, bit for bit, whatever
        ``batch_size`` and ``n_jobs``.

        Parameters
        ----------
        n_weeks : int, optional
            Weeks to simulate; defaults to the rows of ``spend``.
        spend : DataFrame or array-like of shape (n_weeks, n_channels), default=None
            Media spend per week and channel (a DataFrame may give a subset
            of the channels; the others spend nothing). ``None`` uses
            :meth:`default_spend`.
        batch_size : int, default=5000
            Households simulated together: bounds the temporaries of a batch.
        n_jobs : int, default=None
            Parallel workers, as joblib counts them (None is one, -1 all cores).

        Returns
        -------
        data : RetailData
        """
        _check_batching(batch_size, n_jobs)
        plan = self._check_spend(n_weeks, spend)
        ctx = self._context(plan)
        n_households = self.settings_["n_households"]
        tasks = (
            delayed(collect_batch)(ctx, start, min(start + batch_size, n_households))
            for start in range(0, n_households, int(batch_size))
        )
        parts = Parallel(n_jobs=n_jobs)(tasks)
        lines, traits, totals = zip(*parts, strict=True)
        transactions = pd.DataFrame(
            {name: concat_parts([part[name] for part in lines]) for name in TRANSACTION_COLUMNS}
        )
        households = pd.DataFrame(
            {k: concat_parts([part[k] for part in traits]) for k in traits[0]}
        )
        return RetailData(
            transactions=transactions,
            households=households,
            products=self.products_.copy(),
            stores=self.stores_.copy(),
            promotions=promotions_table(self.catalog_, ctx.state),
            weekly=weekly_frame(sum_totals(list(totals)), plan, ctx.state),
        )

    def transform(self, spend_plan) -> pd.DataFrame:
        """The weekly outcome of a spend plan, without keeping transactions.

        Parameters
        ----------
        spend_plan : DataFrame or array-like of shape (n_weeks, n_channels)

        Returns
        -------
        weekly : DataFrame
            As :attr:`RetailData.weekly`; equal to ``generate(spend=spend_plan).weekly``.
        """
        plan = self._check_spend(None, spend_plan)
        ctx = self._context(plan)
        totals = []
        for start in range(0, self.settings_["n_households"], _WORK_BATCH):
            stop = min(start + _WORK_BATCH, self.settings_["n_households"])
            _, trips, baskets = simulate_batch(ctx, start, stop, collect_lines=False)
            totals.append(weekly_totals(baskets, trips))
        return weekly_frame(sum_totals(totals), plan, ctx.state)

    def fit_transform(self, spend_plan, y=None) -> pd.DataFrame:
        """Fit to a spend plan's channels, then the plan's weekly outcome.

        The same as ``fit(spend_plan).transform(spend_plan)``: fit learns
        the channels from the plan's columns, transform simulates it.

        Parameters
        ----------
        spend_plan : DataFrame or array-like of shape (n_weeks, n_channels)
        y : None
            Ignored; present for the estimator API.

        Returns
        -------
        weekly : DataFrame
            As :meth:`transform`.
        """
        return self.fit(spend_plan).transform(spend_plan)

    def household_traits(self, household_ids=None) -> pd.DataFrame:
        """The true traits of households, by id.

        Parameters
        ----------
        household_ids : array-like of int, default=None
            Ids in ``1 .. n_households``; all when None.

        Returns
        -------
        households : DataFrame
            As :attr:`RetailData.households`.
        """
        check_is_fitted(self, "seed_")
        if household_ids is None:
            ids = np.arange(1, self.settings_["n_households"] + 1, dtype=np.int64)
        else:
            ids = np.asarray(household_ids, dtype=np.int64).ravel()
            if np.any((ids < 1) | (ids > self.settings_["n_households"])):
                raise ValueError(f"household ids must be in 1 .. {self.settings_['n_households']}.")
        ctx = self._context(self.default_spend(1))
        return pd.DataFrame(household_columns(draw_batch(ctx, ids), ctx))

    def true_response(self, channel, spend_grid, *, n_weeks: int = 52, spend=None) -> pd.DataFrame:
        """Counterfactual weekly revenue as one channel's spend varies.

        The channel's spend is held at each grid value for ``n_weeks``
        weeks (so its adstock is at steady state), the other channels at
        their mean over the plan, and all households are simulated with the
        same random numbers at every grid point: only the trips that media
        add or remove differ, so the curve is smooth in the spend.
        ``contribution`` is revenue minus revenue at zero spend of the
        channel, the quantity a media-mix model's response curve estimates.

        Parameters
        ----------
        channel : str
            A name in ``channel_names_``.
        spend_grid : array-like of shape (n_points,)
            Weekly spend values, >= 0.
        n_weeks : int, default=52
            Weeks to average over (a year averages out seasonality).
        spend : DataFrame or array-like, default=None
            The plan whose means the other channels keep; the default plan
            over ``n_weeks`` weeks when None.

        Returns
        -------
        response : DataFrame
            ``spend``, mean weekly ``revenue_physical``, ``revenue_online``,
            ``revenue``, and ``contribution_physical``,
            ``contribution_online``, ``contribution``.
        """
        check_is_fitted(self, "seed_")
        if channel not in self.channel_names_:
            raise ValueError(f"Unknown channel {channel!r}; expected one of {self.channel_names_}.")
        grid = np.asarray(spend_grid, dtype=np.float64)
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError("spend_grid must be a non-empty 1-D array of finite values >= 0.")
        n_weeks = _check_n_weeks(n_weeks)
        plan = self._check_spend(None if spend is not None else n_weeks, spend)
        c = self.channel_names_.index(channel)
        points = np.concatenate([[0.0], grid])
        levels = np.tile(plan.to_numpy().mean(axis=0), (points.size, 1))
        levels[:, c] = points
        constant = pd.DataFrame(np.zeros((n_weeks, len(self.channel_names_))), columns=plan.columns)
        ctx = self._context(constant)
        revenue = np.zeros((points.size, len(STORE_TYPES)))
        for start in range(0, self.settings_["n_households"], _WORK_BATCH):
            stop = min(start + _WORK_BATCH, self.settings_["n_households"])
            revenue += counterfactual_cents(ctx, start, stop, levels)
        revenue /= 100.0 * n_weeks
        frame = pd.DataFrame({"spend": grid})
        for j, store_type in enumerate(STORE_TYPES):
            frame[f"revenue_{store_type}"] = revenue[1:, j]
        frame["revenue"] = revenue[1:].sum(axis=1)
        for j, store_type in enumerate(STORE_TYPES):
            frame[f"contribution_{store_type}"] = revenue[1:, j] - revenue[0, j]
        frame["contribution"] = revenue[1:].sum(axis=1) - revenue[0].sum()
        return frame

    def to_parquet(
        self,
        path,
        n_weeks: int | None = None,
        spend=None,
        *,
        batch_size: int = 5000,
        n_jobs: int | None = None,
    ) -> Path:
        """Stream batches of households to a partitioned Parquet dataset.

        Memory holds one batch per worker, whatever the number of
        households. Work goes through joblib, so any joblib backend runs it
        (loky by default; ``joblib.parallel_config(backend="dask")`` for a
        dask.distributed cluster). An interrupted run is resumed by calling
        again with the same arguments (and a simulator with the same
        parameters and seed): finished batches are kept, the others
        rewritten, and every household appears exactly once. Files appear
        under their final names only when complete, and ``_SUCCESS`` only
        when the whole dataset is. The data are the same as
        :meth:`generate`'s, whatever ``batch_size`` and ``n_jobs``.

        The directory holds::

            transactions/batch=00000/part-0.parquet   transaction lines, a folder per batch
            households/batch=00000/part-0.parquet     households and their true traits
            products.parquet, stores.parquet, promotions.parquet
            spend.parquet, weekly.parquet             the plan; weekly revenue next to it
            _weekly/batch=00000/part-0.parquet        each batch's weekly sums
            _done/batch=00000.json                    a batch is complete (rows, bytes)
            _manifest.json                            the run's settings, checked on resume
            _SUCCESS                                  written last: the dataset is complete

        Readers skip the names that start with ``_`` or ``.``. ``batch=``
        folders are Hive partitions: ``pandas.read_parquet`` adds their key
        as a ``batch`` column unless told ``partitioning=None``.

        Parameters
        ----------
        path : str or path-like
            A new or empty directory, or one this method was writing to.
        n_weeks : int, optional
            Weeks; defaults to the rows of ``spend``.
        spend : DataFrame or array-like of shape (n_weeks, n_channels), default=None
            As in :meth:`generate`.
        batch_size : int, default=5000
            Households per batch (and per Parquet file).
        n_jobs : int, default=None
            Parallel workers, as joblib counts them (None is one, -1 all cores).

        Returns
        -------
        path : Path
            The dataset directory. Read a table, in household order and
            without the partition key, with ``pandas.read_parquet(path /
            "transactions", partitioning=None)`` or
            ``pyarrow.dataset.dataset(path / "transactions").to_table()``.
        """
        _check_batching(batch_size, n_jobs)
        plan = self._check_spend(n_weeks, spend)
        rio.check_writable(path)
        starts = list(range(0, self.settings_["n_households"], int(batch_size)))
        manifest = {
            "n_households": int(self.settings_["n_households"]),
            "n_weeks": len(plan),
            "batch_size": int(batch_size),
            "n_batches": len(starts),
            "seed": int(self.seed_),
            "params": self._fingerprint(),
            "spend": hashlib.sha256(plan.to_numpy().tobytes()).hexdigest(),
        }
        root = rio.open_dataset_dir(path, manifest)
        ctx = self._context(plan)
        for name, table in (
            ("products", self.products_),
            ("stores", self.stores_),
            ("promotions", promotions_table(self.catalog_, ctx.state)),
            ("spend", plan.assign(week=np.arange(1, len(plan) + 1))),
        ):
            rio.write_table_atomic(
                pa.Table.from_pandas(table, preserve_index=False), root / f"{name}.parquet"
            )
        pending = [i for i in range(len(starts)) if not rio.batch_done(root, i)]
        if pending:
            # The dataset is incomplete until every batch is written again: a
            # run killed from here on must not leave it marked complete.
            for name in (rio.SUCCESS, "weekly.parquet"):
                (root / name).unlink(missing_ok=True)
        for i in pending:
            rio.clear_batch(root, i)
        tasks = (
            delayed(write_parquet_batch)(
                ctx, root, i, starts[i], min(starts[i] + batch_size, self.settings_["n_households"])
            )
            for i in pending
        )
        runs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
        for _ in tqdm(runs, total=len(pending), disable=not self.progress, desc="batches"):
            pass
        missing = [i for i in range(len(starts)) if not rio.batch_done(root, i)]
        if missing:
            raise RuntimeError(f"batches {missing} of {str(root)!r} were not written.")
        parts = (rio.read_weekly_part(root, i) for i in range(len(starts)))
        totals = [
            {name: part.column(name).to_numpy() for name in part.column_names} for part in parts
        ]
        weekly = weekly_frame(sum_totals(totals), plan, ctx.state)
        rio.write_table_atomic(
            pa.Table.from_pandas(weekly, preserve_index=False), root / "weekly.parquet"
        )
        write_json({"complete": True}, root / rio.SUCCESS)
        return root

    def _fingerprint(self) -> str:
        params = dict(self.fitted_params_)
        params.pop("progress")
        # What was simulated: the channels fit resolved (the same JSON as the
        # former default tuple, so datasets written before still resume).
        params["channels"] = list(self.channel_names_)
        params["random_state"] = int(self.seed_)
        return hashlib.sha256(json.dumps(params, sort_keys=True, default=repr).encode()).hexdigest()

    def _expected_failed_checks(self):
        return dict(_EXPECTED_FAILURES)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.target_tags.required = False
        # transform() maps a spend plan, never negative, to a table of counts
        # and money whose dtypes do not follow the plan's.
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def make_retail_data(
    n_households: int = 2500,
    n_weeks: int = 53,
    spend=None,
    random_state=None,
    **params,
) -> tuple[RetailData, RetailSimulator]:
    """Simulate a retailer's transactions with a known truth.

    A functional shortcut for :class:`RetailSimulator`, in the shape of
    ``sklearn.datasets.make_*``.

    Parameters
    ----------
    n_households : int, default=2500
    n_weeks : int, default=53
    spend : DataFrame or array-like of shape (n_weeks, n_channels), default=None
        Media spend; the default flighted plan when None.
    random_state : int, numpy.random.Generator or None, default=None
    **params
        Any other :class:`RetailSimulator` parameter.

    Returns
    -------
    data : RetailData
    simulator : RetailSimulator
        The fitted simulator: ``true_response``, ``household_traits``, ...

    Examples
    --------
    >>> from hillmix_sim import make_retail_data
    >>> data, sim = make_retail_data(n_households=20, n_weeks=3, n_products=100,
    ...                              n_categories=10, random_state=0)
    >>> sorted(data.transactions["week"].unique().tolist())
    [1, 2, 3]
    """
    sim = RetailSimulator(n_households=n_households, random_state=random_state, **params).fit()
    n_weeks = None if spend is not None else n_weeks
    return sim.generate(n_weeks, spend), sim


# ------------------------------------------------------------------ helpers
def _refuse_reference(X):
    tx = getattr(X, "transactions", X)
    if isinstance(tx, pd.DataFrame) and {"basket_id", "household_id"} <= set(tx.columns):
        raise TypeError(
            "RetailSimulator.fit takes no data: to calibrate the simulator to these "
            "transactions use SimulatorCalibrator(estimator=simulator).fit(transactions), "
            "or start from RetailSimulator.from_preset('complete_journey')."
        )


def _check_batching(batch_size, n_jobs):
    if not isinstance(batch_size, Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if n_jobs is not None and (
        not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs == 0
    ):
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}.")


def _check_n_weeks(n_weeks) -> int:
    if not isinstance(n_weeks, Integral) or isinstance(n_weeks, bool) or n_weeks < 1:
        raise ValueError(f"n_weeks must be a positive integer, got {n_weeks!r}.")
    return int(n_weeks)


def _real_values(values: np.ndarray) -> np.ndarray:
    """A spend plan's values as float64; complex or non-numeric ones refused."""
    if np.iscomplexobj(values):
        # Casting would drop the imaginary part with only a warning.
        raise ValueError("The spend plan has complex values; spend must be real numbers.")
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The spend plan must hold numbers: {exc}.") from exc


def _per_channel(name, value, n_channels) -> np.ndarray:
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if values.size == 1:
        values = np.repeat(values, n_channels)
    if values.shape != (n_channels,) or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be one finite number or one per channel, got {value!r}.")
    return values


def _positive_vector(name, value, allow_zero=False) -> np.ndarray:
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a tuple of numbers, got {value!r}.") from exc
    bad = values < 0 if allow_zero else values <= 0
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(bad):
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"{name} must be a non-empty tuple of finite numbers {sign}, got {value!r}."
        )
    return values
