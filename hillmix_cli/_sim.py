"""``hillmix sim``: simulators with a known truth, from the command line."""

from __future__ import annotations

import argparse

__all__ = ["add_sim_parser", "run_sim"]

_LAYOUT = """\
the dataset directory (--out):
  transactions/batch=NNNNN/part-0.parquet  transaction lines, one folder per batch
  households/batch=NNNNN/part-0.parquet    households and their true traits
  products.parquet, stores.parquet, promotions.parquet, spend.parquet, weekly.parquet
  _weekly/, _done/, _manifest.json         bookkeeping of resumable runs
  _SUCCESS                                 written last, when the dataset is complete

read a table without the batch column (the partition key):
  pandas.read_parquet("OUT/transactions", partitioning=None)
  pyarrow.dataset.dataset("OUT/transactions").to_table()
"""


def add_sim_parser(commands) -> None:
    """Add ``sim generate`` and ``sim calibrate`` to a sub-parser set."""
    sim = commands.add_parser("sim", help="simulators with a known truth")
    jobs = sim.add_subparsers(dest="sim_command", required=True)
    generate = jobs.add_parser(
        "generate",
        help="stream a simulated retailer's transactions to a Parquet dataset",
        description=(
            "Simulate households shopping a retailer with promotions and media "
            "(hillmix_sim.RetailSimulator) and write transactions, households, products, "
            "stores, promotions and weekly revenue next to spend as Parquet. Run it again "
            "with the same arguments to resume an interrupted run."
        ),
        epilog=_LAYOUT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument("--households", type=_positive, default=10000, help="households")
    generate.add_argument("--weeks", type=_positive, default=52, help="weeks to simulate")
    generate.add_argument("--out", required=True, help="new (or interrupted) dataset directory")
    generate.add_argument("--batch-size", type=_positive, default=5000, help="households per batch")
    generate.add_argument("--jobs", type=int, default=1, help="parallel workers (-1: all cores)")
    generate.add_argument("--seed", type=int, default=0, help="random_state of everything")
    generate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    from ._calibrate import add_calibrate_parser

    add_calibrate_parser(jobs)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def run_sim(args, stream) -> int:
    """Carry out a parsed ``hillmix sim`` command; returns the exit status."""
    import sys

    if args.sim_command == "calibrate":
        from ._calibrate import run_calibrate

        return run_calibrate(args, stream)

    from hillmix_sim import RetailSimulator

    sim = RetailSimulator(
        n_households=args.households, random_state=args.seed, progress=not args.no_progress
    )
    try:
        path = sim.fit().to_parquet(
            args.out, n_weeks=args.weeks, batch_size=args.batch_size, n_jobs=args.jobs
        )
    except (ValueError, OSError) as exc:
        # Bad arguments or an unusable directory: a message, not a traceback.
        print(f"hillmix sim generate: error: {exc}", file=sys.stderr)
        return 2
    print(_summary(path), file=stream)
    return 0


def _summary(path) -> str:
    """What a finished dataset holds, and how to read it: the command's result."""
    import pandas as pd
    import pyarrow.dataset as ds

    # Parquet footers and the small weekly table only: no transaction is read.
    lines = ds.dataset(path / "transactions", format="parquet").count_rows()
    households = ds.dataset(path / "households", format="parquet").count_rows()
    weekly = pd.read_parquet(path / "weekly.parquet", columns=["baskets"])
    return (
        f"retail data written to {path}: {households:,} households, {lines:,} transaction "
        f"lines in {int(weekly['baskets'].sum()):,} baskets over {len(weekly)} weeks\n"
        f"read the transactions with pandas.read_parquet({str(path / 'transactions')!r}, "
        "partitioning=None)"
    )
