"""A simulated company that targets users with a contextual bandit.

Each iteration draws a fresh population, lets the strategy pick one action
per user from the current bank, draws clicks from the ground truth, logs
the observations (with propensities, so off-policy estimates are valid),
and hands them to an action-bank algorithm that proposes the next bank.
Strategies and algorithms are passed in: this module never imports
:mod:`hillmix_opt`.
"""

from __future__ import annotations

import contextlib
import copy as _copy
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed

from ._actions import ActionBank, TemplateActionGenerator, make_action_bank
from ._embedding import HashingEmbedder
from ._preferences import MixtureOfExpertsPreference, make_ground_truth
from ._users import NO_DATA_CHECKS, USER_FEATURES, UserGenerator, user_matrix

__all__ = [
    "USER_SCORE_COLUMNS",
    "ActionBankAlgorithm",
    "CompanySimulator",
    "SimulationData",
    "SimulationResults",
]


#: Columns of the logs holding the users' normal scores (:func:`user_matrix`),
#: the features strategies see; warm-start a strategy from a log with
#: ``strategy.fit(log, feature_columns=USER_SCORE_COLUMNS)``.
USER_SCORE_COLUMNS = tuple(f"z_{name}" for name in USER_FEATURES)


@runtime_checkable
class ActionBankAlgorithm(Protocol):
    """What :class:`CompanySimulator` asks of an action-bank algorithm.

    ``propose_bank`` gets one iteration's observations and the bank they
    were collected with, and returns the next bank of ``n_actions``
    actions. New actions take ids from ``first_action_id`` upwards; an
    action kept from the old bank keeps its id, so a strategy keeps what it
    learned about it. An optional ``results_`` dict after the call is saved
    as the iteration's ``algorithm_results.json``.
    """

    def propose_bank(
        self,
        observations: pd.DataFrame,
        actions: ActionBank,
        n_actions: int,
        first_action_id: int,
        random_state: int,
    ) -> ActionBank: ...


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=_json_default))


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def _write_table(frame: pd.DataFrame, path_stem: Path, fmt: str) -> None:
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path_stem.with_suffix(".parquet"), index=False)
    else:
        frame.to_csv(path_stem.with_suffix(".csv"), index=False)


def _read_table(path_stem: Path) -> pd.DataFrame:
    parquet = path_stem.with_suffix(".parquet")
    return (
        pd.read_parquet(parquet) if parquet.exists() else pd.read_csv(path_stem.with_suffix(".csv"))
    )


@contextlib.contextmanager
def _atomic_directory(path):
    """Yield a temporary directory that becomes ``path`` only if the block succeeds.

    The directory is written beside its target and renamed into place, so
    an interrupted write leaves nothing that looks complete.
    """
    target, tmp = _fresh_target(path)
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fresh_target(path) -> tuple[Path, Path]:
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"results_dir {str(target)!r} exists and is not empty; choose a new one.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(target.parent, os.W_OK):
        raise ValueError(f"results_dir {str(target)!r}: its parent is not writable.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    return target, tmp


@dataclass
class SimulationData:
    """The inputs of a simulation, generated once and reused across algorithms.

    Attributes
    ----------
    users : list of pandas.DataFrame
        One fresh population per iteration.
    initial_bank : ActionBank
    config : dict
        How the data were generated.
    """

    users: list[pd.DataFrame]
    initial_bank: ActionBank
    config: dict = field(default_factory=dict)

    def save(self, path) -> Path:
        """Write ``data_config.json``, the initial bank and each iteration's users.

        The directory is written beside its target and renamed into place,
        so an interrupted save leaves nothing that looks complete.
        """
        with _atomic_directory(path) as tmp:
            _write_json(tmp / "data_config.json", self.config)
            self.initial_bank.to_json(tmp / "initialization" / "action_bank" / "action_bank.json")
            for i, users in enumerate(self.users):
                _write_table(users, tmp / f"iteration_{i}" / "users" / "users", "parquet")
        return Path(path)

    @classmethod
    def load(cls, path) -> SimulationData:
        """Read a directory written by :meth:`save`."""
        root = Path(path)
        config_file = root / "data_config.json"
        if not config_file.exists():
            raise ValueError(
                f"{str(root)!r} is not a simulation-data directory (no data_config.json)."
            )
        config = json.loads(config_file.read_text())
        bank = ActionBank.from_json(root / "initialization" / "action_bank" / "action_bank.json")
        users = [
            _read_table(root / f"iteration_{i}" / "users" / "users")
            for i in range(int(config["n_iterations"]))
        ]
        return cls(users=users, initial_bank=bank, config=config)


@dataclass
class SimulationResults:
    """What a :class:`CompanySimulator` run produced.

    Attributes
    ----------
    config : dict
    iterations : pandas.DataFrame
        One row per iteration: ``company_reward`` (click rate), the true
        ``expected_reward`` of the chosen actions, the strategy's
        ``policy_value``, ``oracle_reward`` (best action in the bank for
        each user), ``best_single_action_reward``, ``random_reward`` and
        ``regret`` (oracle minus expected).
    observations : list of pandas.DataFrame
        The logs: user features (raw, and as the normal scores strategies
        see, :data:`USER_SCORE_COLUMNS`), ``action_id``, ``propensity``,
        ``reward``, and the true ``click_probability`` of the chosen action.
    banks : list of ActionBank
        The bank each iteration targeted with.
    new_banks : list of ActionBank or None
    ground_truth_evaluations, algorithm_results : list of dict
    """

    config: dict
    iterations: pd.DataFrame
    observations: list[pd.DataFrame]
    banks: list[ActionBank]
    new_banks: list[ActionBank | None]
    ground_truth_evaluations: list[dict]
    algorithm_results: list[dict]

    def save(self, path, observations_format: str = "parquet") -> Path:
        """Write the seed's results layout, atomically.

        ``simulation_config.json``, ``initialization/`` and per iteration
        ``observations``, ``action_bank.json``, ``ground_truth_evaluation.json``,
        ``algorithm_results.json`` and ``new_action_bank.json``, then
        ``complete_simulation_results.json``.
        """
        if observations_format not in ("parquet", "csv"):
            raise ValueError(
                f"observations_format must be 'parquet' or 'csv', got {observations_format!r}."
            )
        with _atomic_directory(path) as tmp:
            _write_json(tmp / "simulation_config.json", self.config)
            self.banks[0].to_json(tmp / "initialization" / "action_bank.json")
            _write_json(
                tmp / "initialization" / "initialization_summary.json",
                {
                    "n_initial_actions": len(self.banks[0]),
                    "embedding_dim": self.banks[0].embedding_dim,
                },
            )
            for i, obs in enumerate(self.observations):
                folder = tmp / f"iteration_{i}"
                _write_table(obs, folder / "observations", observations_format)
                self.banks[i].to_json(folder / "action_bank.json")
                _write_json(
                    folder / "ground_truth_evaluation.json", self.ground_truth_evaluations[i]
                )
                _write_json(folder / "algorithm_results.json", self.algorithm_results[i])
                if self.new_banks[i] is not None:
                    self.new_banks[i].to_json(folder / "new_action_bank.json")
            summary = {
                "config": self.config,
                "iterations": self.iterations.to_dict(orient="records"),
            }
            _write_json(tmp / "complete_simulation_results.json", summary)
        return Path(path)

    @classmethod
    def load(cls, path) -> SimulationResults:
        """Read a results directory written by :meth:`save`."""
        root = Path(path)
        complete = root / "complete_simulation_results.json"
        if not complete.exists():
            raise ValueError(
                f"{str(root)!r} is not a complete results directory "
                "(no complete_simulation_results.json)."
            )
        summary = json.loads(complete.read_text())
        n = len(summary["iterations"])
        banks, new_banks, observations, evaluations, algorithm_results = [], [], [], [], []
        for i in range(n):
            folder = root / f"iteration_{i}"
            banks.append(ActionBank.from_json(folder / "action_bank.json"))
            new_file = folder / "new_action_bank.json"
            new_banks.append(ActionBank.from_json(new_file) if new_file.exists() else None)
            observations.append(_read_table(folder / "observations"))
            evaluations.append(json.loads((folder / "ground_truth_evaluation.json").read_text()))
            algorithm_results.append(json.loads((folder / "algorithm_results.json").read_text()))
        return cls(
            config=summary["config"],
            iterations=pd.DataFrame(summary["iterations"]),
            observations=observations,
            banks=banks,
            new_banks=new_banks,
            ground_truth_evaluations=evaluations,
            algorithm_results=algorithm_results,
        )

    def plot_learning_curve(self, ax=None):
        """Company reward per iteration, against the oracle and random targeting.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional

        Returns
        -------
        ax : matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        it = self.iterations
        x = it["iteration"].to_numpy()
        ax.plot(x, it["oracle_reward"], "k--", label="oracle (best action per user)")
        ax.plot(x, it["expected_reward"], "o-", label="strategy (true expected reward)")
        ax.plot(x, it["company_reward"], "s:", alpha=0.7, label="strategy (observed click rate)")
        ax.plot(x, it["best_single_action_reward"], "k:", label="best single action for all")
        ax.plot(x, it["random_reward"], color="0.6", label="random targeting")
        ax.set_xlabel("iteration")
        ax.set_ylabel("click rate")
        ax.set_xticks(x)
        ax.legend(fontsize="small")
        return ax


def _seed_of(component, seed):
    """A copy whose unset random_state is filled from the simulation's seed.

    Estimators are cloned; other components (duck-typed generators) are
    copied, so the caller's object is never advanced or changed.
    """
    if hasattr(component, "get_params"):
        copy = clone(component, safe=False)
        if copy.get_params().get("random_state", 0) is None:
            copy.set_params(random_state=seed)
        return copy
    copy = _copy.copy(component)
    if getattr(copy, "random_state", 0) is None:
        copy.random_state = seed
    return copy


class CompanySimulator(BaseEstimator):
    """A company that targets fresh users each iteration, with a known truth.

    Parameters
    ----------
    strategy : estimator
        A targeting strategy with ``set_bank``, ``predict_proba``, ``decide``
        and ``partial_fit`` (for example :class:`hillmix_opt.LinUCBStrategy`).
        Cloned at the start of a run; it carries what it learns across
        iterations and bank changes.
    ground_truth : estimator or str, optional
        A preference model (:class:`MixtureOfExpertsPreference` by default,
        or :class:`GMMPreference`, :class:`LinearPreference`), or its name
        for :func:`make_ground_truth`; fitted on the first population and
        the initial bank.
    algorithm : ActionBankAlgorithm, optional
        Proposes each next bank from the logs. Needed when
        ``action_bank_size > 0``.
    user_generator : UserGenerator, optional
    action_generator : object with ``generate(n)``, optional
        Writes the initial bank's texts; :class:`TemplateActionGenerator` by
        default (offline). Its ``random_state``, when None, is set from the
        simulation's.
    embedder : object with ``embed(texts)``, optional
        :class:`HashingEmbedder` by default (offline and deterministic);
        pass an :class:`ActionEmbedder` for OpenAI embeddings.
    n_iterations : int, default=4
    n_users : int, default=10000
        Users per iteration (when the run draws its own data; a run on
        :class:`SimulationData` takes every user of each iteration).
    n_initial_actions : int, default=30
    action_bank_size : int, default=0
        Size of each new bank; 0 keeps the initial bank throughout (the
        baseline).
    batch_size : int, default=1000
        Users targeted between two strategy updates.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the data, the clicks, and every component whose own
        ``random_state`` is None.
    progress : bool, default=False
        A progress bar over iterations.

    Attributes
    ----------
    results_ : SimulationResults
    strategy_, ground_truth_ : estimators
        The fitted copies.

    Examples
    --------
    >>> from hillmix_opt import LinUCBStrategy
    >>> from hillmix_sim import CompanySimulator
    >>> sim = CompanySimulator(strategy=LinUCBStrategy(), n_iterations=2, n_users=500,
    ...                        n_initial_actions=5, random_state=0)
    >>> results = sim.run()
    >>> list(results.iterations["iteration"])
    [0, 1]
    >>> len(results.observations[1])
    500

    See :doc:`/targeting` for the loop, the results layout and a learning
    curve.
    """

    _parameter_constraints: dict = {
        "strategy": [HasMethods(["set_bank", "predict_proba", "decide", "partial_fit"])],
        "ground_truth": [HasMethods(["fit", "click_probability"]), str, None],
        "algorithm": [HasMethods(["propose_bank"]), None],
        "user_generator": [HasMethods(["fit", "generate"]), None],
        "action_generator": [HasMethods(["generate"]), None],
        "embedder": [HasMethods(["embed"]), None],
        "n_iterations": [Interval(Integral, 1, None, closed="left")],
        "n_users": [Interval(Integral, 1, None, closed="left")],
        "n_initial_actions": [Interval(Integral, 1, None, closed="left")],
        "action_bank_size": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        strategy,
        ground_truth=None,
        algorithm=None,
        user_generator=None,
        action_generator=None,
        embedder=None,
        n_iterations: int = 4,
        n_users: int = 10000,
        n_initial_actions: int = 30,
        action_bank_size: int = 0,
        batch_size: int = 1000,
        random_state=None,
        progress: bool = False,
    ):
        self.strategy = strategy
        self.ground_truth = ground_truth
        self.algorithm = algorithm
        self.user_generator = user_generator
        self.action_generator = action_generator
        self.embedder = embedder
        self.n_iterations = n_iterations
        self.n_users = n_users
        self.n_initial_actions = n_initial_actions
        self.action_bank_size = action_bank_size
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress

    # -- data -----------------------------------------------------------------

    @staticmethod
    def _seeds(root_seed: int) -> dict:
        root = np.random.SeedSequence(root_seed)
        names = ("data", "truth", "strategy", "clicks", "algorithm")
        return {n: int(s.generate_state(1)[0]) for n, s in zip(names, root.spawn(5), strict=True)}

    def generate_data(self, path=None) -> SimulationData:
        """Draw the users of every iteration and the initial bank, once.

        Running several strategies or algorithms on the same
        :class:`SimulationData` (``run(data=...)``) compares them on the same
        users and actions.

        Parameters
        ----------
        path : str or Path, optional
            Where to save the data (see :meth:`SimulationData.save`); a used
            or unwritable directory is refused before anything is drawn.

        Returns
        -------
        data : SimulationData
        """
        self._validate_params()
        if path is not None:
            _, tmp = _fresh_target(path)
            shutil.rmtree(tmp)
        data = self._generate_data(self._seeds(resolve_seed(self.random_state))["data"])
        if path is not None:
            data.save(path)
        return data

    def _generate_data(self, seed: int) -> SimulationData:
        users_seed, actions_seed = (
            int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2)
        )
        user_generator = self.user_generator if self.user_generator is not None else UserGenerator()
        generator = _seed_of(user_generator, users_seed).fit()
        users = [generator.generate(self.n_users, iteration=i) for i in range(self.n_iterations)]
        action_generator = (
            self.action_generator
            if self.action_generator is not None
            else TemplateActionGenerator()
        )
        texts = _seed_of(action_generator, actions_seed).generate(self.n_initial_actions)
        embedder = self.embedder if self.embedder is not None else HashingEmbedder()
        bank = make_action_bank(texts, embedder)
        config = {
            "n_iterations": self.n_iterations,
            "n_users": self.n_users,
            "n_initial_actions": self.n_initial_actions,
            "random_state": seed,
            "user_generator": repr(generator),
            "action_generator": repr(action_generator),
            "embedder": repr(embedder),
            "embedding_dim": bank.embedding_dim,
        }
        return SimulationData(users=users, initial_bank=bank, config=config)

    # -- the run -------------------------------------------------------------

    def fit(self, X=None, y=None, *, data=None):
        """Run the simulation.

        Parameters
        ----------
        X, y : None
            Ignored; present for the estimator API.
        data : SimulationData or path, optional
            Pre-generated users and initial bank; drawn from ``random_state``
            when omitted. The ground truth and the clicks still come from
            ``random_state``: runs that compare strategies on the same data
            should share it.

        Returns
        -------
        self : CompanySimulator
        """
        self._validate_params()
        if self.action_bank_size > 0 and self.algorithm is None:
            raise ValueError(
                f"action_bank_size={self.action_bank_size} needs an algorithm that proposes "
                "new banks; pass algorithm=... or set action_bank_size=0 to keep the bank."
            )
        if isinstance(self.ground_truth, str):
            truth = make_ground_truth(self.ground_truth)
        else:
            truth = (
                self.ground_truth if self.ground_truth is not None else MixtureOfExpertsPreference()
            )
        root_seed = resolve_seed(self.random_state)
        seeds = self._seeds(root_seed)
        truth = _seed_of(truth, seeds["truth"])
        if data is None:
            data = self._generate_data(seeds["data"])
        elif not isinstance(data, SimulationData):
            data = SimulationData.load(data)
        if len(data.users) < self.n_iterations:
            raise ValueError(
                f"data has users for {len(data.users)} iterations; n_iterations is "
                f"{self.n_iterations}."
            )
        truth.fit(data.users[0], action_embeddings=data.initial_bank.embeddings)
        strategy = _seed_of(self.strategy, seeds["strategy"])
        click_seq = np.random.SeedSequence(seeds["clicks"])
        algo_seeds = np.random.SeedSequence(seeds["algorithm"]).generate_state(self.n_iterations)

        bank = data.initial_bank
        next_id = int(np.max(bank.action_ids)) + 1
        rows, observations, evaluations, algorithm_results = [], [], [], []
        banks, new_banks = [], []
        click_streams = click_seq.spawn(self.n_iterations)
        for i in tqdm(range(self.n_iterations), disable=not self.progress, desc="iterations"):
            users = data.users[i]
            # One uniform per user, drawn up front: clicks do not depend on
            # the batch size.
            uniforms = np.random.default_rng(click_streams[i]).random(len(users))
            obs, evaluation = self._target(strategy, truth, users, bank, uniforms)
            obs.insert(0, "iteration", i)
            row = {"iteration": i, "n_actions": len(bank), **evaluation["summary"]}
            new_bank, result = None, {}
            if self.action_bank_size > 0:
                new_bank = self.algorithm.propose_bank(
                    obs, bank, int(self.action_bank_size), next_id, int(algo_seeds[i])
                )
                if not isinstance(new_bank, ActionBank):
                    raise TypeError(
                        f"algorithm.propose_bank must return an ActionBank, got "
                        f"{type(new_bank).__name__}."
                    )
                result = dict(getattr(self.algorithm, "results_", {}) or {})
                next_id = max(next_id, int(np.max(new_bank.action_ids)) + 1)
            rows.append(row)
            observations.append(obs)
            banks.append(bank)
            new_banks.append(new_bank)
            evaluations.append(evaluation)
            algorithm_results.append(result)
            if new_bank is not None:
                bank = new_bank
        config = {
            **self._config(),
            "data": data.config,
            "root_seed": root_seed,
            "seeds": seeds,
        }
        self.ground_truth_ = truth
        self.strategy_ = strategy
        self.results_ = SimulationResults(
            config=config,
            iterations=pd.DataFrame(rows),
            observations=observations,
            banks=banks,
            new_banks=new_banks,
            ground_truth_evaluations=evaluations,
            algorithm_results=algorithm_results,
        )
        return self

    def run(self, results_dir=None, *, data=None, observations_format: str = "parquet"):
        """Run the simulation and, optionally, write its results directory.

        Parameters
        ----------
        results_dir : str or Path, optional
            A new (or empty) directory for the results; checked before any
            work.
        data : SimulationData or path, optional
        observations_format : {"parquet", "csv"}, default="parquet"

        Returns
        -------
        results : SimulationResults
        """
        if observations_format not in ("parquet", "csv"):
            raise ValueError(
                f"observations_format must be 'parquet' or 'csv', got {observations_format!r}."
            )
        if results_dir is not None:
            target, tmp = _fresh_target(results_dir)  # fail early, not after the run
            shutil.rmtree(tmp)
        self.fit(data=data)
        if results_dir is not None:
            self.results_.save(target, observations_format=observations_format)
        return self.results_

    def _config(self):
        config = {}
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, BaseEstimator):
                config[name] = {"class": type(value).__name__, **value.get_params(deep=False)}
            elif value is None or isinstance(value, bool | int | float | str):
                config[name] = value
            else:
                config[name] = repr(value)
        return json.loads(json.dumps(config, default=_json_default))

    def _target(self, strategy, truth, users, bank, uniforms):
        strategy.set_bank(bank)
        Z = user_matrix(users)
        # Strategies see named normal scores, so a strategy warm-started on
        # the raw columns of a log is caught by its feature-name check.
        scores = pd.DataFrame(Z, columns=list(USER_SCORE_COLUMNS))
        n = len(users)
        chosen = np.empty(n, dtype=np.int64)
        propensity = np.empty(n)
        p_chosen = np.empty(n)
        policy_value = np.empty(n)
        oracle = np.empty(n)
        mean_p = np.zeros(len(bank))
        for start in range(0, n, self.batch_size):
            batch = slice(start, min(start + self.batch_size, n))
            Sb = scores.iloc[batch]
            P = truth.click_probability(Z[batch], bank)
            proba = strategy.predict_proba(Sb)
            ids, props = strategy.decide(Sb)
            idx = bank.index_of(ids)
            p = P[np.arange(len(idx)), idx]
            clicks = (uniforms[batch] < p).astype(np.float64)
            strategy.partial_fit(Sb, ids, clicks)
            chosen[batch], propensity[batch], p_chosen[batch] = ids, props, p
            policy_value[batch] = np.sum(proba * P, axis=1)
            oracle[batch] = P.max(axis=1)
            mean_p += P.sum(axis=0)
        mean_p /= n
        reward = (uniforms < p_chosen).astype(np.float64)
        obs = pd.concat([users.reset_index(drop=True), scores], axis=1)
        obs["action_id"] = chosen
        obs["propensity"] = propensity
        obs["reward"] = reward
        obs["click_probability"] = p_chosen
        counts = pd.Series(chosen).value_counts()
        per_action = [
            {
                "action_id": int(a),
                "text": bank.texts[j],
                "true_mean_click_probability": float(mean_p[j]),
                "times_chosen": int(counts.get(int(a), 0)),
            }
            for j, a in enumerate(bank.action_ids)
        ]
        summary = {
            "company_reward": float(reward.mean()),
            "expected_reward": float(p_chosen.mean()),
            "policy_value": float(policy_value.mean()),
            "oracle_reward": float(oracle.mean()),
            "best_single_action_reward": float(mean_p.max()),
            "random_reward": float(mean_p.mean()),
            "regret": float(oracle.mean() - p_chosen.mean()),
        }
        return obs, {
            "summary": summary,
            "actions": per_action,
            "user_features": list(USER_FEATURES),
        }

    def _expected_failed_checks(self):
        return dict.fromkeys(
            NO_DATA_CHECKS,
            "fit takes no data (X is ignored): a run draws its users from random_state",
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
