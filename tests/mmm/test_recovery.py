"""Recovery of a known truth, as properties over data-generating processes and seeds.

Each example simulates a short series from :class:`hillmix_sim.MMMDataGenerator`,
fits :class:`hillmix.HillMixtureMMM` on all but the last 20 weeks and checks
the figures a user relies on: convergence, the true adstock retention and
noise scale inside their posterior intervals, calibrated held-out predictive
intervals, and a posterior mean closer to the noiseless truth than the noise.
Channel contributions are not asserted: an always-on channel's level is
confounded with the baseline, and in short series the split follows the
amplitude prior (one example here put three quarters of a channel's true
contribution into the baseline). The full-size
study (4 DGPs x 5 seeds, default settings) is
``benchmarks/validation/recovery.py``; these examples are smaller so the suite
stays fast, and the tolerances are set for their shorter chains.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hillmix import ConvergenceWarning, HillMixtureMMM
from hillmix_sim import MMMDataGenerator

N_PERIODS, N_TEST, N_CHANNELS = 104, 20, 3
SETTINGS = {"num_warmup": 400, "num_samples": 400, "num_chains": 2, "n_components": 2}

pytestmark = pytest.mark.xdist_group("recovery")


def _fit(dgp, seed):
    gen = MMMDataGenerator(
        dgp=dgp, n_periods=N_PERIODS, n_channels=N_CHANNELS, random_state=seed
    ).fit()
    X, y = gen.generate()
    train = slice(None, N_PERIODS - N_TEST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HillMixtureMMM(random_state=seed, **SETTINGS).fit(X.iloc[train], y.iloc[train])
    return gen, X, y, model


def _inside(draws, truth, coverage):
    tail = (1 - coverage) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    return (lower <= truth) & (truth <= upper)


DGPS = st.sampled_from(["single", "mixture_k2", "mixture_k3", "mixture_k5"])
SEEDS = st.integers(0, 2**16)


@settings(max_examples=3)
@given(dgp=DGPS, seed=SEEDS)
def test_converges_and_calibrates_held_out_intervals(dgp, seed):
    gen, X, y, model = _fit(dgp, seed)
    assert model.diagnostics_["max_rhat"] < 1.05

    test = slice(N_PERIODS - N_TEST, None)
    lower, upper = model.predict_interval(X, coverage=0.9)
    covered = np.mean((y.to_numpy()[test] >= lower[test]) & (y.to_numpy()[test] <= upper[test]))
    # 20 held-out weeks: a calibrated 90% interval covers 14 or more with
    # probability above 0.99.
    assert covered >= 0.7

    # The posterior mean tracks the noiseless truth more closely than the
    # noise does: the model has found the signal, not the noise.
    error = model.predict(X) - gen.mean_
    assert np.sqrt(np.mean(error**2)) < gen.true_params_["sigma"]


@settings(max_examples=3)
@given(dgp=DGPS, seed=SEEDS)
def test_recovers_adstock_retention_and_noise_scale(dgp, seed):
    gen, _, _, model = _fit(dgp, seed)
    truth = gen.true_params_
    samples = model.posterior_samples_
    # Tolerances below nominal, on purpose: the generator's segments (Hill
    # exponents up to 4, half-saturation points up to 15x apart) lie in the
    # tails of the default priors on n and on the kappa gaps, and the misfit
    # inflates sigma (true 76.5, posterior median 88.5 on mixture_k2 seed 3)
    # and can move a channel's retention. The recovery study reports the
    # nominal 90% figures; here, at least two channels of three inside their
    # 98% interval, and sigma within a quarter of the truth.
    assert _inside(samples["adstock_alpha"], truth["adstock_alpha"], 0.98).sum() >= 2
    sigma = np.median(samples["sigma"]) * model._fitted.y_scale
    assert abs(sigma / truth["sigma"] - 1) < 0.25
