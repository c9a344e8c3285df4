"""Side by side in one invocation: hillmix's national MMM, Meridian 2.1.0 and PyMC-Marketing 1.3.0.

All fit the benchmark data of ``mmm_pymc_marketing.py`` (156 weeks x 8
channels of ``make_mmm_data(dgp="mixture_k3", random_state=0)``), written once
to a CSV, with 2 chains x (``--draws`` warm-up + ``--draws`` kept draws). Each
library runs in its own environment and process, one process at a time: two
processes sharing the machine's cores distort the figures many times over.

- hillmix (``mmm_pymc_marketing.run_hillmix``), for each K of ``--k``: a fresh
  process with ``HILLMIX_COMPILATION_CACHE=0`` fits twice; the first fit is
  *cold* (JAX compiles the sampler), the second *warm* (compiled programs in
  memory).
- Meridian (``mmm_meridian.py``, in ``--meridian-python``): cold, and with
  ``--meridian-fits 2`` also a warm second fit in the same process (Meridian
  traces and compiles its sampler again for every fit).
- PyMC-Marketing (``mmm_pymc_marketing.py --data-csv``, in ``--pmm-python``):
  each of ``--pmm-samplers`` in one process, cold. By default on the spend with
  exact zeros floored (``--pmm-data``; ``mmm_pymc_marketing.py`` says why).

Each figure is the median over ``--repeats`` runs: wall seconds (compilation
included), minimum bulk ESS and maximum rank R-hat over the scalars of the
free parameters, divergences and ESS per second; on each peer's row, the
multiples: hillmix's ESS/s in each of its runs over the peer's (column
``x K=3 warm``: hillmix K=3 warm's ESS/s over the row's).

Commands
--------
The peers' environments, built once, outside the repository
(``requirements-meridian.txt`` and ``requirements-pmm1.txt`` list what pip
resolved)::

    python3 -m venv /work/peers-meridian-venv
    /work/peers-meridian-venv/bin/pip install "google-meridian==2.1.0"
    ~/.pyenv/versions/3.12.1/bin/python -m venv /work/peers-pmm1-venv
    /work/peers-pmm1-venv/bin/pip install "pymc-marketing==1.3.0" numpyro nutpie

From the repository root, in hillmix's environment::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/peers/mmm_side_by_side.py \\
        --meridian-python /work/peers-meridian-venv/bin/python \\
        --pmm-python /work/peers-pmm1-venv/bin/python --k 1 3 --repeats 3

A smoke test of the whole chain: add ``--draws 100 --repeats 1``. A peer
whose Python is not given is left out; an empty ``--k`` leaves hillmix out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import pandas as pd
from mmm_pymc_marketing import DRAWS, read_data_csv, run_hillmix, write_data_csv

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = ["seconds", "min_ess_bulk", "max_rhat", "divergences", "ess_per_second"]
GROUP = ["library", "sampler", "K", "data", "run"]


def run_json(command, env=None):
    """Run ``command``; the JSON objects it printed one a line, or one row saying why none."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not rows:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        rows.append({"error": f"{os.path.basename(command[1])} exited {result.returncode}: {tail}"})
    return rows


def hillmix_rows(csv, ks, draws):
    """Cold and warm hillmix fits for each K, each K in a fresh process without the JAX cache."""
    env = {**os.environ, "HILLMIX_COMPILATION_CACHE": "0"}
    rows = []
    for k in ks:
        command = [sys.executable, __file__, "--hillmix-worker", "--data-csv", csv]
        rows += run_json([*command, "--k", str(k), "--draws", str(draws)], env=env)
    return rows


def peer_rows(args, csv):
    """Meridian's and PyMC-Marketing's fits, each in its own environment's Python."""
    # Without PYTHONPATH: peers must not see the working tree's hillmix.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    common = ["--data-csv", csv, "--draws", str(args.draws)]
    rows = []
    if args.meridian_python:
        script = os.path.join(HERE, "mmm_meridian.py")
        command = [args.meridian_python, script, *common, "--repeat", str(args.meridian_fits)]
        rows += run_json(command, env=env)
    if args.pmm_python:
        script = os.path.join(HERE, "mmm_pymc_marketing.py")
        for sampler in args.pmm_samplers:
            command = [args.pmm_python, script, *common, "--k", "--json", "--samplers", sampler]
            command += ["--pymc-data", args.pmm_data, "--spend-floor", str(args.spend_floor)]
            rows += [{"run": "cold", **row} for row in run_json(command, env=env)]
    return rows


def summarise(rows):
    """Medians over repeats of each library, sampler, K, data and run, with the multiples.

    A column ``x K=1 cold`` holds hillmix's median ESS/s in that run over the
    row's (peer rows only).
    """
    table = pd.DataFrame([row for row in rows if "error" not in row])
    if table.empty:
        return table
    table["divergences"] = table["divergences"].astype(float)
    grouped = table.groupby(GROUP, sort=False)
    medians = grouped[FIGURES].median().assign(runs=grouped.size()).reset_index()
    peer = medians["library"] != "hillmix"
    for _, ours in medians[~peer].iterrows():
        multiple = ours["ess_per_second"] / medians["ess_per_second"]
        medians[f"x K={ours['K']} {ours['run']}"] = multiple.where(peer).round(1)
    return medians


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="*", default=[1, 3], help="hillmix's K (none: skip)")
    parser.add_argument("--draws", type=int, default=DRAWS, help="warm-up and kept draws per chain")
    parser.add_argument("--repeats", type=int, default=1, help="runs of everything; medians")
    parser.add_argument(
        "--data-csv", metavar="PATH", help="keep the data here (default: a temp file)"
    )
    parser.add_argument("--meridian-python", metavar="PYTHON", help="Meridian 2.1.0's interpreter")
    parser.add_argument(
        "--meridian-fits", type=int, default=1, help="Meridian fits per process (2: also warm)"
    )
    parser.add_argument("--pmm-python", metavar="PYTHON", help="PyMC-Marketing 1.3.0's interpreter")
    parser.add_argument(
        "--pmm-samplers", nargs="+", choices=["pymc", "nutpie", "numpyro"], default=["nutpie"]
    )
    parser.add_argument("--pmm-data", choices=["exact", "floor", "both"], default="floor")
    parser.add_argument("--spend-floor", type=float, default=1e-6)
    parser.add_argument("--hillmix-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.hillmix_worker:
        X, y, _ = read_data_csv(args.data_csv)
        for k in args.k:
            for run in ("cold", "warm"):
                row = {**run_hillmix(X, y, k, draws=args.draws), "run": run}
                row["ess_per_second"] = row["min_ess_bulk"] / row["seconds"]
                print(json.dumps(row, default=lambda value: value.item()), flush=True)
        return

    with tempfile.TemporaryDirectory() as scratch:
        csv = args.data_csv or os.path.join(scratch, "mmm_data.csv")
        write_data_csv(csv)
        rows = []
        for repeat in range(args.repeats):
            rows += hillmix_rows(csv, args.k, args.draws) + peer_rows(args, csv)
            print(f"repeat {repeat + 1} of {args.repeats} done", file=sys.stderr, flush=True)
    for row in rows:
        if "error" in row:
            print("failed:", row["error"])
    table = summarise(rows).round(
        {"seconds": 2, "min_ess_bulk": 1, "max_rhat": 3, "ess_per_second": 2}
    )
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.to_string(index=False, na_rep=""))


if __name__ == "__main__":
    main()
