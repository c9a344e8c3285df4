"""``hillmix sim calibrate``: search the retail simulator's parameters for real-looking data."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

__all__ = ["add_calibrate_parser", "run_calibrate"]


def add_calibrate_parser(jobs) -> None:
    """Add ``sim calibrate`` to the ``sim`` sub-parser set."""
    from hillmix_sim.retail import SEARCH_SPACES

    calibrate = jobs.add_parser(
        "calibrate",
        help="calibrate the retail simulator to real transactions and write a preset",
        description=(
            "Search RetailSimulator's parameters with Optuna (hillmix_sim.SimulatorCalibrator) "
            "so that its transactions look like a reference's (The Complete Journey by "
            "default) on half of its households, report every metric on the other half, and "
            "write the best parameters with how they were made as a preset file "
            "(RetailSimulator.from_preset(path)). With --storage the study is resumable "
            "(sqlite:///study.db) or shared by workers on many machines (postgresql://...)."
        ),
    )
    calibrate.add_argument("--trials", type=_positive, default=200,
                           help="finished trials the study should hold")
    calibrate.add_argument("--search-space", choices=sorted(SEARCH_SPACES), default="tier3",
                           help="which parameters to search")
    calibrate.add_argument("--storage", default=None,
                           help="Optuna storage URL (default: in memory)")
    calibrate.add_argument("--study-name", default=None,
                           help="study in the storage to create or continue")
    calibrate.add_argument("--out", required=True, help="preset file to write (JSON)")
    calibrate.add_argument("--reference", default=None,
                           help="Parquet file of transactions (default: The Complete Journey)")
    calibrate.add_argument("--start", default=None,
                           help="preset (name or file) whose parameters the search starts from")
    calibrate.add_argument("--households", type=_positive, default=None,
                           help="households simulated per trial (default: the calibration half)")
    calibrate.add_argument("--jobs", type=_positive, default=1, help="trials at once (threads)")
    calibrate.add_argument("--timeout", type=float, default=None,
                           help="seconds after which no trial starts")
    calibrate.add_argument("--seed", type=int, default=0, help="random_state of the search")
    calibrate.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _command(args) -> str:
    words = ["hillmix", "sim", "calibrate", "--trials", str(args.trials),
             "--search-space", args.search_space, "--seed", str(args.seed)]
    for flag, value in (("--storage", args.storage), ("--study-name", args.study_name),
                        ("--reference", args.reference), ("--start", args.start),
                        ("--households", args.households), ("--timeout", args.timeout)):
        if value is not None:
            words += [flag, str(value)]
    if args.jobs != 1:
        words += ["--jobs", str(args.jobs)]
    return shlex.join([*words, "--out", args.out])


def run_calibrate(args, stream) -> int:
    """Carry out ``hillmix sim calibrate``; returns the exit status."""
    import pandas as pd

    from hillmix_sim import RetailSimulator
    from hillmix_sim.retail import SimulatorCalibrator
    from hillmix_sim.retail._presets import write_preset

    try:
        if args.reference is None:
            from hillmix_sim.datasets import load_complete_journey

            reference = load_complete_journey()
        else:
            reference = pd.read_parquet(args.reference)
        estimator = None if args.start is None else RetailSimulator.from_preset(args.start)
        calibrator = SimulatorCalibrator(
            estimator,
            search_space=args.search_space,
            n_trials=args.trials,
            n_households=args.households,
            storage=args.storage,
            study_name=args.study_name,
            n_jobs=args.jobs,
            timeout=args.timeout,
            random_state=args.seed,
            progress=not args.no_progress,
        )
        start = time.perf_counter()
        calibrator.fit(reference)
        seconds = time.perf_counter() - start
        path = write_preset(calibrator, args.out, command=_command(args), duration=seconds)
    except (ValueError, TypeError, ImportError, OSError) as exc:
        print(f"hillmix sim calibrate: error: {exc}", file=sys.stderr)
        return 2
    report = calibrator.calibration_report_
    print(report.drop(columns="description").to_string(float_format="{:.3f}".format), file=stream)
    scores = report.attrs
    print(
        f"harmonic score: {scores['harmonic_initial']:.3f} before, "
        f"{scores['harmonic_held_out']:.3f} after (held out); plain mean "
        f"{scores['mean_initial']:.3f} before, {scores['mean_held_out']:.3f} after",
        file=stream,
    )
    print(f"{len(calibrator.study_.trials)} trials in {seconds:.0f} s; preset written to {path}",
          file=stream)
    return 0
