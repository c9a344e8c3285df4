"""Posterior inference for NumPyro models: NUTS chains and SVI, each one compiled program.

Both runners take the data as arguments of the compiled program rather than
closing over them, so fits on data of the same shape produce the same
program: JAX's persistent compilation cache (on by default; see
:func:`hillmix.enable_compilation_cache`) then skips the compile. Progress is
reported between compiled calls, never from inside one: a callback would
change the compiled code, and with it the draws.
"""

from __future__ import annotations

import importlib.util
import os
from collections import OrderedDict
from contextlib import contextmanager

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.compilation_cache import compilation_cache
from numpyro.infer import (
    NUTS,
    SVI,
    Predictive,
    Trace_ELBO,
    init_to_feasible,
    init_to_uniform,
)
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.optim import Adam
from tqdm.auto import tqdm

__all__ = ["enable_compilation_cache", "run_nuts", "run_svi"]

_CHUNKS = 20  # compiled calls per NUTS run, between which progress is shown


@contextmanager
def _progress(total, enabled, desc):
    if not enabled:
        yield None
        return
    bar = tqdm(total=total, desc=desc, leave=False)
    try:
        yield lambda n: bar.update(int(n))
        jax.effects_barrier()
    finally:
        bar.close()


class _RunnerCache:
    """The last few compiled runners, by configuration.

    Reusing the same jitted function object lets JAX skip tracing and
    lowering too, not only compiling, when a model is refitted on data of
    the same shape (cross-validation, grid search, the estimator checks).
    """

    def __init__(self, size=16):
        self.size = size
        self._store = OrderedDict()

    def get(self, key, build):
        if key is None:
            return build()
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key]
        runner = self._store[key] = build()
        if len(self._store) > self.size:
            self._store.popitem(last=False)
        return runner


_RUNNERS = _RunnerCache()


def _over_chains(fn, num_chains, in_axes):
    """``fn`` over a leading chain axis: parallel across CPU devices, in turn within one."""
    n_devices = _devices_for(num_chains)
    per_device = num_chains // n_devices
    mapped_axes = [i for i, axis in enumerate(in_axes) if axis == 0]

    def in_turn(*args):
        def one(chained):
            full = list(args)
            for i, value in zip(mapped_axes, chained, strict=True):
                full[i] = value
            return fn(*full)

        return jax.lax.map(one, tuple(args[i] for i in mapped_axes))

    if n_devices == 1:
        return jax.jit(in_turn)
    parallel = jax.pmap(in_turn, in_axes=in_axes)

    def spread(*args):
        args = [
            jax.tree.map(lambda v: v.reshape(n_devices, per_device, *v.shape[1:]), a)
            if axis == 0
            else a
            for a, axis in zip(args, in_axes, strict=True)
        ]
        out = parallel(*args)
        return jax.tree.map(lambda v: v.reshape(num_chains, *v.shape[2:]), out)

    return spread


def _devices_for(num_chains):
    """Most CPU devices that split the chains into equal groups."""
    available = jax.local_device_count()
    return max(d for d in range(1, min(available, num_chains) + 1) if num_chains % d == 0)


def run_nuts(
    model,
    model_args,
    key,
    *,
    num_warmup,
    num_samples,
    num_chains,
    target_accept,
    dense_mass,
    max_tree_depth=10,
    progress=False,
    cache_key=None,
):
    """Run NUTS chains; parallel across CPU devices when there are enough.

    Parameters
    ----------
    model : callable
        NumPyro model taking ``*model_args``.
    model_args : tuple of arrays
        The data.
    key : jax.random.PRNGKey
        Split into one key per chain.
    num_warmup, num_samples, num_chains : int
        Per-chain warm-up and kept iterations; number of chains.
    target_accept : float
        Target acceptance probability of the step-size adaptation.
    dense_mass : bool
        Adapt a dense mass matrix.
    max_tree_depth : int, default=10
        Largest NUTS tree depth (at most ``2**max_tree_depth`` leapfrog steps).
    progress : bool, default=False
        Show a progress bar (iterations summed over chains).
    cache_key : hashable, default=None
        Identifies ``model``; with it, the compiled runner is reused by
        later calls with the same key and settings.

    Returns
    -------
    samples : dict of str to ndarray of shape (num_chains * num_samples, ...)
        Latent and deterministic sites, chains one after the other.
    diverging : ndarray of shape (num_chains, num_samples)
    """
    total = num_warmup + num_samples
    chunk = -(-total // _CHUNKS)
    settings = (num_warmup, num_samples, num_chains, target_accept, dense_mass, max_tree_depth)

    def build():
        # Random starts within one unit of the origin of the unconstrained
        # space: dispersed, so R-hat can see disagreement, never in the
        # prior's far tails, and without the prior's samplers (Dirichlet's
        # rejection loops included) in the compiled program.
        kernel = NUTS(
            model,
            target_accept_prob=target_accept,
            dense_mass=dense_mass,
            max_tree_depth=max_tree_depth,
            init_strategy=init_to_uniform(radius=1.0),
        )

        def init(key, *args):
            return kernel.init(key, num_warmup, model_args=args)

        def advance(state, start, *args):
            # A fixed number of iterations per call, the last call's surplus
            # masked out, so one compiled program serves every call.
            def step(state, i):
                new = kernel.sample(state, args, {})
                keep = start + i < total
                state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, state)
                return state, (state.z, state.diverging)

            return jax.lax.scan(step, state, jnp.arange(chunk))

        def finish(z, *args):
            return jax.vmap(kernel.postprocess_fn(args, {}))(z)

        return (
            _over_chains(init, num_chains, (0,) + (None,) * len(model_args)),
            _over_chains(advance, num_chains, (0, None) + (None,) * len(model_args)),
            _over_chains(finish, num_chains, (0,) + (None,) * len(model_args)),
        )

    _default_compilation_cache()
    init, advance, finish = _RUNNERS.get(
        None if cache_key is None else ("nuts", cache_key, settings), build
    )
    # Progress is reported between compiled calls, never from inside one, so
    # the draws are the same with or without a progress bar.
    with _progress(total * num_chains, progress, "NUTS") as report:
        state = init(jax.random.split(key, num_chains), *model_args)
        zs, divs = [], []
        for start in range(0, total, chunk):
            state, (z, diverging) = advance(state, start, *model_args)
            zs.append(z)
            divs.append(diverging)
            if report is not None:
                report(min(chunk, total - start) * num_chains)
        z = jax.tree.map(lambda *parts: jnp.concatenate(parts, axis=1)[:, num_warmup:total], *zs)
        diverging = jnp.concatenate(divs, axis=1)[:, num_warmup:total]
        samples = finish(z, *model_args)
    samples = {
        name: np.asarray(value).reshape(num_chains * num_samples, *value.shape[2:])
        for name, value in samples.items()
    }
    return samples, np.asarray(diverging)


def run_svi(
    model,
    model_args,
    key,
    *,
    num_steps,
    num_samples,
    guide="normal",
    learning_rate=0.01,
    return_sites=(),
    progress=False,
    cache_key=None,
):
    """Fit an automatic guide by SVI and draw from it.

    Parameters
    ----------
    model : callable
        NumPyro model taking ``*model_args`` and, last, ``y``.
    model_args : tuple of arrays
        The data, ``y`` last; the draws of deterministic sites are made with
        ``y`` set to None.
    key : jax.random.PRNGKey
        Seeds the optimisation and the draws.
    num_steps : int
        Adam steps.
    num_samples : int
        Draws from the fitted guide.
    guide : {"normal", "multivariate_normal"}, default="normal"
        AutoNormal or AutoMultivariateNormal.
    learning_rate : float, default=0.01
        Adam step size.
    return_sites : tuple of str, default=()
        Deterministic sites to compute for each draw.
    progress : bool, default=False
        Show a progress bar.
    cache_key : hashable, default=None
        Identifies ``model``; with it, the compiled program is reused by
        later calls with the same key and settings.

    Returns
    -------
    samples : dict of str to ndarray of shape (num_samples, ...)
    losses : ndarray of shape (num_steps,)
        The negative ELBO at each step.
    """
    with _progress(num_steps, progress, "SVI") as report:

        def build():
            guide_cls = AutoNormal if guide == "normal" else AutoMultivariateNormal

            # From initialisation to draws in one program, with a guide made
            # afresh in each trace: a guide keeps traced values that must not
            # leave the trace they were made in.
            @jax.jit
            def run(key, *args):
                auto_guide = guide_cls(model, init_loc_fn=init_to_feasible)
                svi = SVI(model, auto_guide, Adam(learning_rate), Trace_ELBO())
                fit_key, draw_key = jax.random.split(key)
                state = svi.init(fit_key, *args)
                state, losses = jax.lax.scan(
                    lambda s, _: svi.update(s, *args), state, None, length=num_steps
                )
                params = svi.get_params(state)
                latents = auto_guide.sample_posterior(draw_key, params, sample_shape=(num_samples,))
                derived = Predictive(
                    model, posterior_samples=latents, return_sites=list(return_sites)
                )(draw_key, *args[:-1], None)
                return {**latents, **derived}, losses

            return run

        settings = (num_steps, num_samples, guide, learning_rate, tuple(return_sites))
        _default_compilation_cache()
        runner = _RUNNERS.get(
            None if cache_key is None or progress else ("svi", cache_key, settings), build
        )
        draws, losses = runner(key, *model_args)
        # The optimisation is one compiled program (its guide cannot leave
        # it), so the bar moves once, at the end; a callback inside would
        # change the compiled code and with it the numbers.
        if report is not None:
            report(num_steps)
    return {k: np.asarray(v) for k, v in draws.items()}, np.asarray(losses)


# Set HILLMIX_COMPILATION_CACHE to a directory for hillmix's default cache,
# or to "0" to leave JAX's persistent cache alone.
_CACHE_ENVIRONMENT = "HILLMIX_COMPILATION_CACHE"
_DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "hillmix", "jax")
_DEFAULT_CACHE_BYTES = 2**30
_default_cache_checked = False


def enable_compilation_cache(path=None) -> str:
    """Keep every compiled JAX program on disk, so refits skip compiling.

    A sampler for a given model configuration and data shape compiles once
    (10 to 15 seconds for HillMixtureMMM's NUTS); with the cache, later fits
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
    parallel fits share it safely. Set ``HILLMIX_COMPILATION_CACHE=0`` to
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
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def _cache_path(path) -> str:
    return os.path.expanduser(os.fspath(path) if path is not None else _DEFAULT_CACHE_DIR)


def _use_cache_dir(path: str):
    jax.config.update("jax_compilation_cache_dir", path)
    # JAX decides whether to use its cache at the first compile of a process
    # and keeps that answer: ask it again.
    compilation_cache.reset_cache()


def _default_compilation_cache():
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
    if setting.strip().lower() in {"0", "off", "false", "no"}:
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
    if jax.config.jax_compilation_cache_max_size == -1 and importlib.util.find_spec("filelock"):
        # A bounded cache: JAX then evicts the least recently used entries
        # and locks the directory, so parallel fits never read half a file.
        jax.config.update("jax_compilation_cache_max_size", _DEFAULT_CACHE_BYTES)
