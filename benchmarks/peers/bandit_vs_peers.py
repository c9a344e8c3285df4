"""Side by side: hillmix's LinUCB strategies against MABWiser and Vowpal Wabbit on one stream.

The stream is that of ``bandit_mabwiser.py``: 30 actions with 64-dimensional
embeddings, users with 8 standard-normal features, clicks from a known
linear model over users crossed with embeddings, the same users and the
same click uniforms for every library. In each batch a library decides for
every user, then learns from the clicks of its own decisions. All start
from the same warm-up batch of uniformly random decisions.

Four libraries, two comparisons:

* **One ridge model per action** (the textbook LinUCB): hillmix's
  ``DisjointLinUCBStrategy(alpha=1, ridge=1, epsilon=0.05)`` against
  MABWiser's ``LearningPolicy.LinUCB(alpha=1, l2_lambda=1)``, each action's
  model on ``[1, x]``. MABWiser acts greedily on the bound (its default
  ``epsilon=0``) and logs no propensity; hillmix explores with epsilon 0.05
  so that every decision logs a positive propensity.
* **One model over users crossed with action embeddings**: hillmix's
  ``LinUCBStrategy(pca_components=16, alpha=1, ridge=1, epsilon=0.05)``
  against Vowpal Wabbit's ``--cb_explore_adf --epsilon 0.05 -q UA``: each
  action a line of its 16 embedding components (the same centred PCA,
  scaled by one number, as hillmix's), the user a shared line, ``-q UA``
  the crossed features, so both fit a linear model of ``[1, x] kron [1,
  phi(a)]`` (hillmix by ridge regression, VW by online gradient steps on
  its cost regression, ``mtr`` by default). VW returns a probability per
  action; the script draws from it with its own uniforms and logs that
  probability in the label. The crossed model is also compared with
  MABWiser.

VW reads text: each user's shared line and the 30 action lines are
formatted before the timed loop (its own parsing of them is timed), so
its figures leave out the cost of writing its input, which favours it.

Reported per library and batch size: the time per batch (decide and learn
calls, median of ``--repeats`` runs, the libraries interleaved so that all
see the same load), decisions per second, the mean over batches of each
batch's fastest run (every run does the same work, batch for batch, so this
is the figure least disturbed by other load), the click rate over the second
half of the stream (late click rate), the mean regret per decision
against the oracle over the whole stream and over its second half. BLAS
runs on one thread (``bandit_mabwiser.py`` says why).

Run in the peers' environment (mabwiser 2.7.4 and vowpalwabbit 9.11.9;
hillmix installed there, or ``PYTHONPATH=.``):

    python benchmarks/peers/bandit_vs_peers.py [--repeats 5] [--vw-repeats 2]
        [--batch-sizes 100 1000 10000] [--libraries disjoint crossed mabwiser vw]
        [--epsilon 0.05]

``--epsilon`` sets the exploration of hillmix's strategies and VW;
MABWiser's LinUCB has no such parameter. VW runs at about a thousand
decisions per second here, so ``--vw-repeats`` can keep its runs fewer.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from bandit_mabwiser import N_ACTIONS, N_COMPONENTS, MABWiser, make_stream

from hillmix_opt import DisjointLinUCBStrategy, LinUCBStrategy

ALPHA, RIDGE, EPSILON = 1.0, 1.0, 0.05


class _Hillmix:
    def __init__(self, stream):
        self.model = self.make().set_bank((stream["ids"], stream["embeddings"]))

    def learn(self, rows, actions, rewards):
        self.model.partial_fit(self.X[rows], actions, rewards)

    def decide(self, rows):
        return self.model.decide(self.X[rows])[0]


class HillmixDisjoint(_Hillmix):
    name = "hillmix DisjointLinUCBStrategy"

    @staticmethod
    def make():
        return DisjointLinUCBStrategy(alpha=ALPHA, ridge=RIDGE, epsilon=EPSILON, random_state=0)


class HillmixCrossed(_Hillmix):
    name = "hillmix LinUCBStrategy"

    @staticmethod
    def make():
        return LinUCBStrategy(
            pca_components=N_COMPONENTS, alpha=ALPHA, ridge=RIDGE, epsilon=EPSILON, random_state=0
        )


class MABWiserLinUCB:
    name = "MABWiser LinUCB"

    def __init__(self, stream):
        self.library = MABWiser(stream)  # alpha=1, l2_lambda=1, contexts [1, x]

    def learn(self, rows, actions, rewards):
        self.library.learn(self.X[rows], actions, rewards)

    def decide(self, rows):
        return self.library.decide(self.X[rows])


def action_components(embeddings, k=N_COMPONENTS):
    """The first ``k`` principal components of the embeddings, scaled to unit RMS."""
    centred = embeddings - embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ vt[:k].T
    return projected / np.sqrt(np.mean(projected**2))


class VowpalWabbit:
    name = "VW cb_explore_adf"
    extra = ""  # more VW options (--vw-args)

    def __init__(self, stream):
        from vowpalwabbit import Workspace

        self.vw = Workspace(
            f"--cb_explore_adf --epsilon {EPSILON} -q UA --quiet --random_seed 0 {self.extra}"
        )
        self.shared = stream["vw_shared"]
        self.actions = stream["vw_actions"]
        self.draws = stream["vw_uniforms"]
        self.probabilities = {}

    def decide(self, rows):
        rows = range(rows.start, rows.stop)
        chosen = np.empty(len(rows), dtype=np.int64)
        for j, i in enumerate(rows):
            pmf = np.asarray(self.vw.predict([self.shared[i], *self.actions]))
            a = min(int(np.searchsorted(np.cumsum(pmf), self.draws[i] * pmf.sum(), "right")),
                    N_ACTIONS - 1)  # fmt: skip
            chosen[j] = a
            self.probabilities[i] = pmf[a]
        return chosen

    def learn(self, rows, actions, rewards):
        rows = range(rows.start, rows.stop)
        for i, a, r in zip(rows, actions, rewards, strict=True):
            lines = [self.shared[i], *self.actions]
            # Costs are minimised: a click costs -1.
            probability = self.probabilities.pop(i, 1 / N_ACTIONS)
            lines[1 + a] = f"{a}:{-r:g}:{probability:.9g} {lines[1 + a]}"
            self.vw.learn(lines)


def vw_inputs(stream):
    """VW's text: a shared line per user, a line per action (untimed)."""
    stream["vw_shared"] = [
        "shared |U " + " ".join(f"x{k}:{v:.9g}" for k, v in enumerate(x)) for x in stream["X"]
    ]
    phi = action_components(stream["embeddings"])
    stream["vw_actions"] = [
        "|A " + " ".join(f"c{k}:{v:.9g}" for k, v in enumerate(row)) for row in phi
    ]
    stream["vw_uniforms"] = np.random.default_rng(1).random(len(stream["X"]))


def run(library, stream, batch_size):
    """Seconds per batch in decide and learn, late click rate, mean regret (all, late)."""
    X, P, u = stream["X"], stream["P"], stream["u"]
    library.X = X
    n = len(X)
    # Batches are slices of the stream (views, no copies inside the timing).
    warm = slice(0, batch_size)
    a0 = stream["warm"][warm]
    library.learn(warm, a0, (u[warm] < P[np.arange(batch_size), a0]).astype(float))
    seconds, clicks, regret = [], [], []
    starts = range(batch_size, n, batch_size)
    for start in starts:
        batch = slice(start, min(start + batch_size, n))
        rows = np.arange(batch.start, batch.stop)
        tic = time.perf_counter()
        actions = library.decide(batch)
        decided = time.perf_counter() - tic
        p = P[rows, actions]
        c = (u[batch] < p).astype(float)
        tic = time.perf_counter()
        library.learn(batch, actions, c)
        seconds.append(decided + time.perf_counter() - tic)
        clicks.append(c)
        regret.append(P[rows].max(axis=1) - p)
    clicks, regret = np.concatenate(clicks), np.concatenate(regret)
    late = slice(len(clicks) // 2, None)
    seconds = np.asarray(seconds)
    return {
        "seconds": seconds,
        "seconds_per_batch": seconds.mean(),
        "decisions_per_second": len(clicks) / seconds.sum(),
        "late_click_rate": float(clicks[late].mean()),
        "regret": float(regret.mean()),
        "late_regret": float(regret[late].mean()),
    }


LIBRARIES = {
    "disjoint": HillmixDisjoint,
    "crossed": HillmixCrossed,
    "mabwiser": MABWiserLinUCB,
    "vw": VowpalWabbit,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    parser.add_argument(
        "--vw-repeats",
        type=int,
        default=None,
        help="runs of Vowpal Wabbit (default: --repeats); its stream of 10,000-user batches "
        "takes minutes a run",
    )
    parser.add_argument("--vw-args", default="", help="more options for VW, such as '--cb_type dm'")
    parser.add_argument(
        "--epsilon",
        type=float,
        default=0.05,
        help="exploration of hillmix's strategies and VW (MABWiser's LinUCB has none)",
    )
    args = parser.parse_args()
    global EPSILON
    EPSILON = args.epsilon
    VowpalWabbit.extra = args.vw_args
    with threadpool_limits(1, user_api="blas"):
        compare(args)


def _format_seconds(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} us"


def compare(args):
    libraries = [LIBRARIES[name] for name in args.libraries]
    versions = ", ".join(
        f"{package} {version(package)}" for package in ("hillmix", "mabwiser", "vowpalwabbit")
    )
    print(
        f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, {versions}, numpy {np.__version__}"
    )
    print(
        f"# load average at start: {os.getloadavg()}; BLAS threads: 1; epsilon (hillmix, VW): "
        f"{EPSILON}; VW options: --cb_explore_adf -q UA {VowpalWabbit.extra}"
    )
    print(
        "| batch size | library | time per batch (median) | decisions/s | runs (ms per batch) "
        "| per-batch minima | late click rate | mean regret | late regret |"
    )
    print("|---:|---|---:|---:|---|---:|---:|---:|---:|")
    medians, minimum = {}, {}
    for batch_size in args.batch_sizes:
        stream = make_stream(batch_size + max(20 * batch_size, 20000))
        if VowpalWabbit in libraries:
            vw_inputs(stream)
        runs = {cls.name: [] for cls in libraries}
        vw_repeats = args.repeats if args.vw_repeats is None else args.vw_repeats
        for repeat in range(max(args.repeats, vw_repeats)):
            for cls in libraries:
                if repeat < (vw_repeats if cls is VowpalWabbit else args.repeats):
                    runs[cls.name].append(run(cls(stream), stream, batch_size))
        for name, results in runs.items():
            seconds = [r["seconds_per_batch"] for r in results]
            median = float(np.median(seconds))
            medians[batch_size, name] = median
            last = results[-1]  # decisions are the same in every run
            spread = ", ".join(f"{s * 1e3:.3g}" for s in seconds)
            # Every run does the same work batch for batch, so the fastest
            # run of each batch, averaged, is the figure least disturbed by
            # other load on the machine.
            minima = np.min([r["seconds"] for r in results], axis=0).mean()
            minimum[batch_size, name] = minima
            print(
                f"| {batch_size} | {name} | {_format_seconds(median)} | "
                f"{batch_size / median:,.0f} | {spread} | {_format_seconds(minima)} | "
                f"{last['late_click_rate']:.4f} | {last['regret']:.4f} | "
                f"{last['late_regret']:.4f} |"
            )
    print(f"# load average at end: {os.getloadavg()}")
    pairs = [
        (HillmixDisjoint, MABWiserLinUCB),
        (HillmixCrossed, MABWiserLinUCB),
        (HillmixCrossed, VowpalWabbit),
    ]
    for ours, theirs in pairs:
        if ours in libraries and theirs in libraries:
            for batch_size in args.batch_sizes:
                key_ours, key_theirs = (batch_size, ours.name), (batch_size, theirs.name)
                ratio = medians[key_theirs] / medians[key_ours]
                robust = minimum[key_theirs] / minimum[key_ours]
                print(
                    f"# {ours.name} vs {theirs.name}, batch size {batch_size}: {ratio:.1f}x "
                    f"(medians), {robust:.1f}x (per-batch minima)"
                )


if __name__ == "__main__":
    main()
