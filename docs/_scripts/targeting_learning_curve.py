"""Draw docs/_static/targeting_learning_curve.png: one simulated run's learning curve."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from hillmix_opt import LinUCBStrategy
from hillmix_sim import CompanySimulator, MixtureOfExpertsPreference


def main():
    sim = CompanySimulator(
        strategy=LinUCBStrategy(alpha=1.0, use_pca=True, pca_components=16),
        ground_truth=MixtureOfExpertsPreference(),
        n_iterations=6,
        n_users=10_000,
        n_initial_actions=30,
        random_state=0,
    )
    results = sim.run()
    print(results.iterations.round(4).to_string(index=False))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    results.plot_learning_curve(ax=ax)
    ax.set_title("LinUCB in a simulated company (mixture-of-experts truth)")
    fig.tight_layout()
    out = Path(__file__).resolve().parents[1] / "_static" / "targeting_learning_curve.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
