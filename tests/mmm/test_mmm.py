"""HillMixtureMMM: API contract, scikit-learn composition, errors, persistence."""

import logging
import pickle
import warnings

import numpy as np
import pytest
from _fast_settings import FAST
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from hillmix import ConvergenceWarning, HillMixtureMMM, InferenceError
from hillmix._mmm import _slope_at_zero
from hillmix.utils import double_precision
from hillmix_sim import make_mmm_data


@pytest.fixture(scope="module")
def data():
    X, y, truth = make_mmm_data(dgp="mixture_k2", n_periods=80, n_channels=2, random_state=3)
    return X, y, truth


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return HillMixtureMMM(n_components=2, **FAST).fit(X, y)


def test_fitted_attributes(fitted, data):
    X, _, _ = data
    assert list(fitted.feature_names_in_) == list(X.columns)
    assert fitted.n_features_in_ == 2
    assert set(fitted.diagnostics_) >= {
        "summary",
        "max_rhat",
        "min_ess_bulk",
        "divergences",
        "converged",
    }
    assert fitted.posterior_samples_["A"].shape == (300, 2, 2)
    k = fitted.effective_k_
    assert list(k.index) == list(X.columns)
    assert np.all((k["lower"] >= 1) & (k["upper"] <= 2) & (k["lower"] <= k["mean"]))
    # From the components' shares of the saturation level, which the data
    # identify, not from pi alone, which they do not.
    w = fitted.posterior_samples_["pi"] * fitted.posterior_samples_["A"]
    w /= w.sum(-1, keepdims=True)
    np.testing.assert_allclose(k["mean"], (1 / (w**2).sum(-1)).mean(0))


def test_kappa_is_ordered_within_channels(fitted):
    kappa = fitted.posterior_samples_["kappa"]
    assert np.all(np.diff(kappa, axis=-1) > 0)


def test_predictions_intervals_and_contributions_agree(fitted, data):
    X, y, _ = data
    mean, std = fitted.predict(X, return_std=True)
    lower, upper = fitted.predict_interval(X, coverage=0.9)
    assert mean.shape == std.shape == lower.shape == (80,)
    # Labelled like contributions() for a DataFrame (they were bare arrays);
    # arrays for an array.
    assert (lower.name, upper.name) == ("lower", "upper")
    assert lower.index.equals(X.index) and upper.index.equals(X.index)
    shifted = X.set_axis(X.index + 100)
    assert list(fitted.predict_interval(shifted)[0].index) == list(shifted.index)
    with warnings.catch_warnings():  # fitted with feature names, given none
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        bare = fitted.predict_interval(X.to_numpy(), coverage=0.9)
    assert all(type(bound) is np.ndarray for bound in bare)
    np.testing.assert_array_equal(bare[0], lower.to_numpy())
    assert np.all(lower < mean) and np.all(mean < upper) and np.all(std > 0)
    contrib = fitted.contributions(X)
    means = contrib.xs("mean", axis=1, level=1)
    np.testing.assert_allclose(means.sum(axis=1), mean, rtol=1e-9)
    assert list(means.columns) == ["baseline", *X.columns]
    assert fitted.score(X, y) > 0.8
    draws = fitted.sample_posterior_predictive(X, n_samples=50)
    assert draws.shape == (50, 80)


def test_response_curve_and_marginal_roi(fitted, data):
    _X, _, _ = data
    curve = fitted.response_curve("channel_0")
    assert list(curve.columns) == ["spend", "mean", "lower", "upper", "roi", "marginal_roi"]
    assert curve["mean"].iloc[0] == 0
    assert np.all(np.diff(curve["mean"]) >= -1e-9)
    assert np.all(curve["lower"] <= curve["mean"]) and np.all(curve["mean"] <= curve["upper"])
    # Marginal ROI is the slope of the mean curve.
    slope = np.gradient(curve["mean"], curve["spend"])
    np.testing.assert_allclose(curve["marginal_roi"][5:-5], slope[5:-5], rtol=0.05, atol=1e-3)
    with pytest.raises(ValueError, match="Unknown channel"):
        fitted.response_curve("tv")
    # At zero spend, the one-sided limit of the slope (automatic
    # differentiation gave 0 there): infinite if a draw's exponent is below 1.
    n = fitted.posterior_samples_["n"][:, 0]
    first = fitted.response_curve("channel_0", spend=[0.0, 1.0])["marginal_roi"].iloc[0]
    assert first == (np.inf if np.any(n < 1) else 0.0)
    with double_precision():  # as the estimator's methods run
        params = {k: np.asarray(v) for k, v in fitted._param_draws().items()}
    single = {k: params[k][:, 0] for k in ("A", "n", "kappa", "pi")}
    single["n"] = np.where(np.arange(single["n"].shape[1]) == 0, 1.0, 2.0) + 0 * single["n"]
    expected = single["pi"][:, 0] * single["A"][:, 0] / single["kappa"][:, 0]
    np.testing.assert_allclose(_slope_at_zero(single), expected)
    single["n"] = single["n"] * 0 + 0.5
    assert np.all(_slope_at_zero(single) == np.inf)


def test_media_response_protocol_is_traceable(fitted):
    import jax

    plan = np.full((6, 2), 500.0)
    draws = fitted.media_response(plan, n_draws=40)
    assert draws.shape == (40, 6, 2)
    grad = jax.grad(lambda p: fitted.media_response(p, n_draws=10).sum())(plan)
    assert grad.shape == (6, 2) and np.all(np.isfinite(grad)) and np.all(grad >= 0)


def test_same_seed_same_posterior_bit_for_bit(data):
    X, y, _ = data
    kw = {
        "n_components": 2,
        "num_warmup": 30,
        "num_samples": 30,
        "num_chains": 2,
        "max_tree_depth": 5,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = HillMixtureMMM(random_state=7, **kw).fit(X, y)
        b = HillMixtureMMM(random_state=7, progress=True, **kw).fit(X, y)
        c = HillMixtureMMM(random_state=8, **kw).fit(X, y)
    for name in a.posterior_samples_:
        np.testing.assert_array_equal(a.posterior_samples_[name], b.posterior_samples_[name])
    assert not np.array_equal(a.posterior_samples_["sigma"], c.posterior_samples_["sigma"])


def test_save_load_and_pickle_round_trip(fitted, data, tmp_path):
    X, _, _ = data
    path = tmp_path / "mmm.pkl"
    fitted.save(path)
    loaded = HillMixtureMMM.load(path)
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ValueError, match="not a HillMixtureMMM file"):
        HillMixtureMMM.load(tmp_path / "bad.pkl")


def test_inference_data(fitted):
    idata = fitted.to_inference_data()
    assert idata.posterior["A"].shape[:2] == (2, 150)
    stats = idata.sample_stats
    for name in ("diverging", "acceptance_rate", "step_size", "n_steps", "energy", "lp"):
        assert stats[name].shape == (2, 150), name
    # One step size per chain once warm-up is over, and at least one
    # leapfrog step per draw.
    step = stats["step_size"].values
    assert np.all(step == step[:, :1]) and np.all(step > 0)
    assert stats["n_steps"].values.min() >= 1
    # The Hamiltonian is the potential (-lp) plus a kinetic energy >= 0.
    assert np.all(stats["energy"].values >= -stats["lp"].values)
    assert np.all((stats["acceptance_rate"].values >= 0) & (stats["acceptance_rate"] <= 1))


def test_plots_return_axes(fitted, data):
    import matplotlib.pyplot as plt

    X, _, _ = data
    _, ax = plt.subplots()
    assert fitted.plot_response_curves(ax=ax) is ax
    assert len(ax.lines) == len(fitted.channel_names_)
    _, ax = plt.subplots()
    assert fitted.plot_contributions(X, ax=ax) is ax
    # One stacked area per part, baseline first, topped by the prediction.
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["baseline", *map(str, fitted.channel_names_)]
    assert len(ax.collections) == len(labels)
    top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(fitted.predict(X).max(), rel=1e-9)
    plt.close("all")


def test_clone_pipeline_and_grid_search(data):
    X, y, _ = data
    X = X.assign(price=np.linspace(1, 2, len(X)))
    model = HillMixtureMMM(n_components=1, adstock_max_lag=4, **FAST)
    assert clone(model).get_params() == model.get_params()
    selector = ColumnTransformer([("media", "passthrough", ["channel_0", "channel_1"])]).set_output(
        transform="pandas"
    )
    pipe = make_pipeline(selector, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
        assert pipe.predict(X).shape == (80,)
        search = GridSearchCV(
            HillMixtureMMM(
                adstock_max_lag=4, inference="svi", svi_steps=300, num_samples=100, random_state=0
            ),
            {"n_components": [1, 2]},
            # One time-ordered split: each training size is one more compile.
            cv=[(np.arange(60), np.arange(60, 80))],
        ).fit(X[["channel_0", "channel_1"]], y)
    assert search.best_params_["n_components"] in (1, 2)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def _fit_with_a_control(X, y):
    """A short SVI fit with a temperature control (negative values allowed)."""
    X = X.assign(temperature=np.sin(np.arange(len(X))) * 10 - 3)
    return HillMixtureMMM(
        n_components=1,
        control_columns=["temperature"],
        inference="svi",
        # 200 steps settle at this rate (at 0.01, the ELBO was still rising).
        svi_steps=200,
        svi_learning_rate=0.03,
        num_samples=50,
        random_state=0,
    ).fit(X, y)


def test_controls_are_linear_and_not_spend_and_unspent_channels_are_flagged(data):
    X, y, _ = data
    model = _fit_with_a_control(X, y)
    assert list(model.channel_names_) == ["channel_0", "channel_1"]
    assert list(model.control_names_) == ["temperature"]
    assert list(model.channels_without_spend_) == []
    assert model.posterior_samples_["controls"].shape == (50, 1)
    # A channel never spent on (same shapes, so the compiled program is
    # reused): its response is the prior's alone. Its spend unit was once one
    # currency unit, which put the prior curve's saturation at a single unit
    # of spend, and the allocator funded it as the best channel there was
    # (the allocator's side is in tests/test_allocator.py).
    with pytest.warns(UserWarning, match=r"\['channel_1'\] are zero in every period"):
        model = _fit_with_a_control(X.assign(channel_1=0.0), y)
    assert list(model.channels_without_spend_) == ["channel_1"]
    unit = model._fitted.spend_scale
    assert unit[1] == unit[0] == X["channel_0"][X["channel_0"] > 0].mean()


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda X, y: (X.assign(channel_0=np.nan), y), "NaN"),
        (lambda X, y: (X.assign(channel_0=np.inf), y), "infinity"),
        (lambda X, y: (X.assign(channel_0=-X["channel_0"] - 1), y), "Negative values.*channel_0"),
        (lambda X, y: (X.iloc[:5], y.iloc[:5]), "at least 9 periods.*adstock_max_lag=8"),
        (lambda X, y: (X, y * 0 + 3), "y is constant"),
        (lambda X, y: (X.assign(channel_0="a"), y), "non-numeric.*channel_0"),
        (lambda X, y: (X * 0, y), "Every spend column of X is zero"),
    ],
)
def test_bad_input_raises_before_any_work(data, mutate, match):
    X, y, _ = data
    model = HillMixtureMMM(num_warmup=5, num_samples=5)
    with pytest.raises(ValueError, match=match):
        model.fit(*mutate(X.copy(), y.copy()))
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(model))


def test_unknown_prior_and_bad_parameters(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"Unknown prior name.*sigma_log_B"):
        HillMixtureMMM(priors={"sigma_log_B": 1}).fit(X, y)
    with pytest.raises(ValueError, match="n_components"):
        HillMixtureMMM(n_components=0).fit(X, y)
    with pytest.raises(ValueError, match="inference"):
        HillMixtureMMM(inference="advi").fit(X, y)


def test_predict_time_columns_must_match_fit(fitted, data):
    X, _, _ = data
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(X.rename(columns={"channel_1": "tv"}))
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(X[["channel_0"]])


def test_convergence_warning_on_too_short_chains(data):
    X, y, _ = data
    with pytest.warns(ConvergenceWarning, match="R-hat"):
        model = HillMixtureMMM(num_warmup=10, num_samples=10, num_chains=2, random_state=0)
        model.fit(X, y)
    assert model.diagnostics_["converged"] is False


def _issue_svi(learning_rate):
    """The SVI fit of issue 25: NaN at learning rate 10, unsettled at 1."""
    X, y, _ = make_mmm_data(n_periods=40, n_channels=2, random_state=0)
    model = HillMixtureMMM(
        n_components=2,
        adstock_max_lag=3,
        inference="svi",
        svi_steps=150,
        num_samples=30,
        svi_learning_rate=learning_rate,
        random_state=0,
    )
    return model, X, y


def test_svi_that_diverges_raises_and_names_the_learning_rate():
    # It returned NaN predictions, curves and effective_k_, and no warning.
    model, X, y = _issue_svi(10.0)
    with pytest.raises(InferenceError, match=r"non-finite at step \d+.*lower svi_learning_rate"):
        model.fit(X, y)
    assert not hasattr(model, "posterior_samples_") and not hasattr(model, "n_features_in_")


def test_svi_that_does_not_settle_warns():
    # At learning rate 1 the guide still jumps by many posterior standard
    # deviations at the end, and no warning said so; NUTS warns.
    model, X, y = _issue_svi(1.0)
    with pytest.warns(ConvergenceWarning, match="SVI fit did not converge"):
        model.fit(X, y)
    assert model.diagnostics_["drift"] > 2 and not model.diagnostics_["converged"]
    assert np.all(np.isfinite(model.predict(X)))
    # At the default rate the guide's steps are small, but 150 of them leave
    # the ELBO still rising (same program: the rate is an argument).
    model, X, y = _issue_svi(0.01)
    with pytest.warns(ConvergenceWarning, match="more svi_steps"):
        model.fit(X, y)
    assert model.diagnostics_["elbo_trend"] > 1 and model.diagnostics_["drift"] <= 2
    # Settled fits pass without a warning: the control test above and the
    # doctests fit under the pytest configuration that makes warnings errors.


def test_auto_target_samples_again_after_divergences(data, monkeypatch):
    # "auto" answers divergent transitions with a second run at half the
    # rejection rate and keeps only its draws; a numeric target is kept.
    import hillmix._mmm as mmm_module

    X, y, _ = data
    real, calls, returned = mmm_module.run_nuts, [], []
    diverge = [True]  # whether the first run is made to diverge

    def diverging_at_first(*args, **kwargs):
        samples, stats = real(*args, **kwargs)
        calls.append(kwargs["target_accept"])
        stats["diverging"] = stats["diverging"].copy()
        stats["diverging"][:] = False  # short chains: only the runs asked for diverge
        if len(calls) == 1 and diverge[0]:
            stats["diverging"][0, 0] = True
        returned.append((samples, stats))
        return samples, stats

    monkeypatch.setattr(mmm_module, "run_nuts", diverging_at_first)
    auto = {**FAST, "target_accept": "auto"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        model = HillMixtureMMM(n_components=2, **auto).fit(X, y)
    assert calls == [0.99, pytest.approx(0.995)]
    # The second run's draws and statistics are the ones kept.
    assert model.posterior_samples_ is returned[1][0]
    assert model._sample_stats is returned[1][1]
    d = model.diagnostics_
    assert d["target_accept"] == pytest.approx(0.995)
    assert (d["divergences"], d["first_run_divergences"]) == (0, 1)

    # No divergence, no second run.
    calls.clear(), returned.clear()
    diverge[0] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HillMixtureMMM(n_components=2, **auto).fit(X, y)
    assert calls == [0.99] and model.diagnostics_["target_accept"] == 0.99

    # A numeric target is kept, divergences or not.
    calls.clear(), returned.clear()
    diverge[0] = True
    with pytest.warns(ConvergenceWarning):
        model = HillMixtureMMM(n_components=2, **FAST).fit(X, y)
    assert calls == [FAST["target_accept"]]
    assert model.diagnostics_["divergences"] == 1
    assert model.diagnostics_["target_accept"] == FAST["target_accept"]


_CACHE_PROBE = """
import json, os, sys
import jax, jax.numpy as jnp
jnp.ones(3).sum()  # JAX has compiled before hillmix looks at its cache
from hillmix import _jax_setup
seen, sizes = [], []
for setting in json.loads(sys.argv[1]):
    _jax_setup._default_cache_checked = False
    jax.config.update("jax_compilation_cache_dir", None)
    jax.config.update("jax_compilation_cache_max_size", -1)
    os.environ.pop("HILLMIX_COMPILATION_CACHE", None)
    if setting is not None:
        os.environ["HILLMIX_COMPILATION_CACHE"] = setting
    _jax_setup.default_compilation_cache()
    seen.append(jax.config.jax_compilation_cache_dir)
    sizes.append(jax.config.jax_compilation_cache_max_size)
print(json.dumps([seen, sizes]))
"""


def test_samplers_use_a_disk_cache_unless_told_otherwise(tmp_path):
    # In a fresh process (this one has the suite's cache): the default
    # directory under HOME, the environment's directory, or none when opted out.
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "HILLMIX_COMPILATION_CACHE"}
    env["HOME"] = str(tmp_path / "home")
    custom = str(tmp_path / "custom")
    # An entry an unbounded writer left, without the access time that JAX's
    # eviction reads.
    untimed = tmp_path / "untimed"
    untimed.mkdir()
    (untimed / "jit_f-0123-cache").write_bytes(b"")
    settings = [None, "0", "off", custom, str(untimed)]
    out = subprocess.run(
        [sys.executable, "-c", _CACHE_PROBE, json.dumps(settings)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    home = str(tmp_path / "home" / ".cache" / "hillmix" / "jax")
    seen, sizes = json.loads(out)
    assert seen == [home, None, None, custom, str(untimed)]
    assert sizes == [2**30, -1, -1, 2**30, 2**30]  # bounded, and locked for parallel fits
    # The old entry got an access time, so eviction can read it.
    assert (untimed / "jit_f-0123-atime").read_bytes() != b""
    assert os.path.isdir(home) and os.path.isdir(custom)


_UNTIMED_PROBE = """
import os, sys, warnings
import jax, jax.numpy as jnp
import hillmix
from hillmix import _jax_setup
os.environ["HILLMIX_COMPILATION_CACHE"] = sys.argv[2]
_jax_setup.default_compilation_cache()  # as at the first fit: bounded
hillmix.enable_compilation_cache(sys.argv[1])
with warnings.catch_warnings():
    warnings.simplefilter("error")  # JAX only warns when a write fails
    jax.jit(lambda x: x * 2.0 + 1.0)(jnp.ones(3)).block_until_ready()
print(sorted(os.listdir(sys.argv[1])), jax.config.jax_compilation_cache_max_size)
"""


def test_compilation_cache_times_entries_written_unbounded(tmp_path):
    # A bounded cache over an entry without an access time would fail every
    # write (a warning each, and nothing kept); enable_compilation_cache
    # bounds the cache, as the first fit does.
    import subprocess
    import sys

    untimed = tmp_path / "untimed"
    untimed.mkdir()
    (untimed / "jit_old-0123-cache").write_bytes(b"")
    out = subprocess.run(
        [sys.executable, "-c", _UNTIMED_PROBE, str(untimed), str(tmp_path / "default")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "jit__lambda" in out and "jit_old-0123-atime" in out
    assert out.split()[-1] == str(2**30)


def _short_nuts(model, *, draws, num_chains, **settings):
    """``run_nuts`` on a toy model taking one argument, 1.0; ``settings`` override."""
    import jax

    from hillmix._inference import run_nuts
    from hillmix.utils import double_precision

    settings = {
        "num_warmup": draws,
        "num_samples": draws,
        "target_accept": 0.8,
        "dense_mass": False,
        **settings,
    }
    with double_precision():  # as HillMixtureMMM runs it
        return run_nuts(model, (1.0,), jax.random.PRNGKey(0), num_chains=num_chains, **settings)


def _scaled_gaussian(dims):
    """A toy model for ``_short_nuts``: independent normals of scales 1 to ``dims``."""
    import jax
    import numpyro
    import numpyro.distributions as dist

    def gaussian(scale):
        numpyro.sample("x", dist.Normal(0.0, scale * jax.numpy.arange(1.0, dims + 1.0)).to_event(1))

    return gaussian


def test_nuts_samples_at_its_target_whatever_the_warm_up_target():
    # Burn-in and the windows that estimate the mass matrix may tune the step
    # size for a lower acceptance; the end of warm-up must retune it for
    # target_accept, which the draws then show.
    gaussian = _scaled_gaussian(10)

    def run(warmup_target, num_warmup=400):
        return _short_nuts(
            gaussian,
            draws=400,
            num_chains=2,
            num_warmup=num_warmup,
            target_accept=0.95,
            warmup_target_accept=warmup_target,
        )

    (low_draws, low), (same_draws, same) = run(0.5), run(0.95)
    assert low["acceptance_rate"].shape == (2, 400)
    # The warm-up target is used: the chains differ.
    assert not np.array_equal(low_draws["x"], same_draws["x"])
    assert low["acceptance_rate"].mean() > 0.92 and same["acceptance_rate"].mean() > 0.92
    # Steps tuned for the same target, within dual averaging's noise.
    np.testing.assert_allclose(low["step_size"][:, 0], same["step_size"][:, 0], rtol=0.3)
    # A warm-up too short to retune before its last window keeps the target
    # throughout: the same chains whatever the warm-up target.
    short_low, short_same = run(0.5, num_warmup=30)[0], run(0.95, num_warmup=30)[0]
    np.testing.assert_array_equal(short_low["x"], short_same["x"])


def test_nuts_compiles_once_for_every_target():
    # The targets are arguments of the compiled program: a refit at another
    # target (the "auto" rerun after divergences) reuses it.
    from hillmix._inference import _RUNNERS

    gaussian = _scaled_gaussian(5)
    key = "test-targets-are-arguments"
    low = _short_nuts(gaussian, draws=300, num_chains=1, target_accept=0.6, cache_key=key)[1]
    high = _short_nuts(gaussian, draws=300, num_chains=1, target_accept=0.95, cache_key=key)[1]
    (runners,) = [runner for k, runner in _RUNNERS._store.items() if k[1] == key]
    init, advance, _ = runners
    assert init._cache_size() == 1 and advance._cache_size() == 1  # compiled once
    # Each target tuned its own step size.
    assert low["step_size"][0, 0] > 1.5 * high["step_size"][0, 0]


def test_nuts_compiles_its_programs_side_by_side(monkeypatch):
    # A cold fit's first seconds are XLA compiling; the three programs
    # compile in worker threads, each while the next is traced, and the
    # calls then find them compiled.
    import threading

    import jax
    import numpyro
    import numpyro.distributions as dist

    compiled_in = []
    compile_program = jax.stages.Lowered.compile

    def recording(self, *args, **kwargs):
        compiled_in.append(threading.current_thread() is threading.main_thread())
        return compile_program(self, *args, **kwargs)

    monkeypatch.setattr(jax.stages.Lowered, "compile", recording)

    def toy(scale):
        numpyro.sample("x", dist.Normal(0.0, scale).expand([2]).to_event(1))

    _short_nuts(toy, draws=20, num_chains=2)
    assert compiled_in == [False, False, False]


def test_nuts_refuses_a_model_with_no_finite_start():
    # A model whose log density is -inf everywhere: the sampler must say so
    # instead of running chains that never move.
    import jax
    import numpyro
    import numpyro.distributions as dist

    def hopeless(x):
        numpyro.sample("b", dist.Normal(0.0, 1.0))
        numpyro.factor("impossible", -jax.numpy.inf * x)

    with pytest.raises(ValueError, match="no start with a finite log density"):
        _short_nuts(hopeless, draws=5, num_chains=1)


def test_nuts_redraws_only_the_chains_whose_start_is_not_finite():
    # Finite only where both coordinates exceed 0.6: about one uniform start
    # in 25 is, so redrawing all chains together would rarely find one for
    # every chain at once.
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def corner(scale):
        x = numpyro.sample("x", dist.Normal(0.0, scale).expand([2]).to_event(1))
        numpyro.factor("corner", jnp.where(jnp.all(x > 0.6), 0.0, -jnp.inf))

    samples, _ = _short_nuts(corner, draws=20, num_chains=4)
    assert samples["x"].shape == (80, 2)
    assert np.all(samples["x"] > 0.6)


def test_nuts_compiles_each_of_its_programs_once(caplog):
    # Initialisation, iterations, draws: three programs. The iterations'
    # first call must see its state laid out over the devices as later
    # calls do, or it compiles a second time (seconds for a real model).
    import jax
    import numpyro
    import numpyro.distributions as dist

    def toy(scale):
        numpyro.sample("x", dist.Normal(0.0, scale).expand([3]).to_event(1))

    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        _short_nuts(toy, draws=50, num_chains=2)
    messages = [record.getMessage() for record in caplog.records]
    compiles = [m for m in messages if "Compiling jit(in_turn)" in m]
    assert len(compiles) == 3, compiles
