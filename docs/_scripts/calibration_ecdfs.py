"""Draw docs/_static/calibration_ecdfs.png and print the held-out table of docs/calibration.rst.

Real: The Complete Journey's held-out households (those the calibration of
the ``complete_journey`` preset never saw). Before: the simulator's defaults
(with the calibration's catalog); after: the preset. Each simulates as many
households as the held-out half holds, with the same seed.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hillmix_sim import RetailSimulator
from hillmix_sim.datasets import load_complete_journey
from hillmix_sim.metrics import compare, metric_samples
from hillmix_sim.retail import plot_calibration, simulate_transactions
from hillmix_sim.retail._presets import load_preset


def main():
    cj = load_complete_journey()
    held_out = np.asarray(load_preset("complete_journey")["held_out_households"])
    tx = cj.transactions
    real = metric_samples(tx[tx["household_id"].isin(held_out)], n_weeks=cj.n_weeks)
    common = {"n_households": held_out.size, "random_state": 2024}
    before = RetailSimulator(n_products=1000, n_categories=100, **common).fit()
    after = RetailSimulator.from_preset("complete_journey", **common).fit()
    samples = {"real": real}
    for key, sim in (("initial", before), ("calibrated", after)):
        table = simulate_transactions(sim, cj.n_weeks)
        samples[key] = metric_samples(table, list(real), n_weeks=cj.n_weeks)
    for key in ("initial", "calibrated"):
        report = compare(real, samples[key])
        print(key, {k: round(v, 3) for k, v in report.attrs.items()})
        print(report[["kind", "similarity", "real_mean", "simulated_mean"]].round(3).to_string())
    axes = plot_calibration(samples)
    fig = axes.ravel()[0].figure
    fig.suptitle("The Complete Journey, held-out households: real, before and after calibration")
    fig.tight_layout()
    out = Path(__file__).resolve().parents[1] / "_static" / "calibration_ecdfs.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
