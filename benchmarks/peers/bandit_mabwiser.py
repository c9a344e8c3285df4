"""Side by side: LinUCBStrategy against MABWiser's LinUCB on the same stream of users.

The stream: 30 actions with 64-dimensional embeddings, users with 8
standard-normal features, clicks from a known linear model over users
crossed with embeddings (``p = clip(0.2 + [1, x]^T Theta [1, e_a], 0.01,
0.99)``), the same users and the same uniforms for both libraries. In each
batch both libraries decide for every user and then learn from the clicks
of their own decisions (``decide`` + ``partial_fit`` against ``predict`` +
``partial_fit``). Both start from the same warm-up batch of uniformly random
decisions.

The models are matched as closely as the libraries allow:

* hillmix: one ridge model over users crossed with the actions' embeddings
  (16 PCA components): 9 x 17 = 153 coefficients shared by all actions,
  ``alpha=1``, ``ridge=1``, epsilon-greedy with ``epsilon=0.05`` so every
  decision logs a positive propensity.
* MABWiser: ``LearningPolicy.LinUCB(alpha=1, l2_lambda=1)``, a ridge model
  per arm (action) on the user features. Its contexts get a leading column
  of ones, so each arm's model is ``[1, x]^T theta_a``, which is the crossed
  model with one-hot action features: the same user side, without the
  transfer between actions that embeddings give (MABWiser's contexts are
  per user, so it cannot take per-(user, action) features). It picks the
  arm with the best bound and logs no propensity.

Reported per library and batch size: decisions per second (wall time of the
decide and update calls only, median of ``--repeats`` runs, the libraries
interleaved so that both see the same load), the click rate and the mean
regret per decision against the oracle. The machine's load average is
printed alongside. BLAS runs on ``--blas-threads`` threads (default 1):
hillmix limits itself to one thread inside its calls, and MABWiser's small
per-arm products are also fastest on one thread on this 2-core machine
(with two, under load, it was several times slower), so one thread is the
fair setting.

Run in the peer environment (``requirements.txt``; hillmix installed there, or
``PYTHONPATH=.``):

    python benchmarks/peers/bandit_mabwiser.py [--repeats 5] [--batch-sizes 100 1000 10000]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from importlib.metadata import version

import numpy as np
from threadpoolctl import threadpool_limits

from hillmix_opt import LinUCBStrategy

N_ACTIONS, N_FEATURES, N_COMPONENTS, EMBEDDING_DIM = 30, 8, 16, 64


def make_stream(n_users, seed=0):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(N_ACTIONS, EMBEDDING_DIM)) / np.sqrt(EMBEDDING_DIM)
    theta = rng.normal(scale=0.04, size=(N_FEATURES + 1, EMBEDDING_DIM + 1))
    X = rng.normal(size=(n_users, N_FEATURES))
    xa = np.hstack([np.ones((n_users, 1)), X])
    phi = np.hstack([np.ones((N_ACTIONS, 1)), embeddings])
    P = np.clip(0.2 + xa @ theta @ phi.T, 0.01, 0.99)
    return {
        "ids": np.arange(N_ACTIONS),
        "embeddings": embeddings,
        "X": X,
        "P": P,
        "u": rng.random(n_users),
        "warm": rng.integers(0, N_ACTIONS, n_users),
    }


class Hillmix:
    name = "hillmix LinUCBStrategy"

    def __init__(self, stream):
        self.model = LinUCBStrategy(
            pca_components=N_COMPONENTS, alpha=1.0, ridge=1.0, epsilon=0.05, random_state=0
        )
        self.model.set_bank((stream["ids"], stream["embeddings"]))

    def learn(self, X, actions, rewards):
        self.model.partial_fit(X, actions, rewards)

    def decide(self, X):
        return self.model.decide(X)[0]


class MABWiser:
    name = "MABWiser LinUCB"

    def __init__(self, stream):
        from mabwiser.mab import MAB, LearningPolicy

        self.model = MAB(
            arms=list(range(N_ACTIONS)),
            learning_policy=LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0),
            seed=0,
        )
        self.fitted = False

    @staticmethod
    def _contexts(X):
        return np.hstack([np.ones((len(X), 1)), X])

    def learn(self, X, actions, rewards):
        if self.fitted:
            self.model.partial_fit(actions, rewards, self._contexts(X))
        else:
            self.model.fit(actions, rewards, self._contexts(X))
            self.fitted = True

    def decide(self, X):
        return np.asarray(self.model.predict(self._contexts(X)), dtype=np.int64)


def run(library, stream, batch_size):
    """Seconds in the library's decide and learn calls, click rate, mean regret."""
    X, P, u = stream["X"], stream["P"], stream["u"]
    n = len(X)
    # Warm-up: the same uniformly random decisions for both (not timed).
    warm = slice(0, batch_size)
    a0 = stream["warm"][warm]
    library.learn(X[warm], a0, (u[warm] < P[np.arange(batch_size), a0]).astype(float))
    seconds, clicks, regret = 0.0, [], []
    for start in range(batch_size, n, batch_size):
        batch = slice(start, min(start + batch_size, n))
        rows = np.arange(batch.start, batch.stop)
        tic = time.perf_counter()
        actions = library.decide(X[batch])
        seconds += time.perf_counter() - tic
        p = P[rows, actions]
        c = (u[batch] < p).astype(float)
        tic = time.perf_counter()
        library.learn(X[batch], actions, c)
        seconds += time.perf_counter() - tic
        clicks.append(c)
        regret.append(P[rows].max(axis=1) - p)
    decided = n - batch_size
    return (
        decided / seconds,
        float(np.concatenate(clicks).mean()),
        float(np.concatenate(regret).mean()),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args()
    with threadpool_limits(args.blas_threads, user_api="blas"):
        compare(args)


def compare(args):
    print(
        f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.python_version()}, "
        f"{os.cpu_count()} cores, hillmix {version('hillmix')}, mabwiser {version('mabwiser')}, "
        f"numpy {np.__version__}"
    )
    print(f"# load average at start: {os.getloadavg()}; BLAS threads: {args.blas_threads}")
    print("| batch size | library | decisions/s (median) | runs | click rate | mean regret |")
    print("|---:|---|---:|---|---:|---:|")
    ratios = {}
    for batch_size in args.batch_sizes:
        n_users = batch_size + max(20 * batch_size, 20000)
        stream = make_stream(n_users)
        results = {Hillmix.name: [], MABWiser.name: []}
        quality = {}
        for _ in range(args.repeats):
            for cls in (Hillmix, MABWiser):
                rate, ctr, regret = run(cls(stream), stream, batch_size)
                results[cls.name].append(rate)
                quality[cls.name] = (ctr, regret)
        for name, rates in results.items():
            runs = ", ".join(f"{r / 1000:.0f}k" for r in rates)
            ctr, regret = quality[name]
            print(
                f"| {batch_size} | {name} | {np.median(rates):,.0f} | {runs} | {ctr:.4f} | "
                f"{regret:.4f} |"
            )
        ratios[batch_size] = np.median(results[Hillmix.name]) / np.median(results[MABWiser.name])
    print(f"# load average at end: {os.getloadavg()}")
    for batch_size, ratio in ratios.items():
        print(f"# speed ratio at batch size {batch_size}: {ratio:.1f}x")


if __name__ == "__main__":
    main()
