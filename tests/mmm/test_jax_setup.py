"""Importing hillmix leaves JAX's process-wide configuration as the user set it."""

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json, os, sys
import jax
before = {"x64": jax.config.jax_enable_x64, "xla_flags": os.environ.get("XLA_FLAGS")}
import hillmix
import jax.numpy as jnp
dtype = None
if sys.argv[1] == "fit":
    from hillmix import HillMixtureMMM
    from hillmix_sim import make_mmm_data
    X, y, _ = make_mmm_data(n_periods=30, n_channels=2, random_state=0)
    model = HillMixtureMMM(n_components=1, adstock_max_lag=2, inference="svi", svi_steps=20,
                           num_samples=5, yearly_seasonality=0, random_state=0).fit(X, y)
    dtype = str(model.posterior_samples_["sigma"].dtype)
after = {"x64": jax.config.jax_enable_x64, "xla_flags": os.environ.get("XLA_FLAGS")}
print(json.dumps({
    "before": before,
    "after": after,
    "user_dtype": str(jnp.ones(2).dtype),
    "user_sum_dtype": str(jax.jit(lambda v: v.sum())(jnp.arange(3.0)).dtype),
    "draws_dtype": dtype,
    "devices": jax.device_count(),
}))
"""


def _probe(env_update=(), prelude="", fit=False):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_ENABLE_X64")}
    # The suite's compilation cache (tests/conftest.py): a fit loads its program.
    root = os.path.join(os.path.dirname(__file__), "..", "..", ".jax_cache")
    env["HILLMIX_COMPILATION_CACHE"] = os.environ.get("HILLMIX_JAX_CACHE", root)
    env.update(env_update)
    out = subprocess.run(
        [sys.executable, "-c", prelude + _PROBE, "fit" if fit else "import"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_and_fit_leave_double_precision_off():
    seen = _probe(fit=True)
    assert seen["before"] == seen["after"] == {"x64": False, "xla_flags": None}
    # The user's own JAX code keeps JAX's default single precision...
    assert seen["user_dtype"] == seen["user_sum_dtype"] == "float32"
    # ...while hillmix computes its own results in double precision.
    assert seen["draws_dtype"] == "float64"


def test_a_user_setting_of_double_precision_is_kept():
    seen = _probe({"JAX_ENABLE_X64": "1"}, fit=True)
    assert seen["before"]["x64"] is True and seen["after"]["x64"] is True
    assert seen["user_dtype"] == "float64" and seen["draws_dtype"] == "float64"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: one device either way")
def test_one_cpu_device_per_core_unless_told_otherwise():
    cores = len(os.sched_getaffinity(0))
    assert _probe()["devices"] == cores
    assert _probe({"HILLMIX_CPU_DEVICES": "0"})["devices"] == 1
    # A user's XLA flag wins, and so does a JAX that started before hillmix.
    flags = {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}
    assert _probe(flags)["devices"] == 3
    started = "import jax\njax.numpy.ones(1).block_until_ready()\n"
    assert _probe(prelude=started)["devices"] == 1
