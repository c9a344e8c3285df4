"""Discovery of the public estimators of the packages it is given."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterable

from sklearn.base import BaseEstimator

from ._estimator_checks import estimator_kind

__all__ = ["all_estimators", "defined_estimators", "estimator_from_name"]

_KINDS = ("strategy", "allocator", "simulator")


def _modules(packages) -> list[types.ModuleType]:
    if isinstance(packages, types.ModuleType):
        packages = [packages]
    packages = list(packages)
    for package in packages:
        if not isinstance(package, types.ModuleType):
            raise TypeError(
                "packages must be imported modules (such as hillmix, hillmix_sim, hillmix_opt), "
                f"got {type(package).__name__}: the packages to search are passed in, never "
                "imported by name, so hillmix keeps no dependency on its siblings."
            )
    return packages


def all_estimators(
    packages: types.ModuleType | Iterable[types.ModuleType], kind: str | None = None
) -> list[tuple[str, type]]:
    """Every public estimator of ``packages``: the registry.

    An estimator is registered by being exported in its package's
    ``__all__``.

    Parameters
    ----------
    packages : module or iterable of modules
        The packages to search, imported by the caller.
    kind : {"strategy", "allocator", "simulator"}, default=None
        Only estimators of this kind (see
        :func:`~hillmix.utils.estimator_kind`); all when None.

    Returns
    -------
    estimators : list of (name, class)
        Sorted by name.

    Examples
    --------
    >>> import hillmix
    >>> from hillmix.utils import all_estimators
    >>> all_estimators(hillmix)
    [('HillMixtureMMM', <class 'hillmix._mmm.HillMixtureMMM'>)]
    """
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS} or None, got {kind!r}.")
    found = {}
    for module in _modules(packages):
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            is_estimator = inspect.isclass(obj) and issubclass(obj, BaseEstimator)
            if is_estimator and (kind is None or estimator_kind(obj) == kind):
                found[name] = obj
    return sorted(found.items())


def defined_estimators(
    packages: types.ModuleType | Iterable[types.ModuleType],
) -> list[tuple[str, type]]:
    """Every public estimator class defined anywhere in ``packages``.

    Walks all modules, registered or not; the common tests compare this with
    :func:`all_estimators` so an estimator cannot be added unregistered.

    Parameters
    ----------
    packages : module or iterable of modules

    Returns
    -------
    estimators : list of (qualified name, class)
    """
    found = {}
    for root in _modules(packages):
        package = root.__name__
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
