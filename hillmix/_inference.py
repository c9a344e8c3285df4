"""Posterior inference for NumPyro models: NUTS chains and SVI, each one compiled program.

Both runners take the data as arguments of the compiled program rather than
closing over them, so fits on data of the same shape produce the same
program: JAX's persistent compilation cache (on by default; see
:func:`hillmix.enable_compilation_cache`) then skips the compile. Progress is
reported between compiled calls, never from inside one: a callback would
change the compiled code, and with it the draws.
"""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.distributions import biject_to
from numpyro.handlers import seed, trace
from numpyro.infer import (
    NUTS,
    SVI,
    Predictive,
    Trace_ELBO,
    init_to_feasible,
)
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.infer.hmc_util import build_adaptation_schedule
from numpyro.infer.util import ParamInfo, constrain_fn, potential_energy
from numpyro.optim import Adam
from tqdm.auto import tqdm

from ._jax_setup import default_compilation_cache, jit

__all__ = ["run_nuts", "run_svi"]

_CHUNKS = 20  # compiled calls per NUTS run, between which progress is shown

# Acceptance the step size is tuned for in the warm-up windows before the
# last: burn-in and the windows that estimate the mass matrix. HMC leaves
# the posterior invariant at any step size, so a high ``target_accept``
# (0.99 for a mixture) need only hold where the step size for sampling is
# tuned, and small steps there cost most of a mixture fit's warm-up
# (benchmarks/peers/RESULTS.md: 0.85 against 0.9, 0.8 and 0.99).
_MASS_WINDOWS_TARGET = 0.85

# Iterations before the last window that already tune for ``target_accept``:
# the last window's dual averaging starts from the step size they leave, and
# in its 50 iterations does not forget one tuned for a lower target (on a
# Gaussian at 0.99, switching at the window itself left steps 13% larger
# and acceptance 0.986; 50 iterations earlier, within 3% and 0.988). Short
# warm-ups, whose last window starts before this, tune for the target
# throughout.
_RETUNE_ITERATIONS = 50

# Per-iteration statistics kept with the draws, by ArviZ's names.
SAMPLE_STATS = ("diverging", "acceptance_rate", "step_size", "n_steps", "energy", "lp")


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
    mapped_axes = [i for i, axis in enumerate(in_axes) if axis == 0]

    def in_turn(*args):
        def one(chained):
            full = list(args)
            for i, value in zip(mapped_axes, chained, strict=True):
                full[i] = value
            return fn(*full)

        return jax.lax.map(one, tuple(args[i] for i in mapped_axes))

    if n_devices == 1:
        return jit(in_turn)
    # Each device runs its block of chains in turn: what pmap did, as one
    # jitted program, which can take compiler options.
    mesh = _chain_mesh(n_devices)
    spec = jax.sharding.PartitionSpec
    in_specs = tuple(spec("chains") if axis == 0 else spec() for axis in in_axes)
    # check_vma=False: NumPyro's loops carry values that start out the same
    # on every device, which shard_map's type check would refuse.
    per_device = jax.shard_map(
        in_turn, mesh=mesh, in_specs=in_specs, out_specs=spec("chains"), check_vma=False
    )
    return jit(per_device)


def _chain_mesh(n_devices):
    return jax.sharding.Mesh(np.asarray(jax.local_devices()[:n_devices]), ("chains",))


def _chain_sharding(num_chains):
    """How :func:`_over_chains` lays out its results: split by chain across devices, or None."""
    n_devices = _devices_for(num_chains)
    if n_devices == 1:
        return None
    return jax.sharding.NamedSharding(_chain_mesh(n_devices), jax.sharding.PartitionSpec("chains"))


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
    warmup_target_accept=None,
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
        Target acceptance probability of the step size NUTS samples with
        (tuned at the end of warm-up).
    dense_mass : bool
        Adapt a dense mass matrix.
    max_tree_depth : int, default=10
        Largest NUTS tree depth (at most ``2**max_tree_depth`` leapfrog steps).
    warmup_target_accept : float, default=None
        Target acceptance of the step size in the warm-up before the last
        window (burn-in and mass-matrix estimation), up to 50 iterations
        before it; ``None`` is ``min(target_accept, 0.85)``.
    progress : bool, default=False
        Show a progress bar (iterations summed over chains).
    cache_key : hashable, default=None
        Identifies ``model``; with it, the compiled runner is reused by
        later calls with the same key and settings, whatever their targets.

    Returns
    -------
    samples : dict of str to ndarray of shape (num_chains * num_samples, ...)
        Latent and deterministic sites, chains one after the other.
    stats : dict of str to ndarray of shape (num_chains, num_samples)
        Per draw, by ArviZ's names (see ``SAMPLE_STATS``): ``diverging``, the
        ``acceptance_rate`` statistic, ``step_size``, ``n_steps`` (leapfrog
        steps), ``energy`` (Hamiltonian) and ``lp`` (log density, up to a
        constant, in the unconstrained space).
    """
    total = num_warmup + num_samples
    chunk = -(-total // _CHUNKS)
    if warmup_target_accept is None:
        warmup_target_accept = min(target_accept, _MASS_WINDOWS_TARGET)
    # The last window tunes the step size for sampling, with the mass matrix
    # final (NumPyro's schedule).
    last_window = build_adaptation_schedule(num_warmup)[-1].start if num_warmup else 0
    switch = max(0, last_window - _RETUNE_ITERATIONS)
    # The targets enter the compiled programs as arguments, not constants:
    # a refit at another target (HillMixtureMMM's rerun after divergences
    # among them) reuses the program.
    targets = jnp.asarray([warmup_target_accept, target_accept], dtype=float)
    settings = (num_warmup, num_samples, num_chains, dense_mass, max_tree_depth)

    def build():
        def kernel_for(args, unravel, target):
            # NUTS over one flat vector of the unconstrained parameters: its
            # leapfrog and tree bookkeeping then run one array operation
            # each, not one per site, about a fifth of the time per leapfrog
            # step for a three-curve mixture. The potential takes the data
            # as traced arguments, so the kernel is made in each program.
            return NUTS(
                potential_fn=lambda flat: potential_energy(model, args, {}, unravel(flat)),
                target_accept_prob=target,
                dense_mass=dense_mass,
                max_tree_depth=max_tree_depth,
            )

        def init(key, targets, *args):
            # Random starts within one unit of the origin of the unconstrained
            # space: dispersed, so R-hat can see disagreement, never in the
            # prior's far tails, and without the prior's samplers (Dirichlet's
            # rejection loops included) in the compiled program.
            start_key, kernel_key = jax.random.split(key)
            start, unravel = ravel_pytree(_uniform_start(model, args, start_key))
            kernel = kernel_for(args, unravel, targets[0])
            return kernel.init(kernel_key, num_warmup, init_params=start)

        def advance(state, start, targets, *args):
            unravel = _unravel(model, args)

            # A fixed number of iterations per call, the last call's surplus
            # masked out, so one compiled program serves every call.
            def step(state, i):
                # The target as a traced value: one kernel, one program, for
                # iterations on both sides of the switch.
                target = jnp.where(state.i < switch, targets[0], targets[1])
                kernel = kernel_for(args, unravel, target)
                # NumPyro's sampler reads settings its init records; this
                # init's own results are unused and compile away. Given the
                # state's log density and gradient, it does not trace the
                # model's gradient once more.
                known = ParamInfo(state.z, state.potential_energy, state.z_grad)
                kernel.init(jax.random.PRNGKey(0), num_warmup, init_params=known)
                new = kernel.sample(state, (), {})
                keep = start + i < total
                state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, state)
                return state, (state.z, _iteration_stats(state))

            return jax.lax.scan(step, state, jnp.arange(chunk))

        def finish(z, *args):
            unravel = _unravel(model, args)
            return jax.vmap(
                lambda flat: constrain_fn(model, args, {}, unravel(flat), return_deterministic=True)
            )(z)

        return (
            _over_chains(init, num_chains, (0, None) + (None,) * len(model_args)),
            _over_chains(advance, num_chains, (0, None, None) + (None,) * len(model_args)),
            _over_chains(finish, num_chains, (0,) + (None,) * len(model_args)),
        )

    default_compilation_cache()
    init, advance, finish = _RUNNERS.get(
        None if cache_key is None else ("nuts", cache_key, settings), build
    )
    # The three programs compile side by side before the first call, each
    # for the shapes and device layout its calls will have.
    first_keys = _start_keys(key, 0, num_chains)
    state_shapes = _on_chains(jax.eval_shape(init, first_keys, targets, *model_args), num_chains)
    draws_shape = _on_chains(
        jax.ShapeDtypeStruct(
            (num_chains, num_samples, state_shapes.z.shape[-1]), state_shapes.z.dtype
        ),
        num_chains,
    )
    _compile_together(
        (init, (first_keys, targets, *model_args)),
        (advance, (state_shapes, 0, targets, *model_args)),
        (finish, (draws_shape, *model_args)),
    )
    # Progress is reported between compiled calls, never from inside one, so
    # the draws are the same with or without a progress bar.
    with _progress(total * num_chains, progress, "NUTS") as report:
        state = _valid_start(init, key, num_chains, (targets, *model_args))
        zs, chunks = [], []
        for start in range(0, total, chunk):
            state, (z, stats) = advance(state, start, targets, *model_args)
            zs.append(z)
            chunks.append(stats)
            if report is not None:
                report(min(chunk, total - start) * num_chains)
        # Joined on the host: as JAX operations, each join and slice would
        # compile a small program of its own on a fit's first call.
        z = _kept(zs, num_warmup, total)
        stats = {
            name: _kept(values, num_warmup, total)
            for name, values in zip(SAMPLE_STATS, zip(*chunks, strict=True), strict=True)
        }
        # Laid out across devices as ``finish`` was compiled for.
        samples = finish(jax.device_put(z, draws_shape.sharding), *model_args)
    samples = {
        name: np.asarray(value).reshape(num_chains * num_samples, *value.shape[2:])
        for name, value in samples.items()
    }
    return samples, stats


def _kept(chunks, num_warmup, total):
    """Per-chain iterations ``num_warmup`` to ``total`` of chunks joined along axis 1."""
    return np.concatenate([np.asarray(chunk) for chunk in chunks], axis=1)[:, num_warmup:total]


def _iteration_stats(state):
    """One NUTS iteration's statistics, in the order of ``SAMPLE_STATS``."""
    return (
        state.diverging,
        state.accept_prob,
        state.adapt_state.step_size,
        state.num_steps,
        state.energy,
        -state.potential_energy,
    )


_START_TRIES = 100


def _valid_start(init, key, num_chains, init_args):
    """Initial NUTS states whose log density and gradient are finite.

    A chain whose start is not finite draws again, from keys derived from
    ``key``, while the others keep theirs, up to ``_START_TRIES`` times (as
    NumPyro's own search does): the result stays a function of ``key``.
    """
    state = None
    for attempt in range(_START_TRIES):
        keys = _start_keys(key, attempt, num_chains)
        # Kept on the devices as ``init`` placed them, split by chain: the
        # NUTS iterations then see the same input layout on their first call
        # as on later ones, and compile once, not twice.
        drawn = init(keys, *init_args)
        if state is None:
            state = drawn
        else:
            state = jax.tree.map(partial(_keep_where, _finite(state)), state, drawn)
        if _finite(state).all():
            return state
    raise ValueError(
        f"NUTS found no start with a finite log density and gradient in {_START_TRIES} "
        "tries of uniform draws within one unit of the origin of the unconstrained "
        "space; check the priors and the data for values the model cannot score."
    )


def _start_keys(key, attempt, num_chains):
    """One key per chain for the ``attempt``-th search of a finite start."""
    return jax.random.split(jax.random.fold_in(key, attempt), num_chains)


def _on_chains(shapes, num_chains):
    """``shapes`` laid out across devices as :func:`_over_chains` lays out its results."""
    sharding = _chain_sharding(num_chains)
    return jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding), shapes
    )


def _compile_together(*calls):
    """Compile jitted functions for the given arguments side by side.

    Tracing runs here, one function after the other (NumPyro's effect
    handlers are process-wide, not thread-safe); XLA's compilations, most
    of a cold fit's first seconds, then run in parallel threads. A later
    call with arguments of the same shapes finds the programs compiled.
    """
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        # Each compile starts as soon as its program is traced, and runs
        # while the next one is traced.
        compiling = [pool.submit(function.lower(*args).compile) for function, args in calls]
        for future in compiling:
            future.result()


def _finite(state):
    """Per chain: are the log density and its gradient finite."""
    return np.isfinite(state.potential_energy) & np.isfinite(state.z_grad).all(axis=-1)


def _keep_where(keep, old, new):
    """``old`` for the chains (leading axis) in ``keep``, ``new`` for the others."""
    return jnp.where(keep.reshape(-1, *[1] * (old.ndim - 1)), old, new)


def _latent_sites(model, args):
    """The model's latent sample sites by name, in sorted order, from one trace."""
    sites = trace(seed(model, jax.random.PRNGKey(0))).get_trace(*args)
    return {
        name: sites[name]["fn"]
        for name in sorted(sites)
        if sites[name]["type"] == "sample" and not sites[name]["is_observed"]
    }


def _unconstrained_shapes(model, args):
    return {
        name: biject_to(fn.support).inverse_shape(fn.shape())
        for name, fn in _latent_sites(model, args).items()
    }


def _unravel(model, args):
    """Maps a flat vector to the model's unconstrained parameters, by site."""
    shapes = _unconstrained_shapes(model, args)
    _, unravel = ravel_pytree({name: jnp.zeros(shape) for name, shape in shapes.items()})
    return unravel


def _uniform_start(model, args, key, radius=1.0):
    """Uniform draws in ``(-radius, radius)`` for every latent site, unconstrained."""
    shapes = _unconstrained_shapes(model, args)
    keys = jax.random.split(key, len(shapes))
    return {
        name: jax.random.uniform(site_key, shape, minval=-radius, maxval=radius)
        for (name, shape), site_key in zip(shapes.items(), keys, strict=True)
    }


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
    drift : float
        How far the guide still moved over the last tenth of the steps: the
        largest change of a location in the unconstrained space, in units of
        that coordinate's posterior standard deviation at the end.
    """
    with _progress(num_steps, progress, "SVI") as report:

        def build():
            guide_cls = AutoNormal if guide == "normal" else AutoMultivariateNormal

            # From initialisation to draws in one program, with a guide made
            # afresh in each trace: a guide keeps traced values that must not
            # leave the trace they were made in.
            # The learning rate is an argument, not a constant: fits at
            # another rate reuse the program.
            def run(key, learning_rate, *args):
                auto_guide = guide_cls(model, init_loc_fn=init_to_feasible)
                svi = SVI(model, auto_guide, Adam(learning_rate), Trace_ELBO())
                fit_key, draw_key = jax.random.split(key)
                state = svi.init(fit_key, *args)

                # The guide's locations as the last tenth of the steps
                # begins, to see how far it still moves; kept in the carry
                # of one scan, since a second scan would compile the update
                # twice (21 s to 36 s for a small model).
                mark = num_steps - max(num_steps // 10, 1)

                def step(carry, i):
                    state, before = carry
                    now = _guide_locs_and_sds(svi.get_params(state))[0]
                    before = jnp.where(i == mark, now, before)
                    state, loss = svi.update(state, *args)
                    return (state, before), loss

                start = _guide_locs_and_sds(svi.get_params(state))[0]
                (state, before), losses = jax.lax.scan(
                    step, (state, start), jnp.arange(num_steps)
                )
                params = svi.get_params(state)
                locs, sds = _guide_locs_and_sds(params)
                drift = jnp.max(jnp.abs(locs - before) / sds)
                latents = auto_guide.sample_posterior(draw_key, params, sample_shape=(num_samples,))
                derived = Predictive(
                    model, posterior_samples=latents, return_sites=list(return_sites)
                )(draw_key, *args[:-1], None)
                return {**latents, **derived}, losses, drift

            return jit(run)

        settings = (num_steps, num_samples, guide, tuple(return_sites))
        default_compilation_cache()
        runner = _RUNNERS.get(
            None if cache_key is None or progress else ("svi", cache_key, settings), build
        )
        draws, losses, drift = runner(key, jnp.asarray(learning_rate, dtype=float), *model_args)
        # The optimisation is one compiled program (its guide cannot leave
        # it), so the bar moves once, at the end; a callback inside would
        # change the compiled code and with it the numbers.
        if report is not None:
            report(num_steps)
    return {k: np.asarray(v) for k, v in draws.items()}, np.asarray(losses), float(drift)


def _guide_locs_and_sds(params):
    """An automatic guide's locations and marginal standard deviations, flat.

    AutoNormal keeps ``<site>_auto_loc`` and ``<site>_auto_scale`` per site;
    AutoMultivariateNormal one ``auto_loc`` and ``auto_scale_tril``, whose
    rows' norms are the marginal standard deviations.
    """
    if "auto_scale_tril" in params:
        return params["auto_loc"], jnp.linalg.norm(params["auto_scale_tril"], axis=-1)
    sites = sorted(name[: -len("_auto_loc")] for name in params if name.endswith("_auto_loc"))
    locs = jnp.concatenate([jnp.ravel(params[f"{site}_auto_loc"]) for site in sites])
    sds = jnp.concatenate([jnp.ravel(params[f"{site}_auto_scale"]) for site in sites])
    return locs, sds
