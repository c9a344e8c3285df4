"""Argument parsing and dispatch for the ``hillmix`` command."""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``hillmix`` argument parser, with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="hillmix", description="Marketing science with mixtures of Hill curves."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="simulate data with a known truth, fit HillMixtureMMM, report and plot"
    )
    demo.add_argument("--output", default="demo_output", help="directory for the plots")
    demo.add_argument("--periods", type=int, default=156, help="weeks of data")
    demo.add_argument("--channels", type=int, default=4, help="media channels")
    demo.add_argument("--seed", type=int, default=0, help="random_state of everything")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.add_argument(
        "--draws", type=int, default=1000, help="NUTS draws kept per chain (warm-up: 1.5x)"
    )
    from ._targeting import add_targeting_parser

    add_targeting_parser(commands)
    from ._sim import add_sim_parser

    add_sim_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``hillmix`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    if args.command == "demo":
        import hillmix

        from ._demo import check_sizes, prepare_output, run_demo

        try:  # before the slow fits
            check_sizes(
                {
                    "--periods": args.periods,
                    "--channels": args.channels,
                    "--draws": args.draws,
                    "--seed": args.seed,
                }
            )
            prepare_output(args.output, "--output")
        except ValueError as error:
            parser.error(str(error))
        # A second demo run loads the compiled sampler instead of compiling.
        hillmix.enable_compilation_cache()
        run_demo(
            output=args.output,
            n_periods=args.periods,
            n_channels=args.channels,
            seed=args.seed,
            progress=not args.no_progress,
            n_draws=args.draws,
            stream=sys.stdout,
        )
    elif args.command == "targeting":
        from ._targeting import run_targeting

        return run_targeting(args, sys.stdout)
    elif args.command == "sim":
        from ._sim import run_sim

        return run_sim(args, sys.stdout)
    return 0
