"""Warnings and errors raised by hillmix."""

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = ["ConvergenceWarning"]


class ConvergenceWarning(_SklearnConvergenceWarning):
    """The sampler's diagnostics fail a threshold (R-hat, ESS, divergences).

    A subclass of scikit-learn's :class:`~sklearn.exceptions.ConvergenceWarning`,
    so filters written for scikit-learn apply.
    """
