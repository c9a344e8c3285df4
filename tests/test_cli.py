"""The command line: `hillmix demo` end to end, with tiny settings."""

import io
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from hillmix_cli import main
from hillmix_cli._demo import run_demo


# 60 draws are far too few to converge; this test is about the pipeline.
@pytest.mark.filterwarnings("ignore::hillmix.exceptions.ConvergenceWarning")
def test_demo_runs_end_to_end(tmp_path, monkeypatch):
    figures = _keep_figures(monkeypatch)
    out = io.StringIO()
    report = run_demo(
        output=tmp_path, n_periods=64, n_channels=2, seed=1, progress=False, stream=out, n_draws=60
    )
    text = out.getvalue()
    assert "Effective number of Hill components" in text and "R-hat" in text
    assert (tmp_path / "response_curves.png").stat().st_size > 10_000
    assert (tmp_path / "contributions.png").stat().st_size > 10_000
    assert 0 <= report["holdout_coverage"] <= 1
    assert list(report["effective_k"].index) == ["channel_0", "channel_1"]
    assert "Budget allocation" in text
    assert (tmp_path / "allocation.png").stat().st_size > 10_000
    result = report["allocation"]
    spent = sum(result.optimal_allocation.values())
    assert abs(spent - result.total_budget) <= 1e-6 * result.total_budget
    assert set(result.response_by_model) == {"in-store", "online"}
    # Shares as percentages (once rounded to one decimal: 0.2, 0.4, 0.2, 0.2).
    assert re.search(r"\nchannel_0 +[\d,.]+ +\d+\.\d%", text)
    _check_figures(figures, ["channel_0", "channel_1"])


def _keep_figures(monkeypatch):
    """Keep the demo's figures (it saves and closes them) for their labels."""
    import hillmix_cli._demo as demo
    from hillmix_opt import AllocationResult

    kept, plot_fit, plot_allocation = {}, demo.plot_fit, AllocationResult.plot
    monkeypatch.setattr(demo, "plot_fit", lambda *a, **k: kept.setdefault("fit", plot_fit(*a, **k)))
    monkeypatch.setattr(
        AllocationResult,
        "plot",
        lambda self, ax=None: kept.setdefault("bars", plot_allocation(self)),
    )
    return kept


def _check_figures(figures, channels):
    curves, forecast = figures["fit"].axes
    figures["fit"].canvas.draw()
    # Which true curve is whose: dotted, in the colour of the channel's fit,
    # with a legend saying so (they were black dotted lines, unlabelled).
    fitted = [line for line in curves.lines if line.get_linestyle() == "-"]
    true = [line for line in curves.lines if line.get_linestyle() == ":"]
    assert [line.get_color() for line in true] == [line.get_color() for line in fitted]
    assert len(true) == len(channels)
    texts = [t.get_text() for t in curves.get_legend().get_texts()]
    assert texts[: len(channels)] == channels and "true curve" in texts
    assert any(t.startswith("fitted") for t in texts)
    # The legend covered a curve: now it sits below the axes, as the forecast's.
    for ax in (curves, forecast):
        assert ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0
    assert forecast.get_xlabel() == "week" and curves.get_xlabel().startswith("spend")
    forecast_texts = [t.get_text() for t in forecast.get_legend().get_texts()]
    assert any(t.startswith("end of fit") for t in forecast_texts)
    # Allocation: room above the tallest bar, and what the responses cover.
    spend, response = figures["bars"]
    assert "13 periods + 7 of carryover" in response.get_ylabel()
    for ax in (spend, response):
        tallest = max(bar.get_y() + bar.get_height() for bar in ax.patches)
        assert tallest <= 0.85 * ax.get_ylim()[1]


def test_cli_entry_points():
    from hillmix_cli import build_parser

    args = build_parser().parse_args(["demo", "--periods", "80"])
    assert args.command == "demo" and args.periods == 80 and callable(main)
    done = subprocess.run(
        [sys.executable, "-m", "hillmix_cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in done.stdout
    # The base package does not import the command line; it names it.
    pointer = subprocess.run([sys.executable, "-m", "hillmix"], capture_output=True, text=True)
    assert pointer.returncode == 2 and "python -m hillmix_cli" in pointer.stderr


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--channels", "1"], "--channels must be an int >= 2"),
        (["--periods", "10"], "--periods must be an int >= 16"),
        (["--draws", "0"], "--draws must be an int >= 1"),
        (["--seed", str(2**32 - 1)], "--seed must be an int in"),
    ],
)
def test_demo_refuses_sizes_it_cannot_run_before_fitting(argv, match, tmp_path, capsys):
    # One channel once ran the whole K=3 fit, then failed in the allocation.
    with pytest.raises(SystemExit):
        main(["demo", "--output", str(tmp_path / "out"), *argv])
    assert match in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="n_channels must be an int >= 2"):
        run_demo(output=tmp_path / "out", n_channels=1)


@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_demo_output_that_cannot_be_a_directory_is_a_usage_error(where, tmp_path, capsys):
    # Both were tracebacks (FileExistsError, NotADirectoryError) after the sizes were checked.
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--output", str(tmp_path / where)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: --output '{tmp_path / where}' cannot be a directory: " in err
    assert f"'{tmp_path / 'file'}' is a file" in err
    with pytest.raises(ValueError, match=r"output .* cannot be a directory"):
        run_demo(output=tmp_path / where)


def test_targeting_generate_data_then_simulate(tmp_path, capsys):
    from hillmix_sim import SimulationResults

    common = ["--iterations", "2", "--users", "400", "--initial_actions", "6", "--no-progress"]
    assert main(["targeting", "generate-data", *common, "--out", str(tmp_path / "data")]) == 0
    assert capsys.readouterr().out.strip() == f"simulation data written to {tmp_path / 'data'}"
    results_dir = tmp_path / "results"
    argv = [
        "targeting",
        "simulate",
        *common,
        "--data_dir",
        str(tmp_path / "data"),
        "--results_dir",
        str(results_dir),
        "--company_strategy",
        "linucb",
        "--pca_components",
        "4",
        "--ground_truth_type",
        "gmm",
        "--observations_format",
        "csv",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "company_reward" in out and str(results_dir) in out
    results = SimulationResults.load(results_dir)
    assert len(results.observations[1]) == 400
    assert results.config["ground_truth"]["class"] == "GMMPreference"


@pytest.mark.parametrize(
    "argv, match",
    [
        (["generate-data", "--users", "0"], "'n_users' parameter"),
        (["generate-data", "--embedder", "openai"], "no OpenAI API key"),
        (["simulate", "--data_dir", "missing"], "not a simulation-data directory"),
        (["simulate", "--pca_components", "0"], "'pca_components' parameter"),
        (["simulate", "--min_utility", "0.5", "--max_utility", "0.1"], "must be below"),
    ],
)
def test_targeting_bad_input_is_a_usage_error(argv, match, tmp_path, capsys, monkeypatch):
    # These were tracebacks with status 1; hillmix sim already answered so.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    small = ["--users", "5", "--iterations", "1", "--initial_actions", "3", "--no-progress"]
    out = ["--out", str(tmp_path / "d")] if argv[0] == "generate-data" else []
    out = out or ["--results_dir", str(tmp_path / "r")]
    assert main(["targeting", argv[0], *small, *argv[1:], *out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hillmix targeting {argv[0]}: error:") and match in err
    assert "Traceback" not in err and not (tmp_path / "d").exists()


def test_targeting_simulate_takes_its_sizes_from_the_data(tmp_path, capsys):
    # Sizes left out come from --data_dir's data (the config once recorded
    # the defaults, 10000 users, for a run on 200); sizes given must agree.
    data = ["--data_dir", str(tmp_path / "data"), "--no-progress", "--pca_components", "3"]
    small = ["--iterations", "2", "--users", "60", "--initial_actions", "4", "--no-progress"]
    assert main(["targeting", "generate-data", *small, "--out", str(tmp_path / "data")]) == 0
    assert main(["targeting", "simulate", *data, "--results_dir", str(tmp_path / "r")]) == 0
    config = json.loads((tmp_path / "r" / "simulation_config.json").read_text())
    assert (config["n_users"], config["n_iterations"], config["n_initial_actions"]) == (60, 2, 4)
    capsys.readouterr()
    argv = ["targeting", "simulate", *data, "--users", "999", "--results_dir", str(tmp_path / "x")]
    assert main(argv) == 2
    assert "--users 999, but the data" in capsys.readouterr().err


def test_targeting_simulate_generates_new_banks(tmp_path, capsys):
    from hillmix_sim import SimulationResults

    results_dir = tmp_path / "r"
    argv = [
        "targeting", "simulate", "--iterations", "2", "--users", "600", "--initial_actions",
        "6", "--action_bank_size", "3", "--action_pool_size", "40", "--reward_model_type",
        "logistic", "--diversity_weight", "0.3", "--no-progress", "--results_dir",
        str(results_dir),
    ]  # fmt: skip
    assert main(argv) == 0
    folder = results_dir / "iteration_0"
    for name in ("algorithm_results.json", "ground_truth_evaluation.json", "new_action_bank.json"):
        assert (folder / name).is_file(), name
    results = SimulationResults.load(results_dir)
    assert len(results.banks[1]) == 3 and results.algorithm_results[0]["pool_size"] == 46
    assert "new_bank_oracle_value" in results.ground_truth_evaluations[0]["proposal"]
    config = results.config["algorithm"]
    assert config["class"] == "ActionBankOptimizer" and config["diversity_weight"] == 0.3


def test_targeting_simulate_refuses_a_bank_larger_than_the_pool(tmp_path, capsys):
    argv = [
        "targeting", "simulate", "--iterations", "1", "--users", "300", "--initial_actions",
        "4", "--action_bank_size", "50", "--action_pool_size", "10", "--reward_model_type",
        "logistic", "--no-progress", "--results_dir", str(tmp_path / "r"),
    ]  # fmt: skip
    assert main(argv) == 2
    assert "pool's size" in capsys.readouterr().err


def test_targeting_choices_match_the_registries():
    from hillmix_cli._targeting import GROUND_TRUTHS, REWARD_MODELS, STRATEGIES
    from hillmix_opt import REWARD_MODELS as registered_models
    from hillmix_opt import STRATEGIES as registered_strategies
    from hillmix_sim.targeting._preferences import GROUND_TRUTHS as registered_truths

    assert set(STRATEGIES) == set(registered_strategies)
    assert set(GROUND_TRUTHS) == set(registered_truths)
    assert list(REWARD_MODELS) == list(registered_models)


_SMALL = ["--users", "40", "--iterations", "1", "--initial_actions", "3", "--no-progress"]


@pytest.mark.parametrize(
    "command, argv, match",
    [
        ("simulate", "--company_strategy random --alpha 2", "--alpha does not apply: the random"),
        ("simulate", "--company_strategy random --pca_components 4", "--pca_components does not"),
        ("simulate", "--company_strategy random --no-use_pca", "--use_pca/--no-use_pca does not"),
        ("simulate", "--company_strategy bootstrap_ensemble --alpha 2", "has no alpha parameter"),
        ("simulate", "--gmm_components 3", "--gmm_components does not apply: the mixture_of_e"),
        ("simulate", "--ground_truth_type linear --density_scale_factor 2", "--density_scale_f"),
        ("simulate", "--diversity_weight 0.3", "--action_bank_size 0 keeps the bank"),
        ("simulate", "--lgb_num_leaves 7", "--action_bank_size 0 keeps the bank"),
        ("simulate", "--action_bank_size 3 --bnn_mc_samples 5", "the bayesian_neural reward model"),
        ("simulate", "--action_bank_size 3 --uncertainty_weight 0.5", "--use_uncertainty"),
        ("compare-rewards", "--models logistic --fusion_type attention", "the ft_transformer"),
        ("compare-rewards", "--company_strategy random --alpha 2", "--alpha does not apply"),
    ],
)
def test_targeting_options_that_do_not_apply_are_usage_errors(
    command, argv, match, tmp_path, capsys
):
    # They were accepted and ignored; make_strategy promises as much for
    # unknown parameters.
    out = ["--results_dir", str(tmp_path / "r")] if command == "simulate" else []
    assert main(["targeting", command, *_SMALL, *argv.split(), *out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hillmix targeting {command}: error:") and match in err, err
    assert not (tmp_path / "r").exists()


def test_targeting_options_given_where_they_apply_are_used(tmp_path, capsys):
    from hillmix_cli._targeting import _DEFAULTS, STRATEGY_PARAMETERS, TRUTH_PARAMETERS
    from hillmix_opt import ActionBankOptimizer, LinUCBStrategy
    from hillmix_sim import GMMPreference

    argv = ["targeting", "simulate", *_SMALL, "--ground_truth_type", "gmm", "--gmm_components"]
    argv += ["3", "--company_strategy", "bootstrap_ensemble", "--no-use_pca"]
    assert main([*argv, "--results_dir", str(tmp_path / "r")]) == 0
    config = json.loads((tmp_path / "r" / "simulation_config.json").read_text())
    assert config["ground_truth"]["n_components"] == 3 and config["strategy"]["use_pca"] is False
    # Options left out take the classes' defaults, which the help shows.
    for options, cls in ((STRATEGY_PARAMETERS, LinUCBStrategy), (TRUTH_PARAMETERS, GMMPreference)):
        params = cls().get_params()
        assert all(_DEFAULTS[option] == params[name] for option, name in options.items())
    params = ActionBankOptimizer().get_params()
    for option in ("action_pool_size", "diversity_weight", "use_uncertainty", "uncertainty_weight"):
        assert _DEFAULTS[option] == params[option]


def test_targeting_embedder_with_data_dir_applies_only_to_new_actions(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["targeting", "generate-data", *_SMALL, "--out", str(data)]) == 0
    argv = ["targeting", "simulate", "--data_dir", str(data), "--no-progress", "--embedder"]
    assert main([*argv, "openai", "--results_dir", str(tmp_path / "r")]) == 2
    assert "--embedder does not apply: the actions of --data_dir" in capsys.readouterr().err


def test_targeting_output_directories_are_named_by_their_option(tmp_path, capsys):
    # generate-data --out said "results_dir ... exists".
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("keep")
    assert main(["targeting", "generate-data", *_SMALL, "--out", str(used)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hillmix targeting generate-data: error: --out {used} exists"), err
    assert main(["targeting", "simulate", *_SMALL, "--results_dir", str(used)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hillmix targeting simulate: error: --results_dir {used} exists"), err
    assert "timestamped" in err and (used / "x").read_text() == "keep"


def test_targeting_simulate_adapts_the_batch_to_a_small_population(tmp_path, capsys):
    # --users 500 with one batch of 1,000 gave one action to 95% of the
    # users and scored below random on the GMM truth, silently.
    from hillmix_sim import SimulationResults

    argv = ["targeting", "simulate", "--users", "500", "--ground_truth_type", "gmm"]
    assert main([*argv, "--no-progress", "--results_dir", str(tmp_path / "r")]) == 0
    results = SimulationResults.load(tmp_path / "r")
    assert results.config["batch_size"] == 50
    last = results.iterations.iloc[-1]
    assert last["expected_reward"] > last["random_reward"] + 0.01, last
    share = results.observations[-1]["action_id"].value_counts(normalize=True).iloc[0]
    assert share < 0.5


def test_compare_rewards_prints_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "table.csv"
    argv = ["targeting", "compare-rewards", "--iterations", "1", "--users", "2000"]
    argv += ["--initial_actions", "6", "--models", "logistic,lightgbm", "--lgb_n_estimators", "30"]
    argv += ["--eval_users", "100", "--candidates", "10", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "logistic" in printed and "candidates" in printed and out.exists()
    table = pd.read_csv(out, index_col=[0, 1])
    assert table.index.tolist() == [
        ("logistic", "bank"), ("logistic", "candidates"),
        ("lightgbm", "bank"), ("lightgbm", "candidates"),
    ]  # fmt: skip
    assert main(argv) == 2  # the table exists: a usage error, before any work
    assert "exists" in capsys.readouterr().err
    assert main([*argv[:-2], "--models", "svm"]) == 2


# ------------------------------------------------------------ hillmix sim
def _sim_generate(out, capsys):
    argv = ["sim", "generate", "--households", "30", "--weeks", "2", "--out", str(out)]
    assert main([*argv, "--batch-size", "20", "--no-progress"]) == 0
    return capsys.readouterr().out


def test_sim_generate_says_what_it_wrote_and_how_to_read_it(tmp_path, capsys):
    # It said only "retail data written to <path>".
    out = tmp_path / "retail"
    written, read = _sim_generate(out, capsys).strip().splitlines()
    tx = pd.read_parquet(out / "transactions", partitioning=None)
    baskets = pd.read_parquet(out / "weekly.parquet")["baskets"].sum()
    assert written == (
        f"retail data written to {out}: 30 households, {len(tx):,} transaction lines "
        f"in {baskets:,} baskets over 2 weeks"
    )
    # The printed read runs as it is, and leaves out the partition key.
    printed = eval(read.removeprefix("read the transactions with "), {"pandas": pd})
    pd.testing.assert_frame_equal(printed, tx)
    assert "batch" not in printed.columns


def test_sim_generate_help_documents_the_layout_and_reads_that_run(tmp_path, capsys):
    import pyarrow.dataset

    out = tmp_path / "retail"
    _sim_generate(out, capsys)
    with pytest.raises(SystemExit):
        main(["sim", "generate", "--help"])
    helptext = capsys.readouterr().out
    for name in ("transactions/batch=", "_weekly", "_done", "_manifest.json", "_SUCCESS"):
        assert name in helptext
    reads = [line.strip() for line in helptext.splitlines() if '"OUT/' in line]
    assert len(reads) == 2
    for line in reads:
        table = eval(line.replace("OUT", str(out)), {"pandas": pd, "pyarrow": pyarrow})
        columns = table.columns if isinstance(table, pd.DataFrame) else table.column_names
        assert "batch" not in list(columns) and len(table) > 0
