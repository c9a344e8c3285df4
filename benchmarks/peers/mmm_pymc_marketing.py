"""Side by side: HillMixtureMMM against PyMC-Marketing's MMM on the same data.

Both fit 156 weeks x 8 channels from ``hillmix_sim.make_mmm_data`` with
geometric adstock (8 lags) and Hill saturation, 2 chains x (1000 warm-up +
1000 draws). PyMC-Marketing runs with its default sampler and with
``nuts_sampler="numpyro"``. Reported per run: wall time, minimum bulk ESS over
all free parameters, maximum R-hat, and minimum bulk ESS per second.

Run in an environment with ``requirements.txt`` installed:

    python benchmarks/peers/mmm_pymc_marketing.py [--k 1 3] [--skip-pymc]
"""

from __future__ import annotations

import argparse
import time
import warnings

import arviz as az
import numpy as np
import pandas as pd

from hillmix import ConvergenceWarning, HillMixtureMMM
from hillmix_sim import make_mmm_data

N_PERIODS, N_CHANNELS, CHAINS, DRAWS = 156, 8, 2, 1000


def data(seed=0):
    X, y, _ = make_mmm_data(
        dgp="mixture_k3", n_periods=N_PERIODS, n_channels=N_CHANNELS, random_state=seed
    )
    return X, y


def run_hillmix(X, y, k):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HillMixtureMMM(
            n_components=k, num_warmup=DRAWS, num_samples=DRAWS, num_chains=CHAINS, random_state=0
        ).fit(X, y)
    seconds = time.perf_counter() - start
    d = model.diagnostics_
    return {
        "library": "hillmix",
        "sampler": "nuts",
        "K": k,
        "seconds": seconds,
        "min_ess_bulk": d["min_ess_bulk"],
        "max_rhat": d["max_rhat"],
        "divergences": d["divergences"],
    }


def run_pymc_marketing(X, y, sampler):
    from pymc_marketing.mmm import MMM, GeometricAdstock, HillSaturation

    df = X.copy()
    df["date"] = pd.date_range("2022-01-02", periods=len(df), freq="W")
    mmm = MMM(
        date_column="date",
        channel_columns=list(X.columns),
        adstock=GeometricAdstock(l_max=8),
        saturation=HillSaturation(),
        yearly_seasonality=2,
    )
    start = time.perf_counter()
    kwargs = {"nuts_sampler": sampler} if sampler != "pymc" else {}
    idata = mmm.fit(
        df, y, chains=CHAINS, draws=DRAWS, tune=DRAWS, random_seed=0, progressbar=False, **kwargs
    )
    seconds = time.perf_counter() - start
    free = [v.name for v in mmm.model.free_RVs]
    ess = az.ess(idata, var_names=free, method="bulk")
    rhat = az.rhat(idata, var_names=free)
    div = int(idata.sample_stats["diverging"].sum())
    return {
        "library": "pymc-marketing",
        "sampler": sampler,
        "K": 1,
        "seconds": seconds,
        "min_ess_bulk": float(min(np.min(ess[v]) for v in ess.data_vars)),
        "max_rhat": float(max(np.max(rhat[v]) for v in rhat.data_vars)),
        "divergences": div,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--skip-pymc", action="store_true")
    args = parser.parse_args(argv)
    X, y = data()
    rows = [run_hillmix(X, y, k) for k in args.k]
    if not args.skip_pymc:
        rows += [run_pymc_marketing(X, y, s) for s in ("pymc", "numpyro")]
    table = pd.DataFrame(rows)
    table["ess_per_second"] = table["min_ess_bulk"] / table["seconds"]
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
