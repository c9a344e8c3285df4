"""One thread for BLAS (and OpenMP) while the estimators' small products run.

The reward models' solvers call BLAS on vectors of a few thousand numbers,
where a pool of threads spends more in synchronisation than it saves: on
a loaded machine a logistic fit on a few hundred rows took 17 times
longer with the default threads. A reduction split over another number of
threads also rounds differently, so one thread makes a replication's
numbers the same in every process. The limit is counted, so that
estimators running in several threads of one process restore the
original limits only when the last of them leaves.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["one_thread"]

_LOCK = threading.Lock()
# Per user_api: how many callers are inside, and the (library, threads) to restore.
_STATE: dict = {}
# The libraries of each user_api, looked up once: threadpoolctl's own
# context manager inspects every loaded library at each call (milliseconds).
_LIBRARIES: dict = {}


def _libraries(user_api):
    if user_api not in _LIBRARIES:
        controller = ThreadpoolController()
        if user_api is not None:
            controller = controller.select(user_api=user_api)
        _LIBRARIES[user_api] = list(controller.lib_controllers)
    return _LIBRARIES[user_api]


@contextmanager
def one_thread(user_api: str | None = "blas"):
    """Limit ``user_api``'s thread pools (``"blas"``, ``"openmp"``, or None for both) to one."""
    with _LOCK:
        depth, changed = _STATE.get(user_api, (0, []))
        if depth == 0:
            changed = []
            for library in _libraries(user_api):
                threads = library.get_num_threads()
                if threads != 1:
                    library.set_num_threads(1)
                    changed.append((library, threads))
        _STATE[user_api] = (depth + 1, changed)
    try:
        yield
    finally:
        with _LOCK:
            depth, changed = _STATE[user_api]
            if depth == 1:
                for library, threads in changed:
                    library.set_num_threads(threads)
                del _STATE[user_api]
            else:
                _STATE[user_api] = (depth - 1, changed)
