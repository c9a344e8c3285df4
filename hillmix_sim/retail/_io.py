"""The retail simulator's tables: in memory, and streamed to a Parquet dataset, resumably.

:class:`RetailData` holds the tables :meth:`RetailSimulator.generate` returns;
the rest of this module streams batches of households to a partitioned
Parquet dataset (:meth:`RetailSimulator.to_parquet`).

Layout of a dataset directory::

    _manifest.json                        what is being written (checked on resume)
    products.parquet, stores.parquet, promotions.parquet, spend.parquet
    transactions/batch=00000/part-0.parquet
    households/batch=00000/part-0.parquet
    _weekly/batch=00000/part-0.parquet    the batch's weekly sums (exact, integer)
    _done/batch=00000.json                marker: the batch is complete
    weekly.parquet                        all batches' weekly sums, written last
    _SUCCESS                              written after weekly.parquet

Every file is written under a hidden temporary name in its final folder and
renamed into place (an atomic ``os.replace``), so a file under its final
name is always complete. A batch counts as done only when its marker exists
and its files have the sizes the marker records; a run that is interrupted
leaves batches without markers, and the next run rewrites exactly those.
Readers (``pandas.read_parquet``, ``pyarrow.dataset``) skip names that
start with ``.`` or ``_``, so temporary files and markers stay out of the
data.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._files import atomic_file, write_json
from ._catalog import WeeklyState
from ._engine import BatchContext, Households, simulate_batch, weekly_totals

__all__ = [
    "MANIFEST",
    "ROW_GROUP_HOUSEHOLDS",
    "SUCCESS",
    "TRANSACTION_COLUMNS",
    "RetailData",
    "batch_done",
    "check_writable",
    "clear_batch",
    "collect_batch",
    "concat_parts",
    "household_columns",
    "open_dataset_dir",
    "read_weekly_part",
    "sum_totals",
    "weekly_frame",
    "write_batch",
    "write_parquet_batch",
    "write_parts_atomic",
    "write_table_atomic",
]

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
_FORMAT = 1
_TABLES = ("transactions", "households", "_weekly")


def _batch_name(index: int) -> str:
    return f"batch={index:05d}"


def _batch_file(root: Path, table: str, index: int) -> Path:
    return root / table / _batch_name(index) / "part-0.parquet"


def _marker(root: Path, index: int) -> Path:
    return root / "_done" / f"{_batch_name(index)}.json"


def check_writable(path) -> Path:
    """Fail early, with a clear message, if ``path`` cannot become a dataset directory.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    path : Path
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ValueError(f"path {str(root)!r} exists and is not a directory.")
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"path {str(root)!r} cannot be created: {str(probe)!r} is a file.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(f"path {str(root)!r} is not writable ({str(probe)!r} is not).")
    return root


def write_table_atomic(table: pa.Table, path: Path) -> int:
    """Write a Parquet file under a temporary name and rename it into place.

    Returns
    -------
    size : int
        Bytes written.
    """
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)
    return path.stat().st_size


def open_dataset_dir(path, manifest: dict) -> Path:
    """Create the dataset directory, or check that it holds the same run.

    A directory holding another run (other parameters, seed, weeks or
    batch size) or other files is refused, rather than mixed with them.

    Returns
    -------
    root : Path
    """
    root = check_writable(path)
    manifest = {"format": _FORMAT, **manifest}
    existing = root / MANIFEST
    if existing.exists():
        try:
            found = json.loads(existing.read_text())
        except ValueError as exc:
            raise ValueError(f"{str(existing)!r} is not a readable manifest.") from exc
        if found != json.loads(json.dumps(manifest, sort_keys=True)):
            changed = sorted(
                k for k in set(found) | set(manifest) if found.get(k) != manifest.get(k)
            )
            raise ValueError(
                f"{str(root)!r} holds a run with other settings ({', '.join(changed)} differ); "
                "resume it with the same ones or write to a new directory."
            )
        return root
    if root.exists() and any(root.iterdir()):
        raise ValueError(
            f"{str(root)!r} is not empty and is not a retail dataset; choose a new directory."
        )
    root.mkdir(parents=True, exist_ok=True)
    write_json(manifest, existing)
    return root


def batch_done(root: Path, index: int) -> bool:
    """Whether a batch is complete: its marker exists and its files match it."""
    marker = _marker(root, index)
    if not marker.exists():
        return False
    try:
        sizes = json.loads(marker.read_text())["sizes"]
    except (ValueError, KeyError):
        return False
    for table in _TABLES:
        file = _batch_file(root, table, index)
        if not file.exists() or file.stat().st_size != sizes.get(table):
            return False
    return True


def clear_batch(root: Path, index: int) -> None:
    """Remove whatever an interrupted run left of a batch."""
    _marker(root, index).unlink(missing_ok=True)
    for table in _TABLES:
        shutil.rmtree(root / table / _batch_name(index), ignore_errors=True)


def write_parts_atomic(parts: Iterable[pa.Table], path: Path) -> tuple[int, int]:
    """Write tables as row groups of one Parquet file, atomically.

    Only one part is in memory at a time, so a file can be far larger than
    the memory its writer needs.

    Returns
    -------
    size, rows : int
        Bytes and rows written.
    """
    writer, rows = None, 0
    with atomic_file(path) as tmp:
        try:
            for part in parts:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, part.schema)
                writer.write_table(part)
                rows += part.num_rows
            if writer is None:
                raise ValueError("no parts to write")
        finally:
            if writer is not None:
                writer.close()
    return path.stat().st_size, rows


def write_batch(
    root: Path,
    index: int,
    transactions: Iterable[pa.Table],
    rest: Callable[[], dict[str, pa.Table]],
) -> dict:
    """Write one batch's files, then its marker.

    Parameters
    ----------
    root : Path
    index : int
    transactions : iterable of pyarrow.Table
        Row groups of the batch's transactions, produced as they are written.
    rest : callable
        Called once the transactions are written; returns the
        ``households`` and ``_weekly`` tables.

    Returns
    -------
    marker : dict
        Rows and bytes per table.
    """
    sizes, rows = {}, {}
    sizes["transactions"], rows["transactions"] = write_parts_atomic(
        transactions, _batch_file(root, "transactions", index)
    )
    for table, data in rest().items():
        sizes[table] = write_table_atomic(data, _batch_file(root, table, index))
        rows[table] = data.num_rows
    marker = {"sizes": sizes, "rows": rows}
    write_json(marker, _marker(root, index))
    return marker


def read_weekly_part(root: Path, index: int) -> pa.Table:
    """One batch's weekly sums."""
    return pq.read_table(_batch_file(root, "_weekly", index))


#: The columns of the transactions table: The Complete Journey's names where
#: the concept is the same (``week`` as in the completejourney packages,
#: ``day`` as in the original files), then promotion flags.
TRANSACTION_COLUMNS = (
    "household_id",
    "store_id",
    "basket_id",
    "product_id",
    "week",
    "day",
    "quantity",
    "sales_value",
    "retail_disc",
    "coupon_disc",
    "on_display",
    "on_mailer",
)


# Households per Parquet row group (about 600,000 lines over a year): the
# unit of memory of to_parquet.
ROW_GROUP_HOUSEHOLDS = 1000


@dataclass
class RetailData:
    """The tables of a simulated retailer.

    Attributes
    ----------
    transactions : pandas.DataFrame
        One row per product line of a basket: :data:`TRANSACTION_COLUMNS`.
    households : pandas.DataFrame
        One row per household with its true traits.
    products : pandas.DataFrame
        ``product_id``, ``manufacturer_id``, ``department``, ``brand``,
        ``product_category``, ``base_price``, ``quality``.
    stores : pandas.DataFrame
        ``store_id``, ``store_type`` (``"physical"`` or ``"online"``),
        ``price_index``, ``traffic_share``.
    promotions : pandas.DataFrame
        Promoted products per store and week: ``product_id``, ``store_id``,
        ``week``, ``on_display``, ``on_mailer``, ``tpr_depth``, ``shelf_price``.
    weekly : pandas.DataFrame
        One row per week: ``week``, the spend of each channel,
        ``mailer_items`` (products in the week's mailer, a control for
        media-mix models), revenue by store type (``revenue_physical``,
        ``revenue_online``), ``revenue``, ``baskets``, ``shoppers``
        (households with a trip) and ``units``.
    """

    transactions: pd.DataFrame
    households: pd.DataFrame
    products: pd.DataFrame
    stores: pd.DataFrame
    promotions: pd.DataFrame
    weekly: pd.DataFrame

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def keys(self) -> list[str]:
        """The table names."""
        return [f.name for f in fields(self)]


def household_columns(hh: Households, ctx: BatchContext) -> dict:
    """The households table's columns: ids, home store, segment and every true trait."""
    columns = {
        "household_id": hh.ids,
        "home_store_id": ctx.catalog.store_ids[hh.home_store],
        "media_segment": hh.segment.astype(np.int64),
    }
    columns.update(hh.traits)
    for c, name in enumerate(ctx.channels):
        columns[f"media_responsiveness_{name}"] = hh.media_responsiveness[:, c]
        columns[f"half_saturation_{name}"] = hh.half_saturation[:, c]
        columns[f"hill_exponent_{name}"] = hh.hill_exponent[:, c]
    return columns


def concat_parts(parts):
    """One array from the parts of several batches (the part itself if only one)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def sum_totals(totals: list[dict]) -> dict:
    """Batches' weekly sums added up, exactly (integer cents and counts)."""
    keys = [k for k in totals[0] if k != "week"]
    return {k: np.sum([t[k] for t in totals], axis=0).astype(np.int64) for k in keys}


def weekly_frame(totals: dict, plan: pd.DataFrame, state: WeeklyState) -> pd.DataFrame:
    """The weekly table: spend, mailer size, revenue by store type, baskets, shoppers, units."""
    n_weeks = len(plan)
    frame = pd.DataFrame({"week": np.arange(1, n_weeks + 1, dtype=np.int64)})
    for name in plan.columns:
        frame[name] = plan[name].to_numpy()
    frame["mailer_items"] = state.mailer_items
    physical, online = totals["cents_physical"], totals["cents_online"]
    frame["revenue_physical"] = physical / 100.0
    frame["revenue_online"] = online / 100.0
    frame["revenue"] = (physical + online) / 100.0
    for name in ("baskets", "shoppers", "units"):
        frame[name] = totals[name]
    return frame


def collect_batch(ctx: BatchContext, start: int, stop: int) -> tuple[dict, dict, dict]:
    """Households ``start + 1 .. stop`` as table columns; runs in a worker.

    Returns
    -------
    lines : dict of str to ndarray
        The transactions' columns.
    households : dict of str to ndarray
        The households' columns (:func:`household_columns`).
    totals : dict of str to ndarray
        The batch's weekly sums (exact integers).
    """
    hh, trips, baskets = simulate_batch(ctx, start, stop, collect_lines=True)
    return baskets.lines, household_columns(hh, ctx), weekly_totals(baskets, trips)


def write_parquet_batch(ctx: BatchContext, root: Path, index: int, start: int, stop: int) -> int:
    """Simulate one batch and write its files and marker; runs in a worker.

    Households go through in row groups, so a worker holds one row group's
    transactions, whatever the batch size.
    """
    households, totals = [], []

    def row_groups():
        for first in range(start, stop, ROW_GROUP_HOUSEHOLDS):
            last = min(first + ROW_GROUP_HOUSEHOLDS, stop)
            hh, trips, baskets = simulate_batch(ctx, first, last, collect_lines=True)
            households.append(household_columns(hh, ctx))
            totals.append(weekly_totals(baskets, trips))
            yield pa.table({name: baskets.lines[name] for name in TRANSACTION_COLUMNS})

    def rest():
        weekly = sum_totals(totals)
        weekly["week"] = np.arange(1, ctx.state.n_weeks + 1, dtype=np.int64)
        columns = {k: concat_parts([part[k] for part in households]) for k in households[0]}
        return {"households": pa.table(columns), "_weekly": pa.table(weekly)}

    write_batch(root, index, row_groups(), rest)
    return index
