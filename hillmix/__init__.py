"""hillmix: Bayesian media-mix models whose channel responses are mixtures of Hill curves.

The base package of the hillmix distribution. It imports neither
:mod:`hillmix_sim` nor :mod:`hillmix_opt`.
"""

import os as _os


def _set_host_device_count():
    # Let NumPyro run chains in parallel, one per CPU core. XLA reads this
    # flag once, when JAX's backend starts; if it already has (or the user set
    # the flag) we leave it alone.
    from jax._src import xla_bridge

    flags = _os.environ.get("XLA_FLAGS", "")
    if xla_bridge.backends_are_initialized() or "host_platform_device_count" in flags:
        return
    count = len(_os.sched_getaffinity(0)) if hasattr(_os, "sched_getaffinity") else _os.cpu_count()
    _os.environ["XLA_FLAGS"] = (
        f"{flags} --xla_force_host_platform_device_count={count or 1}".strip()
    )


_set_host_device_count()

import jax as _jax  # noqa: E402

# Posterior draws, the samplers' state and everything computed from the
# draws are double precision, for accurate sums over long series; only
# the media curves inside a sampler's log density are single precision
# (see ``HillMixtureMMM.fit``).
_jax.config.update("jax_enable_x64", True)

from ._adstock import geometric_adstock, geometric_adstock_weights, lag_stack  # noqa: E402
from ._diagnostics import bulk_ess, rank_rhat, summarize_draws  # noqa: E402
from ._inference import enable_compilation_cache  # noqa: E402
from ._mmm import HillMixtureMMM  # noqa: E402
from ._plotting import plot_contributions, plot_response_curves  # noqa: E402
from ._priors import PRIOR_NAMES, default_priors  # noqa: E402
from ._saturation import hill, hill_mixture  # noqa: E402
from .exceptions import ConvergenceWarning  # noqa: E402

__version__ = "0.1.0.dev0"

__all__ = [
    "PRIOR_NAMES",
    "ConvergenceWarning",
    "HillMixtureMMM",
    "bulk_ess",
    "default_priors",
    "enable_compilation_cache",
    "geometric_adstock",
    "geometric_adstock_weights",
    "hill",
    "hill_mixture",
    "lag_stack",
    "plot_contributions",
    "plot_response_curves",
    "rank_rhat",
    "summarize_draws",
]
