"""Invariants of adstock and Hill curves, checked over random inputs."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hillmix import geometric_adstock, geometric_adstock_weights, hill, hill_mixture, lag_stack

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
    import jax

    g = jax.grad(lambda x: hill(x, 1.0, 2.0))(0.0)
    assert np.isfinite(g)
