"""How hillmix sets JAX up: CPU devices, precision, compiler options, compilation cache.

Everything that touches JAX's process-wide configuration is here, and each
effect is explicit:

* **CPU devices.** NumPyro runs chains in parallel only across devices, and
  JAX sees one CPU device unless told otherwise before its backend starts.
  Importing :mod:`hillmix` asks for one device per core through JAX's public
  ``jax_num_cpu_devices`` option, but only when JAX has not started yet and
  neither the user (that option, or ``--xla_force_host_platform_device_count``
  in ``XLA_FLAGS``) nor ``HILLMIX_CPU_DEVICES=0`` says otherwise. It changes
  how many devices ``jax.devices()`` lists, not what any computation gives.
* **Precision.** hillmix computes in double precision inside its own calls
  only (:func:`double_precision`); JAX's global ``jax_enable_x64`` is never
  touched, so the user's own JAX code keeps its configuration.
* **Compiler options** for the samplers' programs (:func:`jit`).
* **The persistent compilation cache** (:func:`enable_compilation_cache`), on
  by default at a fit's first compile unless JAX's cache is already set or
  ``HILLMIX_COMPILATION_CACHE=0``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os

import jax
import jax.numpy as jnp
from jax.experimental.compilation_cache import compilation_cache

__all__ = [
    "configure_cpu_devices",
    "default_compilation_cache",
    "double_precision",
    "enable_compilation_cache",
    "in_double_precision",
    "jit",
]

# ----------------------------------------------------------------- devices
# Set HILLMIX_CPU_DEVICES to a number of devices, or to "0" to leave JAX's
# device count alone.
_DEVICES_ENVIRONMENT = "HILLMIX_CPU_DEVICES"
_OFF = {"0", "off", "false", "no"}


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def configure_cpu_devices() -> int | None:
    """Ask JAX for one CPU device per core, if JAX has not started and nobody said otherwise.

    Called once, when :mod:`hillmix` is imported. NumPyro runs chains in
    parallel across devices only.

    Returns
    -------
    n_devices : int or None
        The count set, or None when JAX's setting was left alone: JAX's
        backend had started, ``XLA_FLAGS`` or ``jax_num_cpu_devices`` already
        set a count, or ``HILLMIX_CPU_DEVICES`` is ``0``.
    """
    setting = os.environ.get(_DEVICES_ENVIRONMENT, "").strip().lower()
    if setting in _OFF:
        return None
    if "host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    if jax.config.jax_num_cpu_devices != -1:
        return None
    try:
        count = int(setting) if setting else _available_cores()
    except ValueError:
        raise ValueError(
            f"{_DEVICES_ENVIRONMENT} must be a positive number of devices or 0 (leave JAX's "
            f"setting alone); got {setting!r}."
        ) from None
    if count < 1:
        return None
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backend has started: the count is fixed for this process
        return None
    return count


# --------------------------------------------------------------- precision
def _x64_scope():
    """JAX's thread-local double-precision scope: ``jax.enable_x64``, or its older home."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older JAX

    return enable_x64(True)


@contextlib.contextmanager
def double_precision():
    """Compute in double precision inside the block, whatever JAX's global setting.

    hillmix's estimators run every JAX computation of theirs in this
    context, so posterior draws, allocations and simulated data are double
    precision (except where a sampler asks for single precision on purpose)
    while JAX's process-wide ``jax_enable_x64`` stays as the user set it.
    Use it around your own calls of the JAX-traceable protocol methods
    (``media_response``) inside code that you trace with ``jax.jit``.

    Yields
    ------
    None

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from hillmix.utils import double_precision
    >>> with double_precision():
    ...     print(jnp.ones(1).dtype)
    float64
    """
    with _x64_scope():
        yield


def in_double_precision(function):
    """``function`` run inside :func:`double_precision` (a decorator)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _x64_scope():
            return function(*args, **kwargs)

    return wrapper


def traced(value) -> bool:
    """Whether ``value`` is being traced by a JAX transformation (jit, grad, vmap)."""
    return isinstance(value, jax.core.Tracer)


# ------------------------------------------------------- compiler options
# XLA's CPU backend compiles each fusion of a program through its newer
# fusion emitters by default. The samplers' programs are hundreds of small
# fusions, which the older emitters compile in about 60% of the time (one
# Hill curve on 156 x 8: 5.1 s to 3.0 s for the NUTS iterations, 3.2 s to
# 1.6 s for the initialisation) into code that samples as fast.
_FAST_COMPILE = {"xla_cpu_use_fusion_emitters": False}
_compiler_options_checked = None


def _compiler_options():
    """``_FAST_COMPILE`` if this jaxlib knows the options, else no options."""
    global _compiler_options_checked
    if _compiler_options_checked is None:
        try:
            jax.jit(jnp.negative, compiler_options=_FAST_COMPILE).lower(0.0).compile()
        except Exception:  # an older or newer XLA without these options
            _compiler_options_checked = {}
        else:
            _compiler_options_checked = dict(_FAST_COMPILE)
    return _compiler_options_checked or None


def jit(fn):
    """``jax.jit`` with the samplers' compiler options, where this XLA takes them."""
    return jax.jit(fn, compiler_options=_compiler_options())


# ------------------------------------------------------ compilation cache
# Set HILLMIX_COMPILATION_CACHE to a directory for hillmix's default cache,
# or to "0" to leave JAX's persistent cache alone.
_CACHE_ENVIRONMENT = "HILLMIX_COMPILATION_CACHE"
_DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "hillmix", "jax")
_DEFAULT_CACHE_BYTES = 2**30
_LOCK_SECONDS = 10
_default_cache_checked = False


def enable_compilation_cache(path=None) -> str:
    """Keep every compiled JAX program on disk, so refits skip compiling.

    A sampler for a given model configuration and data shape compiles once
    (5 to 10 seconds for HillMixtureMMM's NUTS); with the cache, later fits
    in any process load it. Fits already use a cache by default (see
    Notes); this function caches every program, however quick to compile,
    in ``path``. It sets JAX's global ``jax_compilation_cache_dir`` and takes
    effect even after JAX has compiled something in this process.

    Parameters
    ----------
    path : str or path-like, default=None
        Cache directory; ``~/.cache/hillmix/jax`` when None.

    Returns
    -------
    path : str
        The directory used.

    Notes
    -----
    Unless JAX's cache directory is already set, the first fit in a process
    turns JAX's cache on at ``~/.cache/hillmix/jax`` (or at the directory in
    the environment variable ``HILLMIX_COMPILATION_CACHE``), as PyMC keeps
    its compiled C code under ``~/.pytensor``. The setting is JAX's and
    global: from then on every program of the process that takes a second
    or more to compile is kept there (hillmix's samplers among them), up to
    1 GiB, the least recently used leaving first, under a file lock so that
    parallel fits share it safely; this function bounds it the same way.
    Entries written without a bound (by JAX's own unbounded setting, for
    instance) lack the access time eviction reads; they get their
    modification time as one. Set ``HILLMIX_COMPILATION_CACHE=0`` to
    opt out, for instance if JAX reports errors loading cache entries on
    your machine. The cache changes no draw: a loaded program is the
    compiled program.

    Examples
    --------
    >>> import tempfile
    >>> from hillmix import enable_compilation_cache
    >>> enable_compilation_cache(tempfile.mkdtemp()) != ""
    True
    """
    path = _cache_path(path)
    os.makedirs(path, exist_ok=True)
    _use_cache_dir(path)
    _bound_cache(path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def _cache_path(path) -> str:
    return os.path.expanduser(os.fspath(path) if path is not None else _DEFAULT_CACHE_DIR)


def _bound_cache(path: str):
    """Bound JAX's cache at 1 GiB, unless bounded already, over every entry of ``path``.

    A bounded cache evicts the least recently used entries and locks the
    directory, so parallel fits never read half a file. Its eviction reads
    an access time beside every entry, which an unbounded writer (JAX's own
    setting, an older hillmix) does not leave: over such an entry every
    write would fail with a warning and keep nothing. Those entries get
    their modification time as access time first.
    """
    if not importlib.util.find_spec("filelock"):
        return  # JAX bounds a cache only under a file lock
    try:
        _time_entries(path)
    except OSError:  # read-only, or the lock held for long: leave the setting
        return
    if jax.config.jax_compilation_cache_max_size == -1:
        jax.config.update("jax_compilation_cache_max_size", _DEFAULT_CACHE_BYTES)


def _time_entries(path: str):
    """Give every cache entry in ``path`` the access-time file JAX's eviction reads.

    JAX writes an entry's ``-cache`` file and then its ``-atime`` file (8
    bytes, little-endian nanoseconds), both under ``.lockfile``; holding that
    lock, an entry without one was written unbounded, not half-written.
    """
    import filelock

    with filelock.FileLock(os.path.join(path, ".lockfile"), timeout=_LOCK_SECONDS):
        names = set(os.listdir(path))
        for name in names:
            key = name.removesuffix("-cache")
            if key != name and key + "-atime" not in names:
                stamp = os.stat(os.path.join(path, name)).st_mtime_ns
                with open(os.path.join(path, key + "-atime"), "wb") as fh:
                    fh.write(stamp.to_bytes(8, "little"))


def _use_cache_dir(path: str):
    jax.config.update("jax_compilation_cache_dir", path)
    # JAX decides whether to use its cache at the first compile of a process
    # and keeps that answer: ask it again.
    compilation_cache.reset_cache()


def default_compilation_cache():
    """Turn the persistent cache on for the samplers, once, unless told otherwise.

    Nothing happens when JAX's cache directory is already set (by the user
    or :func:`enable_compilation_cache`), when ``HILLMIX_COMPILATION_CACHE``
    is ``"0"``, or when the directory cannot be resolved, created or
    written to.
    """
    global _default_cache_checked
    if _default_cache_checked:
        return
    _default_cache_checked = True
    setting = os.environ.get(_CACHE_ENVIRONMENT, "")
    if setting.strip().lower() in _OFF:
        return
    if jax.config.jax_compilation_cache_dir is not None:
        return
    path = _cache_path(setting or None)
    if not os.path.isabs(path):
        return  # no home directory to expand "~" in, and no directory given
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return  # a read-only home: compile every time, as without a cache
    if not os.access(path, os.W_OK):
        return  # JAX would warn at every write
    _use_cache_dir(path)
    _bound_cache(path)
