"""Discovery of the public estimators of hillmix, hillmix_sim and hillmix_opt."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

__all__ = ["PACKAGES", "all_estimators", "defined_estimators", "estimator_from_name"]

PACKAGES = ("hillmix", "hillmix_sim", "hillmix_opt")


def all_estimators() -> list[tuple[str, type]]:
    """Every public estimator of the distribution: the registry.

    An estimator is registered by being exported in its package's
    ``__all__``. The packages are imported by name here, so ``hillmix``
    itself keeps no import-time dependency on its siblings.

    Returns
    -------
    estimators : list of (name, class)
        Sorted by name.

    Examples
    --------
    >>> from hillmix.utils import all_estimators
    >>> "HillMixtureMMM" in dict(all_estimators())
    True
    """
    found = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found[name] = obj
    return sorted(found.items())


def defined_estimators() -> list[tuple[str, type]]:
    """Every public estimator class defined anywhere in the three packages.

    Walks all modules, registered or not; the common tests compare this with
    :func:`all_estimators` so an estimator cannot be added unregistered.

    Returns
    -------
    estimators : list of (qualified name, class)
    """
    found = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        modules = [root] + [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(root.__path__, prefix=package + ".")
            if not info.name.split(".")[-1].startswith("test")
            and info.name.split(".")[-1] != "__main__"
        ]
        for module in modules:
            for name, obj in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(obj, BaseEstimator)
                    and obj.__module__.startswith(package)
                    and not name.startswith("_")
                ):
                    found[f"{obj.__module__}.{name}"] = obj
    return sorted(found.items())


def estimator_from_name(registry: dict, name: str, kind: str, **params):
    """An unfitted estimator from a name-to-class registry, as a CLI or config gives it.

    Parameters
    ----------
    registry : dict of str to class
    name : str
    kind : str
        What the registry holds ("strategy", "ground truth"), for the errors.
    **params
        Constructor parameters; one the class does not have is an error, not
        silently dropped.

    Returns
    -------
    estimator : BaseEstimator

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from hillmix.utils import estimator_from_name
    >>> estimator_from_name({"ridge": Ridge}, "ridge", "model", alpha=2.0)
    Ridge(alpha=2.0)
    """
    try:
        cls = registry[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown {kind} {name!r}; expected one of {sorted(registry)}.") from None
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise ValueError(f"{cls.__name__} has no parameters {unknown}.")
    return cls(**params)
