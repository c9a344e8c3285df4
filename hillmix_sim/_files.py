"""Files that appear whole or not at all."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_file"]


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces it if the block succeeds.

    The temporary file is named ``.<name>.<random>.tmp`` in the target's
    directory (created if missing), so the rename is atomic and a reader,
    or a run resumed after a crash, never sees half a file; on any error
    the temporary file is removed and ``path`` is left as it was.

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
