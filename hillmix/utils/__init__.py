"""Utilities shared by the three hillmix packages."""

from .._jax_setup import double_precision
from .._random import check_generator, resolve_seed
from ._discovery import all_estimators, estimator_from_name

__all__ = [
    "all_estimators",
    "check_generator",
    "double_precision",
    "estimator_from_name",
    "resolve_seed",
]
