"""Action-bank generation: selecting a bank, and one whole proposal.

The speed targets: choosing 10 of 2,000 candidates for 10,000 users, given
the reward matrix, in at most 1 s; one ``propose_bank`` with the LightGBM
reward model, a log of 40,000 rows and 2,000 offline candidates, in at most
60 s on 2 cores.
"""

import warnings

import numpy as np
import pandas as pd

from hillmix_opt import ActionBankOptimizer, LightGBMRewardModel, LinUCBStrategy, greedy_bank
from hillmix_sim import CompanySimulator


class SelectBank:
    """Greedy facility location (restarts and swaps included) on a 10,000 x 2,000 matrix."""

    def setup(self):
        rng = np.random.default_rng(0)
        users, actions = rng.normal(size=(10_000, 8)), rng.normal(size=(2000, 8))
        self.rewards = 1 / (1 + np.exp(-(users @ actions.T / 2 - 2)))
        self.embeddings = actions

    def time_select_10_of_2000(self):
        greedy_bank(self.rewards, 10, embeddings=self.embeddings, diversity_weight=0.15)

    def peakmem_select_10_of_2000(self):
        greedy_bank(self.rewards, 10, embeddings=self.embeddings, diversity_weight=0.15)


class ProposeBank:
    """One proposal from a log of 4 x 10,000 decisions (LinUCB, 30 actions)."""

    timeout = 300

    def setup_cache(self):
        results = CompanySimulator(
            strategy=LinUCBStrategy(), n_iterations=4, n_users=10_000, n_initial_actions=30,
            random_state=0,
        ).run()  # fmt: skip
        log = pd.concat(results.observations, ignore_index=True)
        return log, results.banks[0]

    def time_propose_bank_lightgbm(self, cache):
        log, bank = cache
        optimizer = ActionBankOptimizer(
            reward_model=LightGBMRewardModel(random_state=0), random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer.propose_bank(log, bank, 10, 1000, 0)
