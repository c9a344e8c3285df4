"""Targeting strategies: LinUCB decisions per second, updates included.

The speed target: at least 100,000 decisions per second for 30 actions, 8
user features and 16 PCA components (of 64-dimensional embeddings), in
batches: each batch is decided and then learnt from (``partial_fit``), as in
:class:`hillmix_sim.CompanySimulator`. ``time_*`` time one batch;
``track_decisions_per_second`` runs a stream of batches end to end; the
quality figure is the mean regret per decision over the second half of a
stream on a linear truth (0 is the oracle). ``LinUCBDecisions`` times the
crossed model (:class:`~hillmix_opt.LinUCBStrategy`),
``DisjointLinUCBDecisions`` the model per action
(:class:`~hillmix_opt.DisjointLinUCBStrategy`) on the same streams.
``benchmarks/peers/bandit_vs_peers.py`` compares both with MABWiser's LinUCB
and Vowpal Wabbit on one stream.
"""

import time

import numpy as np

from hillmix_opt import DisjointLinUCBStrategy, LinUCBStrategy

N_ACTIONS, N_FEATURES, N_COMPONENTS, EMBEDDING_DIM = 30, 8, 16, 64


class LinearStream:
    """Users, a bank and a known linear click model over users x embeddings."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.ids = np.arange(N_ACTIONS)
        self.embeddings = rng.normal(size=(N_ACTIONS, EMBEDDING_DIM)) / np.sqrt(EMBEDDING_DIM)
        self.theta = rng.normal(scale=0.04, size=(N_FEATURES + 1, EMBEDDING_DIM + 1))

    @property
    def bank(self):
        return self.ids, self.embeddings

    def users(self, n):
        return self.rng.normal(size=(n, N_FEATURES))

    def proba(self, X):
        xa = np.hstack([np.ones((len(X), 1)), X])
        phi = np.hstack([np.ones((N_ACTIONS, 1)), self.embeddings])
        return np.clip(0.2 + xa @ self.theta @ phi.T, 0.01, 0.99)


def strategy(kind="crossed"):
    if kind == "disjoint":
        return DisjointLinUCBStrategy(random_state=0)
    return LinUCBStrategy(pca_components=N_COMPONENTS, random_state=0)


def run_stream(model, stream, n_users, batch_size):
    """Decide and learn batch after batch; seconds spent in the strategy and regrets."""
    X, u = stream.users(n_users), stream.rng.random(n_users)
    P = stream.proba(X)
    rows = np.arange(n_users)
    regret = np.empty(n_users)
    seconds = 0.0
    for start in range(0, n_users, batch_size):
        batch = slice(start, start + batch_size)
        tic = time.perf_counter()
        ids, _ = model.decide(X[batch])
        seconds += time.perf_counter() - tic
        p = P[rows[batch], ids]
        regret[batch] = P[batch].max(axis=1) - p
        clicks = (u[batch] < p).astype(float)
        tic = time.perf_counter()
        model.partial_fit(X[batch], ids, clicks)
        seconds += time.perf_counter() - tic
    return seconds, regret


def stream_figures(kind, batch_sizes):
    """Decisions per second (median of 3 streams) and late regret, per batch size."""
    out = {}
    for batch_size in batch_sizes:
        n_users = max(20 * batch_size, 20000)
        rates, regrets = [], []
        for _ in range(3):
            stream = LinearStream(0)
            model = strategy(kind).set_bank(stream.bank)
            seconds, regret = run_stream(model, stream, n_users, batch_size)
            rates.append(n_users / seconds)
            regrets.append(regret[n_users // 2 :].mean())
        out[batch_size] = {"rate": float(np.median(rates)), "regret": float(regrets[0])}
    return out


class LinUCBDecisions:
    """30 actions, 8 user features, 16 PCA components; batches of 100 to 10,000."""

    params = [100, 1000, 10000]
    param_names = ["batch_size"]
    kind = "crossed"

    def setup_cache(self):
        return stream_figures(self.kind, self.params)

    def setup(self, out, batch_size):
        self.stream = LinearStream(1)
        self.model = strategy(self.kind).set_bank(self.stream.bank)
        run_stream(self.model, self.stream, 2 * batch_size, batch_size)  # warm
        self.X = self.stream.users(batch_size)
        self.rewards = (self.stream.rng.random(batch_size) < 0.2).astype(float)
        # The first decision after an update refreshes the model (the
        # Cholesky inverse): time_decide times the steady state, and
        # time_decide_and_update the refresh with the rest.
        self.model.decide(self.X)

    def time_decide(self, out, batch_size):
        self.model.decide(self.X)

    def time_decide_and_update(self, out, batch_size):
        ids, _ = self.model.decide(self.X)
        self.model.partial_fit(self.X, ids, self.rewards)

    def time_predict_proba(self, out, batch_size):
        self.model.predict_proba(self.X)

    def track_decisions_per_second(self, out, batch_size):
        return out[batch_size]["rate"]

    track_decisions_per_second.unit = "decisions/s"

    def track_regret_second_half(self, out, batch_size):
        return out[batch_size]["regret"]

    track_regret_second_half.unit = "click probability"


class DisjointLinUCBDecisions(LinUCBDecisions):
    """The same streams and batches, one ridge model per action on the 8 user features."""

    kind = "disjoint"

    def setup_cache(self):
        # Its own function: asv keys a cache by the function, and an
        # inherited one would hand this class the crossed model's figures.
        return stream_figures(self.kind, self.params)
