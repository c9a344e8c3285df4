"""hillmix: Bayesian media-mix models whose channel responses are mixtures of Hill curves.

The base package of the hillmix distribution. It imports neither
:mod:`hillmix_sim`, :mod:`hillmix_opt` nor the command line.

Importing it changes no JAX setting but one, and only before JAX starts:
it asks for one CPU device per core so that chains run in parallel (see
:mod:`hillmix._jax_setup`; ``HILLMIX_CPU_DEVICES=0`` opts out). Double
precision is scoped to hillmix's own computations
(:func:`hillmix.utils.double_precision`); ``jax_enable_x64`` is left as it
was.
"""

from ._jax_setup import configure_cpu_devices as _configure_cpu_devices

_configure_cpu_devices()

from ._adstock import geometric_adstock, geometric_adstock_weights, lag_stack  # noqa: E402
from ._diagnostics import bulk_ess, rank_rhat, summarize_draws  # noqa: E402
from ._jax_setup import enable_compilation_cache  # noqa: E402
from ._mmm import HillMixtureMMM  # noqa: E402
from ._plotting import plot_contributions, plot_response_curves  # noqa: E402
from ._priors import PRIOR_NAMES, default_priors  # noqa: E402
from ._saturation import hill, hill_mixture  # noqa: E402
from .exceptions import ConvergenceWarning, InferenceError  # noqa: E402

__version__ = "0.1.0.dev0"

__all__ = [
    "PRIOR_NAMES",
    "ConvergenceWarning",
    "HillMixtureMMM",
    "InferenceError",
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
