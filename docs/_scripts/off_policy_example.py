"""Draw docs/_static/off_policy_values.png: three candidate policies valued from one log."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from hillmix_opt import (
    BanditLog,
    DMEstimator,
    DREstimator,
    IPWEstimator,
    LinUCBStrategy,
    LogisticRewardModel,
    MIPSEstimator,
    RandomStrategy,
    plot_policy_values,
)
from hillmix_sim import USER_SCORE_COLUMNS, CompanySimulator

OUT = Path(__file__).resolve().parents[1] / "_static" / "off_policy_values.png"


def main(n_users: int = 10_000, n_truth_users: int = 200_000, path=OUT):
    # A company whose LinUCB learnt from one iteration of users.
    company = CompanySimulator(
        strategy=LinUCBStrategy(epsilon=0.1), n_iterations=1, n_users=n_users,
        n_initial_actions=30, random_state=0,
    ).fit()  # fmt: skip
    bank = company.results_.banks[0]
    # The log to value the candidates on: the company's policy on fresh
    # users, with the probabilities it gave every action.
    observations, proba = company.simulate_log(company.strategy_, n_users=n_users, random_state=1)
    log = BanditLog.from_observations(observations, bank, logging_proba=proba)

    # Three candidates, trained on the run's own log (not the one they are valued on).
    history, features = company.results_.observations[0], list(USER_SCORE_COLUMNS)
    candidates = {
        "greedy LinUCB": LinUCBStrategy(alpha=0.0, epsilon=0.01),
        "softmax LinUCB": LinUCBStrategy(alpha=0.0, policy="softmax", temperature=0.05),
    }
    for strategy in candidates.values():
        strategy.fit(history, bank, feature_columns=features)
    candidates["uniform"] = RandomStrategy().set_bank(bank)

    estimators = {
        "IPW": IPWEstimator(),
        "DM": DMEstimator(random_state=0),
        "DR": DREstimator(random_state=0),
        "MIPS-DR": MIPSEstimator(reward_model=LogisticRewardModel(), random_state=0),
    }
    fitted = {name: estimator.fit(log) for name, estimator in estimators.items()}
    users = observations[features]
    values = {
        policy: {name: e.estimate_policy_value(strategy.predict_proba(users))
                 for name, e in fitted.items()}
        for policy, strategy in candidates.items()
    }  # fmt: skip
    # What the simulator knows and a company does not: each candidate's true value.
    fresh = company.sample_users(n_truth_users, random_state=2)
    truth = {policy: company.policy_value(s, users=fresh) for policy, s in candidates.items()}

    table = pd.DataFrame(
        [
            {"policy": policy, "estimator": name, "estimate": v.estimate, "ci_low": v.ci_low,
             "ci_high": v.ci_high, "ess": v.effective_sample_size, "truth": truth[policy]}
            for policy, by_estimator in values.items()
            for name, v in by_estimator.items()
        ]
    )  # fmt: skip
    print(table.round(4).to_string(index=False))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    plot_policy_values(values, truth=truth, ax=ax)
    ax.set_title("Three candidates valued from one log (95% intervals) and their truth")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return table


if __name__ == "__main__":
    main()
