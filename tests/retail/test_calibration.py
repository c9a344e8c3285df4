"""SimulatorCalibrator: errors before any trial, reproducibility, storages, presets, plots, CLI."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution

from hillmix_cli import main
from hillmix_sim import RetailSimulator, make_retail_data
from hillmix_sim.retail import SEARCH_SPACES, SimulatorCalibrator, _calibration, plot_calibration
from hillmix_sim.retail._search_spaces import decode_params, encode_params, resolve_search_space
from hillmix_sim.retail._traits import check_trait

ROOT = Path(__file__).resolve().parents[2]
TINY = {"n_products": 60, "n_categories": 6, "n_stores": 3}


@pytest.fixture(scope="module")
def reference():
    data, _ = make_retail_data(n_households=40, n_weeks=4, random_state=1, **TINY)
    return data.transactions


def calibrator(**params):
    return SimulatorCalibrator(RetailSimulator(**TINY), **{
        "search_space": "tier1", "n_trials": 3, "random_state": 0, **params})


@pytest.fixture
def no_trials(monkeypatch):
    """Fail the test if anything is simulated."""

    def boom(*args, **kwargs):
        raise AssertionError("a trial ran")

    monkeypatch.setattr(_calibration, "_simulate_columns", boom)


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda t: t.drop(columns=["basket_id", "day"]), ValueError, r"\['basket_id', 'day'\]"),
        (lambda t: t.assign(quantity=t["quantity"].astype(float)), TypeError, "'quantity'"),
        (lambda t: t.assign(on_display=t["on_display"].astype(int)), TypeError, "'on_display'"),
        (lambda t: t.iloc[:0], ValueError, "no rows"),
        (lambda t: t.to_numpy(), TypeError, "DataFrame"),
    ],
)
def test_bad_reference_fails_before_any_trial(reference, no_trials, change, error, match):
    with pytest.raises(error, match=match):
        calibrator().fit(change(reference))


@pytest.mark.parametrize(
    ("space", "error", "match"),
    [
        ("tier4", ValueError, "search_space"),
        ({"visit_rat__mu": FloatDistribution(0, 1)}, ValueError, "no parameter 'visit_rat'"),
        ({"visit_rate__a": FloatDistribution(0, 1)}, ValueError, "lognormal trait"),
        ({"channels": FloatDistribution(0, 1)}, ValueError, "not a number"),
        ({"promo_frequency": (0, 1)}, TypeError, "optuna distribution"),
        ({"promo_frequency": FloatDistribution(0.5, 2.0)}, ValueError, "promo_frequency"),
    ],
)
def test_bad_search_space_fails_before_any_trial(reference, no_trials, space, error, match):
    with pytest.raises(error, match=match):
        calibrator(search_space=space).fit(reference)


def test_unknown_metric_fails_before_any_trial(reference, no_trials):
    with pytest.raises(ValueError, match="Unknown metric"):
        calibrator(metrics=["basket_size"]).fit(reference)


@pytest.mark.parametrize("name", sorted(SEARCH_SPACES))
def test_search_spaces_stay_in_trait_domains(name):
    """Every corner of a named space is a valid simulator (bounds within each trait's domain)."""
    sim = RetailSimulator()
    space = resolve_search_space(name, sim)
    for corner in ("low", "high"):
        values = {k: getattr(d, corner) for k, d in space.items()}
        params = decode_params(values, sim, name)
        for trait, spec in params.items():
            if isinstance(spec, tuple):
                check_trait(trait, spec)
        RetailSimulator(**{**TINY, "n_households": 5, "random_state": 0, **params}).fit()
    # Probabilities stay probabilities.
    for trait in ("store_loyalty", "online_share", "coupon_usage", "tpr_depth"):
        for key in (f"{trait}__lo", f"{trait}__hi"):
            if key in space:
                assert 0 <= space[key].low <= space[key].high <= 1
    for key in ("promo_frequency", "display_share", "mailer_share"):
        if key in space:
            assert 0 <= space[key].low <= space[key].high <= 1


def test_encode_decode_round_trip():
    sim = RetailSimulator()
    space = resolve_search_space("tier3", sim)
    values = encode_params(sim, space, "tier3")
    params = decode_params(values, sim, "tier3")
    assert params["visit_rate"] == pytest.approx(sim.visit_rate)
    assert params["promo_frequency"] == sim.promo_frequency


# --------------------------------------------------------------- results
def test_fit_reports_held_out_households_and_is_reproducible(reference):
    a = calibrator().fit(reference)
    b = calibrator().fit(reference)
    assert a.best_params_ == b.best_params_
    assert set(a.calibration_households_).isdisjoint(a.held_out_households_)
    assert a.best_estimator_.n_households == a.held_out_households_.size
    report = a.calibration_report_
    assert list(report.columns) == ["kind", "real_mean", "initial", "calibration", "held_out",
                                    "simulated_mean", "description"]
    assert report["held_out"].drop(index="online_share", errors="ignore").between(0, 1).all()
    assert {"harmonic_held_out", "mean_held_out"} <= set(report.attrs)
    # The starting parameters are the first trial, so the best is no worse.
    assert a.study_.trials[0].params == pytest.approx(
        encode_params(a.estimator, a.search_space_, "tier1"))
    assert a.best_score_ >= a.study_.trials[0].value
    # Another seed proposes other parameters (the best may still be the start).
    c = calibrator(random_state=1).fit(reference)
    assert [t.params for t in c.study_.trials[1:]] != [t.params for t in a.study_.trials[1:]]


def test_plot_calibration_returns_the_axes(reference):
    cal = calibrator(n_trials=1).fit(reference)
    axes = plot_calibration(cal)
    assert axes.size >= len(cal.metrics_)
    _, own = plt.subplots(1, 2)
    assert plot_calibration(cal, ["lines_per_basket", "basket_revenue"], axes=own) is own
    with pytest.raises(ValueError, match="panel"):
        plot_calibration(cal, axes=own)
    plt.close("all")


def test_fit_refuses_transactions(reference):
    with pytest.raises(TypeError, match="SimulatorCalibrator"):
        RetailSimulator(**TINY).fit(reference)


# -------------------------------------------------------------- storages
WORKER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from hillmix_sim import RetailSimulator
    from hillmix_sim.retail import SimulatorCalibrator
    reference = pd.read_parquet(sys.argv[1])
    SimulatorCalibrator(
        RetailSimulator(n_products=60, n_categories=6, n_stores=3), search_space="tier1",
        n_trials=int(sys.argv[4]), storage=sys.argv[2], study_name=sys.argv[3], random_state=0,
    ).fit(reference)
    """
)


def _worker(tmp_path, reference, storage, name, n_trials):
    path = tmp_path / "reference.parquet"
    if not path.exists():
        reference.to_parquet(path)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    log = tempfile.TemporaryFile(dir=tmp_path)  # noqa: SIM115 (closed by _finish)
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), storage, name, str(n_trials)],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )
    proc.log = log
    return proc


def _finish(proc, timeout=None):
    """Wait for a worker; its exit status and stderr."""
    proc.wait(timeout=timeout)
    proc.log.seek(0)
    err = proc.log.read().decode(errors="replace")
    proc.log.close()
    return proc.returncode, err


def _complete(study):
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


@pytest.mark.slow
def test_sqlite_study_resumes_after_sigkill(tmp_path, reference):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    proc = _worker(tmp_path, reference, storage, "resume", 400)
    deadline = time.monotonic() + 120
    study = None
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="resume", storage=storage)
        except KeyError:
            continue
        if len(_complete(study)) >= 3:
            break
    assert proc.poll() is None, _finish(proc)
    os.kill(proc.pid, signal.SIGKILL)
    assert _finish(proc)[0] == -signal.SIGKILL
    before = {t.number: (t.params, t.value) for t in _complete(
        optuna.load_study(study_name="resume", storage=storage))}
    assert len(before) >= 3
    n_total = len(before) + 2
    resumed = calibrator(n_trials=n_total, storage=storage, study_name="resume").fit(reference)
    after = {t.number: (t.params, t.value) for t in _complete(resumed.study_)}
    assert len(after) == n_total
    for number, (params, value) in before.items():
        assert after[number] == (params, value)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on 127.0.0.1, stopped after the module."""
    pytest.importorskip("psycopg2", reason="needs psycopg2-binary (the dev extra)")
    # Debian keeps the server binaries out of PATH, one folder per major version.
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                       key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    found = str(installed[-1]) if installed else shutil.which("initdb")
    if not found:
        pytest.skip("PostgreSQL server binaries (Debian package postgresql) not installed")
    bindir = Path(found).parent
    prefix = []
    if os.geteuid() == 0:
        # The server refuses to run as root: run it as the postgres user, or nobody.
        user = "postgres" if _user_exists("postgres") else "nobody"
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        prefix = ["runuser", "-u", user, "--"]
    root = Path(tempfile.mkdtemp(prefix="hillmix-pg-"))
    if prefix:
        shutil.chown(root, user=prefix[2])
    data, port = root / "data", _free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "hillmix", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(root / "log"), "-o", f"-p {port} -h 127.0.0.1 -k {root} -F", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://hillmix@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(name):
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.mark.slow
def test_two_workers_share_a_postgresql_study(tmp_path, reference, postgres_url):
    n_trials = 8
    workers = [_worker(tmp_path, reference, postgres_url, "shared", n_trials) for _ in range(2)]
    for proc in workers:
        status, err = _finish(proc, timeout=300)
        assert status == 0, err
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    trials = study.trials
    # Every trial finished, once, by one worker; both workers took part.
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert n_trials <= len(trials) <= n_trials + 1
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)


# ------------------------------------------------------------------- CLI
def test_cli_calibrate_writes_a_preset(tmp_path, reference, capsys):
    path = tmp_path / "reference.parquet"
    reference.to_parquet(path)
    start = tmp_path / "start.json"
    start.write_text(json.dumps({"params": {**TINY}}))
    out = tmp_path / "preset.json"
    status = main(["sim", "calibrate", "--trials", "2", "--search-space", "tier1",
                   "--reference", str(path), "--start", str(start), "--out", str(out),
                   "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "harmonic score" in printed and "lines_per_basket" in printed
    preset = json.loads(out.read_text())
    assert preset["provenance"]["n_trials"] == 2
    assert preset["provenance"]["command"].startswith("hillmix sim calibrate --trials 2")
    sim = RetailSimulator.from_preset(out, n_households=5, random_state=0).fit()
    assert sim.n_stores == TINY["n_stores"]
    assert main(["sim", "calibrate", "--search-space", "tier1", "--reference",
                 str(tmp_path / "missing.parquet"), "--out", str(out), "--no-progress"]) == 2


# ---------------------------------------------------------- the preset
def test_shipped_preset_records_how_it_was_made():
    from hillmix_sim.retail._presets import load_preset

    preset = load_preset("complete_journey")
    provenance = preset["provenance"]
    assert provenance["command"].startswith("hillmix sim calibrate")
    assert provenance["n_trials"] >= 1 and provenance["score"]
    sim = RetailSimulator.from_preset("complete_journey", n_households=3, random_state=0)
    assert sim.fit().generate(n_weeks=2).transactions.shape[0] > 0
    with pytest.raises(ValueError, match="Unknown preset"):
        RetailSimulator.from_preset("no_such_preset")


def _held_out_report(complete_journey):
    from hillmix_sim.metrics import compare
    from hillmix_sim.retail._presets import load_preset

    preset = load_preset("complete_journey")
    held_out = np.asarray(preset["held_out_households"])
    tx = complete_journey.transactions
    real = tx[tx["household_id"].isin(held_out)]
    sim = RetailSimulator.from_preset(
        "complete_journey", n_households=held_out.size, random_state=2024
    ).fit()
    simulated = _calibration.simulate_transactions(sim, complete_journey.n_weeks)
    report = compare(real, simulated, n_weeks=complete_journey.n_weeks)
    return report.loc[report["kind"] == "1-KS", "similarity"]


@pytest.mark.xdist_group("complete_journey")
def test_preset_on_held_out_households(complete_journey):
    """The shipped preset on households the search never saw (a fresh simulation seed)."""
    ks = _held_out_report(complete_journey)
    # Issue 21's bar: every 1 - KS at least 0.85, their mean at least 0.90.
    assert (ks >= 0.85).all(), ks
    assert ks.mean() >= 0.90, ks
