"""Calibrating the retail simulator to observed transactions, on held-out households.

:class:`SimulatorCalibrator` searches a :class:`RetailSimulator`'s parameters
with Optuna's TPE sampler for the simulated transactions that look most like
a reference's (:func:`hillmix_sim.metrics.harmonic_score`), on one half of the
reference's households, and reports every metric on the other half.

Every trial simulates with the same seed (common random numbers), so two
trials differ only by their parameters, and the same ``random_state`` and
number of trials give the same best parameters. A study lives in memory, in
a SQLite file (resumable: a run killed part-way keeps every finished trial)
or in a PostgreSQL database that workers on many machines share.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed
from hillmix.utils._expected_failures import LOG_CHECKS

from ..metrics import METRICS, compare, harmonic_score, metric_samples
from ._engine import simulate_batch
from ._search_spaces import SEARCH_SPACES, decode_params, encode_params, resolve_search_space
from ._traits import check_trait

__all__ = ["SimulatorCalibrator", "plot_calibration", "simulate_transactions"]

# Integer columns the metrics read; the others are numbers or flags.
_INTEGER_COLUMNS = ("household_id", "store_id", "basket_id", "week", "day", "quantity")
_FLAG_COLUMNS = ("on_display", "on_mailer", "online")
_BATCH = 5000
# scikit-learn checks that fit on (X, y) arrays: fit takes a reference's
# transactions table instead, as the log-fitting estimators take a log.
_ARRAY_CHECKS = (*LOG_CHECKS, "check_estimators_pickle(readonly_memmap=True)")
# Seconds between a RDB worker's heartbeats, and without one before its
# running trial counts as dead (a killed worker's trial is then retried).
_HEARTBEAT, _GRACE = 30, 90


def _default_estimator():
    from ._simulator import RetailSimulator

    # A catalog big enough for every metric (no metric looks at products),
    # small enough that a trial's weekly state is cheap.
    return RetailSimulator(n_products=1000, n_categories=100)


def simulate_transactions(simulator, n_weeks: int) -> pd.DataFrame:
    """A fitted simulator's transactions with an ``online`` column, and nothing else.

    What :meth:`RetailSimulator.generate` returns as ``transactions`` (same
    rows, same order), without the tables the metrics do not use.

    Parameters
    ----------
    simulator : RetailSimulator
        Fitted.
    n_weeks : int

    Returns
    -------
    transactions : DataFrame
        :data:`~hillmix_sim.TRANSACTION_COLUMNS` and ``online``.
    """
    return pd.DataFrame(_simulate_columns(simulator, n_weeks))


def _simulate_columns(simulator, n_weeks: int) -> dict:
    """:func:`simulate_transactions` as a dict of arrays (no DataFrame copy: trials use it)."""
    check_is_fitted(simulator, "seed_")
    ctx = simulator._context(simulator.default_spend(n_weeks))
    n = simulator.settings_["n_households"]
    parts = []
    for start in range(0, n, _BATCH):
        _, _, baskets = simulate_batch(ctx, start, min(start + _BATCH, n), collect_lines=True)
        parts.append(baskets.lines)
    columns = {k: np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k]
               for k in parts[0]}
    online = simulator.catalog_.store_ids[simulator.catalog_.store_online]
    columns["online"] = np.isin(columns["store_id"], online)
    return columns


def _reference_transactions(reference) -> pd.DataFrame:
    tx = getattr(reference, "transactions", reference)
    if not isinstance(tx, pd.DataFrame):
        raise TypeError(
            "reference must be a DataFrame of transactions or an object with a "
            "`transactions` DataFrame (RetailData, load_complete_journey()), "
            f"got {type(reference).__name__}."
        )
    return tx


def check_reference(reference, metrics) -> pd.DataFrame:
    """The reference's transactions, checked for what the metrics need.

    Raises
    ------
    ValueError
        Missing columns, no rows, or weeks below 1.
    TypeError
        Columns of the wrong dtype.
    """
    tx = _reference_transactions(reference)
    needed = sorted({c for name in metrics for c in METRICS[name].columns} | {"household_id"})
    missing = [c for c in needed if c not in tx.columns]
    if missing:
        raise ValueError(
            f"The reference transactions lack the column(s) {missing}, which the metrics "
            f"{[n for n in metrics if set(METRICS[n].columns) & set(missing)]} need."
        )
    for column in needed:
        dtype = tx[column].dtype
        if column in _INTEGER_COLUMNS:
            ok = pd.api.types.is_integer_dtype(dtype)
            kind = "integers"
        elif column in _FLAG_COLUMNS:
            ok = pd.api.types.is_bool_dtype(dtype)
            kind = "booleans"
        else:
            ok = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            kind = "numbers"
        if not ok:
            raise TypeError(f"Reference column {column!r} must hold {kind}, got dtype {dtype}.")
    if len(tx) == 0:
        raise ValueError("The reference transactions have no rows.")
    if "week" in tx and tx["week"].min() < 1:
        raise ValueError("Reference weeks must start at 1.")
    return tx


class SimulatorCalibrator(BaseEstimator):
    """Search a retail simulator's parameters for data like a reference's.

    In scikit-learn's search style (compare ``GridSearchCV`` and Optuna's
    ``OptunaSearchCV``): the reference's households are split in two, the
    search simulates as many households as the calibration half holds and
    maximises :func:`~hillmix_sim.metrics.harmonic_score` against it, and the
    best parameters are then simulated afresh (another seed) for as many
    households as the held-out half holds and reported against it, metric by
    metric.

    Parameters
    ----------
    estimator : RetailSimulator, default=None
        The simulator whose parameters are searched (numbers the search
        space leaves out keep its values). None: a ``RetailSimulator`` with
        1,000 products in 100 categories.
    search_space : {"tier1", "tier2", "tier3"} or dict, default="tier3"
        A named space (see :mod:`~hillmix_sim.retail._search_spaces`: base
        rates; and promotions and marketing; and every trait distribution's
        shape, location, scale and bounds) or a dict of Optuna distributions
        by name (``"promo_frequency"``, ``"visit_rate__mu"``, ...).
    metrics : list of str, default=None
        Names in :data:`hillmix_sim.metrics.METRICS`; all of them when None,
        the online share only if the reference has an ``online`` column.
    n_trials : int, default=200
        Finished trials the study should hold: a study resumed from its
        storage runs only the missing ones, and workers sharing a study stop
        together (each may finish the trial it is running, so a shared study
        can end with up to one extra trial per further worker).
    n_households : int, default=None
        Households simulated per trial; as many as the calibration half
        holds when None.
    holdout : float, default=0.5
        Share of the reference's households held out of the search.
    storage : str or optuna storage, default=None
        In memory when None; ``"sqlite:///study.db"`` makes the study
        resumable; ``"postgresql://user@host/db"`` lets workers on many
        machines share it (each runs ``fit`` with the same ``study_name``).
    study_name : str, default=None
        The study in ``storage`` (created, or loaded and continued); a new
        name when None.
    n_jobs : int, default=1
        Trials run at once in this process (threads). Above one, trials
        finish in an order that depends on timing, so the search is no
        longer reproducible.
    timeout : float, default=None
        Seconds after which no new trial starts.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the household split, the simulations and the TPE sampler.
        Workers sharing a study in ``storage`` give the same value (so they
        evaluate the same households with the same seeds); each process's
        sampler mixes in its process id, so that they propose different
        parameters: only in-memory studies are reproducible.
    progress : bool, default=False
        A progress bar over trials.

    Attributes
    ----------
    best_params_ : dict
        The best trial's simulator parameters (for ``set_params``).
    best_score_ : float
        Its harmonic score on the calibration half.
    best_estimator_ : RetailSimulator
        The estimator with ``best_params_``, fitted, simulating as many
        households as the held-out half holds.
    study_ : optuna.Study
    calibration_report_ : DataFrame
        Per metric: ``kind``, ``real_mean`` (held-out half), ``initial`` (the
        estimator before the search, on the held-out half), ``calibration``
        (the best trial on the calibration half), ``held_out`` (the best
        parameters simulated afresh, on the held-out half),
        ``simulated_mean`` (that simulation) and ``description``.
        ``attrs`` holds each column's harmonic and plain mean scores.
    samples_ : dict of str to dict of ndarray
        The metrics' samples behind the report: ``"real"`` (held-out half),
        ``"initial"`` and ``"calibrated"`` (simulated), for
        :func:`plot_calibration`.
    calibration_households_, held_out_households_ : ndarray of int64
        The reference's household ids in each half.
    n_weeks_ : int
        Weeks of the reference, and of every simulation.
    metrics_ : list of str
    search_space_ : dict of str to optuna distribution
    seed_ : int

    See Also
    --------
    hillmix_sim.metrics.compare : The per-metric report of two tables.
    RetailSimulator.from_preset : Parameters calibrated once, shipped.

    Examples
    --------
    >>> from hillmix_sim import RetailSimulator, SimulatorCalibrator, make_retail_data
    >>> data, _ = make_retail_data(n_households=60, n_weeks=4, n_products=100,
    ...                            n_categories=10, n_stores=4, random_state=1)
    >>> cal = SimulatorCalibrator(
    ...     RetailSimulator(n_products=100, n_categories=10, n_stores=4),
    ...     search_space="tier1", n_trials=3, random_state=0).fit(data)
    >>> sorted(cal.best_params_)[:2]
    ['base_price', 'basket_size']
    >>> cal.calibration_report_.loc["lines_per_basket", "kind"]
    '1-KS'
    """

    _parameter_constraints: dict = {
        "estimator": [None, BaseEstimator],
        "search_space": [StrOptions(set(SEARCH_SPACES)), dict],
        "metrics": [None, list, tuple],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "n_households": [None, Interval(Integral, 1, None, closed="left")],
        "holdout": [Interval(Real, 0, 1, closed="neither")],
        "storage": "no_validation",
        "study_name": [None, str],
        "n_jobs": [Interval(Integral, 1, None, closed="left")],
        "timeout": [None, Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        search_space="tier3",
        metrics=None,
        n_trials: int = 200,
        n_households: int | None = None,
        holdout: float = 0.5,
        storage=None,
        study_name: str | None = None,
        n_jobs: int = 1,
        timeout: float | None = None,
        random_state=None,
        progress: bool = False,
    ):
        self.estimator = estimator
        self.search_space = search_space
        self.metrics = metrics
        self.n_trials = n_trials
        self.n_households = n_households
        self.holdout = holdout
        self.storage = storage
        self.study_name = study_name
        self.n_jobs = n_jobs
        self.timeout = timeout
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------ checks
    def _check(self, reference):
        """Everything that can be wrong, before the first trial."""
        estimator = _default_estimator() if self.estimator is None else self.estimator
        if not hasattr(estimator, "_context") or not hasattr(estimator, "set_params"):
            raise TypeError(
                f"estimator must be a RetailSimulator, got {type(estimator).__name__}."
            )
        tx = _reference_transactions(reference)
        if self.metrics is None:
            # Every metric; the online share only where the data say which
            # trips were online (The Complete Journey does not).
            metrics = [n for n in METRICS if n != "online_share" or "online" in tx.columns]
        else:
            unknown = [n for n in self.metrics if n not in METRICS]
            if unknown:
                raise ValueError(f"Unknown metric(s) {unknown}; expected names in {list(METRICS)}.")
            metrics = list(self.metrics)
        if not any(METRICS[n].kind == "ks" for n in metrics):
            raise ValueError("metrics must include at least one 1-KS metric for the score.")
        tx = check_reference(tx, metrics)
        space = resolve_search_space(self.search_space, estimator)
        # Parameters the estimator refuses must fail here, not in trial 1:
        # both ends of every range are checked.
        for end in ("low", "high"):
            probe = {name: getattr(dist, end) if hasattr(dist, end) else dist.choices[0]
                     for name, dist in space.items()}
            params = decode_params(probe, estimator, self.search_space)
            try:
                clone(estimator).set_params(**params)._validate_params()
                for name, value in params.items():
                    if isinstance(value, tuple):
                        check_trait(name, value)
            except ValueError as exc:
                raise ValueError(
                    f"search_space reaches parameters the simulator refuses at the {end} end "
                    f"of its ranges: {exc}"
                ) from exc
        return estimator, tx, metrics, space

    def _split(self, tx, rng):
        ids = np.unique(tx["household_id"].to_numpy())
        if ids.size < 2:
            raise ValueError(
                f"The reference has {ids.size} household(s); the split needs at least 2."
            )
        shuffled = rng.permutation(ids)
        n_out = min(max(round(self.holdout * ids.size), 1), ids.size - 1)
        return np.sort(shuffled[n_out:]), np.sort(shuffled[:n_out])

    def _expected_failed_checks(self):
        return dict.fromkeys(
            _ARRAY_CHECKS,
            "fit takes a table of transactions (household_id, basket_id, ...), not (X, y) arrays",
        )

    def _sampler_seed(self, rng) -> int:
        seed = int(rng.integers(2**31))
        if self.storage is None:
            return seed
        # Workers sharing a study share random_state (so they evaluate the
        # same households with the same seeds) but must not propose the same
        # parameters: each process's sampler gets its own stream.
        return int(np.random.default_rng([seed, os.getpid()]).integers(2**31))

    # --------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, reference, y=None):
        """Search the simulator's parameters, then report on held-out households.

        Parameters
        ----------
        reference : DataFrame, RetailData or Bunch
            Transactions (:data:`~hillmix_sim.TRANSACTION_COLUMNS`, as
            :func:`~hillmix_sim.datasets.load_complete_journey` gives them),
            or an object whose ``transactions`` they are.
        y : None
            Ignored.

        Returns
        -------
        self : SimulatorCalibrator
        """
        import optuna

        estimator, tx, metrics, space = self._check(reference)
        self.seed_ = resolve_seed(self.random_state)
        rng = np.random.default_rng([self.seed_, 1])
        calibration, held_out = self._split(tx, rng)
        hh = tx["household_id"].to_numpy()
        cal_tx, out_tx = tx[np.isin(hh, calibration)], tx[np.isin(hh, held_out)]
        self.n_weeks_ = int(tx["week"].max()) if "week" in tx else 53
        self.metrics_ = metrics
        self.search_space_ = space
        self.calibration_households_, self.held_out_households_ = calibration, held_out
        real_cal = metric_samples(cal_tx, metrics, n_weeks=self.n_weeks_)
        n_sim = calibration.size if self.n_households is None else int(self.n_households)
        sim_seed = int(rng.integers(2**31))

        def simulate(params, n, seed):
            sim = clone(estimator).set_params(**params, n_households=n, random_state=seed)
            return _simulate_columns(sim.fit(), self.n_weeks_)

        def objective(trial):
            values = {name: _suggest(trial, name, dist) for name, dist in space.items()}
            params = decode_params(values, estimator, self.search_space)
            samples = metric_samples(simulate(params, n_sim, sim_seed), metrics,
                                     n_weeks=self.n_weeks_)
            sims = {n: METRICS[n].similarity(real_cal[n], samples[n]) for n in metrics}
            for name, value in sims.items():
                trial.set_user_attr(name, None if math.isnan(value) else value)
            trial.set_user_attr("worker", os.getpid())
            return harmonic_score(sims)

        with _quiet_optuna():
            study = optuna.create_study(
                storage=_storage(self.storage),
                study_name=self.study_name,
                direction="maximize",
                sampler=optuna.samplers.TPESampler(seed=self._sampler_seed(rng)),
                load_if_exists=self.study_name is not None,
            )
            if not study.trials:
                # The estimator's own parameters are the first trial: the
                # search can only improve on where it starts.
                study.enqueue_trial(
                    encode_params(estimator, space, self.search_space), skip_if_exists=True
                )
            done = _n_complete(study)
            remaining = max(self.n_trials - done, 0)
            if remaining:
                bar = tqdm(total=self.n_trials, initial=done, disable=not self.progress,
                           desc="trials")
                try:
                    study.optimize(
                        objective,
                        n_trials=remaining,
                        timeout=self.timeout,
                        n_jobs=self.n_jobs,
                        catch=(ValueError,),
                        callbacks=[
                            optuna.study.MaxTrialsCallback(self.n_trials),
                            lambda s, t: bar.update(1),
                        ],
                    )
                finally:
                    bar.close()
        if _n_complete(study) == 0:
            raise RuntimeError("No trial finished: see study_.trials for their errors.")
        self.study_ = study
        best = study.best_trial
        self.best_params_ = decode_params(best.params, estimator, self.search_space)
        self.best_score_ = float(best.value)

        # The held-out half: fresh households (another seed) as many as it has.
        out_seed = int(rng.integers(2**31))
        n_out = held_out.size
        real_out = metric_samples(out_tx, metrics, n_weeks=self.n_weeks_)
        initial = metric_samples(simulate({}, n_out, out_seed), metrics, n_weeks=self.n_weeks_)
        self.best_estimator_ = clone(estimator).set_params(
            **self.best_params_, n_households=n_out, random_state=out_seed
        ).fit()
        calibrated = metric_samples(
            _simulate_columns(self.best_estimator_, self.n_weeks_), metrics,
            n_weeks=self.n_weeks_,
        )
        self.samples_ = {"real": real_out, "initial": initial, "calibrated": calibrated}
        report = compare(real_out, calibrated, metrics)
        report = report.rename(columns={"similarity": "held_out"})
        report.insert(1, "initial", compare(real_out, initial, metrics)["similarity"])
        report.insert(2, "calibration", [best.user_attrs.get(n, math.nan) for n in metrics])
        report = report[["kind", "real_mean", "initial", "calibration", "held_out",
                         "simulated_mean", "description"]]
        report.attrs = {
            f"{kind}_{column}": fn(report[column].astype(float).to_dict())
            for column in ("initial", "calibration", "held_out")
            for kind, fn in (("harmonic", harmonic_score), ("mean", _mean))
        }
        self.calibration_report_ = report
        return self


def _suggest(trial, name, dist):
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def _mean(values):
    from ..metrics import mean_score

    return mean_score(values)


def _n_complete(study) -> int:
    import optuna

    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def _storage(storage):
    """A URL becomes a RDB storage whose dead workers' trials are retried."""
    if not isinstance(storage, str):
        return storage
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(5):
        try:
            return RDBStorage(
                storage,
                heartbeat_interval=_HEARTBEAT,
                grace_period=_GRACE,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
        except SQLAlchemyError:
            # Workers starting together on an empty database race to create
            # its tables: the loser finds them made on its next attempt.
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's per-trial log lines and experimental warnings, off inside fit only."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


def plot_calibration(calibrator, metrics=None, *, axes=None):
    """Real against simulated ECDFs, one panel per metric, before and after calibration.

    Parameters
    ----------
    calibrator : SimulatorCalibrator or dict
        Fitted; or its ``samples_``: a dict with ``"real"``, ``"initial"``
        and ``"calibrated"``, each a dict of samples by metric
        (:func:`hillmix_sim.metrics.metric_samples`).
    metrics : list of str, default=None
        Every metric with samples when None.
    axes : array of matplotlib Axes, default=None
        One per metric; a new figure when None.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        Each panel's title gives the metric's similarity before → after.
    """
    import matplotlib.pyplot as plt

    if isinstance(calibrator, dict):
        samples = calibrator
        missing = {"real", "initial", "calibrated"} - set(samples)
        if missing:
            raise ValueError(f"The samples lack {sorted(missing)}.")
    else:
        check_is_fitted(calibrator, "samples_")
        samples = calibrator.samples_
    available = [n for n in METRICS if n in samples["real"]]
    names = list(available if metrics is None else metrics)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"No samples for metric(s) {unknown}; expected some of {available}.")
    if axes is None:
        n_cols = min(4, len(names))
        n_rows = math.ceil(len(names) / n_cols)
        _, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.6 * n_rows),
                               squeeze=False)
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size < len(names):
        raise ValueError(f"axes has {flat.size} panel(s) for {len(names)} metric(s).")
    styles = {"real": ("k", "-", "real (held out)"), "initial": ("tab:red", ":", "before"),
              "calibrated": ("tab:blue", "--", "after")}
    for ax, name in zip(flat, names, strict=False):
        for key, (color, line, label) in styles.items():
            x = np.sort(np.asarray(samples[key][name], dtype=np.float64))
            if x.size == 0:
                continue
            ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", color=color,
                    linestyle=line, label=label)
        lo, hi = _view(samples["real"][name])
        if hi > lo:
            ax.set_xlim(lo, hi)
        metric = METRICS[name]
        before = metric.similarity(samples["real"][name], samples["initial"][name])
        after = metric.similarity(samples["real"][name], samples["calibrated"][name])
        kind = "1-KS" if metric.kind == "ks" else "1-TV"
        ax.set_title(f"{name}\n{kind}: {before:.2f} → {after:.2f}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in flat[len(names):]:
        ax.set_visible(False)
    flat[0].legend(fontsize=7)
    return axes


def _view(sample):
    x = np.asarray(sample, dtype=np.float64)
    if x.size == 0:
        return 0.0, 0.0
    return float(np.quantile(x, 0.0)), float(np.quantile(x, 0.99))

