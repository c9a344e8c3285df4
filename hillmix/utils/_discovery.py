"""Discovery of the public estimators of hillmix, hillmix_sim and hillmix_opt."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

__all__ = ["PACKAGES", "all_estimators", "defined_estimators"]

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
