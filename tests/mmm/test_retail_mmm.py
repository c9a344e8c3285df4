"""HillMixtureMMM against the retail simulator's true media response (acceptance 4)."""

import numpy as np
import pandas as pd
import pytest

from hillmix import HillMixtureMMM, geometric_adstock
from hillmix_sim import RetailSimulator

pytestmark = pytest.mark.filterwarnings("ignore::hillmix.exceptions.ConvergenceWarning")


def flighted_plan(rng, n_weeks, channels, reference=10000.0):
    """Blocks of 1-4 weeks on and off per channel: zero-spend weeks show the baseline."""
    on = np.zeros((n_weeks, len(channels)), dtype=bool)
    for c in range(len(channels)):
        t, state = 0, bool(rng.random() < 0.5)
        while t < n_weeks:
            length = int(rng.integers(1, 5))
            on[t : t + length, c] = state
            t += length
            state = not state
    level = reference * rng.lognormal(0.0, 0.6, on.shape)
    return pd.DataFrame(np.where(on, level, 0.0), columns=list(channels))


@pytest.mark.slow
def test_fitted_mmm_band_covers_the_true_response():
    sim = RetailSimulator(
        n_households=2000,
        n_products=300,
        n_categories=30,
        channels=("tv", "search"),
        adstock_retention=0.3,
        media_responsiveness=("lognormal", np.log(0.3), 0.5, 0.0, 2.0),
        random_state=0,
    ).fit()
    plan = flighted_plan(np.random.default_rng(1), 104, sim.channel_names_)
    weekly = sim.transform(plan)
    X = weekly[[*sim.channel_names_, "mailer_items"]]
    mmm = HillMixtureMMM(
        n_components=2,
        inference="svi",
        svi_steps=1000,
        num_samples=300,
        control_columns=["mailer_items"],
        random_state=0,
    ).fit(X, weekly["revenue"])
    assert mmm.score(X, weekly["revenue"]) > 0.85
    retention = sim.channels_["adstock_retention"]
    for channel in sim.channel_names_:
        # A steady-state response curve is a function of the adstock level;
        # the data inform it over the adstock levels they contain.
        adstock = np.asarray(
            geometric_adstock(X[[channel]].to_numpy(), retention[[channel]].to_numpy(), 8)
        )[:, 0]
        grid = np.linspace(np.quantile(adstock, 0.05), np.quantile(adstock, 0.95), 20)
        truth = sim.true_response(channel, grid, n_weeks=52, spend=plan)
        gain = truth["contribution"].to_numpy()
        # The truth saturates: it rises, ever more slowly.
        assert np.all(np.diff(gain) > 0) and np.diff(gain)[-1] < 0.5 * np.diff(gain)[0]
        curve = mmm.response_curve(channel, grid, coverage=0.9)
        inside = (gain >= curve["lower"].to_numpy()) & (gain <= curve["upper"].to_numpy())
        assert inside.mean() >= 0.8, (channel, inside.mean())
