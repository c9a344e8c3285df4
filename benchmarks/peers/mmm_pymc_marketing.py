"""Side by side: HillMixtureMMM against PyMC-Marketing's MMM on the same data.

Both fit 156 weeks x 8 channels from ``hillmix_sim.make_mmm_data`` with the
same model structure: geometric adstock over 8 lags (normalised weights),
Hill saturation, an intercept, a linear trend, yearly seasonality of Fourier
order 2 and Normal noise. Each runs 2 chains x (1000 warm-up + 1000 draws).
PyMC-Marketing (``pymc_marketing.mmm.multidimensional.MMM``) runs with its
samplers named by ``--samplers``: PyMC's own NUTS, nutpie (PyMC-Marketing
1.x's default when nutpie is installed) or numpyro.

Reported per run: wall time of ``fit`` (model building, compilation, sampling
and the library's own post-processing), minimum bulk ESS and maximum
rank-normalised R-hat over the scalars of all free parameters (ArviZ's
estimators for both libraries), divergences, and minimum bulk ESS per second.
Each library keeps its own defaults otherwise (priors, NUTS
``target_accept``: PyMC's is 0.8; hillmix's rows give the target its kept
draws were sampled at).

Zero spend: PyMC-Marketing's ``hill_function`` computes ``x**slope`` directly,
so at an adstocked spend of exactly 0 with ``slope < 1`` the chain rule
multiplies an infinite derivative by zero and the gradient with respect to
``adstock_alpha`` is NaN. Every channel of this data has weeks without spend.
PyMC's sampler then stops with ``ParameterValueError: 0 < alpha <= 1`` (the
NaN position fails the adstock's parameter check) and the numpyro sampler
turns such trajectories into divergences. PyMC-Marketing therefore also runs
on the same spend with every exact zero raised to ``--spend-floor`` times the
channel's largest spend (``data`` column ``floor``); a run that fails is
reported with its time to failure and no diagnostics.

Run in an environment with ``requirements.txt`` installed:

    python benchmarks/peers/mmm_pymc_marketing.py [--k 1 3] [--skip-pymc]
        [--pymc-data {exact,floor,both}] [--spend-floor 1e-6] [--compile-cache DIR]

PyMC-Marketing 1.3.0 needs Python >= 3.12 and an environment of its own, without
hillmix (``requirements-pmm1.txt``):

    ~/.pyenv/versions/3.12.1/bin/python -m venv /work/peers-pmm1-venv
    /work/peers-pmm1-venv/bin/pip install "pymc-marketing==1.3.0" numpyro nutpie

There the data come from a CSV written by ``mmm_side_by_side.py`` (or
``write_data_csv``), hillmix is skipped by an empty ``--k`` and each run is
printed as one JSON line:

    /work/peers-pmm1-venv/bin/python benchmarks/peers/mmm_pymc_marketing.py
        --data-csv data.csv --k --samplers nutpie --pymc-data floor --json

Compilation is part of ``fit``'s wall time. Both libraries compile through
JAX here (the numpyro sampler, and hillmix's own), so ``--compile-cache DIR``
turns JAX's persistent compilation cache on for both: run twice with the same
DIR and the second run measures fits whose programs are already compiled,
as every refit after the first is for a user who keeps the cache
(``hillmix.enable_compilation_cache``).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import arviz as az
import numpy as np
import pandas as pd

# hillmix is imported where it is used: the PyMC-Marketing part also runs in
# peer environments that read the data from a CSV and lack hillmix's pinned
# dependencies (mmm_side_by_side.py), and mmm_meridian.py imports the helpers.

N_PERIODS, N_CHANNELS, CHAINS, DRAWS = 156, 8, 2, 1000
ADSTOCK_LAGS, FOURIER_ORDER = 8, 2
# numpyro.deterministic sites of hillmix's model (hillmix/_model.py): functions
# of the free parameters, left out like PyMC's Deterministics. With one
# component ``pi`` is a deterministic constant too.
_HILLMIX_DETERMINISTIC = {"A", "n", "kappa", "intercept"}


def data(seed=0):
    from hillmix_sim import make_mmm_data

    X, y, _ = make_mmm_data(
        dgp="mixture_k3", n_periods=N_PERIODS, n_channels=N_CHANNELS, random_state=seed
    )
    return X, y


def write_data_csv(path, seed=0):
    """Write ``data(seed)`` to ``path``: a weekly ``date``, the channels' spend and ``y``."""
    X, y = data(seed)
    frame = X.copy()
    frame.insert(0, "date", pd.date_range("2022-01-02", periods=len(X), freq="W"))
    frame["y"] = np.asarray(y)
    frame.to_csv(path, index=False, date_format="%Y-%m-%d", float_format="%.17g")


def read_data_csv(path):
    """``X`` and ``y`` back from a file written by ``write_data_csv``, and the dates."""
    frame = pd.read_csv(path)
    dates = frame.pop("date")
    y = frame.pop("y")
    return frame, y, dates


def _ess_rhat(dataset):
    """Minimum bulk ESS and maximum rank R-hat over every scalar of ``dataset``."""
    ess = az.ess(dataset, method="bulk")
    rhat = az.rhat(dataset)
    return (
        float(min(np.nanmin(ess[v].values) for v in ess.data_vars)),
        float(max(np.nanmax(rhat[v].values) for v in rhat.data_vars)),
    )


def run_hillmix(X, y, k, chains=CHAINS, draws=DRAWS):
    from hillmix import ConvergenceWarning, HillMixtureMMM

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HillMixtureMMM(
            n_components=k,
            adstock_max_lag=ADSTOCK_LAGS,
            yearly_seasonality=FOURIER_ORDER,
            num_warmup=draws,
            num_samples=draws,
            num_chains=chains,
            random_state=0,
        ).fit(X, y)
    seconds = time.perf_counter() - start
    excluded = _HILLMIX_DETERMINISTIC | ({"pi"} if k == 1 else set())
    free = {
        name: np.asarray(v).reshape(chains, -1, *np.shape(v)[1:])
        for name, v in model.posterior_samples_.items()
        if name not in excluded and np.size(v)
    }
    min_ess, max_rhat = _ess_rhat(az.convert_to_dataset(free))
    return {
        "library": "hillmix",
        "sampler": "numpyro nuts",
        "K": k,
        "data": "exact",
        "seconds": seconds,
        "min_ess_bulk": min_ess,
        "max_rhat": max_rhat,
        "divergences": model.diagnostics_["divergences"],
        # Raised above the default's first target when divergences made
        # HillMixtureMMM sample again (its time includes both runs).
        "target_accept": model.diagnostics_["target_accept"],
    }


def floor_zero_spend(X, floor):
    """``X`` with every exact zero raised to ``floor`` times its column's maximum."""
    return X.where(X > 0, floor * X.max(), axis=1)


def run_pymc_marketing(X, y, sampler, chains=CHAINS, draws=DRAWS, data_label="exact"):
    row = {"library": "pymc-marketing", "sampler": f"{sampler} nuts", "K": 1, "data": data_label}
    start = time.perf_counter()
    try:
        row.update(_fit_pymc_marketing(X, y, sampler, chains, draws))
    except Exception as error:  # a failed run is a result too
        row.update(
            seconds=time.perf_counter() - start,
            min_ess_bulk=np.nan,
            max_rhat=np.nan,
            divergences=np.nan,
            error=f"{type(error).__name__}: {str(error).splitlines()[0]}",
        )
    return row


def _fit_pymc_marketing(X, y, sampler, chains, draws):
    from pymc_marketing.mmm import GeometricAdstock, HillSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    df = X.copy()
    df["date"] = pd.date_range("2022-01-02", periods=len(df), freq="W")
    # hillmix's trend: time on the fit period's scale, centred.
    n = len(df)
    df["t"] = (np.arange(n) - (n - 1) / 2) / n
    mmm = MMM(
        date_column="date",
        channel_columns=list(X.columns),
        target_column="y",
        adstock=GeometricAdstock(l_max=ADSTOCK_LAGS),
        saturation=HillSaturation(),
        control_columns=["t"],
        yearly_seasonality=FOURIER_ORDER,
    )
    start = time.perf_counter()
    # PyMC's own sampler defaults to cores = cpu_count() // 2, which runs the
    # chains one after the other on a 2-core machine; hillmix and the numpyro
    # sampler run them in parallel, one per core, so PyMC gets the same. The
    # sampler is always named: PyMC 6 picks nutpie when nothing is said.
    kwargs = {"nuts_sampler": sampler}
    if sampler == "pymc":
        kwargs["cores"] = chains
    idata = mmm.fit(
        df,
        pd.Series(np.asarray(y), index=df.index, name="y"),
        chains=chains,
        draws=draws,
        tune=draws,
        random_seed=0,
        progressbar=False,
        **kwargs,
    )
    seconds = time.perf_counter() - start
    free = [v.name for v in mmm.model.free_RVs]
    posterior = idata.posterior
    # PyMC 6 returns an xarray DataTree, PyMC 5 an InferenceData of Datasets.
    posterior = posterior.to_dataset() if hasattr(posterior, "to_dataset") else posterior
    min_ess, max_rhat = _ess_rhat(posterior[free])
    return {
        "seconds": seconds,
        "min_ess_bulk": min_ess,
        "max_rhat": max_rhat,
        "divergences": int(idata.sample_stats["diverging"].sum()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--k", type=int, nargs="*", default=[1, 3], help="hillmix's K; none skips hillmix"
    )
    parser.add_argument(
        "--data-csv",
        metavar="PATH",
        help="read X and y from PATH (write_data_csv's format) instead of simulating them",
    )
    parser.add_argument("--json", action="store_true", help="print each run as one JSON line")
    parser.add_argument("--skip-pymc", action="store_true")
    parser.add_argument(
        "--draws", type=int, default=DRAWS, help="warm-up and draws per chain (smoke tests)"
    )
    parser.add_argument(
        "--pymc-data",
        choices=["exact", "floor", "both"],
        default="both",
        help="PyMC-Marketing on the spend as is, with zeros floored, or both",
    )
    parser.add_argument("--spend-floor", type=float, default=1e-6)
    parser.add_argument(
        "--compile-cache",
        metavar="DIR",
        help="keep JAX's compiled programs in DIR for both libraries (both compile through "
        "JAX here); a second run with the same DIR measures fits with a warm cache",
    )
    parser.add_argument(
        "--samplers",
        nargs="+",
        choices=["pymc", "nutpie", "numpyro"],
        default=["pymc", "numpyro"],
    )
    args = parser.parse_args(argv)
    if args.compile_cache:
        import hillmix

        hillmix.enable_compilation_cache(args.compile_cache)
    X, y = read_data_csv(args.data_csv)[:2] if args.data_csv else data()
    rows = []

    def report(row):
        rows.append(row)
        if args.json:
            row = {**row, "ess_per_second": row["min_ess_bulk"] / row["seconds"]}
            print(json.dumps(row, default=lambda value: value.item()), flush=True)
        else:
            print(pd.DataFrame([row]).round(3).to_string(index=False), flush=True)

    for k in args.k:
        report(run_hillmix(X, y, k, draws=args.draws))
    if not args.skip_pymc:
        variants = {}
        if args.pymc_data in ("exact", "both"):
            variants["exact"] = X
        if args.pymc_data in ("floor", "both"):
            variants[f"floor {args.spend_floor:g}"] = floor_zero_spend(X, args.spend_floor)
        for label, spend in variants.items():
            for sampler in args.samplers:
                report(run_pymc_marketing(spend, y, sampler, draws=args.draws, data_label=label))
    if args.json:
        return
    table = pd.DataFrame(rows)
    table["ess_per_second"] = table["min_ess_bulk"] / table["seconds"]
    if "error" in table:
        table["error"] = table.pop("error").fillna("")
    with pd.option_context("display.max_colwidth", 80, "display.width", 250):
        print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
