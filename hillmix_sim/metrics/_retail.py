"""How much simulated retail transactions look like real ones, metric by metric.

Every metric compares one sample drawn from each table: per basket, per
line, per household or per household-week. Distributions of numbers are
compared by one minus the Kolmogorov-Smirnov distance (the largest gap
between the two empirical distribution functions), shares by one minus the
total variation distance; both are 1 for identical data and 0 for data with
nothing in common, whatever the sample sizes.

The tables are transactions with :data:`~hillmix_sim.TRANSACTION_COLUMNS`
(:meth:`RetailSimulator.generate` writes them,
:func:`~hillmix_sim.datasets.load_complete_journey` converts The Complete
Journey to them); a metric needs only its own columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "METRICS",
    "Metric",
    "basket_revenue",
    "baskets_per_household_week",
    "compare",
    "days_between_visits",
    "discount_depth",
    "discounted_share",
    "display_flags",
    "harmonic_score",
    "ks_similarity",
    "lines_per_basket",
    "mailer_flags",
    "mean_score",
    "metric_samples",
    "online_flags",
    "quantity_per_line",
    "similarity",
    "stores_per_household",
    "tv_similarity",
]


# ------------------------------------------------------------ the samples
class _Table:
    """A table's columns as arrays, with the groupings several metrics share, computed once."""

    def __init__(self, transactions):
        if isinstance(transactions, _Table):
            self.__dict__.update(transactions.__dict__)
            return
        if not isinstance(transactions, pd.DataFrame | Mapping):
            raise TypeError(
                "Metrics need a DataFrame (or a dict of columns) of transactions, "
                f"got {type(transactions).__name__}."
            )
        self.source = transactions
        self.columns = set(transactions.keys())
        self._cache: dict = {}

    def require(self, columns: Iterable[str], what: str) -> _Table:
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise ValueError(f"{what} needs the transaction column(s) {missing}: missing.")
        return self

    def __getitem__(self, column: str) -> np.ndarray:
        if column not in self._cache:
            self._cache[column] = np.asarray(self.source[column])
        return self._cache[column]

    def _memo(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def codes(self, column: str) -> tuple[np.ndarray, int]:
        """Dense codes of a column's values, in order of first appearance."""

        def factorize():
            codes, uniques = pd.factorize(self[column], sort=False)
            return codes, len(uniques)

        return self._memo(("codes", column), factorize)

    def first_line(self) -> np.ndarray:
        """Index of each basket's first line, in the order of the basket codes."""

        def first():
            # Codes number baskets by first appearance: a line opens a new
            # basket exactly when its code exceeds every code before it.
            codes, _ = self.codes("basket_id")
            if codes.size == 0:
                return np.zeros(0, dtype=np.int64)
            seen = np.maximum.accumulate(codes)
            return np.flatnonzero(np.concatenate([[True], codes[1:] > seen[:-1]]))

        return self._memo("first_line", first)


def lines_per_basket(transactions) -> np.ndarray:
    """Product lines in each basket.

    Parameters
    ----------
    transactions : DataFrame or dict of arrays
        With ``basket_id``.

    Returns
    -------
    counts : ndarray of int64, one per basket

    Examples
    --------
    >>> import pandas as pd
    >>> from hillmix_sim.metrics import lines_per_basket
    >>> lines_per_basket(pd.DataFrame({"basket_id": [7, 7, 9]})).tolist()
    [2, 1]
    """
    tx = _Table(transactions).require(["basket_id"], "lines_per_basket")
    codes, n = tx.codes("basket_id")
    return np.bincount(codes, minlength=n).astype(np.int64)


def basket_revenue(transactions) -> np.ndarray:
    """Each basket's revenue: the sum of its lines' ``sales_value``.

    Returns
    -------
    revenue : ndarray of float64, one per basket, in dollars (rounded to cents)
    """
    tx = _Table(transactions).require(["basket_id", "sales_value"], "basket_revenue")
    codes, n = tx.codes("basket_id")
    dollars = np.bincount(codes, weights=tx["sales_value"].astype(np.float64), minlength=n)
    # Sums of prices in cents: round away the float noise so ties stay ties.
    return np.round(dollars, 2)


def baskets_per_household_week(transactions, n_weeks: int | None = None) -> np.ndarray:
    """Baskets of each household in each week, weeks without a basket included.

    Every household in the table counts in every week ``1 .. n_weeks``.

    Parameters
    ----------
    transactions : DataFrame or dict of arrays
        With ``basket_id``, ``household_id`` and ``week`` (1-based).
    n_weeks : int, default=None
        Weeks observed; the largest week in the table when None.

    Returns
    -------
    counts : ndarray of int64 of shape (n_households * n_weeks,)

    Examples
    --------
    >>> import pandas as pd
    >>> from hillmix_sim.metrics import baskets_per_household_week
    >>> tx = pd.DataFrame({"basket_id": [1, 2, 3], "household_id": [5, 5, 6],
    ...                    "week": [1, 1, 2]})
    >>> baskets_per_household_week(tx).tolist()
    [2, 0, 0, 1]
    """
    tx = _Table(transactions).require(
        ["basket_id", "household_id", "week"], "baskets_per_household_week"
    )
    first = tx.first_line()
    weeks = tx["week"][first].astype(np.int64)
    if n_weeks is None:
        n_weeks = int(weeks.max()) if weeks.size else 0
    if weeks.size and (weeks.min() < 1 or weeks.max() > n_weeks):
        raise ValueError(f"weeks must be in 1 .. n_weeks={n_weeks}.")
    hh_codes, n = tx.codes("household_id")
    codes = hh_codes[first]
    return np.bincount(codes * n_weeks + weeks - 1, minlength=n * n_weeks).astype(np.int64)


def quantity_per_line(transactions) -> np.ndarray:
    """Units of each line (fuel and other non-grocery lines must be removed first).

    Returns
    -------
    quantity : ndarray of int64, one per line
    """
    tx = _Table(transactions).require(["quantity"], "quantity_per_line")
    return tx["quantity"].astype(np.int64)


def discounted_share(transactions) -> np.ndarray:
    """Each household's share of lines bought with a retail discount (``retail_disc > 0``).

    Returns
    -------
    share : ndarray of float64, one per household
    """
    tx = _Table(transactions).require(["household_id", "retail_disc"], "discounted_share")
    codes, n = tx.codes("household_id")
    discounted = (tx["retail_disc"] > 0).astype(np.float64)
    return np.bincount(codes, weights=discounted, minlength=n) / np.bincount(codes, minlength=n)


def discount_depth(transactions) -> np.ndarray:
    """Depth of each discounted line: ``retail_disc / (sales_value + retail_disc)``.

    Returns
    -------
    depth : ndarray of float64 in (0, 1], one per discounted line
    """
    tx = _Table(transactions).require(["sales_value", "retail_disc"], "discount_depth")
    disc = tx["retail_disc"].astype(np.float64)
    on = disc > 0
    disc = disc[on]
    return disc / (tx["sales_value"][on] + disc)


def days_between_visits(transactions) -> np.ndarray:
    """Days from each basket to the same household's next one (0: the same day).

    Returns
    -------
    gaps : ndarray of int64, one per basket but each household's last
    """
    tx = _Table(transactions).require(["basket_id", "household_id", "day"], "days_between_visits")
    first = tx.first_line()
    hh = tx.codes("household_id")[0][first].astype(np.int64)
    day = tx["day"][first].astype(np.int64)
    # One sort key: household, then day.
    span = int(day.max()) + 1 if day.size else 1
    key = np.sort(hh * span + day)
    same = key[1:] // span == key[:-1] // span
    return (key[1:] - key[:-1])[same]


def stores_per_household(transactions) -> np.ndarray:
    """Distinct stores each household shops at.

    Returns
    -------
    counts : ndarray of int64, one per household
    """
    tx = _Table(transactions).require(["household_id", "store_id"], "stores_per_household")
    hh, n = tx.codes("household_id")
    store, n_stores = tx.codes("store_id")
    pairs = np.unique(hh.astype(np.int64) * n_stores + store)
    return np.bincount(pairs // n_stores, minlength=n).astype(np.int64)


def display_flags(transactions) -> np.ndarray:
    """Whether each line's product was on display."""
    return _Table(transactions).require(["on_display"], "display_flags")["on_display"].astype(bool)


def mailer_flags(transactions) -> np.ndarray:
    """Whether each line's product was in the mailer."""
    return _Table(transactions).require(["on_mailer"], "mailer_flags")["on_mailer"].astype(bool)


def online_flags(transactions) -> np.ndarray:
    """Whether each basket was bought online (needs an ``online`` column).

    The simulator's transactions say it through their store
    (``stores["store_type"] == "online"``): add the column with
    ``transactions["online"] = transactions["store_id"].isin(online_store_ids)``
    (:func:`~hillmix_sim.retail.simulate_transactions` does). The Complete
    Journey does not record it.
    """
    tx = _Table(transactions).require(["basket_id", "online"], "online_flags")
    return tx["online"][tx.first_line()].astype(bool)


# ------------------------------------------------------- the similarities
def _ecdf_gap(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return math.nan
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        lo = min(int(a.min()), int(b.min()))
        width = max(int(a.max()), int(b.max())) - lo + 1
        if width <= 1 << 20:
            # Counts: cumulative histograms, no sort.
            ca = np.cumsum(np.bincount(a - lo, minlength=width)) / a.size
            cb = np.cumsum(np.bincount(b - lo, minlength=width)) / b.size
            return float(np.max(np.abs(ca - cb)))
    a, b = np.sort(a, kind="stable"), np.sort(b, kind="stable")
    points = np.concatenate([a, b])
    fa = np.searchsorted(a, points, side="right") / a.size
    fb = np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def ks_similarity(a, b) -> float:
    """One minus the two-sample Kolmogorov-Smirnov distance.

    Parameters
    ----------
    a, b : array-like of shape (n,) and (m,)
        Samples of numbers (integers are compared exactly, by their counts).

    Returns
    -------
    similarity : float
        In [0, 1]; 1 when the empirical distributions are equal. NaN when a
        sample is empty.

    Examples
    --------
    >>> from hillmix_sim.metrics import ks_similarity
    >>> ks_similarity([1, 2, 3, 4], [1, 2, 3, 4])
    1.0
    >>> ks_similarity([1, 1, 2, 2], [1, 2, 2, 2])
    0.75
    """
    return 1.0 - _ecdf_gap(np.asarray(a).ravel(), np.asarray(b).ravel())


def tv_similarity(a, b) -> float:
    """One minus the total variation distance between two samples' category shares.

    Parameters
    ----------
    a, b : array-like of shape (n,) and (m,)
        Category labels (booleans for a share).

    Returns
    -------
    similarity : float
        ``1 - sum(|p - q|) / 2`` over the categories; NaN when a sample is empty.

    Examples
    --------
    >>> from hillmix_sim.metrics import tv_similarity
    >>> tv_similarity([True, False, False, False], [True, True, False, False])
    0.75
    """
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.size == 0 or b.size == 0:
        return math.nan
    pa = pd.Series(a).value_counts(normalize=True)
    pb = pd.Series(b).value_counts(normalize=True)
    p, q = pa.align(pb, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p.to_numpy() - q.to_numpy()).sum())


@dataclass(frozen=True)
class Metric:
    """A metric: its sample, how two samples are compared, what it measures."""

    name: str
    sample: Callable[[pd.DataFrame], np.ndarray]
    kind: str  # "ks" or "tv"
    unit: str
    columns: tuple[str, ...]
    description: str

    def similarity(self, a, b) -> float:
        """1 - KS or 1 - TV of two samples."""
        return ks_similarity(a, b) if self.kind == "ks" else tv_similarity(a, b)


#: Every metric, by name, in the order of the reports.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("lines_per_basket", lines_per_basket, "ks", "basket", ("basket_id",),
               "product lines per basket"),
        Metric("basket_revenue", basket_revenue, "ks", "basket", ("basket_id", "sales_value"),
               "dollars paid per basket"),
        Metric("baskets_per_household_week", baskets_per_household_week, "ks", "household-week",
               ("basket_id", "household_id", "week"),
               "baskets per household and week, weeks without one included"),
        Metric("quantity_per_line", quantity_per_line, "ks", "line", ("quantity",),
               "units per line (no fuel)"),
        Metric("discounted_share", discounted_share, "ks", "household",
               ("household_id", "retail_disc"), "a household's share of discounted lines"),
        Metric("discount_depth", discount_depth, "ks", "discounted line",
               ("sales_value", "retail_disc"), "retail discount over the shelf price"),
        Metric("days_between_visits", days_between_visits, "ks", "basket",
               ("basket_id", "household_id", "day"), "days to the household's next basket"),
        Metric("stores_per_household", stores_per_household, "ks", "household",
               ("household_id", "store_id"), "distinct stores a household shops at"),
        Metric("display_share", display_flags, "tv", "line", ("on_display",),
               "lines whose product was on display"),
        Metric("mailer_share", mailer_flags, "tv", "line", ("on_mailer",),
               "lines whose product was in the mailer"),
        Metric("online_share", online_flags, "tv", "basket", ("basket_id", "online"),
               "baskets bought online"),
    )
}


def _metric(name) -> Metric:
    if name not in METRICS:
        raise ValueError(f"Unknown metric {name!r}; expected one of {list(METRICS)}.")
    return METRICS[name]


def metric_samples(
    transactions, metrics: Iterable[str] | None = None, *, n_weeks=None
) -> dict[str, np.ndarray]:
    """Every metric's sample from one table (real or simulated).

    Parameters
    ----------
    transactions : DataFrame
    metrics : iterable of str, default=None
        Names in :data:`METRICS`; all whose columns the table has when None.
    n_weeks : int, default=None
        Weeks observed, for ``baskets_per_household_week``.

    Returns
    -------
    samples : dict of str to ndarray
    """
    table = _Table(transactions)
    if metrics is None:
        metrics = [n for n, m in METRICS.items() if set(m.columns) <= table.columns]
    out = {}
    for name in metrics:
        metric = _metric(name)
        if name == "baskets_per_household_week":
            out[name] = metric.sample(table, n_weeks)
        else:
            out[name] = metric.sample(table)
    return out


def similarity(name: str, real: pd.DataFrame, simulated: pd.DataFrame, *, n_weeks=None) -> float:
    """One metric's similarity of two tables.

    Parameters
    ----------
    name : str
        A name in :data:`METRICS`.
    real, simulated : DataFrame
        Transactions.
    n_weeks : int, default=None
        Weeks observed (both tables), for ``baskets_per_household_week``.

    Returns
    -------
    similarity : float
        1 - KS or 1 - TV, in [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> from hillmix_sim.metrics import similarity
    >>> a = pd.DataFrame({"basket_id": [1, 1, 2], "quantity": [1, 2, 1]})
    >>> similarity("lines_per_basket", a, a)
    1.0
    """
    metric = _metric(name)
    samples = [metric_samples(t, [name], n_weeks=n_weeks)[name] for t in (real, simulated)]
    return metric.similarity(*samples)


def harmonic_score(similarities: Mapping[str, float]) -> float:
    """The combined score of the calibration seed: a harmonic mean with penalties and a bonus.

    With ``k`` the 1 - KS similarities (the *core* metrics) and ``t`` the
    1 - TV ones (the *marketing* metrics), NaNs left out::

        harmonic  = len(k) / sum(1 / max(k_i, 0.01))
        spread    = max(0, 1 - std(k) / 0.3)          # consistency
        marketing = mean(t)                            # 0 without one
        low       = 0.05 * count(k_i < 0.5)
        bonus     = 0.1 if every k_i > 0.7 else 0
        score     = 0.65 * harmonic + 0.15 * spread + 0.10 * marketing + bonus - low

    One poor metric pulls the harmonic mean down much more than an
    arithmetic mean, so a search cannot trade it for others; at most the
    score is 1.

    Parameters
    ----------
    similarities : mapping of str to float
        By metric name (:data:`METRICS`).

    Returns
    -------
    score : float

    Examples
    --------
    >>> from hillmix_sim.metrics import harmonic_score
    >>> round(harmonic_score({"lines_per_basket": 0.85, "basket_revenue": 0.9,
    ...                       "quantity_per_line": 0.88, "days_between_visits": 0.35}), 3)
    0.4
    """
    core, marketing = _split(similarities)
    if not core:
        return math.nan
    k = np.asarray(core)
    harmonic = k.size / np.sum(1.0 / np.maximum(k, 0.01))
    spread = max(0.0, 1.0 - float(np.std(k)) / 0.3)
    market = float(np.mean(marketing)) if marketing else 0.0
    low = 0.05 * int(np.sum(k < 0.5))
    bonus = 0.1 if bool(np.all(k > 0.7)) else 0.0
    return float(0.65 * harmonic + 0.15 * spread + 0.10 * market + bonus - low)


def mean_score(similarities: Mapping[str, float]) -> float:
    """The plain mean of the similarities (NaNs left out), shown beside :func:`harmonic_score`.

    Examples
    --------
    >>> from hillmix_sim.metrics import mean_score
    >>> mean_score({"lines_per_basket": 0.8, "display_share": 1.0})
    0.9
    """
    core, marketing = _split(similarities)
    values = core + marketing
    return float(np.mean(values)) if values else math.nan


def _split(similarities: Mapping[str, float]) -> tuple[list[float], list[float]]:
    core, marketing = [], []
    for name, value in similarities.items():
        if value is None or not math.isfinite(value):
            continue
        (core if _metric(name).kind == "ks" else marketing).append(float(value))
    return core, marketing


def compare(
    real: pd.DataFrame | Mapping[str, np.ndarray],
    simulated: pd.DataFrame | Mapping[str, np.ndarray],
    metrics: Iterable[str] | None = None,
    *,
    n_weeks: int | None = None,
) -> pd.DataFrame:
    """The per-metric report of two tables: similarity, means and sample sizes.

    Parameters
    ----------
    real, simulated : DataFrame, or dict of str to ndarray
        Transactions, or their samples (:func:`metric_samples`).
    metrics : iterable of str, default=None
        All of :data:`METRICS` when None; a metric that a table cannot
        compute (the online share of The Complete Journey) gets NaN.
    n_weeks : int, default=None
        Weeks observed, for ``baskets_per_household_week``.

    Returns
    -------
    report : DataFrame
        Indexed by metric: ``kind`` ("1-KS" or "1-TV"), ``similarity``,
        ``real_mean``, ``simulated_mean``, ``n_real``, ``n_simulated``,
        ``description``. ``report.attrs`` holds ``harmonic_score`` and
        ``mean_score``.
    """
    names = list(METRICS) if metrics is None else [_metric(n).name for n in metrics]
    samples = []
    for table in (real, simulated):
        if isinstance(table, pd.DataFrame):
            usable = [n for n in names if set(METRICS[n].columns) <= set(table.columns)]
            samples.append(metric_samples(table, usable, n_weeks=n_weeks))
        elif isinstance(table, Mapping):
            samples.append(dict(table))
        else:
            raise TypeError(f"compare takes DataFrames or dicts of samples, got {type(table)}.")
    rows = []
    for name in names:
        metric = METRICS[name]
        a, b = samples[0].get(name), samples[1].get(name)
        value = metric.similarity(a, b) if a is not None and b is not None else math.nan
        rows.append(
            {
                "metric": name,
                "kind": "1-KS" if metric.kind == "ks" else "1-TV",
                "similarity": value,
                "real_mean": float(np.mean(a)) if a is not None and a.size else math.nan,
                "simulated_mean": float(np.mean(b)) if b is not None and b.size else math.nan,
                "n_real": 0 if a is None else int(a.size),
                "n_simulated": 0 if b is None else int(b.size),
                "description": metric.description,
            }
        )
    report = pd.DataFrame(rows).set_index("metric")
    values = report["similarity"].to_dict()
    report.attrs["harmonic_score"] = harmonic_score(values)
    report.attrs["mean_score"] = mean_score(values)
    return report
