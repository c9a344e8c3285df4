"""Google Meridian 2.1.0 on the national MMM benchmark data, in Meridian's own environment.

Meridian is never a dependency of hillmix. It runs from its own virtual
environment, built outside the repository (``requirements-meridian.txt`` lists
what pip resolved)::

    python3 -m venv /work/peers-meridian-venv
    /work/peers-meridian-venv/bin/pip install "google-meridian==2.1.0"

The data are the CSV that ``mmm_side_by_side.py`` writes (or
``mmm_pymc_marketing.write_data_csv``): 156 weeks x 8 channels of
``make_mmm_data(dgp="mixture_k3", random_state=0)``. This script imports no
hillmix, only two helpers of ``mmm_pymc_marketing.py`` that need pandas and
ArviZ alone::

    /work/peers-meridian-venv/bin/python benchmarks/peers/mmm_meridian.py
        --data-csv data.csv [--draws 1000] [--burnin 0] [--repeat 1]

The model is Meridian's national model (no geo column: one geo,
``national_geo``) with its defaults but for ``max_lag=8`` (also its default):
geometric adstock over lags 0-8 with normalised weights, then Hill saturation,
the default priors with ROI priors on the media (``kpi_type="revenue"``, the
spend as both media and media spend), one knot (a constant intercept, the
national default) and Normal noise. The controls are the other models' trend
and seasonality, given as Meridian controls (it has no built-in trend or
Fourier terms; its time effects are knots): the centred linear trend
``(t - (n - 1) / 2) / n`` and yearly Fourier terms of order 2 over a year of
365.25 / 7 weeks, as hillmix builds them. Meridian standardises controls and
KPI, and divides each channel's media by its median positive value.

Sampling is ``Meridian.sample_posterior(n_chains=2, n_adapt=draws - burnin,
n_burnin=burnin, n_keep=draws, seed=0)``: TensorFlow Probability's
``windowed_adaptive_nuts`` runs ``n_adapt`` adaptation steps (step size and a
diagonal mass matrix), then ``n_burnin + n_keep`` draws of which the first
``n_burnin`` are dropped. Warm-up is therefore ``n_adapt + n_burnin``; with the
default ``--burnin 0`` all of it adapts, as in NumPyro, nutpie and PyMC, and
Meridian's guide says ``n_burnin=0`` usually suffices. The 2 chains are
vectorised in one XLA program, not one per core.

Backend: Meridian 2.1.0 runs TFP's JAX substrate by default (TensorFlow is
deprecated there, chosen only with ``MERIDIAN_BACKEND=tensorflow``), in double
precision (``MERIDIAN_ENABLE_JAX_X64``, default true). This script keeps the
default; each row says which backend ran.

Reported, one JSON line per fit on stdout: wall seconds of loading the data
into Meridian, building the model and sampling (compilation included), the
minimum bulk ESS and maximum rank R-hat over every scalar of the free
parameters (``mmm_pymc_marketing._ess_rhat``), divergences among the kept
draws and ESS per second, plus JAX's trace, lowering and XLA compile seconds
during the fit and whether the sampler was compiled again. The free
parameters are the latent nodes NUTS samples that Meridian keeps in its
posterior (``knot_values``, ``sigma``, ``alpha_m``, ``ec_m``, ``roi_m``,
``gamma_c``: 31 scalars); left out are its deterministics (``beta_m``,
``beta_gm``, ``mu_t``, ``tau_g``, ``gamma_gc``), latents fixed by their prior
in a national model (``slope_m`` at 1, ``eta_m`` and ``xi_c`` at 0) and the
geo deviations it does not keep (``beta_gm_dev``, ``gamma_gc_dev``, which a
zero ``eta_m`` and ``xi_c`` leave at their prior).

``--repeat R`` fits R times in one process, each from the CSV to a new
``Meridian``: the first is cold, later ones warm. Meridian jits the sampler
with the joint distribution as a static argument and builds a new one for
every ``sample_posterior`` call, so every fit traces and compiles again.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import defaultdict

import numpy as np
from mmm_pymc_marketing import _ess_rhat, read_data_csv

CHAINS, DRAWS, MAX_LAG, FOURIER_ORDER = 2, 1000, 8, 2
_WEEKS_PER_YEAR = 365.25 / 7
_JAX_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_seconds",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lowering_seconds",
    "/jax/core/compile/backend_compile_duration": "xla_compile_seconds",
}


def controls(n):
    """The centred linear trend and yearly Fourier terms hillmix uses, by name."""
    t = np.arange(n)
    columns = {"trend": (t - (n - 1) / 2) / n}
    for order in range(1, FOURIER_ORDER + 1):
        angle = 2 * np.pi * t * order / _WEEKS_PER_YEAR
        columns[f"sin_{order}"] = np.sin(angle)
        columns[f"cos_{order}"] = np.cos(angle)
    return columns


def fit(path, chains=CHAINS, draws=DRAWS, burnin=0, seed=0):
    """One Meridian fit of the CSV at ``path``; the row of figures."""
    from meridian import backend
    from meridian.data import load
    from meridian.model import model, spec

    X, y, dates = read_data_csv(path)
    frame = X.assign(date=dates, y=y, **controls(len(X)))
    channels = list(X.columns)
    names = list(controls(len(X)))
    nuts = backend.xla_windowed_adaptive_nuts
    cache_size = getattr(nuts, "_cache_size", lambda: None)
    compiled_before = cache_size()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # What a national model resets (media effects Normal, geo hierarchy at
        # zero), revenue_per_kpi ignored for a revenue KPI, ArviZ's unknown
        # "trace" group: notes on the defaults, one per fit.
        warnings.simplefilter("ignore", UserWarning)
        data = load.DataFrameDataLoader(
            df=frame,
            coord_to_columns=load.CoordToColumns(
                time="date", kpi="y", controls=names, media=channels, media_spend=channels
            ),
            kpi_type="revenue",
            media_to_channel={c: c for c in channels},
            media_spend_to_channel={c: c for c in channels},
        ).load()
        mmm = model.Meridian(input_data=data, model_spec=spec.ModelSpec(max_lag=MAX_LAG))
        mmm.sample_posterior(
            n_chains=chains, n_adapt=draws - burnin, n_burnin=burnin, n_keep=draws, seed=seed
        )
    seconds = time.perf_counter() - start
    idata = mmm.inference_data
    # The nodes NUTS samples (PosteriorMCMCSampler's sampling graph, pinned
    # to the KPI), less those Meridian does not keep and those their prior
    # fixes (constant chains have no ESS).
    latents = mmm.posterior_sampler_callable._get_joint_dist_sampling().dtype._fields
    free = [
        name
        for name in latents
        if name in idata.posterior and np.ptp(idata.posterior[name].values) > 0
    ]
    min_ess, max_rhat = _ess_rhat(idata.posterior[free])
    compiled_after = cache_size()
    return {
        "library": "meridian",
        "sampler": "tfp windowed nuts",
        "K": 1,
        "data": "exact",
        "backend": backend.config.get_backend().value,
        "seconds": seconds,
        "min_ess_bulk": min_ess,
        "max_rhat": max_rhat,
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "ess_per_second": min_ess / seconds,
        "mean_leapfrogs": float(idata.sample_stats["n_steps"].mean()),
        "sampler_compiled": None
        if compiled_before is None
        else bool(compiled_after > compiled_before),
        "free_parameters": free,
        "free_scalars": int(sum(idata.posterior[name][0, 0].size for name in free)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-csv", metavar="PATH", required=True)
    parser.add_argument("--draws", type=int, default=DRAWS, help="warm-up and kept draws per chain")
    parser.add_argument(
        "--burnin",
        type=int,
        default=0,
        help="of the warm-up, draws after adaptation (n_burnin); the rest adapt (n_adapt)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="fits in this process")
    args = parser.parse_args(argv)
    if not 0 <= args.burnin < args.draws:
        parser.error(f"--burnin must be in [0, --draws), got {args.burnin}")

    import jax
    import meridian
    from jax import monitoring

    durations = defaultdict(float)

    def listen(event, seconds, **_):
        if event in _JAX_EVENTS:
            durations[_JAX_EVENTS[event]] += seconds

    monitoring.register_event_duration_secs_listener(listen)
    for index in range(args.repeat):
        durations.clear()
        row = fit(args.data_csv, draws=args.draws, burnin=args.burnin)
        # Traces nest (an inner jit is traced inside the outer one), so
        # trace_seconds may count some time twice; XLA compiles do not nest.
        row.update({name: durations[name] for name in _JAX_EVENTS.values()})
        row.update(
            run="cold" if index == 0 else "warm",
            fit=index + 1,
            versions={"meridian": meridian.__version__, "jax": jax.__version__},
        )
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
