"""Checks of the API scikit-learn cannot check: strategies, simulators, allocators.

scikit-learn's ``check_estimator`` checks the estimator contract; these
check what hillmix adds on top, in the same style: each takes a name and an
unfitted estimator (the registry's instance, with fast settings), clones it
as often as it needs, and fails with an :class:`AssertionError` that says
what broke. The common test runs each over every registered estimator of its
kind (:func:`estimator_kind`).
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = ["check_allocator", "check_simulator", "check_strategy", "estimator_kind"]


def estimator_kind(estimator) -> str | None:
    """The kind of API ``estimator`` offers beyond scikit-learn's, by its methods.

    Parameters
    ----------
    estimator : estimator instance or class

    Returns
    -------
    kind : {"strategy", "allocator", "simulator"} or None
        ``"strategy"``: decides for users from a bank (``set_bank``,
        ``decide``, ``predict_proba``, ``partial_fit``); ``"allocator"``:
        allocates a budget (``optimize``); ``"simulator"``: makes data with a
        known truth from its seed (``generate``, or ``run`` for a simulation
        whose ``fit`` runs it); None otherwise.

    Examples
    --------
    >>> from hillmix.utils import estimator_kind
    >>> from hillmix import HillMixtureMMM
    >>> estimator_kind(HillMixtureMMM()) is None
    True
    """
    has = lambda *names: all(callable(getattr(estimator, n, None)) for n in names)  # noqa: E731
    if has("set_bank", "decide", "predict_proba", "partial_fit"):
        return "strategy"
    if has("optimize"):
        return "allocator"
    if has("generate") or has("run"):
        return "simulator"
    return None


# ---------------------------------------------------------------- strategies
def _toy_bank(n_actions=6, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    return np.arange(100, 100 + n_actions), rng.normal(size=(n_actions, dim))


def _toy_users(n, n_features=4, seed=1):
    return np.random.default_rng(seed).normal(size=(n, n_features))


def check_strategy(name: str, strategy) -> None:
    """A targeting strategy's contract: valid propensities, reproducible, batch-free.

    * ``predict_proba`` gives one row per user over the bank, every entry
      positive and each row summing to one;
    * ``decide`` returns ids of the bank and, as propensities, exactly the
      probabilities ``predict_proba`` gave the chosen actions;
    * the same seed gives the same decisions, bit for bit, through learning;
    * how users are split into batches changes no decision or propensity.

    Parameters
    ----------
    name : str
        The estimator's name, for the messages.
    strategy : estimator
        Unfitted, with ``random_state`` among its parameters.

    Examples
    --------
    >>> from hillmix.utils import check_strategy
    >>> from hillmix_opt import RandomStrategy
    >>> check_strategy("RandomStrategy", RandomStrategy())
    """
    bank = _toy_bank()
    users = _toy_users(60)
    rewards = (np.random.default_rng(2).random(60) < 0.3).astype(float)

    def fresh():
        return clone(strategy).set_params(random_state=0).set_bank(bank)

    # Propensities.
    s = fresh()
    proba = s.predict_proba(users)
    assert proba.shape == (60, len(bank[0])), f"{name}.predict_proba has shape {proba.shape}"
    assert np.all(proba > 0), f"{name}.predict_proba has entries that are not positive"
    np.testing.assert_allclose(
        proba.sum(axis=1), 1.0, rtol=0, atol=1e-12, err_msg=f"{name}: rows do not sum to one"
    )
    ids, propensities = s.decide(users)
    assert np.isin(ids, bank[0]).all(), f"{name}.decide returned ids outside the bank"
    chosen = np.searchsorted(bank[0], ids)
    np.testing.assert_allclose(
        propensities,
        proba[np.arange(60), chosen],
        rtol=1e-12,
        err_msg=f"{name}.decide's propensities are not predict_proba's probabilities",
    )

    # Same seed, same decisions, through learning.
    def run(splits):
        s = fresh()
        out = []
        for _ in range(2):
            parts = [s.decide(part) for part in np.array_split(users, splits)]
            ids = np.concatenate([p[0] for p in parts])
            out.append((ids, np.concatenate([p[1] for p in parts])))
            s.partial_fit(users, ids, rewards)
        return out

    whole = run(1)
    for (a, pa), (b, pb) in zip(whole, run(1), strict=True):
        assert np.array_equal(a, b) and np.array_equal(pa, pb), (
            f"{name}: the same seed gave different decisions"
        )
    # Batching changes nothing.
    for (a, pa), (b, pb) in zip(whole, run(7), strict=True):
        assert np.array_equal(a, b) and np.array_equal(pa, pb), (
            f"{name}: decisions depend on how users are split into batches"
        )


# ---------------------------------------------------------------- simulators
def _simulate(simulator, **generate_params):
    """What a simulator makes from its seed: ``generate()``'s data, or a run's results."""
    simulator.fit()
    if callable(getattr(simulator, "generate", None)):
        return simulator.generate(**generate_params)
    results = simulator.results_
    return {"observations": results.observations, "iterations": results.iterations}


def _flatten(data, prefix="data"):
    """Every array or table in ``data`` by its path: tuples, lists, dicts, dataclasses."""
    if isinstance(data, pd.DataFrame | pd.Series | np.ndarray):
        return {prefix: data}
    if dataclasses.is_dataclass(data):
        data = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, tuple | list):
        items = enumerate(data)
    else:
        return {prefix: np.asarray(data)}
    out = {}
    for key, value in items:
        out.update(_flatten(value, f"{prefix}[{key!r}]"))
    return out


def _same(a, b) -> list[str]:
    """Paths at which two outputs differ (nothing when identical, bit for bit)."""
    a, b = _flatten(a), _flatten(b)
    if a.keys() != b.keys():
        return sorted(set(a) ^ set(b))
    differ = []
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, pd.DataFrame | pd.Series):
            if not (type(x) is type(y) and x.equals(y)):
                differ.append(key)
        elif not np.array_equal(np.asarray(x), np.asarray(y), equal_nan=x.dtype.kind == "f"):
            differ.append(key)
    return differ


def _batching_variants(simulator) -> list[dict]:
    """``generate`` keywords that split the work differently without changing the data."""
    generate = getattr(simulator, "generate", None)
    if generate is None:
        return []
    params = inspect.signature(generate).parameters
    variants = []
    if "batch_size" in params:
        variants.append({"batch_size": 7})
    if "n_jobs" in params:
        variants.append({"n_jobs": 2, **({"batch_size": 11} if "batch_size" in params else {})})
    return variants


def check_simulator(name: str, simulator, generate_params: dict | None = None) -> None:
    """A simulator's contract: its seed alone decides its data, however the work is split.

    * the same ``random_state`` gives the same data, bit for bit, and
      another gives other data;
    * ``generate``'s ``batch_size`` and ``n_jobs``, where it has them,
      change nothing.

    The data are what ``generate()`` returns after ``fit()``, or, for a
    simulator whose ``fit`` runs the simulation, its ``results_``.

    Parameters
    ----------
    name : str
        The estimator's name, for the messages.
    simulator : estimator
        Unfitted, with ``random_state`` among its parameters.
    generate_params : dict, default=None
        Arguments of ``generate`` (small sizes, say), for every call.

    Examples
    --------
    >>> from hillmix.utils import check_simulator
    >>> from hillmix_sim import MMMDataGenerator
    >>> check_simulator("MMMDataGenerator", MMMDataGenerator(n_periods=20, n_channels=2))
    """
    given = dict(generate_params or {})

    def simulate(seed, **params):
        return _simulate(clone(simulator).set_params(random_state=seed), **given, **params)

    first = simulate(0)
    differ = _same(first, simulate(0))
    assert not differ, f"{name}: the same seed gave different data at {differ}"
    assert _same(first, simulate(1)), f"{name}: random_state 0 and 1 gave the same data"
    for params in _batching_variants(simulator):
        varied = simulate(0, **params)
        differ = _same(first, varied)
        assert not differ, f"{name}: generate({params}) changed the data at {differ}"


# ---------------------------------------------------------------- allocators
def check_allocator(name: str, allocator) -> None:
    """An allocator's contract: the allocation spends the budget, within the bounds.

    At budgets from a tiny fraction of the history's spend to many times it,
    with and without bounds, ``optimize`` allocates every unit of the budget
    (up to rounding), no channel below its lower or above its upper bound,
    and the same seed gives the same allocation.

    Parameters
    ----------
    name : str
        The estimator's name, for the messages.
    allocator : estimator
        Unfitted, with the models to allocate over among its parameters;
        fitted here on a random spend history of three channels.

    Examples
    --------
    >>> from hillmix.utils import check_allocator
    >>> from hillmix_opt import BudgetAllocator, HillCurveModel
    >>> check_allocator("BudgetAllocator", BudgetAllocator(
    ...     models=HillCurveModel(amplitude=10.0, n=2.0), num_periods=1, n_starts=1))
    """
    rng = np.random.default_rng(0)
    history = pd.DataFrame(rng.gamma(2.0, 50.0, size=(30, 3)), columns=["a", "b", "c"])
    typical = float(history.mean().sum())
    fitted = clone(allocator).set_params(random_state=0).fit(history)
    cases = [(scale * typical, None) for scale in (1e-3, 0.5, 1.0, 20.0)]
    cases.append((typical, {"a": (0.2 * typical, None), "b": (None, 0.1 * typical)}))
    for budget, bounds in cases:
        result = fitted.optimize(budget, channel_bounds=bounds)
        spend = np.array([result.optimal_allocation[c] for c in history.columns])
        assert np.all(np.isfinite(spend)), f"{name}: non-finite allocation for {budget}"
        np.testing.assert_allclose(
            spend.sum(),
            budget,
            rtol=1e-9,
            err_msg=f"{name}: the allocation does not spend the budget {budget}",
        )
        lower = np.zeros(3)
        upper = np.full(3, np.inf)
        for i, channel in enumerate(history.columns):
            lo, hi = (bounds or {}).get(channel, (None, None))
            lower[i] = 0.0 if lo is None else lo
            upper[i] = np.inf if hi is None else hi
        slack = 1e-9 * budget
        assert np.all(spend >= lower - slack) and np.all(spend <= upper + slack), (
            f"{name}: the allocation {spend} leaves the bounds {bounds} at budget {budget}"
        )
    again = clone(allocator).set_params(random_state=0).fit(history).optimize(typical)
    first = fitted.optimize(typical)
    assert again.optimal_allocation == first.optimal_allocation, (
        f"{name}: the same seed gave different allocations"
    )
