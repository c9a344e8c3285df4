"""Utilities shared by the three hillmix packages.

Randomness (:func:`resolve_seed`, :func:`check_generator`), hillmix's
double-precision scope (:func:`double_precision`), the registry of
estimators (:func:`all_estimators`, :func:`estimator_from_name`) and the
checks of the API scikit-learn cannot check (:func:`check_strategy`,
:func:`check_simulator`, :func:`check_allocator`).
"""

from .._jax_setup import double_precision
from .._random import check_generator, resolve_seed, seeded_copy
from ._discovery import all_estimators, estimator_from_name
from ._estimator_checks import check_allocator, check_simulator, check_strategy, estimator_kind

__all__ = [
    "all_estimators",
    "check_allocator",
    "check_generator",
    "check_simulator",
    "check_strategy",
    "double_precision",
    "estimator_from_name",
    "estimator_kind",
    "resolve_seed",
    "seeded_copy",
]
