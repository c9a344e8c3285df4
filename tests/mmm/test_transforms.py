"""Invariants of adstock and Hill curves, checked over random inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hillmix import geometric_adstock, geometric_adstock_weights, hill, hill_mixture, lag_stack
from hillmix._model import lags_innermost, media_contributions
from hillmix._saturation import summed_hill_curves
from hillmix.utils import double_precision


@pytest.fixture(autouse=True)
def _in_double_precision():
    # The transforms follow JAX's precision; the estimators call them in
    # double precision, which these tests check against NumPy's.
    with double_precision():
        yield


spend = arrays(
    np.float64,
    st.tuples(st.integers(1, 40), st.integers(1, 4)),
    elements=st.floats(0, 1e4, allow_nan=False),
)


@given(spend, st.floats(0, 0.95), st.integers(1, 10))
def test_adstock_conserves_mass(X, alpha, max_lag):
    # Normalised weights redistribute spend over time without creating or
    # losing any: with max_lag - 1 zero periods appended, totals match.
    padded = np.vstack([X, np.zeros((max_lag - 1, X.shape[1]))])
    alphas = np.full(X.shape[1], alpha)
    out = np.asarray(geometric_adstock(padded, alphas, max_lag))
    np.testing.assert_allclose(out.sum(0), X.sum(0), rtol=1e-9, atol=1e-6)
    assert np.all(out >= 0)


@given(spend, st.floats(0, 0.95), st.integers(1, 10))
def test_adstock_matches_lag_stack_contraction(X, alpha, max_lag):
    weights = np.asarray(geometric_adstock_weights(np.full(X.shape[1], alpha), max_lag))
    expected = np.einsum("ltc,lc->tc", lag_stack(X, max_lag), weights)
    out = np.asarray(geometric_adstock(X, np.full(X.shape[1], alpha), max_lag))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-9)


def test_adstock_steady_state_is_the_spend():
    X = np.full((30, 2), 7.0)
    out = np.asarray(geometric_adstock(X, np.array([0.3, 0.8]), 8))
    np.testing.assert_allclose(out[7:], 7.0)


@given(
    st.floats(1e-3, 1e3),
    st.floats(0.2, 6.0),
    arrays(np.float64, 20, elements=st.floats(0, 1e4)),
)
def test_hill_is_monotone_and_bounded(kappa, n, x):
    x = np.sort(x)
    h = np.asarray(hill(x, kappa, n))
    assert np.all((h >= 0) & (h < 1 + 1e-12))
    assert np.all(np.diff(h) >= -1e-12)
    np.testing.assert_allclose(np.asarray(hill(kappa, kappa, n)), 0.5, rtol=1e-9)


@given(st.integers(1, 5), st.integers(0, 2**16))
def test_hill_mixture_is_bounded_by_its_amplitudes(k, seed):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(k))
    A, kappa, n = rng.uniform(0.1, 5, k), rng.uniform(0.1, 5, k), rng.uniform(0.3, 4, k)
    x = np.linspace(0, 1e4, 200)
    f = np.asarray(hill_mixture(x, pi, A, kappa, n))
    assert np.all(np.diff(f) >= -1e-12)
    assert f[0] == 0 and f[-1] <= np.sum(pi * A) + 1e-12


def test_hill_gradient_is_finite_at_zero():
    g = jax.grad(lambda x: hill(x, 1.0, 2.0))(0.0)
    assert np.isfinite(g)


def _plain_summed_curves(x, scale, kappa, n):
    return jnp.sum(scale * hill(x, kappa, n), axis=0)


@given(st.integers(1, 4), st.integers(0, 2**16))
def test_summed_hill_curves_derivatives_match_autodiff(k, seed):
    # The hand-written derivative rule against JAX's differentiation of the
    # plain form, both modes, zero-spend periods included.
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 1.0, (3, 12)) * (rng.random((3, 12)) > 0.3)
    args = (x, *(rng.uniform(lo, hi, (k, 3, 1)) for lo, hi in [(0.1, 3), (0.2, 4), (0.3, 5)]))
    np.testing.assert_allclose(summed_hill_curves(*args), _plain_summed_curves(*args), rtol=1e-12)

    def loss(f):
        return lambda *a: jnp.sum(jnp.sin(3 * f(*a)))

    argnums = tuple(range(4))
    fast = jax.grad(loss(summed_hill_curves), argnums)(*args)
    plain = jax.grad(loss(_plain_summed_curves), argnums)(*args)
    for got, want in zip(fast, plain, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    tangents = tuple(rng.normal(size=np.shape(a)) for a in args)
    _, fast = jax.jvp(summed_hill_curves, args, tangents)
    _, plain = jax.jvp(_plain_summed_curves, args, tangents)
    np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-12)


def test_adstock_weights_keep_single_precision_and_zero_retention():
    weights = geometric_adstock_weights(np.array([0.0, 0.5], np.float32), 3, normalize=False)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights, [[1, 1], [0, 0.5], [0, 0.25]])
    # d alpha**l / d alpha at zero retention: 1 for l = 1, 0 after.
    slopes = jax.jacfwd(lambda a: geometric_adstock_weights(a, 4, normalize=False))(0.0)
    np.testing.assert_array_equal(slopes, [0, 1, 0, 0])
    grad = jax.grad(lambda a: geometric_adstock_weights(a, 4, normalize=False)[1])
    assert grad(0.0) == 1.0 and grad(0.5) == 1.0
    assert np.isnan(geometric_adstock_weights(np.nan, 3)).all()


def test_curves_take_lists():
    np.testing.assert_allclose(hill([1.0, 2.0], 1.0, 2.0), [0.5, 0.8])
    assert geometric_adstock(np.ones((4, 2)), [0.5, 0.2], 3).shape == (4, 2)


def _random_mixture(rng, n_channels, n_components):
    """Hill-mixture parameters of ``media_contributions``, adstock aside."""
    shape = (n_channels, n_components)
    return {
        "pi": rng.dirichlet(np.ones(n_components), n_channels),
        "A": rng.uniform(0.2, 3, shape),
        "kappa": np.sort(rng.uniform(0.2, 3, shape), axis=1),
        "n": rng.uniform(0.5, 4, shape),
    }


def test_media_contributions_lay_lags_innermost():
    # As many channels as lags, so that a stack in the wrong layout would
    # not fail on shapes: the values must match adstock then Hill curves.
    rng = np.random.default_rng(1)
    spend = rng.gamma(1.0, 1.0, (30, 4))
    params = {**_random_mixture(rng, 4, 2), "adstock_alpha": np.array([0.1, 0.4, 0.6, 0.8])}
    adstocked = np.asarray(geometric_adstock(spend, params["adstock_alpha"], 4))
    expected = np.stack(
        [
            hill_mixture(
                adstocked[:, c], params["pi"][c], params["A"][c], params["kappa"][c], params["n"][c]
            )
            for c in range(4)
        ],
        axis=1,
    )
    got = media_contributions(params, lags_innermost(lag_stack(spend, 4)))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "log_kappa, log_n", [(-100.0, 0.0), (100.0, 0.0), (0.0, 100.0), (0.0, -100.0)]
)
def test_single_precision_media_gradient_stays_finite_far_out(log_kappa, log_n):
    # Beyond exp(88) single precision overflows; the curves are flat there
    # and their gradient must be zero, not NaN from 0 * inf.
    rng = np.random.default_rng(2)
    lags = lags_innermost(lag_stack(rng.gamma(1.0, 1.0, (20, 2)), 3)).astype(np.float32)

    def total(log_kappa, log_n):
        params = {
            "adstock_alpha": jnp.array([0.3, 0.6]),
            "pi": jnp.full((2, 2), 0.5),
            "A": jnp.ones((2, 2)),
            "kappa": jnp.exp(jnp.full((2, 2), log_kappa)),
            "n": jnp.exp(jnp.full((2, 2), log_n)),
        }
        return jnp.sum(media_contributions(params, lags).astype(float))

    grads = jax.grad(total, argnums=(0, 1))(log_kappa, log_n)
    assert np.isfinite(total(log_kappa, log_n)) and np.all(np.isfinite(grads))


def test_single_precision_media_is_double_precision_up_to_rounding():
    # Fits evaluate the media curves on a single-precision lag stack; the
    # response and its gradient must agree with double precision to the
    # rounding of single precision, not drift from it.
    rng = np.random.default_rng(0)
    spend = rng.gamma(1.0, 1.0, (60, 4)) * (rng.random((60, 4)) > 0.2)
    lags = lags_innermost(lag_stack(spend, 6))
    params = {"adstock_alpha": rng.uniform(0.05, 0.9, 4), **_random_mixture(rng, 4, 3)}

    def loss(p, lags):
        return jnp.sum(media_contributions(p, lags).astype(float) ** 2)

    single = media_contributions(params, lags.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, media_contributions(params, lags), rtol=1e-5, atol=1e-6)
    got = jax.grad(loss)(params, lags.astype(np.float32))
    want = jax.grad(loss)(params, lags)
    for name in params:
        assert got[name].dtype == np.float64
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-6, err_msg=name)
