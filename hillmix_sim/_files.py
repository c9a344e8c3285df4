"""Files and directories that appear whole or not at all.

Every file the simulators write goes through here: a file is written under
a hidden temporary name beside its target and renamed into place (an atomic
``os.replace``), and a directory of results is built beside its target and
renamed into place, so a reader, or a run resumed after a crash, never sees
half of either. JSON is written one way everywhere: indented, NumPy numbers
and arrays as plain JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

__all__ = ["atomic_directory", "atomic_file", "fresh_directory", "json_default", "write_json"]


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces it if the block succeeds.

    The temporary file is named ``.<name>.<random>.tmp`` in the target's
    directory (created if missing), so the rename is atomic and a reader,
    or a run resumed after a crash, never sees half a file; on any error
    the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The file to write.

    Yields
    ------
    tmp : Path
        Where to write it.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from hillmix_sim._files import atomic_file
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_file(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def json_default(obj):
    """JSON for what :mod:`json` does not know: NumPy scalars and arrays, else ``repr``."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def write_json(obj, path: str | os.PathLike, *, sort_keys: bool = True) -> None:
    """Write ``obj`` as JSON, atomically and flushed to disk.

    Parameters
    ----------
    obj : object
        Anything :func:`json.dump` writes, NumPy numbers and arrays
        included (see :func:`json_default`).
    path : str or path-like
    sort_keys : bool, default=True
        Sort the keys of every object; ``False`` keeps their order (records
        whose keys are a table's columns, in order).

    Examples
    --------
    >>> import json, tempfile
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from hillmix_sim._files import write_json
    >>> target = Path(tempfile.mkdtemp()) / "out.json"
    >>> write_json({"b": np.int64(2), "a": np.arange(2)}, target)
    >>> json.loads(target.read_text())
    {'a': [0, 1], 'b': 2}
    """
    with atomic_file(path) as tmp, open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=sort_keys, default=json_default)
        fh.flush()
        os.fsync(fh.fileno())


def fresh_directory(
    path: str | os.PathLike,
    name: str = "path",
    *,
    replaceable: Callable[[Path], bool] | None = None,
    advice: str = "choose a new one",
) -> tuple[Path, Path]:
    """Check that ``path`` can become a new directory; a temporary one beside it.

    Parameters
    ----------
    path : str or path-like
        Absent, or an empty directory (or one ``replaceable`` accepts).
    name : str, default="path"
        What to call ``path`` in errors (the parameter's name).
    replaceable : callable, optional
        Told an existing non-empty directory, whether it may be replaced (a
        previous output of the same kind, recognised by its layout).
    advice : str, default="choose a new one"
        How to proceed, said when ``path`` is refused.

    Returns
    -------
    target, tmp : Path
        ``path``, and a new hidden directory in its parent that the caller
        renames into place or removes.

    Raises
    ------
    ValueError
        When ``path`` exists and is neither an empty directory nor one
        ``replaceable`` accepts, or its parent is not writable.
    """
    target = Path(path)
    used = target.exists() and (not target.is_dir() or any(target.iterdir()))
    if used and (replaceable is None or not target.is_dir() or not replaceable(target)):
        raise ValueError(f"{name} {str(target)!r} exists and is not empty; {advice}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(target.parent, os.W_OK):
        raise ValueError(f"{name} {str(target)!r}: its parent is not writable.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    return target, tmp


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike,
    name: str = "path",
    *,
    replaceable: Callable[[Path], bool] | None = None,
    advice: str = "choose a new one",
) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` only if the block succeeds.

    The directory is written beside its target and renamed into place, so
    an interrupted write leaves nothing that looks complete; a directory it
    replaces is moved aside first and removed once the new one is in place.

    Parameters
    ----------
    path : str or path-like
        Absent, or an empty directory (or one ``replaceable`` accepts).
    name : str, default="path"
        What to call ``path`` in errors.
    replaceable, advice
        As in :func:`fresh_directory`.

    Yields
    ------
    tmp : Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from hillmix_sim._files import atomic_directory
    >>> target = Path(tempfile.mkdtemp()) / "results"
    >>> with atomic_directory(target) as tmp:
    ...     _ = (tmp / "a.txt").write_text("a")
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    """
    target, tmp = fresh_directory(path, name, replaceable=replaceable, advice=advice)
    try:
        yield tmp
        old = None
        if target.exists():
            # Aside, not deleted: were the rename to fail, it goes back.
            old = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
