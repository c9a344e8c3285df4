"""The weekly simulation of households: pure NumPy functions of arrays.

Every draw comes from the counter-based generator with the household's own
stream (:mod:`hillmix._random`), addressed by week, trip, line and
purpose, so nothing here depends on which households share a batch. Money
is counted in integer cents, so totals are exact and do not depend on the
order of addition either.

Per household and week: the number of trips is Poisson (capped at
``MAX_TRIPS``) with rate ``visit_rate * season * promotions * (1 + media)``,
``media = sum_c beta[c] * hill(adstock[c]; kappa[c], n[c])``. Per trip: a
store (online with the household's online share, else its home store with
its loyalty, else a store by traffic), a day, and a number of lines
(geometric with the household's mean basket size). Per line: a category
(by seasonal shares), a product (multinomial logit on quality, price,
reduction, display and mailer with the household's sensitivities), a
quantity (geometric, raised by reductions) and perhaps a coupon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from hillmix._random import entity_bases, stream_key, uniform_pair, uniforms

from ._catalog import Catalog, WeeklyState
from ._traits import TraitSpec, sample_trait

__all__ = [
    "MAX_LINES",
    "MAX_TRIPS",
    "SCALAR_TRAITS",
    "STORE_TYPES",
    "Baskets",
    "BatchContext",
    "Households",
    "counterfactual_cents",
    "draw_batch",
    "draw_households",
    "hill_lift",
    "simulate_baskets",
    "simulate_batch",
    "simulate_trips",
    "trip_rates",
    "trip_uniforms",
    "weekly_totals",
]

MAX_TRIPS = 7
MAX_LINES = 256
MAX_QUANTITY = 99
#: Scalar traits, in the order of their random streams (append only: a new
#: trait must not change the draws of the existing ones).
SCALAR_TRAITS = (
    "visit_rate",
    "basket_size",
    "price_sensitivity",
    "promo_responsiveness",
    "display_sensitivity",
    "mailer_sensitivity",
    "coupon_usage",
    "quantity",
    "store_loyalty",
    "online_share",
)
_HOME_STORE, _SEGMENT, _HALF_SATURATION, _MEDIA_RESPONSIVENESS = 20, 21, 22, 23
_TRAIT_STREAM, _BEHAVIOUR_STREAM = 1, 2
# Counter layout of a household's behaviour stream:
# (((week * 8 + trip) * 256 + line) * 16 + purpose).
_TRIP_BITS, _LINE_BITS, _PURPOSE_BITS = 8, MAX_LINES, 16
_TRIPS, _STORE, _STORE_OTHER, _DAY, _CHOICE, _QUANTITY = 0, 1, 2, 3, 4, 5
# Coupons: the chance that a line's product has a manufacturer coupon the
# household could use (high when the product is in the mailer), and its
# value as a share of the shelf price, in percent.
_COUPON_IN_MAILER, _COUPON_OTHERWISE, _COUPON_VALUE_PCT = 0.3, 0.01, 25
# Lines are simulated in chunks of about this many: large enough for NumPy
# to run at full speed, small enough that the (lines x slots) temporaries
# stay in cache and the peak memory stays flat.
_CHUNK_LINES = 1 << 15


@dataclass(frozen=True)
class Households:
    """True traits of a set of households (arrays over households)."""

    ids: np.ndarray  # (H,) int64
    traits: dict  # name -> (H,) float64, SCALAR_TRAITS
    home_store: np.ndarray  # (H,) store index
    segment: np.ndarray  # (H,) media segment
    media_responsiveness: np.ndarray  # (H, C) lift of the trip rate at saturation
    half_saturation: np.ndarray  # (H, C) spend units
    hill_exponent: np.ndarray  # (H, C)

    def __len__(self) -> int:
        return self.ids.size


@dataclass(frozen=True)
class Baskets:
    """The baskets of a batch, and optionally their lines."""

    household: np.ndarray  # local household index
    week: np.ndarray  # week index, 0-based
    trip: np.ndarray
    online: np.ndarray  # bool
    cents: np.ndarray  # sales value in cents
    units: np.ndarray
    lines: dict | None  # transaction columns, when collected


def draw_households(
    seed: int,
    ids: np.ndarray,
    specs: dict[str, TraitSpec],
    catalog: Catalog,
    *,
    segment_weights: np.ndarray,
    segment_half_saturation: np.ndarray,
    segment_exponent: np.ndarray,
    half_saturation_spread: float,
    media_responsiveness: TraitSpec,
    reference_spend: np.ndarray,
) -> Households:
    """Draw households' traits from their own streams.

    Parameters
    ----------
    seed : int
    ids : ndarray of int64
        Household ids.
    specs : dict of str to TraitSpec
        One per name of :data:`SCALAR_TRAITS`.
    catalog : Catalog
    segment_weights, segment_half_saturation, segment_exponent : ndarray
        Media segments: shares, half-saturation (a multiple of the
        channel's reference spend) and Hill exponent.
    half_saturation_spread : float
        Log-scale standard deviation of a household's half-saturation
        around its segment's.
    media_responsiveness : TraitSpec
        Lift of the trip rate at saturation, per household and channel
        (scaled by the channel's effect).
    reference_spend : ndarray of shape (n_channels,)

    Returns
    -------
    households : Households
    """
    ids = np.asarray(ids, dtype=np.int64)
    bases = entity_bases(stream_key(seed, _TRAIT_STREAM), ids)
    traits = {
        name: sample_trait(specs[name], uniforms(bases, j * 256))
        for j, name in enumerate(SCALAR_TRAITS)
    }
    physical = np.flatnonzero(~catalog.store_online)
    traffic = np.cumsum(catalog.store_traffic[physical])
    pick = np.searchsorted(traffic / traffic[-1], uniforms(bases, _HOME_STORE * 256), side="right")
    home_store = physical[np.minimum(pick, physical.size - 1)]
    cum = np.cumsum(segment_weights) / np.sum(segment_weights)
    segment = np.minimum(
        np.searchsorted(cum, uniforms(bases, _SEGMENT * 256), side="right"), cum.size - 1
    )
    channels = np.arange(reference_spend.size)[None, :]
    z = special.ndtri(uniforms(bases[:, None], _HALF_SATURATION * 256 + channels))
    half_saturation = (
        reference_spend[None, :]
        * catalog.channel_half_saturation[None, :]
        * segment_half_saturation[segment][:, None]
        * np.exp(half_saturation_spread * z)
    )
    beta = sample_trait(
        media_responsiveness, uniforms(bases[:, None], _MEDIA_RESPONSIVENESS * 256 + channels)
    )
    exponent = np.broadcast_to(segment_exponent[segment][:, None], half_saturation.shape).copy()
    return Households(
        ids=ids,
        traits=traits,
        home_store=home_store,
        segment=segment,
        media_responsiveness=beta * catalog.channel_effect[None, :],
        half_saturation=half_saturation,
        hill_exponent=exponent,
    )


def hill_lift(households: Households, adstock: np.ndarray) -> np.ndarray:
    """Relative lift of each household's trip rate by media, per week.

    Parameters
    ----------
    households : Households
    adstock : ndarray of shape (n_weeks, n_channels)
        Adstocked spend.

    Returns
    -------
    lift : ndarray of shape (H, n_weeks)
        ``sum_c beta[h, c] * hill(adstock[w, c]; kappa[h, c], n[h, c])``.
    """
    lift = np.zeros((len(households), adstock.shape[0]))
    for c in range(adstock.shape[1]):
        x = adstock[:, c]
        positive = x > 0
        if not positive.any():
            continue
        log_x = np.log(np.where(positive, x, 1.0))
        # hill = 1 / (1 + (kappa / x) ** n), computed on the log scale.
        t = households.hill_exponent[:, c, None] * (
            np.log(households.half_saturation[:, c, None]) - log_x[None, :]
        )
        curve = np.where(positive[None, :], special.expit(-t), 0.0)
        lift += households.media_responsiveness[:, c, None] * curve
    return lift


def trip_rates(
    households: Households,
    state: WeeklyState,
    adstock: np.ndarray,
    promo_visit_effect: float,
) -> np.ndarray:
    """Expected trips per household and week.

    Returns
    -------
    rate : ndarray of shape (H, n_weeks)
    """
    t = households.traits
    promo = np.exp(
        promo_visit_effect
        * t["promo_responsiveness"][:, None]
        * (state.mailer_index[None, :] - 1.0)
    )
    # A negative responsiveness (ads that put a household off) can take the
    # lift below -1: the household then stops visiting, it does not visit
    # more (Poisson inversion of a negative mean counts up, not down).
    rate = (
        t["visit_rate"][:, None]
        * state.season[None, :]
        * promo
        * np.maximum(1.0 + hill_lift(households, adstock), 0.0)
    )
    if not np.all(np.isfinite(rate)):
        # The simulator refuses such settings in fit; a NaN rate would
        # otherwise become zero trips.
        raise ValueError(
            "Trip rates overflowed to inf or NaN: lower promo_visit_effect, seasonality, "
            "visit_rate or media_responsiveness."
        )
    return rate


def _behaviour_bases(seed: int, households: Households) -> np.ndarray:
    return entity_bases(stream_key(seed, _BEHAVIOUR_STREAM), households.ids)


def _counter(week, trip, line, purpose):
    return ((week * _TRIP_BITS + trip) * _LINE_BITS + line) * _PURPOSE_BITS + purpose


def trip_uniforms(seed: int, households: Households, n_weeks: int) -> np.ndarray:
    """The uniform behind each household's number of trips in each week."""
    weeks = np.arange(n_weeks, dtype=np.int64)
    return uniforms(_behaviour_bases(seed, households)[:, None], _counter(weeks, 0, 0, _TRIPS))


def simulate_trips(u: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Poisson trips by inversion, capped at :data:`MAX_TRIPS`.

    The count is increasing in the rate for a fixed uniform, so common
    random numbers give counterfactuals that move only where they must.

    Parameters
    ----------
    u : ndarray
        Uniforms.
    rate : ndarray
        Poisson means, same shape.

    Returns
    -------
    trips : ndarray of int64
    """
    p = np.exp(-rate)
    cdf = p.copy()
    trips = np.zeros(rate.shape, dtype=np.int64)
    for k in range(1, MAX_TRIPS + 1):
        trips += u > cdf
        p *= rate / k
        cdf += p
    return trips


def _geometric(u: np.ndarray, mean: np.ndarray, cap: int) -> np.ndarray:
    """Counts on 1, 2, ... with the given means, by inversion, capped."""
    q = 1.0 - 1.0 / np.maximum(mean, 1.0 + 1e-9)
    with np.errstate(divide="ignore"):
        extra = np.floor(np.log(u) / np.log(q))
    # A mean too large for q < 1 in float64 (about 1e16) gives log(q) = 0 and
    # extra = -inf, which became the most negative int64: it means the cap.
    return np.minimum(1.0 + np.nan_to_num(extra, neginf=cap), cap).astype(np.int64)


def simulate_baskets(
    seed: int,
    households: Households,
    trips: np.ndarray,
    catalog: Catalog,
    state: WeeklyState,
    *,
    promo_quantity_lift: float,
    collect_lines: bool = True,
) -> Baskets:
    """Simulate every trip's basket, and its lines.

    Parameters
    ----------
    seed : int
    households : Households
    trips : ndarray of shape (H, n_weeks)
    catalog : Catalog
    state : WeeklyState
    promo_quantity_lift : float
        Relative rise of the mean quantity per unit of reduction depth at
        a promotion responsiveness of one (stockpiling).
    collect_lines : bool, default=True
        Keep the transaction lines; otherwise only basket totals.

    Returns
    -------
    baskets : Baskets
    """
    n_hh, n_weeks = trips.shape
    t = households.traits
    bases = _behaviour_bases(seed, households)

    # --- baskets: who, when, where, how many lines
    flat = np.repeat(np.arange(n_hh * n_weeks), trips.ravel())
    bh, bw = np.divmod(flat, n_weeks)
    first = np.cumsum(trips.ravel()) - trips.ravel()
    bk = np.arange(flat.size) - np.repeat(first, trips.ravel())
    cb = _counter(bw, bk, 0, 0)
    base_b = bases[bh]
    u_online, u_loyal = uniform_pair(base_b, cb + _STORE)
    u_other = uniforms(base_b, cb + _STORE_OTHER)
    u_day, u_size = uniform_pair(base_b, cb + _DAY)

    online_ids = np.flatnonzero(catalog.store_online)
    physical = np.flatnonzero(~catalog.store_online)
    traffic = np.cumsum(catalog.store_traffic[physical])
    traffic /= traffic[-1]
    elsewhere = physical[
        np.minimum(np.searchsorted(traffic, u_other, side="right"), physical.size - 1)
    ]
    store = np.where(u_loyal < t["store_loyalty"][bh], households.home_store[bh], elsewhere)
    if online_ids.size:
        online = u_online < t["online_share"][bh]
        which = online_ids[
            np.minimum((u_other * online_ids.size).astype(np.int64), online_ids.size - 1)
        ]
        store = np.where(online, which, store)
    else:
        online = np.zeros(flat.size, dtype=bool)
    day = bw * 7 + np.minimum((u_day * 7).astype(np.int64), 6) + 1
    n_lines = _geometric(u_size, t["basket_size"][bh], MAX_LINES)

    # --- lines, chunk by chunk
    n_total = int(n_lines.sum())
    line_end = np.cumsum(n_lines)
    line_start = line_end - n_lines
    cents = np.zeros(flat.size, dtype=np.int64)
    units = np.zeros(flat.size, dtype=np.int64)
    if collect_lines:
        basket_id = (households.ids[bh] << 24) | (bw << 3) | bk
        out = {
            "household_id": np.empty(n_total, dtype=np.int64),
            "store_id": np.empty(n_total, dtype=np.int64),
            "basket_id": np.empty(n_total, dtype=np.int64),
            "product_id": np.empty(n_total, dtype=np.int64),
            "week": np.empty(n_total, dtype=np.int64),
            "day": np.empty(n_total, dtype=np.int64),
            "quantity": np.empty(n_total, dtype=np.int64),
            "sales_value": np.empty(n_total, dtype=np.float64),
            "retail_disc": np.empty(n_total, dtype=np.float64),
            "coupon_disc": np.empty(n_total, dtype=np.float64),
            "on_display": np.empty(n_total, dtype=bool),
            "on_mailer": np.empty(n_total, dtype=bool),
        }
    # Per-household utility coefficients of the four product features.
    ps = t["price_sensitivity"]
    coef = np.stack(
        [-ps, ps * t["promo_responsiveness"], t["display_sensitivity"], t["mailer_sensitivity"]]
    ).astype(np.float32)
    planes = [plane.ravel() for plane in state.features]
    shelf_flat = state.shelf_cents.ravel()
    depth_flat = state.depth_pct.ravel()
    K = catalog.slots
    n_cat = catalog.n_categories
    n_slots = catalog.slot_product.size
    span = np.arange(K)

    b0 = 0
    n_baskets = flat.size
    while b0 < n_baskets:
        b1 = int(np.searchsorted(line_end, line_start[b0] + _CHUNK_LINES, side="right"))
        b1 = max(b1, b0 + 1)
        lo, hi = int(line_start[b0]), int(line_end[b1 - 1])
        nb = n_lines[b0:b1]
        lb = np.repeat(np.arange(b0, b1), nb)
        lj = np.arange(hi - lo) - (line_start[lb] - lo)
        lh = bh[lb]
        lw = bw[lb]
        ls = store[lb]
        cnt = cb[lb] + lj * _PURPOSE_BITS
        base_l = base_b[lb]
        u_cat, u_prod = uniform_pair(base_l, cnt + _CHOICE)
        u_qty, u_coupon = uniform_pair(base_l, cnt + _QUANTITY)

        cat = np.searchsorted(state.category_cdf, lw + u_cat, side="right") - lw * n_cat
        np.clip(cat, 0, n_cat - 1, out=cat)
        slot0 = cat * K
        row = (ls * n_weeks + lw) * n_slots + slot0
        idx = row[:, None] + span
        utility = catalog.slot_quality[slot0[:, None] + span]
        for f, plane in enumerate(planes):
            utility += coef[f, lh][:, None] * plane[idx]
        # Shifted by each line's best utility, the weights lie in (0, 1]:
        # exp cannot overflow float32 however strong the sensitivities.
        utility -= utility.max(axis=1, keepdims=True)
        np.exp(utility, out=utility)
        np.cumsum(utility, axis=1, out=utility)
        if not np.all(np.isfinite(utility[:, -1])):
            # Only infinite utilities (inf - inf is NaN) get here.
            raise ValueError(
                "Product utilities are not finite: lower price_sensitivity, "
                "promo_responsiveness, display_sensitivity or mailer_sensitivity."
            )
        target = u_prod.astype(np.float32) * utility[:, -1]
        choice = np.minimum((utility < target[:, None]).sum(axis=1), K - 1)
        chosen = row + choice

        shelf = shelf_flat[chosen]
        pct = depth_flat[chosen]
        mean_qty = t["quantity"][lh] * (
            1.0 + promo_quantity_lift * t["promo_responsiveness"][lh] * (pct / 100.0)
        )
        qty = _geometric(u_qty, mean_qty, MAX_QUANTITY)
        gross = qty * shelf
        disc = (gross * pct.astype(np.int64) + 50) // 100
        sales = gross - disc
        mailer = planes[3][chosen] > 0
        chance = np.where(mailer, _COUPON_IN_MAILER, _COUPON_OTHERWISE)
        coupon = np.where(
            u_coupon < chance * t["coupon_usage"][lh],
            np.maximum((shelf.astype(np.int64) * _COUPON_VALUE_PCT + 50) // 100, 1),
            0,
        )

        starts = line_start[b0:b1] - lo
        cents[b0:b1] = np.add.reduceat(sales, starts)
        units[b0:b1] = np.add.reduceat(qty, starts)
        if collect_lines:
            sl = slice(lo, hi)
            out["household_id"][sl] = households.ids[lh]
            out["store_id"][sl] = catalog.store_ids[ls]
            out["basket_id"][sl] = basket_id[lb]
            out["product_id"][sl] = catalog.slot_product[slot0 + choice]
            out["week"][sl] = lw + 1
            out["day"][sl] = day[lb]
            out["quantity"][sl] = qty
            np.divide(sales, 100.0, out=out["sales_value"][sl])
            np.divide(disc, 100.0, out=out["retail_disc"][sl])
            np.divide(coupon, 100.0, out=out["coupon_disc"][sl])
            out["on_display"][sl] = planes[2][chosen] > 0
            out["on_mailer"][sl] = mailer
        b0 = b1

    return Baskets(
        household=bh,
        week=bw,
        trip=bk,
        online=catalog.store_online[store],
        cents=cents,
        units=units,
        lines=out if collect_lines else None,
    )


def weekly_totals(baskets: Baskets, trips: np.ndarray) -> dict[str, np.ndarray]:
    """Weekly sums of a batch, exact (integers), so batches add up in any order.

    Returns
    -------
    totals : dict of str to ndarray of int64, each of shape (n_weeks,)
        ``cents_physical``, ``cents_online``, ``baskets``, ``units``,
        ``shoppers`` (households with at least one trip).
    """
    n_weeks = trips.shape[1]
    online = baskets.online

    def total(weights, mask=None):
        w = weights if mask is None else np.where(mask, weights, 0)
        # Integer-valued float sums below 2**53 are exact whatever the order.
        return np.bincount(baskets.week, weights=w, minlength=n_weeks).astype(np.int64)

    return {
        "cents_physical": total(baskets.cents, ~online),
        "cents_online": total(baskets.cents, online),
        "baskets": np.bincount(baskets.week, minlength=n_weeks).astype(np.int64),
        "units": total(baskets.units),
        "shoppers": (trips > 0).sum(axis=0).astype(np.int64),
    }


#: Kinds of store, in the order of the revenue columns.
STORE_TYPES = ("physical", "online")


@dataclass(frozen=True)
class BatchContext:
    """Everything a batch of households needs; picklable, shared by all batches.

    Built once per call of the simulator (the seed, the catalog, the weeks'
    prices and promotions, the spend and its adstock, the trait
    distributions), then passed to every batch, in this process or in a
    joblib worker.
    """

    seed: int
    catalog: Catalog
    state: WeeklyState
    spend: np.ndarray
    adstock: np.ndarray
    channels: tuple
    specs: dict
    media: dict
    promo_visit_effect: float
    promo_quantity_lift: float


def draw_batch(ctx: BatchContext, ids: np.ndarray) -> Households:
    """The households with ``ids``, each from its own stream."""
    return draw_households(ctx.seed, ids, ctx.specs, ctx.catalog, **ctx.media)


def simulate_batch(ctx: BatchContext, start: int, stop: int, collect_lines: bool):
    """Households ``start + 1 .. stop``: their traits, weekly trips and baskets.

    Returns
    -------
    households : Households
    trips : ndarray of shape (n_households, n_weeks)
    baskets : Baskets
        With their lines when ``collect_lines``.
    """
    hh = draw_batch(ctx, np.arange(start + 1, stop + 1, dtype=np.int64))
    rate = trip_rates(hh, ctx.state, ctx.adstock, ctx.promo_visit_effect)
    trips = simulate_trips(trip_uniforms(ctx.seed, hh, ctx.state.n_weeks), rate)
    baskets = simulate_baskets(
        ctx.seed,
        hh,
        trips,
        ctx.catalog,
        ctx.state,
        promo_quantity_lift=ctx.promo_quantity_lift,
        collect_lines=collect_lines,
    )
    return hh, trips, baskets


def counterfactual_cents(ctx: BatchContext, start, stop, levels) -> np.ndarray:
    """Total cents by store type at each constant spend level, common random numbers."""
    hh = draw_batch(ctx, np.arange(start + 1, stop + 1, dtype=np.int64))
    n_weeks = ctx.state.n_weeks
    u = trip_uniforms(ctx.seed, hh, n_weeks)
    trips = []
    for level in levels:
        adstock = np.broadcast_to(level, (n_weeks, level.size))
        trips.append(simulate_trips(u, trip_rates(hh, ctx.state, adstock, ctx.promo_visit_effect)))
    most = np.max(trips, axis=0)
    baskets = simulate_baskets(
        ctx.seed,
        hh,
        most,
        ctx.catalog,
        ctx.state,
        promo_quantity_lift=ctx.promo_quantity_lift,
        collect_lines=False,
    )
    out = np.zeros((len(levels), len(STORE_TYPES)))
    for g, count in enumerate(trips):
        # A basket happens at this spend level if its trip number is below
        # the week's trip count there.
        kept = baskets.trip < count[baskets.household, baskets.week]
        for j, online in enumerate((False, True)):
            out[g, j] = baskets.cents[kept & (baskets.online == online)].sum()
    return out
