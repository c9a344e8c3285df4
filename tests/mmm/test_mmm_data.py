"""MMMDataGenerator: truth, shapes, determinism."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hillmix_sim import MMMDataGenerator, make_mmm_data


@given(st.sampled_from(["single", "mixture_k2", "mixture_k3", "mixture_k5"]), st.integers(0, 2**16))
def test_generator_is_deterministic_and_consistent(dgp, seed):
    X1, y1, t1 = make_mmm_data(dgp=dgp, n_periods=60, n_channels=3, random_state=seed)
    X2, y2, _ = make_mmm_data(dgp=dgp, n_periods=60, n_channels=3, random_state=seed)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    K = {"single": 1, "mixture_k2": 2, "mixture_k3": 3, "mixture_k5": 5}[dgp]
    p = t1.true_params_
    assert p["kappa"].shape == p["n"].shape == p["A"].shape == p["pi"].shape == (3, K)
    np.testing.assert_allclose(p["pi"].sum(1), 1)
    assert np.all(X1.to_numpy() >= 0)
    # Bursty spend: zero weeks exist, and the noise is as asked.
    assert (X1.to_numpy() == 0).mean() > 0.02
    residual = y1.to_numpy() - t1.mean_
    assert 0.5 * p["sigma"] < residual.std() < 1.6 * p["sigma"]
    # What the channels and the trend leave of the noiseless target is the
    # yearly season, bounded by its amplitude.
    season = t1.mean_ - p["intercept"] - p["trend"] - t1.contributions_.to_numpy().sum(axis=1)
    assert np.all(np.abs(season) <= p["seasonality"] + 1e-9)


def test_true_response_is_saturating():
    gen = MMMDataGenerator(dgp="mixture_k3", n_channels=2, random_state=0).fit()
    grid = np.linspace(0, 50_000, 200)
    curve = gen.true_response("channel_0", grid)
    assert curve[0] == 0 and np.all(np.diff(curve) >= 0)
    assert curve[-1] <= gen.true_params_["A"][0].max() + 1e-9


def test_true_response_checks_its_channel_and_spend():
    gen = MMMDataGenerator(dgp="single", n_channels=2, random_state=0).fit()
    by_name = gen.true_response("channel_1", [5.0])
    np.testing.assert_array_equal(gen.true_response(1, [5.0]), by_name)
    with pytest.raises(ValueError, match="out of range for 2 channels"):
        gen.true_response(99, [1.0])  # an IndexError before
    with pytest.raises(ValueError, match="Unknown channel 'tv'"):
        gen.true_response("tv", [1.0])
    for bad in ([np.nan], [-1000.0]):  # a response of 0 before
        with pytest.raises(ValueError, match="finite and non-negative"):
            gen.true_response(0, bad)


def test_spend_plan_given_to_fit():
    plan = np.full((30, 2), 100.0)
    gen = MMMDataGenerator(dgp="single", random_state=0).fit(plan)
    X, _y = gen.generate()
    assert X.shape == (30, 2) and gen.n_features_in_ == 2
    with pytest.raises(ValueError, match="Negative values"):
        MMMDataGenerator().fit(-plan)


@pytest.mark.parametrize("dgp", ["single", "mixture_k3"])
def test_a_channel_never_spent_on_keeps_a_finite_curve_and_the_media_share(dgp):
    # Its amplitude was the others' divided by a zero mean curve floored at
    # 1e-9 (1e11), and the media share it should carry was lost.
    X, _, _ = make_mmm_data(dgp=dgp, n_periods=104, n_channels=3, random_state=0)
    X["channel_2"] = 0.0
    gen = MMMDataGenerator(dgp=dgp, n_channels=3, media_share=0.35, random_state=0).fit(X)
    A = gen.true_params_["A"]
    assert A[2].max() < 3 * A[:2].max()
    media = gen.contributions_.to_numpy().sum(axis=1).mean()
    assert media / gen.mean_.mean() == pytest.approx(0.35, rel=0.1)
