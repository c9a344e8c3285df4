"""The retailer of the retail simulator: products, stores, prices and promotions.

The static catalog (categories, products with base prices and qualities,
stores, channel effects) is drawn once from the seed. The weekly state
(shelf prices that drift, temporary price reductions, displays, mailers,
category seasonality) is a counter-based function of (seed, product, week,
store), so the first weeks of a long run equal a short run's, and every
batch of households sees the same shop.

Products are laid out in *slots*: category ``c`` owns slots
``c * K .. c * K + K - 1`` (``K`` the largest category), the unused ones
empty. A shopper's choice within a category is then a fixed-width row of
``K`` utilities, which the engine evaluates for millions of lines at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from hillmix._random import entity_bases, stream_key, uniform_pair, uniforms

from ._traits import TraitSpec, sample_trait

# Shelf prices are int32 cents.
_MAX_CENTS = float(np.iinfo(np.int32).max)

__all__ = [
    "N_FEATURES",
    "WEEKS_PER_YEAR",
    "Catalog",
    "WeeklyState",
    "draw_catalog",
    "promotions_table",
    "weekly_state",
]

WEEKS_PER_YEAR = 52.1775
#: Utility features of a product in a store and week: log of the shelf price
#: over the base price, the deal (-log(1 - TPR depth)), on display, in the mailer.
N_FEATURES = 4

_DEPARTMENTS = (
    "GROCERY",
    "PRODUCE",
    "MEAT",
    "DELI",
    "DRUG GM",
    "PASTRY",
    "NUTRITION",
    "SEAFOOD",
    "FROZEN",
    "DAIRY",
)
# Streams of the counter-based generator used by the catalog.
_WEEKLY_STREAM, _WEEK_STREAM = 11, 12
# The share of a promoted product's stores that run the reduction, the
# weekly rate and the typical size of a permanent (regular) price change.
_STORE_PARTICIPATION = 0.85
_PRICE_CHANGE_RATE = 0.04
_PRICE_CHANGE_DRIFT = 0.01
# Weeks differ in how much is on promotion (big mailer weeks): lognormal
# intensity with this log-scale standard deviation, scaled to mean one.
_PROMO_WEEK_SPREAD = 0.35
# Weeks of a promotion plan, whose intensities are scaled to mean one.
_PLAN_WEEKS = 52
# Week of the year (1-based) when visits peak: the run-up to the holidays.
_PEAK_WEEK = 49


@dataclass(frozen=True)
class Catalog:
    """The static catalog: arrays the engine uses and tables users see."""

    n_categories: int
    slots: int
    slot_product: np.ndarray  # (n_categories * slots,) product id, 0 for an empty slot
    slot_quality: np.ndarray  # float32, -inf for an empty slot
    slot_base_cents: np.ndarray  # float64
    category_weight: np.ndarray
    category_season_amplitude: np.ndarray
    category_season_phase: np.ndarray
    store_ids: np.ndarray
    store_online: np.ndarray  # bool
    store_price_index: np.ndarray
    store_traffic: np.ndarray  # popularity among physical stores (0 online)
    channel_effect: np.ndarray
    channel_half_saturation: np.ndarray  # multiplier of the segments' half-saturation
    products: pd.DataFrame
    stores: pd.DataFrame


@dataclass(frozen=True)
class WeeklyState:
    """Everything in the shop that changes by week, for ``n_weeks`` weeks."""

    n_weeks: int
    features: np.ndarray  # (N_FEATURES, n_stores, n_weeks, n_slots) float32
    shelf_cents: np.ndarray  # (n_stores, n_weeks, n_slots) int32
    depth_pct: np.ndarray  # (n_stores, n_weeks, n_slots) uint8, TPR depth in percent
    category_cdf: np.ndarray  # (n_weeks * n_categories,) week + cumulative shares
    season: np.ndarray  # (n_weeks,) visit seasonality, mean about one
    mailer_index: np.ndarray  # (n_weeks,) mailer size over its expected size
    mailer_items: np.ndarray  # (n_weeks,) products in the week's mailer


def draw_catalog(
    seed: int,
    *,
    n_products: int,
    n_categories: int,
    n_stores: int,
    n_online_stores: int,
    n_channels: int,
    base_price: TraitSpec,
) -> Catalog:
    """Draw the static catalog from a seed.

    Parameters
    ----------
    seed : int
    n_products, n_categories, n_stores, n_online_stores, n_channels : int
    base_price : TraitSpec
        Distribution of a category's typical shelf price, in dollars.

    Returns
    -------
    catalog : Catalog
    """
    rng = np.random.default_rng([seed, 1])
    n_cat = n_categories
    slots = -(-n_products // n_cat)
    sizes = np.full(n_cat, n_products // n_cat)
    sizes[: n_products % n_cat] += 1

    # Category popularity is long-tailed; about a third of the categories
    # are seasonal (ice cream, soup), the rest nearly flat.
    weight = rng.lognormal(0.0, 1.0, n_cat)
    seasonal = rng.random(n_cat) < 0.3
    amplitude = np.where(seasonal, rng.uniform(0.2, 0.6, n_cat), rng.uniform(0.0, 0.05, n_cat))
    phase = rng.uniform(0.0, 2 * np.pi, n_cat)
    department = rng.choice(len(_DEPARTMENTS), size=n_cat)
    level = sample_trait(base_price, rng.uniform(1e-9, 1 - 1e-9, n_cat))

    category = np.repeat(np.arange(n_cat), sizes)
    position = np.arange(n_products) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    slot = category * slots + position
    private = rng.random(n_products) < 0.25
    # Private labels are cheaper and a little less liked.
    price = level[category] * np.exp(rng.normal(0.0, 0.25, n_products)) * np.where(private, 0.8, 1)
    price_cents = np.maximum(np.round(price * 100.0), 1.0)
    quality = rng.normal(0.0, 1.0, n_products) - 0.3 * private
    manufacturer = np.where(private, 1, rng.integers(2, 2 + max(n_products // 5, 1), n_products))

    n_slots = n_cat * slots
    product_ids = np.arange(1, n_products + 1, dtype=np.int64)
    slot_product = np.zeros(n_slots, dtype=np.int64)
    slot_product[slot] = product_ids
    slot_quality = np.full(n_slots, -np.inf, dtype=np.float32)
    slot_quality[slot] = quality
    slot_base = np.ones(n_slots)
    slot_base[slot] = price_cents

    online = np.zeros(n_stores, dtype=bool)
    online[n_stores - n_online_stores :] = True
    price_index = np.where(online, 1.0, np.exp(rng.normal(0.0, 0.03, n_stores)))
    traffic = np.where(online, 0.0, rng.lognormal(0.0, 0.5, n_stores))
    traffic = traffic / traffic.sum()
    store_ids = np.arange(1, n_stores + 1, dtype=np.int64)

    products = pd.DataFrame(
        {
            "product_id": product_ids,
            "manufacturer_id": manufacturer.astype(np.int64),
            "department": np.asarray(_DEPARTMENTS, dtype=object)[department[category]],
            "brand": np.where(private, "Private", "National").astype(object),
            "product_category": np.char.mod("CATEGORY %03d", category + 1).astype(object),
            "base_price": price_cents / 100.0,
            "quality": quality,
        }
    )
    stores = pd.DataFrame(
        {
            "store_id": store_ids,
            "store_type": np.where(online, "online", "physical").astype(object),
            "price_index": price_index,
            "traffic_share": traffic,
        }
    )
    return Catalog(
        n_categories=n_cat,
        slots=slots,
        slot_product=slot_product,
        slot_quality=slot_quality,
        slot_base_cents=slot_base,
        category_weight=weight / weight.sum(),
        category_season_amplitude=amplitude,
        category_season_phase=phase,
        store_ids=store_ids,
        store_online=online,
        store_price_index=price_index,
        store_traffic=traffic,
        channel_effect=rng.lognormal(0.0, 0.25, n_channels),
        channel_half_saturation=rng.lognormal(0.0, 0.25, n_channels),
        products=products,
        stores=stores,
    )


def weekly_state(
    catalog: Catalog,
    seed: int,
    n_weeks: int,
    *,
    price_volatility: float,
    promo_frequency: float,
    tpr_depth: TraitSpec,
    display_share: float,
    mailer_share: float,
    seasonality: float,
) -> WeeklyState:
    """Shelf prices, promotions and seasonality for weeks ``1 .. n_weeks``.

    Parameters
    ----------
    catalog : Catalog
    seed : int
    n_weeks : int
    price_volatility : float
        Standard deviation of a permanent change of a product's log price.
    promo_frequency : float
        Chance that a product is on promotion in a week (a temporary price
        reduction in most stores).
    tpr_depth : TraitSpec
        Distribution of a reduction's depth, rounded to 5%.
    display_share : float
        Chance that a store displays a product it reduces.
    mailer_share : float
        Chance that a promotion is in the week's mailer.
    seasonality : float
        Amplitude of the yearly cycle of visits (log scale).

    Returns
    -------
    state : WeeklyState
    """
    n_slots = catalog.slot_product.size
    n_stores = catalog.store_ids.size
    real = catalog.slot_product > 0
    weeks = np.arange(n_weeks)

    # A retailer plans a year's promotions: the weeks of each year share
    # them out, so their mean is promo_frequency whatever the seed. (Left
    # free, the mean moved every household's discounted share with the seed:
    # medians of 0.44 to 0.51 over six seeds of the calibrated preset.) Whole
    # years are drawn, so a short run is the start of a longer one.
    n_years = -(-n_weeks // _PLAN_WEEKS)
    year_weeks = np.arange(n_years * _PLAN_WEEKS)
    week_bases = entity_bases(stream_key(seed, _WEEK_STREAM), year_weeks)
    intensity = np.exp(_PROMO_WEEK_SPREAD * special.ndtri(uniforms(week_bases, 0)))
    intensity = intensity.reshape(n_years, _PLAN_WEEKS)
    intensity = (intensity / intensity.mean(axis=1, keepdims=True)).ravel()[:n_weeks]

    # Per week and product (chain-wide): permanent price changes, the
    # promotion event, its depth and whether it is in the mailer.
    bases = entity_bases(stream_key(seed, _WEEKLY_STREAM), np.arange(n_slots))[None, :]
    wp = weeks[:, None] * 16
    u_change, u_size = uniform_pair(bases, wp + 0)
    step = np.where(
        u_change < _PRICE_CHANGE_RATE,
        _PRICE_CHANGE_DRIFT + price_volatility * special.ndtri(u_size),
        0.0,
    )
    step[0] = 0.0
    log_drift = np.cumsum(step, axis=0)
    u_event, u_depth = uniform_pair(bases, wp + 1)
    event = (u_event < np.minimum(promo_frequency * intensity, 1.0)[:, None]) & real[None, :]
    depth = np.zeros(event.shape)
    # Inverse Beta functions are slow: only where there is a promotion.
    depth[event] = np.clip(np.round(sample_trait(tpr_depth, u_depth[event]) * 20.0) * 5.0, 5, 95)
    mailer = event & (uniforms(bases, wp + 2) < mailer_share)

    # Per store, week and product: does the store run the reduction, does
    # it display the product.
    stores = np.arange(n_stores)[:, None, None]
    # Counters 16 * (week * n_stores + store) + 3: distinct for every week
    # and store, and never equal to a chain-wide counter 16 * week + k, k < 3.
    u_part, u_display = uniform_pair(
        bases[None], (weeks[None, :, None] * n_stores + stores) * 16 + 3
    )
    tpr = event[None] & (u_part < _STORE_PARTICIPATION)
    display = tpr & (u_display < display_share) & ~catalog.store_online[:, None, None]

    shelf = catalog.slot_base_cents * np.exp(log_drift)
    shelf = shelf[None] * catalog.store_price_index[:, None, None]
    # Narrow integers: the weekly state is shipped to every worker.
    highest = float(shelf.max()) if shelf.size else 0.0
    if not highest <= _MAX_CENTS:
        raise ValueError(
            f"Shelf prices reach {highest / 100:,.0f} per unit, beyond the "
            f"{_MAX_CENTS / 100:,.0f} that prices in cents can hold here; lower base_price, "
            "price_volatility or the number of weeks."
        )
    shelf_cents = np.maximum(np.round(shelf), 1.0).astype(np.int32)
    depth_pct = np.where(tpr, depth[None], 0.0).astype(np.uint8)
    # Feature planes, one contiguous array each: the engine gathers from
    # them one feature at a time.
    features = np.empty((N_FEATURES, n_stores, n_weeks, n_slots), dtype=np.float32)
    features[0] = np.log(shelf_cents / catalog.slot_base_cents)
    features[1] = -np.log1p(-(depth_pct / 100.0))
    features[2] = display
    features[3] = mailer[None]

    # Category shares move with their own yearly cycles.
    angle = 2 * np.pi * (weeks[:, None] + 1) / WEEKS_PER_YEAR + catalog.category_season_phase
    shares = catalog.category_weight * np.exp(catalog.category_season_amplitude * np.sin(angle))
    cdf = np.cumsum(shares, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    category_cdf = (cdf + weeks[:, None]).ravel()

    season = np.exp(seasonality * np.cos(2 * np.pi * (weeks + 1 - _PEAK_WEEK) / WEEKS_PER_YEAR))
    expected_mailer = max(real.sum() * promo_frequency * mailer_share, 1e-12)
    mailer_items = mailer.sum(axis=1).astype(np.int64)
    mailer_index = mailer_items / expected_mailer
    return WeeklyState(
        n_weeks=n_weeks,
        features=features,
        shelf_cents=shelf_cents,
        depth_pct=depth_pct,
        category_cdf=category_cdf,
        season=season,
        mailer_index=mailer_index,
        mailer_items=mailer_items,
    )


def promotions_table(catalog: Catalog, state: WeeklyState) -> pd.DataFrame:
    """Promoted products per store and week (reduction, display or mailer).

    Returns
    -------
    promotions : DataFrame
        ``product_id``, ``store_id``, ``week``, ``on_display``, ``on_mailer``,
        ``tpr_depth`` (fraction) and ``shelf_price`` (dollars, before the
        reduction).
    """
    f = state.features
    active = (state.depth_pct > 0) | (f[2] > 0) | (f[3] > 0)
    active &= (catalog.slot_product > 0)[None, None, :]
    s, w, p = np.nonzero(active)
    frame = pd.DataFrame(
        {
            "product_id": catalog.slot_product[p],
            "store_id": catalog.store_ids[s],
            "week": (w + 1).astype(np.int64),
            "on_display": f[2, s, w, p] > 0,
            "on_mailer": f[3, s, w, p] > 0,
            "tpr_depth": state.depth_pct[s, w, p] / 100.0,
            "shelf_price": state.shelf_cents[s, w, p] / 100.0,
        }
    )
    return frame.sort_values(["week", "store_id", "product_id"], kind="stable").reset_index(
        drop=True
    )
