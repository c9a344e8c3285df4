"""``hillmix targeting``: generate simulation data, run the simulation, compare reward models."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["add_targeting_parser", "run_targeting"]

# Kept literal so that `hillmix --help` need not import the libraries; a
# test checks them against hillmix_opt.STRATEGIES and hillmix_sim.GROUND_TRUTHS.
STRATEGIES = ("linucb", "disjoint_linucb", "bootstrapped_dqn", "bootstrap_ensemble", "random")
GROUND_TRUTHS = ("mixture_of_experts", "gmm", "linear")
REWARD_MODELS = (
    "logistic",
    "lightgbm",
    "neural",
    "bayesian_neural",
    "gaussian_process",
    "ft_transformer",
)
EMBEDDERS = ("hashing", "openai", "sentence-transformer", "auto")


def add_targeting_parser(commands) -> None:
    """Add ``targeting generate-data`` and ``targeting simulate`` to a sub-parser set."""
    targeting = commands.add_parser(
        "targeting", help="personalised-targeting simulator: data and simulations"
    )
    jobs = targeting.add_subparsers(dest="targeting_command", required=True)

    generate = jobs.add_parser(
        "generate-data", help="draw users per iteration and the initial bank, once"
    )
    _data_options(generate)
    generate.add_argument("--out", required=True, help="new directory for the data")

    simulate = jobs.add_parser("simulate", help="run a company simulation")
    _data_options(simulate)
    simulate.add_argument(
        "--data_dir", default=None, help="pre-generated data (from generate-data) to run on"
    )
    simulate.add_argument(
        "--results_dir",
        default=None,
        help="new directory for the results (default: results/simulation_<timestamp>)",
    )
    simulate.add_argument("--action_bank_size", type=int, default=0, help="0 keeps the bank")
    simulate.add_argument(
        "--action_pool_size", type=int, default=2000, help="candidate actions per new bank"
    )
    simulate.add_argument(
        "--diversity_weight",
        type=float,
        default=0.15,
        help="discount of a candidate's gain by its similarity to the chosen actions",
    )
    simulate.add_argument(
        "--use_uncertainty",
        action="store_true",
        help="select on mean + uncertainty_weight x std (bayesian_neural, gaussian_process)",
    )
    simulate.add_argument("--uncertainty_weight", type=float, default=0.1)
    simulate.add_argument(
        "--candidates_from",
        choices=("offline", "openai"),
        default="offline",
        help="who writes the candidates: recombination of the best actions, or an LLM",
    )
    _company_options(simulate)
    simulate.add_argument(
        "--reward_model_type",
        choices=REWARD_MODELS,
        default="logistic",
        help="reward model of the action-bank algorithm (used when action_bank_size > 0; "
        "logistic by default: the trees of lightgbm do not generalise to new actions, see "
        "docs/action_banks.rst)",
    )
    _reward_model_options(simulate)
    simulate.add_argument("--batch_size", type=int, default=1000)
    simulate.add_argument("--observations_format", choices=("parquet", "csv"), default="parquet")

    compare = jobs.add_parser(
        "compare-rewards",
        help="fit every reward model on one simulated log and score it against the truth",
    )
    _data_options(compare)
    _company_options(compare)
    compare.add_argument(
        "--models",
        default=",".join(REWARD_MODELS),
        help=f"comma-separated reward models (default: all of {', '.join(REWARD_MODELS)})",
    )
    _reward_model_options(compare)
    compare.add_argument(
        "--eval_users", type=int, default=2000, help="fresh users scored against the truth"
    )
    compare.add_argument(
        "--candidates", type=int, default=200, help="unseen candidate actions scored"
    )
    compare.add_argument("--out", default=None, help="CSV file for the table")


def _company_options(parser: argparse.ArgumentParser) -> None:
    """The simulated company: its strategy and its ground truth."""
    parser.add_argument("--company_strategy", choices=STRATEGIES, default="linucb")
    parser.add_argument("--alpha", type=float, default=1.0, help="LinUCB exploration")
    parser.add_argument(
        "--use_pca",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reduce action embeddings with PCA (default: on; not for disjoint_linucb or random, "
        "which use no embeddings)",
    )
    parser.add_argument("--pca_components", type=int, default=16)
    parser.add_argument("--ground_truth_type", choices=GROUND_TRUTHS, default="mixture_of_experts")
    parser.add_argument("--gmm_components", type=int, default=5)
    parser.add_argument("--density_scale_factor", type=float, default=1.0)
    parser.add_argument("--min_utility", type=float, default=0.01)
    parser.add_argument("--max_utility", type=float, default=0.3)


def _reward_model_options(parser: argparse.ArgumentParser) -> None:
    """The seed's options of the reward models; each applies to its model only."""
    parser.add_argument("--lgb_n_estimators", type=int, default=500, help="LightGBM rounds")
    parser.add_argument("--lgb_learning_rate", type=float, default=0.05)
    parser.add_argument("--lgb_num_leaves", type=int, default=31)
    parser.add_argument(
        "--bnn_mc_samples", type=int, default=30, help="Monte Carlo dropout samples"
    )
    parser.add_argument(
        "--fusion_type", choices=("concat", "attention"), default="concat", help="FT-Transformer"
    )


def _reward_model(name: str, args):
    """A reward model by name, with the options that apply to it, seeded from --seed."""
    from hillmix_opt import make_reward_model

    params = {}
    if name == "lightgbm":
        params.update(
            n_estimators=args.lgb_n_estimators,
            learning_rate=args.lgb_learning_rate,
            num_leaves=args.lgb_num_leaves,
        )
    elif name == "bayesian_neural":
        params["n_mc_samples"] = args.bnn_mc_samples
    elif name == "ft_transformer":
        params["fusion_type"] = args.fusion_type
    if name != "logistic":
        params["random_state"] = args.seed
    return make_reward_model(name, **params)


# Defaults of the data options; None on the command line tells an option
# left out (taken from --data_dir's data when given) from one given.
_DATA_DEFAULTS = {"iterations": 4, "users": 10000, "initial_actions": 30}


def _data_options(parser: argparse.ArgumentParser) -> None:
    sizes = _DATA_DEFAULTS
    parser.add_argument("--iterations", type=int, help=f"default: {sizes['iterations']}")
    parser.add_argument(
        "--users", type=int, help=f"users per iteration (default: {sizes['users']})"
    )
    parser.add_argument("--initial_actions", type=int, help=f"default: {sizes['initial_actions']}")
    parser.add_argument("--embedder", choices=EMBEDDERS, default="hashing")
    parser.add_argument("--seed", type=int, default=0, help="random_state of everything")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _embedder(name: str):
    from hillmix_sim import HashingEmbedder, OpenAIEmbedder, SentenceTransformerEmbedder

    if name == "hashing":
        return HashingEmbedder()
    if name == "sentence-transformer":
        return SentenceTransformerEmbedder()
    fallback = "auto" if name == "auto" else None
    return OpenAIEmbedder(fallback=fallback)


def _strategy(args):
    from hillmix_opt import make_strategy

    params = {}
    if args.company_strategy in ("linucb", "disjoint_linucb"):
        params["alpha"] = args.alpha
    # One model per action uses no embeddings, so no projection of them.
    if args.company_strategy not in ("random", "disjoint_linucb"):
        params.update(use_pca=args.use_pca, pca_components=args.pca_components)
    return make_strategy(args.company_strategy, **params)


def _ground_truth(args):
    from hillmix_sim import make_ground_truth

    params = {"min_utility": args.min_utility, "max_utility": args.max_utility}
    if args.ground_truth_type == "gmm":
        params.update(
            n_components=args.gmm_components, density_scale_factor=args.density_scale_factor
        )
    return make_ground_truth(args.ground_truth_type, **params)


def _take_sizes_from(args, data) -> None:
    """Sizes of pre-generated data: the options left out, checked against those given."""
    sizes = {
        "users": len(data.users[0]),
        "initial_actions": len(data.initial_bank.action_ids),
    }
    for name, size in sizes.items():
        given = getattr(args, name)
        if given is not None and given != size:
            raise ValueError(
                f"--{name} {given}, but the data in {args.data_dir} have {size}; leave "
                f"--{name} out to use the data's, or generate data of that size."
            )
        setattr(args, name, size)
    if args.iterations is None:
        args.iterations = len(data.users)


def _algorithm(args):
    """The action-bank optimizer of ``simulate``, or None when the bank is kept."""
    if getattr(args, "action_bank_size", 0) <= 0:
        return None
    from hillmix_opt import ActionBankOptimizer, CandidateGenerator

    return ActionBankOptimizer(
        reward_model=_reward_model(args.reward_model_type, args),
        candidate_generator=CandidateGenerator(backend=args.candidates_from),
        embedder=_embedder(args.embedder),
        action_pool_size=args.action_pool_size,
        action_bank_size=args.action_bank_size,
        diversity_weight=args.diversity_weight,
        use_uncertainty=args.use_uncertainty,
        uncertainty_weight=args.uncertainty_weight,
        random_state=args.seed,
        progress=not args.no_progress,
    )


def _simulator(args, strategy=None, ground_truth=None):
    from hillmix_opt import RandomStrategy
    from hillmix_sim import CompanySimulator

    return CompanySimulator(
        strategy=strategy if strategy is not None else RandomStrategy(),
        ground_truth=ground_truth,
        algorithm=_algorithm(args) if strategy is not None else None,
        embedder=_embedder(args.embedder),
        n_iterations=_size(args, "iterations"),
        n_users=_size(args, "users"),
        n_initial_actions=_size(args, "initial_actions"),
        action_bank_size=getattr(args, "action_bank_size", 0),
        batch_size=getattr(args, "batch_size", 1000),
        random_state=args.seed,
        progress=not args.no_progress,
    )


def run_targeting(args, stream) -> int:
    """Carry out a parsed ``hillmix targeting`` command; returns the exit status."""
    import sys

    from hillmix_sim import OpenAIUnavailableError

    try:
        return _run(args, stream)
    except (ValueError, TypeError, OSError, OpenAIUnavailableError) as exc:
        # Bad arguments, an unusable directory or no OpenAI key: a message
        # and a usage error's status, not a traceback.
        print(f"hillmix targeting {args.targeting_command}: error: {exc}", file=sys.stderr)
        return 2


def _run(args, stream) -> int:
    if args.targeting_command == "compare-rewards":
        return _compare_rewards(args, stream)
    if args.targeting_command == "generate-data":
        _simulator(args).generate_data(args.out)
        print(f"simulation data written to {args.out}", file=stream)
        return 0
    results_dir = args.results_dir or str(
        Path("results") / time.strftime("simulation_%Y%m%d_%H%M%S")
    )
    data = None
    if args.data_dir is not None:
        from hillmix_sim import SimulationData

        data = SimulationData.load(args.data_dir)
        _take_sizes_from(args, data)
    simulator = _simulator(args, _strategy(args), _ground_truth(args))
    results = simulator.run(results_dir, data=data, observations_format=args.observations_format)
    columns = ["iteration", "company_reward", "expected_reward", "oracle_reward", "random_reward"]
    print(results.iterations[columns].round(4).to_string(index=False), file=stream)
    print(f"results written to {results_dir}", file=stream)
    return 0


def _compare_rewards(args, stream) -> int:
    import pandas as pd

    from hillmix_opt import compare_reward_models

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in REWARD_MODELS]
    if unknown or not names:
        raise ValueError(f"--models {args.models!r}: expected names among {list(REWARD_MODELS)}.")
    if args.out is not None and Path(args.out).exists():
        raise ValueError(f"--out {args.out} exists; choose a new file.")
    models = {name: _reward_model(name, args) for name in names}
    simulator = _simulator(args, _strategy(args), _ground_truth(args))
    results = simulator.run()
    table = compare_reward_models(
        pd.concat(results.observations, ignore_index=True),
        results.banks,
        simulator.ground_truth_,
        models=models,
        n_users=args.eval_users,
        n_candidates=args.candidates,
        embedder=_embedder(args.embedder),
        random_state=args.seed,
        progress=not args.no_progress,
    )
    print(table.round(4).to_string(), file=stream)
    if args.out is not None:
        table.to_csv(args.out)
        print(f"table written to {args.out}", file=stream)
    return 0


def _size(args, name: str) -> int:
    value = getattr(args, name)
    return _DATA_DEFAULTS[name] if value is None else value
