"""BudgetAllocator: one shared budget over the channels of one or several models."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from tqdm.auto import tqdm

from hillmix._jax_setup import in_double_precision
from hillmix.utils import resolve_seed

from ._engine import CHUNK, GRID_POINTS, SEARCH_DRAWS, Engine, feasible_point
from ._models import resolve_models, resolve_weights
from ._protocol import check_response_model
from ._result import AllocationResult
from ._utility import UTILITIES, resolve_utility

__all__ = ["BudgetAllocator"]

# Response values (draws x periods x channels) one evaluation of the objective
# or of the search tables may ask the models for: 2 GiB in double precision.
# Past it a horizon does not fit in a typical machine's memory.
_MAX_RESPONSE_VALUES = 2**28


class BudgetAllocator(TransformerMixin, BaseEstimator):
    """Allocate one budget over the channels of one or several fitted models.

    The same spend drives every model's outcome (say in-store and online
    revenue); the allocator maximises a utility of the weighted sum of the
    models' responses::

        combined[d] = sum_m weights[m] * sum_c response_m[d, c](spend[c])

    over posterior draws ``d``, subject to ``sum(spend) == total_budget`` and
    per-channel bounds. Spend is per period and held for ``num_periods``
    periods; responses are totals over those periods plus the carryover
    after them. The channels are the union over the models; a model lacking a
    channel gets no response from it.

    The objective and its gradient are JAX programs over the posterior draws
    (``jit`` and ``grad``, no finite differences). Hill curves with exponents
    above one are S-shaped, so the objective has several local maxima: a
    global search runs spectral projected gradient ascent from several starts
    (the current allocation, a marginal-return greedy allocation, the
    lattice optimum of the mean by dynamic programming, an equal split and
    ``n_starts`` random ones) on interpolants of each channel's response
    (values and exact slopes on a grid, from up to 64 draws); the best
    candidate is scored on the exact objective next to the current
    allocation, and the better one refined by trust-region steps on the exact
    objective with every draw. The result is never worse than the current
    allocation at the same budget. See :doc:`/allocation`.

    The allocator talks to models only through the response protocol
    (:class:`~hillmix_opt.ResponseModel`): :class:`hillmix.HillMixtureMMM`,
    :class:`~hillmix_opt.HillCurveModel` or any class with ``channel_names_``
    and a JAX-traceable ``media_response``.

    Parameters
    ----------
    models : model, list of models, dict of str to model, or ModelWeight records
        Fitted models offering the response protocol. A mapping's keys and
        :class:`~hillmix_opt.ModelWeight` labels name the models; otherwise
        they are ``"model"`` (one) or ``"model_0"``, ``"model_1"``, ....
        Unfitted estimators are cloned and fitted in :meth:`fit` on ``X`` and
        ``y``; fitted ones are used as they are. Like every scikit-learn
        meta-estimator, :func:`~sklearn.base.clone` re-creates estimators it
        finds here unfitted: wrap a fitted model in a ``ModelWeight`` or in
        :class:`sklearn.frozen.FrozenEstimator` to keep it through clones.
    weights : {"equal", "margin"}, sequence of float or dict, default="equal"
        ``"equal"``: every model counts 1. ``"margin"``: each model's weight
        is its profit margin, given as the ``weight`` of its ``ModelWeight``
        record, so the combined response is profit. Numbers (in model order,
        or a mapping label -> weight) are custom weights. A weight of zero
        warns (:class:`~hillmix_opt.ZeroWeightWarning`) and leaves the model
        out of the objective.
    num_periods : int, default=8
        Periods the allocation's spend per period is held for. :meth:`fit`
        refuses a horizon (with the carryover) so long that one evaluation
        would ask the models for more than 2**28 response values (draws x
        periods x channels, about 2 GiB).
    carryover_periods : int, default=None
        Zero-spend periods after the horizon whose response counts (carryover
        of adstock). None: ``adstock_max_lag - 1`` of the model with the
        longest ``adstock_max_lag`` (0 for models without one).
    utility : {"mean", "quantile", "cvar", "mean_std"} or callable, default="mean"
        What is maximised over the posterior draws of the combined response:
        its mean; its ``utility_level`` quantile (a value at risk); its
        conditional value at risk (mean of the worst ``utility_level``
        fraction of draws); or its mean minus ``risk_aversion`` times its
        standard deviation. A callable maps the per-draw combined response (a
        JAX array) to a scalar and must be JAX-traceable.
    utility_level : float, default=0.1
        Quantile or tail probability of ``"quantile"`` and ``"cvar"``.
    risk_aversion : float, default=1.0
        Weight of the standard deviation in ``"mean_std"``.
    channel_bounds : dict of str to (float, float), default=None
        Default bounds on spend per period, by channel: ``(lower, upper)``,
        either of which may be None. Unlisted channels get ``(0, inf)``,
        except channels no model saw spend on (listed in every covering
        model's ``channels_without_spend_``), whose responses are priors
        alone: they are held at ``(0, 0)``, with a warning, until named
        here or in :meth:`optimize`'s ``channel_bounds``.
    n_draws : int, default=None
        Posterior draws used per model (evenly spaced). None: as many as the
        model with the fewest has (among models of positive weight); draws of
        different models are paired by position, as independent posteriors.
    n_starts : int, default=8
        Random starts of the global search, besides the current allocation,
        the greedy allocation, the lattice optimum and an equal split.
    coverage : float, default=0.9
        Mass of the reported posterior intervals.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the random starts; the same int gives the same allocations, bit
        for bit.
    progress : bool, default=False
        Show progress bars while fitting models and over many budgets.

    Attributes
    ----------
    models_ : list of ResponseModel
        The fitted models.
    model_labels_ : ndarray of str
    weights_ : ndarray of shape (n_models,)
    channel_names_ : ndarray of str
        The union of the models' channels, in order of first appearance.
    current_allocation_ : ndarray of shape (n_channels,)
        Mean spend per period of each channel in ``X``.
    bounds_ : ndarray of shape (n_channels, 2)
        Default lower and upper bound of each channel (upper may be inf).
    n_draws_ : int
        Posterior draws used per model.
    carryover_periods_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` had string column names.

    See Also
    --------
    hillmix.HillMixtureMMM : A model offering the response protocol.
    hillmix_opt.HillCurveModel : Known curves as a response model.

    Examples
    --------
    Two outcomes driven by the same spend, in-store and online revenue; the
    online model has no TV channel:

    >>> import pandas as pd
    >>> from hillmix_opt import BudgetAllocator, HillCurveModel
    >>> history = pd.DataFrame({"tv": [120.0, 80.0], "search": [40.0, 60.0],
    ...                         "social": [30.0, 10.0]})
    >>> store = HillCurveModel(amplitude=[900.0, 300.0, 200.0], kappa=[150.0, 60.0, 40.0],
    ...                        n=[2.0, 1.0, 1.0]).fit(history)
    >>> online = HillCurveModel(amplitude=[500.0, 400.0], kappa=[50.0, 30.0]).fit(
    ...     history[["search", "social"]])
    >>> allocator = BudgetAllocator(models={"store": store, "online": online},
    ...                             weights={"store": 0.3, "online": 0.5},
    ...                             num_periods=4, random_state=0).fit(history)
    >>> result = allocator.optimize(170.0, compare_to_current=True)
    >>> {c: round(v, 1) for c, v in result.optimal_allocation.items()}
    {'tv': 0.0, 'search': 98.8, 'social': 71.2}
    >>> round(result.combined_response, 1), round(result.current_combined_response, 1)
    (1604.5, 1395.9)

    TV's in-store curve is S-shaped: it pays only past its threshold, which a
    larger budget reaches.

    >>> allocator.predict([170.0, 300.0]).round(1)
    channel          tv  search  social
    total_budget
    170.0           0.0    98.8    71.2
    300.0         148.7    87.6    63.6
    """

    _parameter_constraints: dict = {
        "models": "no_validation",
        "weights": [StrOptions({"equal", "margin"}), "array-like", dict],
        "num_periods": [Interval(numbers.Integral, 1, None, closed="left")],
        "carryover_periods": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "utility": [StrOptions(set(UTILITIES)), callable],
        "utility_level": [Interval(numbers.Real, 0, 1, closed="neither")],
        "risk_aversion": [Interval(numbers.Real, 0, None, closed="left")],
        "channel_bounds": [dict, None],
        "n_draws": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_starts": [Interval(numbers.Integral, 0, None, closed="left")],
        "coverage": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        models=None,
        weights="equal",
        num_periods: int = 8,
        carryover_periods: int | None = None,
        utility="mean",
        utility_level: float = 0.1,
        risk_aversion: float = 1.0,
        channel_bounds: dict | None = None,
        n_draws: int | None = None,
        n_starts: int = 8,
        coverage: float = 0.9,
        random_state=None,
        progress: bool = False,
    ):
        self.models = models
        self.weights = weights
        self.num_periods = num_periods
        self.carryover_periods = carryover_periods
        self.utility = utility
        self.utility_level = utility_level
        self.risk_aversion = risk_aversion
        self.channel_bounds = channel_bounds
        self.n_draws = n_draws
        self.n_starts = n_starts
        self.coverage = coverage
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    @in_double_precision
    def fit(self, X, y=None):
        """Learn the channels, the current allocation and the default bounds.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
            Spend history, non-negative in the channels' columns. A DataFrame
            needs a column per channel (others, such as controls, are
            ignored); an array has the
            channels as columns in the order of ``channel_names_`` (or is the
            array the models were fitted on, whose channels are named ``x0``,
            ``x1``, ... by position). Also the data unfitted models are fitted
            on.
        y : array-like of shape (n_periods,) or (n_periods, n_unfitted), default=None
            Targets of the unfitted models in ``models``, one column each (in
            model order, or by label for a DataFrame). Only for unfitted
            models.

        Returns
        -------
        self : BudgetAllocator
        """
        entries = resolve_models(self.models)
        weights = resolve_weights(self.weights, entries)
        resolve_utility(self.utility, self.utility_level, self.risk_aversion)
        if isinstance(X, pd.DataFrame):
            bad = [str(c) for c, t in X.dtypes.items() if not _is_number(t)]
            if bad:
                raise ValueError(f"X has non-numeric column(s) {bad}; spend must be numbers.")
        X_raw = X
        X = validate_data(self, X, dtype=np.float64)
        # Spend is checked once the channels are known: other columns, such
        # as controls, may be negative (an unfitted model checks its own
        # spend before fitting).
        models = self._fit_models(entries, X_raw, y, X.shape[0])
        labels = [e[0] for e in entries]
        channel_lists = [
            check_response_model(m, f"models[{label!r}]")
            for label, m in zip(labels, models, strict=True)
        ]
        union = list(dict.fromkeys(c for channels in channel_lists for c in channels))
        position = {c: i for i, c in enumerate(union)}
        index = [np.array([position[c] for c in channels]) for channels in channel_lists]
        columns = self._history_columns(X.shape[1], union)
        negative = [c for c, col in zip(union, X[:, columns].T, strict=True) if np.any(col < 0)]
        if negative:
            raise ValueError(f"X has negative spend in channel(s) {negative}; spend must be >= 0.")
        named = {str(c) for c in self.channel_bounds or ()}
        held = [c for c in _channels_without_spend(models, channel_lists) if c not in named]
        lower, upper = _resolve_bounds(
            self.channel_bounds,
            union,
            np.zeros(len(union)),
            np.where(np.isin(union, held), 0.0, np.inf),
        )
        if held:
            warnings.warn(
                f"No model saw spend on channel(s) {held}: their responses are priors alone, so "
                "their spend is held at zero. Give them channel_bounds to allocate to them.",
                UserWarning,
                stacklevel=2,
            )
        draws = [
            _count_draws(m, len(ch), self.n_draws, label)
            for m, ch, label in zip(models, channel_lists, labels, strict=True)
        ]
        # Models in the objective share a number of draws (paired by
        # position); a zero-weight model is only reported, with its own.
        n_draws = min(d for d, w in zip(draws, weights, strict=True) if w > 0)
        if self.carryover_periods is None:
            lags = [getattr(m, "adstock_max_lag", 1) for m in models]
            carryover = max(
                int(lag) - 1 if isinstance(lag, numbers.Integral) else 0 for lag in lags
            )
        else:
            carryover = int(self.carryover_periods)
        _check_horizon(self.num_periods, carryover, int(n_draws), len(union))

        self.models_ = models
        self.model_labels_ = np.asarray(labels, dtype=object)
        self.weights_ = weights
        self.channel_names_ = np.asarray(union, dtype=object)
        self.current_allocation_ = X[:, columns].mean(axis=0)
        self.bounds_ = np.column_stack([lower, upper])
        self._held_channels = held
        self.n_draws_ = int(n_draws)
        self.carryover_periods_ = carryover
        self._channel_index = index
        self._history_index = np.asarray(columns)
        self._seed = resolve_seed(self.random_state)
        self._engine = self._build_engine()
        return self

    def _fit_models(self, entries, X, y, n_rows):
        unfitted = [i for i, (_, m, _) in enumerate(entries) if _needs_fit(m)]
        if not unfitted:
            if y is not None:
                raise ValueError(
                    "y is given, but every model is already fitted: y is only used to fit "
                    "unfitted models in models."
                )
            return [m for _, m, _ in entries]
        targets = _split_targets(y, [entries[i][0] for i in unfitted], n_rows)
        for i, target in zip(unfitted, targets, strict=True):
            label, model, _ = entries[i]
            if target is None and get_tags(model).target_tags.required:
                raise ValueError(
                    f"models[{label!r}] is an unfitted {type(model).__name__}, which needs a "
                    "target: pass y to fit (one column per unfitted model), or pass the "
                    "fitted model."
                )
        models = [m for _, m, _ in entries]
        for i, target in tqdm(
            list(zip(unfitted, targets, strict=True)),
            desc="fitting models",
            disable=not self.progress,
        ):
            model = clone(entries[i][1])
            models[i] = model.fit(X) if target is None else model.fit(X, target)
        return models

    def _history_columns(self, n_features, union):
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            if n_features == len(union):
                return list(range(n_features))
            # An array with more columns: named by position, as the models
            # fitted on it name them (x0, x1, ...).
            names = [f"x{i}" for i in range(n_features)]
        position = {str(c): i for i, c in enumerate(names)}
        missing = [c for c in union if c not in position]
        if missing:
            raise ValueError(
                f"X lacks the spend of channel(s) {missing}: the models' channels are {union}; "
                f"X's columns are {[str(c) for c in names]}."
            )
        return [position[c] for c in union]

    @in_double_precision
    def _build_engine(self):
        return Engine(
            models=self.models_,
            index=self._channel_index,
            weights=self.weights_,
            num_periods=self.num_periods,
            carryover=self.carryover_periods_,
            n_draws=self.n_draws_,
            n_channels=len(self.channel_names_),
            utility=resolve_utility(self.utility, self.utility_level, self.risk_aversion),
        )

    def __getstate__(self):
        # A copy: object.__getstate__ may hand back the live __dict__.
        state = dict(super().__getstate__())
        state.pop("_engine", None)  # compiled JAX programs: rebuilt on load
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "models_" in self.__dict__:
            self._engine = self._build_engine()

    # ------------------------------------------------------------- optimise
    @in_double_precision
    def optimize(
        self,
        total_budget: float,
        channel_bounds: dict | None = None,
        compare_to_current: bool = False,
    ) -> AllocationResult:
        """The allocation of ``total_budget`` that maximises the utility.

        Parameters
        ----------
        total_budget : float
            Spend per period to allocate, non-negative.
        channel_bounds : dict of str to (float, float), default=None
            Bounds for this call, by channel; they replace the defaults
            (``channel_bounds`` given at construction) for the channels named.
        compare_to_current : bool, default=False
            Also report the current (historical) allocation's responses.

        Returns
        -------
        result : AllocationResult

        Raises
        ------
        ValueError
            When the problem is infeasible (negative budget, bounds whose
            lower sum exceeds the budget or upper sum falls short of it) or a
            bound names an unknown channel; before any optimisation.
        """
        check_is_fitted(self)
        budget = _check_budget(total_budget, "total_budget")
        lower, upper = self._bounds(channel_bounds)
        _check_feasible(lower, upper, budget)
        solution = self._solve(budget, lower, upper)
        return self._result(solution, budget, compare_to_current)

    def _bounds(self, channel_bounds):
        names = [str(c) for c in self.channel_names_]
        if channel_bounds is not None and not isinstance(channel_bounds, Mapping):
            raise TypeError(
                f"channel_bounds must be a dict channel -> (lower, upper), got "
                f"{type(channel_bounds).__name__}."
            )
        upper = self.bounds_[:, 1].copy()
        # Naming a held channel (no model saw spend on it) lifts the hold:
        # its upper bound is then the one given, or none.
        named = {str(c) for c in channel_bounds or ()}
        for channel in getattr(self, "_held_channels", ()):
            if channel in named:
                upper[names.index(channel)] = np.inf
        return _resolve_bounds(channel_bounds, names, self.bounds_[:, 0], upper)

    def _solve(self, budget, lower, upper):
        free = budget - lower.sum()
        upper = np.minimum(upper, lower + free)
        n_channels = len(lower)
        # Relative: an absolute floor would skip optimising any budget below it.
        if free <= 1e-12 * budget or np.all(upper - lower <= 0):
            x = feasible_point(lower, lower, upper, budget)
            objective, gradient, responses = self._engine.value_and_grad(x)
            return {
                "x": x,
                "objective": objective,
                "gradient": gradient,
                "responses": responses,
                "success": True,
                "message": "The bounds leave a single allocation.",
                "iterations": 0,
            }
        rng = np.random.default_rng(self._seed)
        current = self.current_allocation_
        scaled = (
            current * budget / current.sum() if current.sum() > 0 else lower + free / n_channels
        )
        room = upper - lower
        starts = np.vstack(
            [
                scaled,
                lower + free * room / room.sum(),
                lower + free * rng.dirichlet(np.ones(n_channels), size=self.n_starts),
            ]
        )
        baseline = feasible_point(scaled, lower, upper, budget)
        solution = self._engine.solve(lower, upper, budget, starts, baseline=baseline)
        x = solution["x"]
        feasible = np.all((x >= lower) & (x <= upper)) and abs(x.sum() - budget) <= 1e-9 * budget
        if not feasible:
            x = solution["x"] = feasible_point(x, lower, upper, budget)
        if solution["responses"] is None or not feasible:
            solution["responses"] = [r[0] for r in self._engine.responses(x[None])]
        return solution

    def _result(self, solution, budget, compare_to_current):
        engine = self._engine
        names = [str(c) for c in self.channel_names_]
        labels = [str(m) for m in self.model_labels_]
        responses = [r[None] for r in solution["responses"]]
        if compare_to_current:
            current = engine.responses(self.current_allocation_[None])
            responses = [np.concatenate(pair) for pair in zip(responses, current, strict=True)]
        tail = (1 - self.coverage) / 2
        summaries = [self._summarize(responses, i, tail) for i in range(len(responses[0]))]
        best = summaries[0]
        result = AllocationResult(
            optimal_allocation=dict(zip(names, map(float, solution["x"]), strict=True)),
            total_budget=float(budget),
            response_by_model=best["by_model"],
            combined_response=best["combined"],
            response_ci_by_model=best["ci_by_model"],
            combined_response_ci=best["combined_ci"],
            allocation_contribution=pd.DataFrame(
                best["contribution"],
                index=pd.Index(names, name="channel"),
                columns=pd.Index(labels, name="model"),
            ),
            weights=dict(zip(labels, map(float, self.weights_), strict=True)),
            objective=float(solution["objective"]),
            utility=self.utility
            if isinstance(self.utility, str)
            else getattr(self.utility, "__name__", "custom"),
            success=bool(solution["success"]),
            message=solution["message"],
            iterations=int(solution["iterations"]),
            coverage=float(self.coverage),
            num_periods=int(self.num_periods),
            carryover_periods=int(self.carryover_periods_),
        )
        if compare_to_current:
            current = summaries[1]
            result.current_allocation = dict(
                zip(names, map(float, self.current_allocation_), strict=True)
            )
            result.current_response_by_model = current["by_model"]
            result.current_combined_response = current["combined"]
            result.current_objective = float(engine.objective_from([r[1:2] for r in responses])[0])
        return result

    def _summarize(self, responses, row, tail):
        labels = [str(m) for m in self.model_labels_]
        contribution = np.zeros((len(self.channel_names_), len(labels)))
        by_model, ci_by_model = {}, {}
        combined_draws = 0.0
        for m, label in enumerate(labels):
            draws = responses[m][row]  # (n_draws, n_model_channels)
            contribution[self._channel_index[m], m] = draws.mean(axis=0)
            totals = draws.sum(axis=1)
            by_model[label] = float(contribution[:, m].sum())
            ci_by_model[label] = _interval(totals, tail)
            if self.weights_[m] > 0:
                combined_draws = combined_draws + self.weights_[m] * totals
        return {
            "contribution": contribution,
            "by_model": by_model,
            "ci_by_model": ci_by_model,
            "combined": float(sum(self.weights_[m] * by_model[lb] for m, lb in enumerate(labels))),
            "combined_ci": _interval(combined_draws, tail),
        }

    # ------------------------------------------------------- scikit-learn API
    @in_double_precision
    def predict(self, X) -> pd.DataFrame:
        """Optimal allocations of budgets, or of each allocation's total.

        Parameters
        ----------
        X : float, array-like of shape (n_budgets,), or allocations
            Total budgets per period; or a table of allocations of shape
            (n_allocations, n_channels) (as for :meth:`transform`), each
            re-allocated optimally at its own total.

        Returns
        -------
        allocations : DataFrame of shape (n_budgets, n_channels)
            Indexed by budget (or by the rows of ``X``).
        """
        check_is_fitted(self)
        if np.ndim(X) <= 1 and not isinstance(X, pd.DataFrame):
            budgets = np.atleast_1d(np.asarray(X, dtype=float))
            index = pd.Index(budgets, name="total_budget")
        else:
            allocations, index = self._allocation_table(X, "X")
            budgets = allocations.sum(axis=1)
        budgets = [_check_budget(b, "total_budget") for b in budgets]
        lower, upper = self._bounds(None)
        rows = []
        for budget in tqdm(budgets, desc="budgets", disable=not self.progress):
            _check_feasible(lower, upper, budget)
            rows.append(self._solve(budget, lower, upper)["x"])
        columns = pd.Index([str(c) for c in self.channel_names_], name="channel")
        return pd.DataFrame(
            np.reshape(rows, (len(rows), len(columns))), index=index, columns=columns
        )

    @in_double_precision
    def transform(self, X):
        """Each model's expected response to each allocation.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_allocations, n_channels)
            Spend per period of each channel (held for ``num_periods``). A
            DataFrame is matched by column name (other columns are ignored);
            an array has the channels in the order of ``channel_names_``.

        Returns
        -------
        responses : ndarray of shape (n_allocations, n_models)
            Posterior mean response of each model (columns in the order of
            ``model_labels_``).
        """
        check_is_fitted(self)
        allocations, _ = self._allocation_table(X, "X")
        responses = self._engine.responses(allocations)
        return np.column_stack([r.sum(axis=-1).mean(axis=-1) for r in responses])

    @in_double_precision
    def fit_transform(self, X, y=None):
        """Fit, then each model's expected response to each period's spend in ``X``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_features)
        y : array-like, default=None
            See :meth:`fit`.

        Returns
        -------
        responses : ndarray of shape (n_periods, n_models)
        """
        self.fit(X, y)
        history = validate_data(self, X, dtype=np.float64, reset=False)
        return self.transform(history[:, self._history_index])

    def get_feature_names_out(self, input_features=None):
        """The model labels: the columns of :meth:`transform`'s output.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        return np.asarray(self.model_labels_, dtype=object)

    def _allocation_table(self, X, name):
        names = [str(c) for c in self.channel_names_]
        if isinstance(X, pd.DataFrame):
            columns = [str(c) for c in X.columns]
            missing = [c for c in names if c not in columns]
            if missing:
                raise ValueError(f"{name} lacks channel(s) {missing}; the channels are {names}.")
            frame = X.set_axis(columns, axis=1)[names]
            bad = [c for c, t in frame.dtypes.items() if not _is_number(t)]
            if bad:
                raise ValueError(f"{name} has non-numeric channel column(s) {bad}.")
            holes = frame.isna()
            if holes.to_numpy().any():
                rows = [str(r) for r in frame.index[holes.any(axis=1)]]
                raise ValueError(
                    f"{name} has no spend (NaN) for channel(s) "
                    f"{[c for c in names if holes[c].any()]} in row(s) "
                    f"{rows[:5] + ['...'] * (len(rows) > 5)}; give every channel's spend "
                    "(0 for none)."
                )
            values = check_array(frame.to_numpy(), dtype=np.float64, input_name=name)
            index = X.index
        else:
            values = check_array(X, dtype=np.float64, input_name=name)
            if values.shape[1] != len(names):
                raise ValueError(
                    f"X has {values.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{len(names)} features as input: one column per channel {names}."
                )
            index = None
        if np.any(values < 0):
            raise ValueError(f"Negative values in data: {name} (spend) must be non-negative.")
        return values, index

    # ------------------------------------------------------ other decisions
    @in_double_precision
    def evaluate(self, scenarios) -> pd.DataFrame:
        """Per-model and combined response, with intervals, of given allocations.

        Parameters
        ----------
        scenarios : DataFrame, dict of str to dict, Series or array-like
            Allocations (spend per period per channel): rows of a DataFrame
            or array (channels as for :meth:`transform`), a mapping scenario
            name -> {channel: spend}, or one Series.

        Returns
        -------
        evaluation : DataFrame
            One row per scenario. Columns: ``("spend", "total")``, then
            (model label or ``"combined"``, ``"mean"`` / ``"lower"`` /
            ``"upper"``), and ``("objective", "value")``.
        """
        check_is_fitted(self)
        if isinstance(scenarios, pd.Series):
            scenarios = scenarios.to_frame().T
        elif isinstance(scenarios, Mapping):
            names = [str(c) for c in self.channel_names_]
            for key, scenario in scenarios.items():
                if isinstance(scenario, Mapping | pd.Series):
                    keys = scenario.index if isinstance(scenario, pd.Series) else list(scenario)
                    missing = [c for c in names if c not in {str(k) for k in keys}]
                    if missing:
                        raise ValueError(
                            f"scenarios[{key!r}] lacks channel(s) {missing}; every scenario "
                            f"gives the spend of each channel {names} (0 for none)."
                        )
            scenarios = pd.DataFrame.from_dict(dict(scenarios), orient="index")
        allocations, index = self._allocation_table(scenarios, "scenarios")
        responses = self._engine.responses(allocations)
        tail = (1 - self.coverage) / 2
        labels = [str(m) for m in self.model_labels_]
        columns = {("spend", "total"): allocations.sum(axis=1)}
        combined = 0.0
        for m, label in enumerate(labels):
            totals = responses[m].sum(axis=-1)  # (n_scenarios, n_draws)
            columns.update(_stats(label, totals, tail))
            if self.weights_[m] > 0:
                combined = combined + self.weights_[m] * totals
        columns.update(_stats("combined", combined, tail))
        columns[("objective", "value")] = self._engine.objective_from(responses)
        frame = pd.DataFrame(columns, index=index)
        frame.columns = pd.MultiIndex.from_tuples(frame.columns)
        return frame

    @in_double_precision
    def find_budget(
        self,
        target_response: float,
        channel_bounds: dict | None = None,
        compare_to_current: bool = False,
        rtol: float = 1e-6,
    ) -> AllocationResult:
        """The smallest budget whose optimal allocation reaches a target.

        The target is on the objective: the utility of the combined response,
        which for ``utility="mean"`` is the expected combined response. The
        optimal objective grows with the budget (for every utility but
        ``"mean_std"``), so a safeguarded Newton search on the budget, with
        the budget constraint's multiplier as slope, finds the crossing.

        Parameters
        ----------
        target_response : float
        channel_bounds : dict, default=None
            As for :meth:`optimize`.
        compare_to_current : bool, default=False
            As for :meth:`optimize`.
        rtol : float, default=1e-6
            Relative precision of the budget.

        Returns
        -------
        result : AllocationResult
            At the budget found (``result.total_budget``).

        Raises
        ------
        ValueError
            When no budget within the bounds reaches the target.
        """
        check_is_fitted(self)
        target = _check_real(target_response, "target_response")
        rtol = _check_real(rtol, "rtol")
        if not 0 < rtol < 1:
            raise ValueError(f"rtol must be in (0, 1), got {rtol}.")
        lower, upper = self._bounds(channel_bounds)
        bar = tqdm(desc="budget search", disable=not self.progress)

        def solve(budget):
            bar.update()
            return self._solve(budget, lower, upper)

        lo = float(lower.sum())
        lo_solution = solve(lo)
        if lo_solution["objective"] >= target:
            bar.close()
            return self._result(lo_solution, lo, compare_to_current)
        # Bracket the target: the largest budget the bounds allow, or
        # doubling until the target is passed (or the objective saturates).
        max_budget = float(upper.sum())
        if np.isfinite(max_budget):
            hi, hi_solution = max_budget, solve(max_budget)
            reached = hi_solution["objective"] >= target
        else:
            hi = max(float(self.current_allocation_.sum()), 2 * lo, 1.0)
            for _ in range(64):
                hi_solution = solve(hi)
                reached = hi_solution["objective"] >= target
                stalled = hi_solution["objective"] <= lo_solution["objective"] * (1 + 1e-10)
                if reached or stalled:
                    break
                lo, lo_solution, hi = hi, hi_solution, 2 * hi
        if not reached:
            bar.close()
            raise ValueError(
                f"target_response={target:.6g} is out of reach: the objective reaches "
                f"{hi_solution['objective']:.6g} at a budget of {hi:.6g} and grows no further "
                "within the bounds."
            )
        # Newton steps from below, with the budget multiplier as slope,
        # safeguarded by bisection; each candidate is nudged up by rtol/2 so
        # that the bracket also closes from above.
        for _ in range(100):
            if hi - lo <= rtol * hi:
                break
            slope = _multiplier(lo_solution, lower, upper)
            step = (target - lo_solution["objective"]) / slope if slope > 0 else np.inf
            budget = lo + step * (1 + 1e-3) if np.isfinite(step) else np.inf
            budget = min(budget * (1 + rtol / 2), hi)
            if not lo < budget < hi:
                budget = 0.5 * (lo + hi)
            solution = solve(budget)
            if solution["objective"] >= target:
                hi, hi_solution = budget, solution
            else:
                lo, lo_solution = budget, solution
        bar.close()
        return self._result(hi_solution, hi, compare_to_current)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this estimator fails by design, with the reason."""
        return {
            "check_fit2d_predict1d": (
                "predict takes total budgets: a 1-D array is a batch of budgets by design, "
                "not a malformed row of allocations"
            ),
        }


# ----------------------------------------------------------------- helpers
def _is_number(dtype):
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _needs_fit(model):
    if not (hasattr(model, "fit") and hasattr(model, "get_params")):
        return False
    try:
        check_is_fitted(model)
    except NotFittedError:
        return True
    except TypeError:  # not an estimator after all
        return False
    return False


def _split_targets(y, labels, n_rows):
    """One target (or None) per unfitted model, from ``y``."""
    if y is None:
        return [None] * len(labels)
    if isinstance(y, pd.DataFrame) and set(labels) <= {str(c) for c in y.columns}:
        y = y.set_axis([str(c) for c in y.columns], axis=1)
        columns = [y[label].to_numpy() for label in labels]
    else:
        values = np.asarray(y)
        if values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1 and len(labels) == 1):
            values = values.reshape(len(values), -1)
        if values.ndim != 2 or values.shape[1] != len(labels):
            raise ValueError(
                f"y must have one column per unfitted model ({len(labels)}: {labels}); got "
                f"shape {np.shape(y)}."
            )
        columns = [values[:, i] for i in range(len(labels))]
    for label, column in zip(labels, columns, strict=True):
        if len(column) != n_rows:
            raise ValueError(f"y has {len(column)} rows for models[{label!r}], but X has {n_rows}.")
    return columns


def _count_draws(model, n_channels, n_draws, label):
    probe = np.asarray(model.media_response(np.zeros((1, n_channels)), n_draws=n_draws))
    if probe.ndim != 3 or probe.shape[1:] != (1, n_channels) or probe.shape[0] < 1:
        raise ValueError(
            f"models[{label!r}].media_response returned shape {probe.shape} for a plan of shape "
            f"(1, {n_channels}); the protocol asks for (n_draws, n_periods, n_channels)."
        )
    return probe.shape[0]


def _check_real(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def _check_budget(value, name):
    if isinstance(value, np.generic):
        value = value.item()
    value = _check_real(value, name)
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}.")
    return value


def _channels_without_spend(models, channel_lists) -> list[str]:
    """Channels that every model covering them lists in ``channels_without_spend_``."""
    learnt, channels = set(), []
    for model, names in zip(models, channel_lists, strict=True):
        unspent = {str(c) for c in getattr(model, "channels_without_spend_", ())}
        learnt.update(c for c in names if c not in unspent)
        channels.extend(names)
    return [c for c in dict.fromkeys(channels) if c not in learnt]


def _resolve_bounds(channel_bounds, names, lower, upper):
    lower = np.array(lower, dtype=float)
    upper = np.full(len(names), np.inf) if upper is None else np.array(upper, dtype=float)
    if not channel_bounds:
        return lower, upper
    unknown = [str(c) for c in channel_bounds if str(c) not in names]
    if unknown:
        raise ValueError(
            f"channel_bounds names unknown channel(s) {unknown}; the channels are {names}."
        )
    for channel, bound in channel_bounds.items():
        try:
            lo, hi = bound
        except (TypeError, ValueError):
            raise ValueError(
                f"channel_bounds[{channel!r}] must be a pair (lower, upper), got {bound!r}."
            ) from None
        i = names.index(str(channel))
        if lo is not None:
            lower[i] = _check_budget(lo, f"channel_bounds[{channel!r}] lower bound")
        if hi is not None:
            if isinstance(hi, np.generic):
                hi = hi.item()
            if not isinstance(hi, numbers.Real) or isinstance(hi, bool) or np.isnan(hi) or hi < 0:
                raise ValueError(
                    f"channel_bounds[{channel!r}] upper bound must be a number >= 0 (inf or None "
                    f"for no bound), got {hi!r}."
                )
            upper[i] = float(hi)
        if lower[i] > upper[i]:
            raise ValueError(
                f"channel_bounds[{channel!r}] has lower bound {lower[i]} above upper bound "
                f"{upper[i]}."
            )
    return lower, upper


def _check_horizon(num_periods, carryover, n_draws, n_channels):
    """Refuse a horizon whose response arrays could not be held in memory.

    The largest batch the engine evaluates at once is the search tables'
    (``GRID_POINTS`` spends of up to ``SEARCH_DRAWS`` draws) or a chunk of
    allocations over every draw; each asks the models for a response per
    draw, period and channel.
    """
    batch = max(GRID_POINTS * min(n_draws, SEARCH_DRAWS), CHUNK * n_draws)
    values = batch * (num_periods + carryover) * n_channels
    if values > _MAX_RESPONSE_VALUES:
        raise ValueError(
            f"num_periods={num_periods} (with {carryover} carryover periods) is too long a "
            f"horizon for {n_draws} posterior draws and {n_channels} channels: one evaluation "
            f"would hold {values:.3g} response values ({values * 8 / 2**30:.3g} GiB), above the "
            f"limit of {_MAX_RESPONSE_VALUES:.3g}. Lower num_periods (or carryover_periods, "
            "or n_draws)."
        )


def _check_feasible(lower, upper, budget):
    if lower.sum() > budget * (1 + 1e-12):
        raise ValueError(
            f"Infeasible: the lower bounds sum to {lower.sum():.6g}, above "
            f"total_budget={budget:.6g}."
        )
    if upper.sum() < budget * (1 - 1e-12):
        raise ValueError(
            f"Infeasible: the upper bounds sum to {upper.sum():.6g}, below "
            f"total_budget={budget:.6g}."
        )


def _interval(draws, tail):
    return (float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail)))


def _stats(label, totals, tail):
    return {
        (label, "mean"): totals.mean(axis=-1),
        (label, "lower"): np.quantile(totals, tail, axis=-1),
        (label, "upper"): np.quantile(totals, 1 - tail, axis=-1),
    }


def _multiplier(solution, lower, upper):
    """Marginal objective of one more unit of budget at an optimum."""
    x, g = solution["x"], solution["gradient"]
    finite = np.isfinite(upper)
    room = np.where(finite, upper, 0.0) - x
    can_grow = ~finite | (room > 1e-9 * np.maximum(np.where(finite, upper, 0.0), 1.0))
    if not np.any(can_grow) or not np.all(np.isfinite(g)):
        return 0.0
    return float(np.max(g[can_grow]))
