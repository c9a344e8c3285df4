"""A simulated company that targets users with a contextual bandit.

Each iteration draws a fresh population, lets the strategy pick one action
per user from the current bank, draws clicks from the ground truth, logs
the observations (with propensities, so off-policy estimates are valid),
and hands them to an action-bank algorithm that proposes the next bank.
Strategies and algorithms are passed in: this module never imports
:mod:`hillmix_opt`.
"""

from __future__ import annotations

import json
import shutil
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed, seeded_copy
from hillmix.utils._expected_failures import NO_DATA_CHECKS

from .._files import fresh_directory, json_default
from ._action_bank import ActionBank, make_action_bank
from ._embedding import HashingEmbedder
from ._preferences import make_ground_truth
from ._protocols import ActionBankAlgorithm, Embedder, TargetingStrategy, TextGenerator
from ._results import SimulationData, SimulationResults, results_directory_policy
from ._templates import TemplateActionGenerator
from ._users import USER_FEATURES, USER_SCORE_COLUMNS, UserGenerator, user_matrix

__all__ = ["CompanySimulator"]


# Users of an iteration a proposal is judged on (a sample when there are more).
_JUDGED_USERS = 10_000

# The truth when none is given, by its name in make_ground_truth.
_DEFAULT_TRUTH = "mixture_of_experts"

# The default batch: at most this many users between two strategy updates,
# and at least this many updates an iteration, so that a small population
# still teaches the strategy within the iteration (one batch of 1,000 over
# 500 users gave one action to 95% of them, below random targeting).
_MAX_BATCH, _MIN_UPDATES = 1000, 10


def _default_batch_size(n_users: int) -> int:
    """The batch of ``batch_size=None``: ``min(1000, max(1, n_users // 10))``."""
    return min(_MAX_BATCH, max(1, n_users // _MIN_UPDATES))


# Fresh users scored at once by policy_value and simulate_log: bounds the
# policy's and the truth's (users x actions) matrices.
_USER_CHUNK = 10_000

# Rows of a policy's probabilities must sum to one within this.
_PROBA_ATOL = 1e-6


def _oracle_value(P, columns) -> float:
    """Expected reward when every user gets their truly best action of the bank."""
    return float(P[:, columns].max(axis=1).mean())


def _judge_proposal(algorithm, truth, users, bank, new_bank) -> dict:
    """What the truth says of a new bank: its value, the old one's, the pool's best.

    Values are under the oracle policy (each user served their truly best
    action of the bank). When the algorithm shows its pool (``candidates_``)
    and how it selects (``select_bank``), the best bank the pool could have
    given is its selection run on the true click probabilities; with
    ``predict_rewards``, its reward model's correlation with the truth on
    the pool is reported too.
    """
    users = users.iloc[:_JUDGED_USERS]
    P_old = truth.click_probability(users, bank)
    P_new = truth.click_probability(users, new_bank)
    report = {
        "current_bank_oracle_value": _oracle_value(P_old, slice(None)),
        "new_bank_oracle_value": _oracle_value(P_new, slice(None)),
        "new_bank_random_value": float(P_new.mean()),
        "actions_kept": int(np.isin(new_bank.action_ids, bank.action_ids).sum()),
    }
    pool = getattr(algorithm, "candidates_", None)
    if isinstance(pool, ActionBank) and hasattr(algorithm, "select_bank"):
        P_pool = truth.click_probability(users, pool)
        best = algorithm.select_bank(P_pool, len(new_bank), pool.embeddings)
        report["pool_best_bank_oracle_value"] = _oracle_value(P_pool, best)
        lift = report["pool_best_bank_oracle_value"] - report["current_bank_oracle_value"]
        gained = report["new_bank_oracle_value"] - report["current_bank_oracle_value"]
        report["captured_lift"] = float(gained / lift) if lift > 0 else None
        if hasattr(algorithm, "predict_rewards"):
            scores = pd.DataFrame(user_matrix(users), columns=list(USER_SCORE_COLUMNS))
            predicted = algorithm.predict_rewards(pd.concat([users.reset_index(drop=True),
                                                             scores], axis=1), pool)  # fmt: skip
            report["model_truth_correlation"] = float(
                np.corrcoef(predicted.ravel(), P_pool.ravel())[0, 1]
            )
    return report


class CompanySimulator(BaseEstimator):
    """A company that targets fresh users each iteration, with a known truth.

    Parameters
    ----------
    strategy : TargetingStrategy
        A targeting strategy: ``set_bank``, ``predict_proba``, ``decide``
        and ``partial_fit`` (for example :class:`hillmix_opt.LinUCBStrategy`).
        Cloned at the start of a run; it carries what it learns across
        iterations and bank changes.
    ground_truth : estimator or str, optional
        A preference model (:class:`MixtureOfExpertsPreference` by default,
        or :class:`GMMPreference`, :class:`LinearPreference`), or its name
        for :func:`make_ground_truth`; fitted on the first population and
        the initial bank. The run's configuration records the truth used
        (by name, ``"mixture_of_experts"``, when none is given).
    algorithm : ActionBankAlgorithm, optional
        Proposes each next bank from the logs. Needed when
        ``action_bank_size > 0``.
    user_generator : UserGenerator, optional
    action_generator : TextGenerator, optional
        Writes the initial bank's texts; :class:`TemplateActionGenerator` by
        default (offline). Its ``random_state``, when None, is set from the
        simulation's.
    embedder : Embedder, optional
        :class:`HashingEmbedder` by default (offline and deterministic);
        pass an :class:`OpenAIEmbedder` for OpenAI embeddings.
    n_iterations : int, default=4
    n_users : int, default=10000
        Users per iteration (when the run draws its own data; a run on
        :class:`SimulationData` takes every user of each iteration).
    n_initial_actions : int, default=30
    action_bank_size : int, default=0
        Size of each new bank; 0 keeps the initial bank throughout (the
        baseline).
    batch_size : int or None, default=None
        Users targeted between two strategy updates. None adapts it to the
        population: ``min(1000, max(1, n_users // 10))``, so the strategy
        learns at least ten times an iteration (a population smaller than
        one batch would otherwise get the strategy's first guess
        throughout); the run's configuration records the batch used.
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
    algorithm_ : ActionBankAlgorithm or None
        The run's copy of ``algorithm`` (its ``random_state``, when None,
        set from the simulation's).

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
        "strategy": [TargetingStrategy],
        "ground_truth": [HasMethods(["fit", "click_probability"]), str, None],
        "algorithm": [ActionBankAlgorithm, None],
        "user_generator": [HasMethods(["fit", "generate"]), None],
        "action_generator": [TextGenerator, None],
        "embedder": [Embedder, None],
        "n_iterations": [Interval(Integral, 1, None, closed="left")],
        "n_users": [Interval(Integral, 1, None, closed="left")],
        "n_initial_actions": [Interval(Integral, 1, None, closed="left")],
        "action_bank_size": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
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
        batch_size: int | None = None,
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
            _, tmp = fresh_directory(path, "path")
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
        generator = seeded_copy(user_generator, users_seed).fit()
        users = [generator.generate(self.n_users, iteration=i) for i in range(self.n_iterations)]
        action_generator = (
            self.action_generator
            if self.action_generator is not None
            else TemplateActionGenerator()
        )
        texts = seeded_copy(action_generator, actions_seed).generate(self.n_initial_actions)
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
        if self.ground_truth is None or isinstance(self.ground_truth, str):
            truth = make_ground_truth(self.ground_truth or _DEFAULT_TRUTH)
        else:
            truth = self.ground_truth
        root_seed = resolve_seed(self.random_state)
        seeds = self._seeds(root_seed)
        truth = seeded_copy(truth, seeds["truth"])
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
        strategy = seeded_copy(self.strategy, seeds["strategy"])
        # A copy per run: an algorithm may carry what it saw across iterations.
        algorithm = (
            None if self.algorithm is None else seeded_copy(self.algorithm, seeds["algorithm"])
        )
        check = getattr(algorithm, "check_proposal", None)
        if self.action_bank_size > 0 and callable(check):
            # Refused now rather than after the first iteration's work.
            check(int(self.action_bank_size), data.initial_bank)
        click_seq = np.random.SeedSequence(seeds["clicks"])
        algo_seeds = np.random.SeedSequence(seeds["algorithm"]).generate_state(self.n_iterations)

        bank = data.initial_bank
        next_id = int(np.max(bank.action_ids)) + 1
        rows, observations, evaluations, algorithm_results = [], [], [], []
        banks, new_banks = [], []
        click_streams = click_seq.spawn(self.n_iterations)
        batch_sizes = [
            self.batch_size if self.batch_size is not None else _default_batch_size(len(users))
            for users in data.users[: self.n_iterations]
        ]
        for i in tqdm(range(self.n_iterations), disable=not self.progress, desc="iterations"):
            users = data.users[i]
            # One uniform per user, drawn up front: clicks do not depend on
            # the batch size.
            uniforms = np.random.default_rng(click_streams[i]).random(len(users))
            obs, evaluation = self._target(strategy, truth, users, bank, uniforms, batch_sizes[i])
            obs.insert(0, "iteration", i)
            row = {"iteration": i, "n_actions": len(bank), **evaluation["summary"]}
            new_bank, result = None, {}
            if self.action_bank_size > 0:
                new_bank = algorithm.propose_bank(
                    obs, bank, int(self.action_bank_size), next_id, int(algo_seeds[i])
                )
                if not isinstance(new_bank, ActionBank):
                    raise TypeError(
                        f"algorithm.propose_bank must return an ActionBank, got "
                        f"{type(new_bank).__name__}."
                    )
                result = dict(getattr(algorithm, "results_", {}) or {})
                next_id = max(next_id, int(np.max(new_bank.action_ids)) + 1)
                evaluation["proposal"] = _judge_proposal(algorithm, truth, users, bank, new_bank)
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
            "batch_size": batch_sizes[0] if len(set(batch_sizes)) == 1 else batch_sizes,
            "data": data.config,
            "root_seed": root_seed,
            "seeds": seeds,
        }
        self.ground_truth_ = truth
        self.strategy_ = strategy
        self.algorithm_ = algorithm
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

    def run(
        self,
        results_dir=None,
        *,
        data=None,
        observations_format: str = "parquet",
        overwrite: bool = False,
    ):
        """Run the simulation and, optionally, write its results directory.

        Parameters
        ----------
        results_dir : str or Path, optional
            A new (or empty) directory for the results; checked before any
            work.
        data : SimulationData or path, optional
        observations_format : {"parquet", "csv"}, default="parquet"
        overwrite : bool, default=False
            Replace ``results_dir`` if it holds a previous run's results
            (their layout and nothing else: a directory with any other file
            is refused all the same), so that a script can be run again.
            The old results are removed only once the new ones are written.

        Returns
        -------
        results : SimulationResults
        """
        if observations_format not in ("parquet", "csv"):
            raise ValueError(
                f"observations_format must be 'parquet' or 'csv', got {observations_format!r}."
            )
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
        if results_dir is not None:
            # Fail early, not after the run.
            policy = results_directory_policy(overwrite)
            target, tmp = fresh_directory(results_dir, "results_dir", **policy)
            shutil.rmtree(tmp)
        self.fit(data=data)
        if results_dir is not None:
            self.results_.save(target, observations_format, overwrite=overwrite)
        return self.results_

    # -- fixed policies on fresh users -------------------------------------
    def sample_users(self, n_users: int, random_state=None) -> pd.DataFrame:
        """Fresh users, from the distribution of the run's users.

        Drawn by ``user_generator`` (or a default :class:`UserGenerator`)
        with this call's seed in place of its own, so every call with
        another seed gives another population, none of them the run's.

        Parameters
        ----------
        n_users : int
        random_state : int, numpy.random.Generator or None, default=None

        Returns
        -------
        users : pandas.DataFrame
            ``user_id``, the raw features and their normal scores
            (:data:`USER_SCORE_COLUMNS`), as in the run's logs.
        """
        if not isinstance(n_users, Integral) or isinstance(n_users, bool) or n_users < 1:
            raise ValueError(f"n_users must be a positive integer, got {n_users!r}.")
        generator = self.user_generator if self.user_generator is not None else UserGenerator()
        generator = clone(generator).set_params(random_state=resolve_seed(random_state)).fit()
        users = generator.generate(int(n_users))
        scores = pd.DataFrame(user_matrix(users), columns=list(USER_SCORE_COLUMNS))
        return pd.concat([users, scores], axis=1)

    def policy_value(
        self,
        policy,
        *,
        bank=None,
        n_users: int = 100_000,
        random_state=None,
        users=None,
        return_std_error: bool = False,
    ):
        """The true expected reward of a fixed policy on fresh users.

        ``mean over users of sum_a policy(a | user) P(click | user, a)`` under
        the run's ground truth: the value an off-policy estimate of the
        policy aims at. Its Monte Carlo error is the standard deviation of
        a user's expected reward (a few hundredths) over ``sqrt(n_users)``.

        Parameters
        ----------
        policy : object with ``predict_proba``
            ``predict_proba(X_users)`` gives, for a DataFrame of the users'
            normal scores (:data:`USER_SCORE_COLUMNS`, what strategies see),
            the probability of each action of ``bank``, in the bank's order
            (a strategy after ``set_bank(bank)``; it is not asked to decide
            or learn).
        bank : ActionBank, default=None
            The actions the policy chooses from; the run's last bank when
            None.
        n_users : int, default=100000
        random_state : int, numpy.random.Generator or None, default=None
            Seeds the users (see :meth:`sample_users`).
        users : pandas.DataFrame, optional
            The users to average over, as :meth:`sample_users` gives them
            (several policies valued on the same users differ by their
            policies alone); ``n_users`` and ``random_state`` are then not
            used.
        return_std_error : bool, default=False
            Also return the value's Monte Carlo standard error.

        Returns
        -------
        value : float
        std_error : float
            With ``return_std_error=True``: the standard deviation of a
            user's expected reward over ``sqrt(n_users)``.
        """
        bank = self._policy_bank(bank)
        if users is None:
            users = self.sample_users(n_users, random_state)
        elif not isinstance(users, pd.DataFrame) or not set(USER_SCORE_COLUMNS) <= set(users):
            raise ValueError(
                "users must be a DataFrame with the users' normal scores (USER_SCORE_COLUMNS), "
                "as sample_users gives it."
            )
        per_user = np.empty(len(users))
        for start in range(0, len(users), _USER_CHUNK):
            part = users.iloc[start : start + _USER_CHUNK]
            proba = self._policy_proba(policy, part, bank)
            per_user[start : start + len(part)] = np.sum(proba * self._true_proba(part, bank), 1)
        value = float(per_user.mean())
        if not return_std_error:
            return value
        spread = float(per_user.std(ddof=1)) if per_user.size > 1 else np.nan
        return value, spread / np.sqrt(per_user.size)

    def simulate_log(
        self, policy, *, bank=None, n_users: int = 10_000, random_state=None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """A log of a fixed policy on fresh users, with its full probabilities.

        Each user's action is drawn from ``policy.predict_proba`` and the
        click from the ground truth; the policy does not learn while it
        logs (a learning company is :meth:`run`). The log is what an
        off-policy estimator reads: the propensity of every logged action,
        and the probabilities of all actions (which some estimators use,
        and which say where the policy had no support).

        Parameters
        ----------
        policy : object with ``predict_proba``
            As for :meth:`policy_value`.
        bank : ActionBank, default=None
            The run's last bank when None.
        n_users : int, default=10000
        random_state : int, numpy.random.Generator or None, default=None
            Seeds the users, the actions and the clicks.

        Returns
        -------
        observations : pandas.DataFrame
            As a run's logs: ``user_id``, the raw features and their
            normal scores, ``action_id``, ``propensity``, ``reward`` and the
            true ``click_probability`` of the action sent.
        proba : ndarray of shape (n_users, n_actions)
            The policy's probability of each action of ``bank`` for each
            user (its ``propensity`` column is the logged action's entry).
        """
        bank = self._policy_bank(bank)
        users_seed, action_seed, click_seed = np.random.SeedSequence(
            resolve_seed(random_state)
        ).spawn(3)
        users = self.sample_users(n_users, int(users_seed.generate_state(1)[0]))
        n = len(users)
        action_uniforms = np.random.default_rng(action_seed).random(n)
        click_uniforms = np.random.default_rng(click_seed).random(n)
        proba = np.empty((n, len(bank)))
        chosen = np.empty(n, dtype=np.int64)
        p_chosen = np.empty(n)
        for start in range(0, n, _USER_CHUNK):
            rows = slice(start, min(start + _USER_CHUNK, n))
            part = users.iloc[rows]
            proba[rows] = self._policy_proba(policy, part, bank)
            cdf = np.cumsum(proba[rows], axis=1)
            u = action_uniforms[rows] * cdf[:, -1]
            # Inverse CDF; an action of probability zero is never drawn.
            chosen[rows] = np.minimum(np.sum(cdf <= u[:, None], axis=1), len(bank) - 1)
            P = self._true_proba(part, bank)
            p_chosen[rows] = P[np.arange(len(part)), chosen[rows]]
        observations = users.copy()
        observations["action_id"] = bank.action_ids[chosen]
        observations["propensity"] = proba[np.arange(n), chosen]
        observations["reward"] = (click_uniforms < p_chosen).astype(np.float64)
        observations["click_probability"] = p_chosen
        return observations, proba

    def _policy_bank(self, bank):
        check_is_fitted(self, "ground_truth_")
        if bank is None:
            return self.results_.banks[-1]
        if not isinstance(bank, ActionBank):
            raise TypeError(f"bank must be an ActionBank, got {type(bank).__name__}.")
        return bank

    def _true_proba(self, users, bank) -> np.ndarray:
        # The scores are the truth's standardised features: no need to map
        # the raw columns again.
        Z = users[list(USER_SCORE_COLUMNS)].to_numpy()
        return self.ground_truth_.click_probability(Z, bank)

    @staticmethod
    def _policy_proba(policy, users, bank) -> np.ndarray:
        if not callable(getattr(policy, "predict_proba", None)):
            raise TypeError(
                f"policy must have a predict_proba method, got {type(policy).__name__}."
            )
        classes = getattr(policy, "classes_", None)
        if classes is not None and not np.array_equal(classes, bank.action_ids):
            raise ValueError(
                "policy acts on other actions than bank (its classes_ differ from "
                "bank.action_ids): give it the bank first (set_bank) or pass its bank."
            )
        proba = np.asarray(policy.predict_proba(users[list(USER_SCORE_COLUMNS)]), dtype=np.float64)
        if proba.shape != (len(users), len(bank)):
            raise ValueError(
                f"policy.predict_proba returned shape {proba.shape}; expected "
                f"({len(users)}, {len(bank)}), a probability per user and action of bank."
            )
        if (
            not np.all(np.isfinite(proba))
            or proba.min() < 0
            or np.any(np.abs(proba.sum(axis=1) - 1.0) > _PROBA_ATOL)
        ):
            raise ValueError(
                "policy.predict_proba must give non-negative probabilities whose rows sum to one."
            )
        return proba

    def _config(self):
        config = {}
        params = self.get_params(deep=False)
        if params["ground_truth"] is None:
            params["ground_truth"] = _DEFAULT_TRUTH  # the truth used, not null
        for name, value in params.items():
            if isinstance(value, BaseEstimator):
                config[name] = {"class": type(value).__name__, **value.get_params(deep=False)}
            elif value is None or isinstance(value, bool | int | float | str):
                config[name] = value
            else:
                config[name] = repr(value)
        return json.loads(json.dumps(config, default=json_default))

    def _target(self, strategy, truth, users, bank, uniforms, batch_size):
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
        for start in range(0, n, batch_size):
            batch = slice(start, min(start + batch_size, n))
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
