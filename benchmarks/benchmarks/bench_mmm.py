"""HillMixtureMMM: fit time and sampling efficiency on 156 weeks x 8 channels.

The speed target is minimum bulk ESS per second of wall time, compared with
Google Meridian's and PyMC-Marketing's national models on the same data,
chains and draws (``benchmarks/peers/``). Cold and warm are measured apart:

* cold: a fit in a new process with no compiled program on disk, so its
  time includes tracing and compiling the sampler (a user's first fit);
* warm: a refit in the same process, whose programs are compiled (every
  fit after the first of a shape, in any process with the on-disk cache).

Leapfrog steps per draw are tracked too: they do not depend on the
machine, so a change in the sampler's geometry shows apart from noise.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

# In this process, fits keep their programs in memory only: nothing from or
# for the on-disk cache (the cold fits run in their own processes).
os.environ.setdefault("HILLMIX_COMPILATION_CACHE", "0")

from hillmix import HillMixtureMMM

from .common import mmm_data, quiet_fit

SETTINGS = {"num_warmup": 1000, "num_samples": 1000, "num_chains": 2, "random_state": 0}

# One fit in a new Python process, reporting what ``_summary`` reports.
_COLD_FIT = """
import json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath({path!r}))))
from hillmix import HillMixtureMMM
from benchmarks.bench_mmm import SETTINGS, _summary
from benchmarks.common import mmm_data, quiet_fit
X, y, _ = mmm_data()
start = time.perf_counter()
model = quiet_fit(HillMixtureMMM(n_components={k}, **SETTINGS), X, y)
print(json.dumps(_summary(model, time.perf_counter() - start)))
"""


def _summary(model, seconds):
    d = model.diagnostics_
    return {
        "seconds": seconds,
        "min_ess_bulk": d["min_ess_bulk"],
        "max_rhat": d["max_rhat"],
        "divergences": d["divergences"],
        "steps_per_draw": float(np.mean(model._sample_stats["n_steps"])),
    }


def _cold_fit(k):
    # No program from the on-disk cache: the fit traces and compiles.
    env = {**os.environ, "HILLMIX_COMPILATION_CACHE": "0"}
    script = _COLD_FIT.format(path=__file__, k=k)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


class MMMSampling:
    """Two chains x 1000 + 1000 draws, K=1 and K=3, cold and warm."""

    params = [1, 3]
    param_names = ["n_components"]
    timeout = 1800

    def setup_cache(self):
        X, y, _ = mmm_data()
        out = {}
        for k in self.params:
            cold = _cold_fit(k)
            # A first fit in this process compiles, the second is warm.
            quiet_fit(HillMixtureMMM(n_components=k, **SETTINGS), X, y)
            start = time.perf_counter()
            model = quiet_fit(HillMixtureMMM(n_components=k, **SETTINGS), X, y)
            out[k] = {"cold": cold, "warm": _summary(model, time.perf_counter() - start)}
        return out

    def track_fit_seconds_with_compile(self, out, k):
        return out[k]["cold"]["seconds"]

    track_fit_seconds_with_compile.unit = "seconds"

    def track_fit_seconds(self, out, k):
        return out[k]["warm"]["seconds"]

    track_fit_seconds.unit = "seconds"

    def track_min_ess_per_second_with_compile(self, out, k):
        return out[k]["cold"]["min_ess_bulk"] / out[k]["cold"]["seconds"]

    track_min_ess_per_second_with_compile.unit = "ESS/s"

    def track_min_ess_per_second(self, out, k):
        return out[k]["warm"]["min_ess_bulk"] / out[k]["warm"]["seconds"]

    track_min_ess_per_second.unit = "ESS/s"

    def track_max_rhat(self, out, k):
        return out[k]["warm"]["max_rhat"]

    track_max_rhat.unit = "R-hat"

    def track_leapfrog_steps_per_draw(self, out, k):
        return out[k]["warm"]["steps_per_draw"]

    track_leapfrog_steps_per_draw.unit = "steps"


class MMMPredict:
    """Posterior-mean prediction and response curves of a fitted model."""

    def setup(self):
        X, y, _ = mmm_data()
        self.X = X
        self.model = quiet_fit(
            HillMixtureMMM(
                n_components=3, inference="svi", svi_steps=500, num_samples=500, random_state=0
            ),
            X,
            y,
        )
        self.model.predict(X)

    def time_predict(self):
        self.model.predict(self.X)

    def time_response_curve(self):
        self.model.response_curve("channel_0")
