"""Where a batch of LinUCBStrategy's time goes, on the stream of ``bandit_mabwiser.py``.

Runs hillmix's side of the side-by-side (the same stream, warm-up and
batches) and splits each batch's wall time into four parts:

* ``inverse``: refactorising ``A^{-1}`` of the shared ridge model (Cholesky
  and its inverse, 153 x 153 with 16 PCA components), done once per batch
  that learnt anything; with ``--model disjoint``, the 30 inverses (9 x 9)
  of DisjointLinUCBStrategy's models, in one batched call;
* ``refresh``: the rest of the refresh after an update (the ridge estimate,
  the per-action weights of the means and widths);
* ``decide``: scoring and drawing the decisions, without the refresh;
* ``learn``: ``partial_fit``.

It wraps two private functions to time them, so it measures this
implementation only. Medians over ``--repeats`` runs per batch size, in
microseconds per batch, beside the per-batch budget that 10 times MABWiser's
rate recorded in ``RESULTS.md`` leaves. Run in the peer environment:

    python benchmarks/peers/bandit_breakdown.py [--repeats 5] [--batch-sizes 100 1000 10000]
        [--model crossed|disjoint]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import bandit_mabwiser as side_by_side

from hillmix_opt import DisjointLinUCBStrategy
from hillmix_opt.targeting import _disjoint, _linucb

# MABWiser's decisions per second in RESULTS.md (07:04 UTC run, batches of
# 100, 1000 and 10,000).
MABWISER_RATE = {100: 15_265, 1000: 98_253, 10_000: 305_852}


class _Clock:
    """Seconds spent in a wrapped callable, accumulated."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, function):
        def timed(*args, **kwargs):
            tic = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - tic

        return timed


class _Disjoint(side_by_side.Hillmix):
    def __init__(self, stream):
        self.model = DisjointLinUCBStrategy(alpha=1.0, ridge=1.0, epsilon=0.05, random_state=0)
        self.model.set_bank((stream["ids"], stream["embeddings"]))


# Per model: the module and name of its inverse, its class, the library.
MODELS = {
    "crossed": (_linucb, "_spd_inverse", _linucb.LinUCBStrategy, side_by_side.Hillmix),
    "disjoint": (_disjoint, "_spd_inverses", DisjointLinUCBStrategy, _Disjoint),
}


def one_run(stream, batch_size, model="crossed"):
    module, inverse_name, cls, library_cls = MODELS[model]
    inverse, refresh = _Clock(), _Clock()
    spd_inverse, refresh_method = getattr(module, inverse_name), cls._refresh
    setattr(module, inverse_name, inverse.wrap(spd_inverse))
    cls._refresh = refresh.wrap(refresh_method)
    try:
        library = library_cls(stream)
        X, P, u = stream["X"], stream["P"], stream["u"]
        warm = slice(0, batch_size)
        a0 = stream["warm"][warm]
        library.learn(X[warm], a0, (u[warm] < P[np.arange(batch_size), a0]).astype(float))
        inverse.seconds = refresh.seconds = 0.0
        decide = learn = 0.0
        starts = range(batch_size, len(X), batch_size)
        for start in starts:
            rows = np.arange(start, min(start + batch_size, len(X)))
            tic = time.perf_counter()
            actions = library.decide(X[rows])
            decide += time.perf_counter() - tic
            clicks = (u[rows] < P[rows, actions]).astype(float)
            tic = time.perf_counter()
            library.learn(X[rows], actions, clicks)
            learn += time.perf_counter() - tic
    finally:
        setattr(module, inverse_name, spd_inverse)
        cls._refresh = refresh_method
    per_batch = 1e6 / len(starts)
    return {
        "inverse": inverse.seconds * per_batch,
        "refresh": (refresh.seconds - inverse.seconds) * per_batch,
        # The refresh runs inside the first decision after an update.
        "decide": (decide - refresh.seconds) * per_batch,
        "learn": learn * per_batch,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--model", choices=MODELS, default="crossed")
    args = parser.parse_args()
    print(f"# {args.model} model; load average at start: {os.getloadavg()}; BLAS threads: 1")
    print("| batch size | inverse | refresh | decide | learn | total | 10x budget |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with threadpool_limits(1, user_api="blas"):
        for batch_size in args.batch_sizes:
            stream = side_by_side.make_stream(batch_size + max(20 * batch_size, 20000))
            runs = [one_run(stream, batch_size, args.model) for _ in range(args.repeats)]
            parts = {key: float(np.median([run[key] for run in runs])) for key in runs[0]}
            total = float(np.median([sum(run.values()) for run in runs]))
            rate = MABWISER_RATE.get(batch_size)
            budget = f"{batch_size / (10 * rate) * 1e6:,.0f}" if rate else "-"
            cells = " | ".join(f"{value:,.0f}" for value in parts.values())
            print(f"| {batch_size} | {cells} | {total:,.0f} | {budget} |")
    print(f"# load average at end: {os.getloadavg()}; microseconds per batch, medians")


if __name__ == "__main__":
    main()
