"""Warnings and errors raised by hillmix."""

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = ["ConvergenceWarning", "InferenceError"]


class ConvergenceWarning(_SklearnConvergenceWarning):
    """The fit's diagnostics fail a threshold.

    For NUTS: R-hat, bulk ESS or divergent transitions; for SVI: the guide
    or the ELBO still moving at the end of the optimisation.

    A subclass of scikit-learn's :class:`~sklearn.exceptions.ConvergenceWarning`,
    so filters written for scikit-learn apply.
    """


class InferenceError(RuntimeError):
    """The inference produced no usable posterior: a non-finite ELBO or draws.

    Raised by :meth:`hillmix.HillMixtureMMM.fit` instead of returning a model
    whose every output would be NaN; the message says what to change.
    """
