"""Streaming simulated households to a partitioned Parquet dataset, resumably.

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
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ._files import atomic_file

__all__ = [
    "MANIFEST",
    "SUCCESS",
    "batch_done",
    "check_writable",
    "clear_batch",
    "open_dataset_dir",
    "read_weekly_part",
    "write_batch",
    "write_json_atomic",
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


def write_json_atomic(obj, path: Path) -> None:
    """Write JSON under a temporary name, flush it to disk, rename it into place."""
    with atomic_file(path) as tmp, open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())


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
    write_json_atomic(manifest, existing)
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
    write_json_atomic(marker, _marker(root, index))
    return marker


def read_weekly_part(root: Path, index: int) -> pa.Table:
    """One batch's weekly sums."""
    return pq.read_table(_batch_file(root, "_weekly", index))
