"""Reward models: fitting a large log, and scoring every user against every candidate.

The speed targets: ``LightGBMRewardModel`` fits 100,000 rows in at most
10 s; ``predict_matrix`` for 10,000 users x 2,000 candidate actions takes at
most 3 s for the logistic and neural models and 20 s for LightGBM, in
bounded memory (``peakmem_*``). Rows are 8 user features and a
64-dimensional embedding, as a simulated company's log has them; the
quality figure is the correlation with the truth on fresh users.
"""

import warnings

import numpy as np
import pandas as pd

from hillmix_opt import LightGBMRewardModel, LogisticRewardModel, NeuralRewardModel

N_FEATURES, EMBEDDING_DIM, N_ACTIONS = 8, 64, 30


class _BilinearTruth:
    """P(click) = sigmoid(2 u' W e - 2); a class, so that asv's cache can pickle it."""

    def __init__(self, W):
        self.W = W

    def __call__(self, U, E):
        return 1 / (1 + np.exp(-(U @ self.W @ E.T * 2 - 2)))


def joined_log(n_rows, seed=0):
    """Rows of a known truth: a bilinear form of users and embeddings."""
    rng = np.random.default_rng(seed)
    bank = rng.normal(size=(N_ACTIONS, EMBEDDING_DIM))
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    truth = _BilinearTruth(rng.normal(scale=0.5, size=(N_FEATURES, EMBEDDING_DIM)))

    users = rng.normal(size=(n_rows, N_FEATURES))
    chosen = rng.integers(N_ACTIONS, size=n_rows)
    p = truth(users, bank)[np.arange(n_rows), chosen]
    X = pd.DataFrame(users, columns=[f"z_{i}" for i in range(N_FEATURES)])
    X = pd.concat(
        [X, pd.DataFrame(bank[chosen], columns=[f"emb_{i}" for i in range(EMBEDDING_DIM)])],
        axis=1,
    )
    return X, (rng.random(n_rows) < p).astype(int), bank, truth


def candidates(bank, n, seed=1):
    """New actions like a bank's: mixtures of a few of its actions, with noise."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(len(bank), 0.3), size=n)
    E = weights @ bank + rng.normal(scale=0.05, size=(n, bank.shape[1]))
    return E / np.linalg.norm(E, axis=1, keepdims=True)


class LightGBMFit:
    """Fitting LightGBM on a log of 100,000 rows, early stopping included."""

    timeout = 120

    def setup(self):
        self.X, self.y, _, _ = joined_log(100_000)

    def time_fit_100k_rows(self):
        LightGBMRewardModel(random_state=0).fit(self.X, self.y)


class PredictMatrix:
    """10,000 users against 2,000 candidates, for the three models with speed targets."""

    params = ["logistic", "neural", "lightgbm"]
    param_names = ["model"]
    timeout = 300

    def setup_cache(self):
        X, y, bank, truth = joined_log(40_000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = {
                "logistic": LogisticRewardModel().fit(X, y),
                "neural": NeuralRewardModel(random_state=0).fit(X, y),
                "lightgbm": LightGBMRewardModel(random_state=0).fit(X, y),
            }
        return fitted, truth, bank

    def setup(self, cache, model):
        self.model = cache[0][model]
        self.truth = cache[1]
        rng = np.random.default_rng(2)
        self.users = pd.DataFrame(
            rng.normal(size=(10_000, N_FEATURES)), columns=[f"z_{i}" for i in range(N_FEATURES)]
        )
        self.candidates = candidates(cache[2], 2000)

    def time_predict_matrix(self, cache, model):
        self.model.predict_matrix(self.users, self.candidates)

    def peakmem_predict_matrix(self, cache, model):
        self.model.predict_matrix(self.users, self.candidates)

    def track_correlation_with_truth(self, cache, model):
        users = self.users.iloc[:1000]
        P = self.truth(users.to_numpy(), self.candidates)
        return float(
            np.corrcoef(P.ravel(), self.model.predict_matrix(users, self.candidates).ravel())[0, 1]
        )

    track_correlation_with_truth.unit = "correlation"
