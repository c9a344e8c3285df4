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
    simulate.add_argument(
        "--action_bank_size",
        type=int,
        default=0,
        help="size of each new bank; 0 keeps the bank (and the options of the algorithm that "
        "proposes new banks do not apply)",
    )
    simulate.add_argument(
        "--action_pool_size",
        type=int,
        help=f"candidate actions per new bank (default: {_DEFAULTS['action_pool_size']})",
    )
    simulate.add_argument(
        "--diversity_weight",
        type=float,
        help="discount of a candidate's gain by its similarity to the chosen actions "
        f"(default: {_DEFAULTS['diversity_weight']})",
    )
    simulate.add_argument(
        "--use_uncertainty",
        action="store_true",
        default=None,
        help="select on mean + uncertainty_weight x std (bayesian_neural, gaussian_process)",
    )
    simulate.add_argument(
        "--uncertainty_weight",
        type=float,
        help=f"with --use_uncertainty (default: {_DEFAULTS['uncertainty_weight']})",
    )
    simulate.add_argument(
        "--candidates_from",
        choices=("offline", "openai"),
        help="who writes the candidates: recombination of the best actions, or an LLM "
        f"(default: {_DEFAULTS['candidates_from']})",
    )
    _company_options(simulate)
    simulate.add_argument(
        "--reward_model_type",
        choices=REWARD_MODELS,
        help="reward model of the action-bank algorithm (default: logistic: the trees of "
        "lightgbm do not generalise to new actions, see docs/action_banks.rst)",
    )
    _reward_model_options(simulate)
    simulate.add_argument(
        "--batch_size",
        type=int,
        help="users targeted between two strategy updates (default: min(1000, users // 10), "
        "so that the strategy learns at least ten times an iteration)",
    )
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


# Options that apply in some cases only (to one strategy, truth or reward
# model, or to the algorithm that proposes new banks). Their argparse
# default is None, so that an option given can be told from one left out:
# one given where it does not apply is a usage error rather than ignored,
# one left out takes the default here. The strategy's and the truth's
# options are passed only when given (their classes' defaults are these; a
# test checks them).
_DEFAULTS = {
    "alpha": 1.0,
    "use_pca": True,
    "pca_components": 16,
    "gmm_components": 5,
    "density_scale_factor": 1.0,
    "min_utility": 0.01,
    "max_utility": 0.3,
    "action_pool_size": 2000,
    "diversity_weight": 0.15,
    "use_uncertainty": False,
    "uncertainty_weight": 0.1,
    "candidates_from": "offline",
    "reward_model_type": "logistic",
    "lgb_n_estimators": 500,
    "lgb_learning_rate": 0.05,
    "lgb_num_leaves": 31,
    "bnn_mc_samples": 30,
    "fusion_type": "concat",
    "embedder": "hashing",
}
# Options that are constructor parameters of the strategy or the truth.
STRATEGY_PARAMETERS = {"alpha": "alpha", "use_pca": "use_pca", "pca_components": "pca_components"}
TRUTH_PARAMETERS = {
    "gmm_components": "n_components",
    "density_scale_factor": "density_scale_factor",
    "min_utility": "min_utility",
    "max_utility": "max_utility",
}
# Left None when not given: the strategy's and the truth's own defaults apply.
_CLASS_DEFAULTS = {*STRATEGY_PARAMETERS, *TRUTH_PARAMETERS}
# Options of one reward model each, and those of the bank algorithm.
_REWARD_MODEL_OPTIONS = {
    "lgb_n_estimators": "lightgbm",
    "lgb_learning_rate": "lightgbm",
    "lgb_num_leaves": "lightgbm",
    "bnn_mc_samples": "bayesian_neural",
    "fusion_type": "ft_transformer",
}
_ALGORITHM_OPTIONS = (
    "action_pool_size",
    "diversity_weight",
    "use_uncertainty",
    "uncertainty_weight",
    "candidates_from",
    "reward_model_type",
    *_REWARD_MODEL_OPTIONS,
)


def _company_options(parser: argparse.ArgumentParser) -> None:
    """The simulated company: its strategy and its ground truth."""
    defaults = _DEFAULTS
    parser.add_argument("--company_strategy", choices=STRATEGIES, default="linucb")
    parser.add_argument(
        "--alpha", type=float, help=f"LinUCB exploration (default: {defaults['alpha']})"
    )
    parser.add_argument(
        "--use_pca",
        action=argparse.BooleanOptionalAction,
        help="reduce action embeddings with PCA (default: on; not for disjoint_linucb or "
        "random, which use no embeddings)",
    )
    parser.add_argument(
        "--pca_components",
        type=int,
        help=f"default: {defaults['pca_components']}; not for disjoint_linucb or random",
    )
    parser.add_argument("--ground_truth_type", choices=GROUND_TRUTHS, default="mixture_of_experts")
    parser.add_argument(
        "--gmm_components", type=int, help=f"gmm only (default: {defaults['gmm_components']})"
    )
    parser.add_argument(
        "--density_scale_factor",
        type=float,
        help=f"gmm only (default: {defaults['density_scale_factor']})",
    )
    parser.add_argument("--min_utility", type=float, help=f"default: {defaults['min_utility']}")
    parser.add_argument("--max_utility", type=float, help=f"default: {defaults['max_utility']}")


def _reward_model_options(parser: argparse.ArgumentParser) -> None:
    """The seed's options of the reward models; each applies to its model only."""
    defaults = _DEFAULTS
    parser.add_argument(
        "--lgb_n_estimators",
        type=int,
        help=f"LightGBM rounds (default: {defaults['lgb_n_estimators']})",
    )
    parser.add_argument(
        "--lgb_learning_rate",
        type=float,
        help=f"LightGBM (default: {defaults['lgb_learning_rate']})",
    )
    parser.add_argument(
        "--lgb_num_leaves", type=int, help=f"LightGBM (default: {defaults['lgb_num_leaves']})"
    )
    parser.add_argument(
        "--bnn_mc_samples",
        type=int,
        help=f"Monte Carlo dropout samples of bayesian_neural (default: "
        f"{defaults['bnn_mc_samples']})",
    )
    parser.add_argument(
        "--fusion_type",
        choices=("concat", "attention"),
        help=f"FT-Transformer (default: {defaults['fusion_type']})",
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
    parser.add_argument("--embedder", choices=EMBEDDERS, help=f"default: {_DEFAULTS['embedder']}")
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


def _given(args, options: dict) -> dict:
    """The constructor parameters of the options given (not None), by parameter name."""
    return {
        parameter: getattr(args, option)
        for option, parameter in options.items()
        if getattr(args, option, None) is not None
    }


def _strategy(args):
    from hillmix_opt import make_strategy

    # Only the options given: make_strategy refuses a parameter the class
    # does not have (checked first, with the option's name, by _check_options).
    return make_strategy(args.company_strategy, **_given(args, STRATEGY_PARAMETERS))


def _ground_truth(args):
    from hillmix_sim import make_ground_truth

    return make_ground_truth(args.ground_truth_type, **_given(args, TRUTH_PARAMETERS))


def _flag(option: str) -> str:
    return "--use_pca/--no-use_pca" if option == "use_pca" else f"--{option}"


def _check_options(args) -> None:
    """Refuse options given where they do not apply; then fill in the defaults of the others.

    An option that does not apply would be ignored, which a user who gave
    it does not expect: it is a usage error naming the option and why.
    """
    reasons = {}
    if hasattr(args, "company_strategy"):
        from hillmix_opt import make_strategy
        from hillmix_sim import make_ground_truth

        strategy = make_strategy(args.company_strategy).get_params()
        for option, parameter in STRATEGY_PARAMETERS.items():
            if parameter not in strategy:
                reasons[option] = (
                    f"the {args.company_strategy} strategy (--company_strategy) has no "
                    f"{parameter} parameter"
                )
        truth = make_ground_truth(args.ground_truth_type).get_params()
        for option, parameter in TRUTH_PARAMETERS.items():
            if parameter not in truth:
                reasons[option] = (
                    f"the {args.ground_truth_type} ground truth (--ground_truth_type) has no "
                    f"{parameter} parameter"
                )
    if args.targeting_command == "simulate":
        if args.action_bank_size <= 0:
            for option in _ALGORITHM_OPTIONS:
                reasons[option] = (
                    "it applies to the algorithm that proposes new banks, and --action_bank_size "
                    f"{args.action_bank_size} keeps the bank"
                )
            if args.data_dir is not None:
                reasons["embedder"] = (
                    "the actions of --data_dir are embedded already, and --action_bank_size "
                    f"{args.action_bank_size} embeds no new ones"
                )
        if not args.use_uncertainty:
            reasons.setdefault("uncertainty_weight", "it weighs the std of --use_uncertainty")
        models = {args.reward_model_type or _DEFAULTS["reward_model_type"]}
    elif args.targeting_command == "compare-rewards":
        models = set(_model_names(args))
    else:
        models = set(REWARD_MODELS)
    for option, model in _REWARD_MODEL_OPTIONS.items():
        if model not in models:
            reasons.setdefault(option, f"it applies to the {model} reward model, not used here")
    given = [option for option in reasons if getattr(args, option, None) is not None]
    if given:
        raise ValueError(
            "; ".join(f"{_flag(option)} does not apply: {reasons[option]}" for option in given)
            + (". Leave it out." if len(given) == 1 else ". Leave them out.")
        )
    for option, default in _DEFAULTS.items():
        if option not in _CLASS_DEFAULTS and getattr(args, option, default) is None:
            setattr(args, option, default)


def _model_names(args) -> list[str]:
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in REWARD_MODELS]
    if unknown or not names:
        raise ValueError(f"--models {args.models!r}: expected names among {list(REWARD_MODELS)}.")
    return names


def _check_new_directory(path, option: str, advice: str = "choose a new directory") -> None:
    """An output directory must be new or empty: said with the option's name, before any work."""
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{option} {path} exists and is not empty; {advice}.")


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
        batch_size=getattr(args, "batch_size", None),
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
    _check_options(args)
    if args.targeting_command == "compare-rewards":
        return _compare_rewards(args, stream)
    if args.targeting_command == "generate-data":
        _check_new_directory(args.out, "--out")
        _simulator(args).generate_data(args.out)
        print(f"simulation data written to {args.out}", file=stream)
        return 0
    if args.results_dir is not None:
        advice = "choose a new directory, or leave --results_dir out for a new timestamped one"
        _check_new_directory(args.results_dir, "--results_dir", advice)
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

    names = _model_names(args)
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
