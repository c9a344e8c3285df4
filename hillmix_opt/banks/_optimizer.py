"""ActionBankOptimizer: from a targeting log to the next bank of actions.

Train a reward model on the log; write candidates, variations of the best
actions; score every candidate (and every action of the current bank) for
the log's users; choose the bank that maximises their expected reward when
each gets their best action of it (:func:`greedy_bank`). Old actions
compete with the candidates on the same objective and keep their ids when
chosen, so the company's strategy keeps what it learned about them.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils._param_validation import HasMethods, Interval
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed, seeded_copy
from hillmix.utils._expected_failures import LOG_CHECKS
from hillmix_sim import ActionBank, HashingEmbedder, make_action_bank

from ..rewards import LogisticRewardModel, reward_table
from ..rewards._table import user_columns
from ._candidates import CandidateGenerator
from ._selection import bank_value, greedy_bank

__all__ = ["ActionBankOptimizer"]


def _check_bank(bank, name: str) -> None:
    if not isinstance(bank, ActionBank):
        raise TypeError(f"{name} must be an ActionBank, got {type(bank).__name__}.")


class ActionBankOptimizer(BaseEstimator):
    """Proposes a new action bank from targeting logs: the company's action-bank algorithm.

    Parameters
    ----------
    reward_model : classifier, default=None
        A reward model of :mod:`hillmix_opt` (anything with ``fit`` and
        ``predict_matrix``); ``LogisticRewardModel()`` when None. Cloned.
        The model must judge actions it never saw sent: the bilinear and
        two-tower models do; LightGBM's trees, whose splits on the action
        features are fitted to the logged actions, do not (see
        :doc:`/action_banks`).
    candidate_generator : CandidateGenerator, default=None
        Writes the candidates; ``CandidateGenerator()`` (offline) when None.
    embedder : Embedder, default=None
        Embeds the candidates; must be the one of the log's banks (checked
        on the current bank's texts). :class:`hillmix_sim.HashingEmbedder`,
        the simulator's default, when None.
    action_pool_size : int, default=2000
        New candidates written per proposal.
    action_bank_size : int, default=10
        Size of the bank :meth:`propose_bank` returns when not told one.
    diversity_weight : float in [0, 1], default=0.15
        Discount of a candidate's marginal gain by its highest cosine
        similarity to the actions already chosen (see :func:`greedy_bank`).
    use_uncertainty : bool, default=False
        Select on the optimistic reward, mean plus ``uncertainty_weight``
        standard deviations (reward models with uncertainty only), so that
        promising but uncertain actions get their chance.
    uncertainty_weight : float, default=0.1
    max_users : int, default=10000
        Users of the latest observations the objective averages over (a
        sample of them when there are more).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds, together with the ``random_state`` each :meth:`propose_bank`
        call receives, the user sample and the reward model and candidate
        generator whose own ``random_state`` is None (a set one is kept).
    progress : bool, default=False
        A progress bar over the stages of a proposal.

    Attributes
    ----------
    reward_model_ : classifier
        Fitted on every observation seen so far.
    log_ : DataFrame
        Those observations; ``banks_`` the banks they were made with.
    candidates_ : ActionBank
        The last proposal's pool: the current bank's actions, then the new
        candidates.
    results_ : dict
        What the last proposal records (``algorithm_results.json``): the
        model's expected reward of the new bank and of the current one,
        pool and bank sizes, actions kept, the uncertainty summary, timings.

    Examples
    --------
    >>> from hillmix_opt import ActionBankOptimizer, LinUCBStrategy, LogisticRewardModel
    >>> from hillmix_sim import CompanySimulator
    >>> optimizer = ActionBankOptimizer(reward_model=LogisticRewardModel(), action_pool_size=50)
    >>> sim = CompanySimulator(strategy=LinUCBStrategy(), algorithm=optimizer, action_bank_size=5,
    ...                        n_iterations=2, n_users=2000, n_initial_actions=10, random_state=0)
    >>> results = sim.run()
    >>> len(results.new_banks[0]), sorted(results.algorithm_results[0])[:3]
    (5, ['actions_kept', 'bank_size', 'candidate_backend'])
    """

    _parameter_constraints: dict = {
        "reward_model": [HasMethods(["fit", "predict_matrix"]), None],
        "candidate_generator": [HasMethods(["generate"]), None],
        "embedder": [HasMethods(["embed"]), None],
        "action_pool_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "action_bank_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "diversity_weight": [Interval(numbers.Real, 0, 1, closed="both")],
        "use_uncertainty": ["boolean"],
        "uncertainty_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "max_users": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        reward_model=None,
        candidate_generator=None,
        embedder=None,
        action_pool_size: int = 2000,
        action_bank_size: int = 10,
        diversity_weight: float = 0.15,
        use_uncertainty: bool = False,
        uncertainty_weight: float = 0.1,
        max_users: int = 10000,
        random_state=None,
        progress: bool = False,
    ):
        self.reward_model = reward_model
        self.candidate_generator = candidate_generator
        self.embedder = embedder
        self.action_pool_size = action_pool_size
        self.action_bank_size = action_bank_size
        self.diversity_weight = diversity_weight
        self.use_uncertainty = use_uncertainty
        self.uncertainty_weight = uncertainty_weight
        self.max_users = max_users
        self.random_state = random_state
        self.progress = progress

    # ---------------------------------------------------------------- checks
    def _check(self):
        self._validate_params()
        model = self.reward_model if self.reward_model is not None else LogisticRewardModel()
        if not is_classifier(model):
            raise TypeError(
                f"reward_model must be a classifier of clicks (a reward model of "
                f"hillmix_opt), got {type(model).__name__}."
            )
        if self.use_uncertainty and not getattr(model, "_has_uncertainty", False):
            raise ValueError(
                f"use_uncertainty=True needs a reward model with a predictive standard "
                f"deviation (BayesianNeuralRewardModel, GaussianProcessRewardModel); "
                f"{type(model).__name__} has none."
            )
        return model

    @staticmethod
    def _check_log(observations):
        if not isinstance(observations, pd.DataFrame):
            raise TypeError(
                f"observations must be a pandas DataFrame, got {type(observations).__name__}."
            )
        missing = [c for c in ("action_id", "reward") if c not in observations.columns]
        if missing:
            raise ValueError(
                f"observations lack the column(s) {missing}: a log needs the action_id sent "
                "and its reward, besides the user features."
            )

    # ------------------------------------------------------------------- fit
    def fit(self, X, y=None, *, banks=None):
        """Train the reward model on a log (replacing what was seen before).

        Parameters
        ----------
        X : DataFrame
            The log: user features, ``action_id`` and ``reward`` per decision
            (``results_.observations[i]`` of a company simulation, or several
            concatenated).
        y : None
            Ignored: the rewards are the log's column.
        banks : ActionBank or list of ActionBank
            Banks holding every action of the log.

        Returns
        -------
        self
        """
        model = self._check()
        if banks is None:
            raise ValueError("banks is required: the banks holding the log's actions.")
        bank_list = [banks] if isinstance(banks, ActionBank) else list(banks)
        self._check_log(X)
        for i, bank in enumerate(bank_list):
            _check_bank(bank, f"banks[{i}]")
        log = X.reset_index(drop=True)
        self.reward_model_, self.user_columns_ = self._fit_model(
            model, self._seeds(0)[0], log, bank_list
        )
        self.log_, self.banks_ = log, bank_list
        return self

    def _seeds(self, random_state):
        root = np.random.SeedSequence([resolve_seed(self.random_state), int(random_state)])
        return [int(s.generate_state(1)[0] % 2**31) for s in root.spawn(3)]

    @staticmethod
    def _fit_model(model, seed, log, banks):
        """The fitted reward model and the log's user columns."""
        X, y = reward_table(log, banks)
        return seeded_copy(model, seed).fit(X, y), user_columns(log)

    @staticmethod
    def _first_id(first_action_id, log, banks) -> int:
        """The first new id: above every id of the log and of the banks."""
        used = max(
            int(log["action_id"].max()) if len(log) else -1,
            *(int(np.max(b.action_ids)) for b in banks),
        )
        if first_action_id is None:
            return used + 1
        if (
            not isinstance(first_action_id, numbers.Integral)
            or isinstance(first_action_id, bool)
            or first_action_id <= used
        ):
            raise ValueError(
                f"first_action_id must be an integer above every id in use ({used}); got "
                f"{first_action_id!r}."
            )
        return int(first_action_id)

    # ------------------------------------------------------------- proposal
    def propose_bank(
        self,
        observations: pd.DataFrame,
        actions: ActionBank,
        n_actions: int | None = None,
        first_action_id: int | None = None,
        random_state: int = 0,
    ) -> ActionBank:
        """The next bank, from the log so far and these observations.

        Implements :class:`hillmix_sim.ActionBankAlgorithm`. The
        observations are added to those of earlier calls (a company run
        passes one iteration at a time); the reward model is refitted on all
        of them.

        Parameters
        ----------
        observations : DataFrame
            The latest decisions: user features, ``action_id``, ``reward``.
        actions : ActionBank
            The bank they were made with.
        n_actions : int, default=None
            Size of the new bank; ``action_bank_size`` when None. At most the
            pool's size (the bank plus ``action_pool_size``).
        first_action_id : int, default=None
            Id of the first new action; one above every id seen when None.
        random_state : int, default=0
            This proposal's seed (the company passes one per iteration).

        Returns
        -------
        bank : ActionBank
            Kept actions with their ids, new ones with fresh ids.
        """
        self._check_log(observations)
        model, k, embedder = self.check_proposal(n_actions, actions)
        log = observations.reset_index(drop=True)
        history = pd.concat([self.__dict__.get("log_"), log], ignore_index=True)
        banks = [*self.__dict__.get("banks_", []), actions]
        first = self._first_id(first_action_id, history, banks)
        if random_state is None:
            random_state = 0
        elif not isinstance(random_state, numbers.Integral) or isinstance(random_state, bool):
            raise TypeError(f"random_state must be an int, got {type(random_state).__name__}.")
        model_seed, text_seed, user_seed = self._seeds(random_state)
        stages = tqdm(total=4, disable=not self.progress, desc="action bank")
        timings = {}

        start = time.perf_counter()
        fitted = self._fit_model(model, model_seed, history, banks)
        # Only a proposal whose model could be fitted joins the history: a
        # failed call leaves the optimizer as it was.
        self.log_, self.banks_ = history, banks
        self.reward_model_, self.user_columns_ = fitted
        timings["fit_seconds"] = time.perf_counter() - start
        stages.update()

        users = log[self.user_columns_]
        if len(users) > self.max_users:
            rows = np.random.default_rng(user_seed).choice(len(users), self.max_users, False)
            users = users.iloc[np.sort(rows)]
        start = time.perf_counter()
        parents = self._ranked(users, actions)
        generator = seeded_copy(
            self.candidate_generator
            if self.candidate_generator is not None
            else CandidateGenerator(),
            text_seed,
        )
        texts = generator.generate(self.action_pool_size, [actions.texts[i] for i in parents],
                                   exclude=actions.texts)  # fmt: skip
        new = make_action_bank(texts, embedder, start_id=first)
        self.candidates_ = actions.concat(new)
        timings["generate_seconds"] = time.perf_counter() - start
        stages.update()

        start = time.perf_counter()
        mean, std = self._score(users, self.candidates_.embeddings)
        timings["score_seconds"] = time.perf_counter() - start
        stages.update()

        start = time.perf_counter()
        objective = mean + self.uncertainty_weight * std if std is not None else mean
        chosen = self.select_bank(objective, k, self.candidates_.embeddings)
        timings["select_seconds"] = time.perf_counter() - start
        stages.update()
        stages.close()

        bank = self.candidates_.take(chosen)
        kept = np.isin(bank.action_ids, actions.action_ids)
        self.results_ = {
            "reward_model": type(self.reward_model_).__name__,
            "candidate_backend": getattr(generator, "backend_", None),
            "n_log_rows": len(self.log_),
            "n_users_scored": len(users),
            "pool_size": len(self.candidates_),
            "bank_size": int(k),
            "actions_kept": int(kept.sum()),
            "expected_value": bank_value(mean, chosen),
            "current_bank_expected_value": bank_value(mean, np.arange(len(actions))),
            **self._uncertainty_summary(std, chosen),
            **timings,
        }
        return bank

    def check_proposal(self, n_actions: int | None, actions: ActionBank):
        """Refuse, before any work, a proposal that could not be made.

        The company calls it when a run starts. Checks the parameters, the
        reward model, the bank size against the pool's (the bank's actions
        and ``action_pool_size`` candidates) and the embedder against the
        bank's embeddings.

        Parameters
        ----------
        n_actions : int or None
            Size of the new bank (``action_bank_size`` when None).
        actions : ActionBank
            The current bank.

        Returns
        -------
        reward_model, n_actions, embedder
            The unfitted reward model, the bank size and the embedder to use.
        """
        model = self._check()
        _check_bank(actions, "actions")
        k = self.action_bank_size if n_actions is None else n_actions
        pool = len(actions) + self.action_pool_size
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k <= pool:
            raise ValueError(
                f"n_actions must be an integer between 1 and the pool's size {pool} (the "
                f"bank's {len(actions)} actions and action_pool_size={self.action_pool_size} "
                f"candidates); got {k!r}."
            )
        embedder = self.embedder if self.embedder is not None else HashingEmbedder()
        self._check_embedder(embedder, actions)
        return model, int(k), embedder

    def _check_embedder(self, embedder, actions):
        sample = min(len(actions), 5)
        again = np.asarray(embedder.embed(list(actions.texts[:sample])), dtype=np.float64)
        if again.shape != (sample, actions.embedding_dim) or not np.allclose(
            again, actions.embeddings[:sample], rtol=1e-5, atol=1e-8
        ):
            raise ValueError(
                f"embedder {embedder!r} does not give the bank's embeddings: pass the "
                "embedder the log's actions were embedded with (embedder=...)."
            )

    def _ranked(self, users, actions):
        """The bank's actions, best first: the greedy order under the reward model."""
        mean, _ = self._score(users, actions.embeddings, with_std=False)
        return greedy_bank(mean, len(actions), starts=1, swaps=False)

    def _score(self, users, embeddings, with_std=True):
        if with_std and self.use_uncertainty:
            return self.reward_model_.predict_matrix(users, embeddings, return_std=True)
        return self.reward_model_.predict_matrix(users, embeddings), None

    def _uncertainty_summary(self, std, chosen):
        if std is None:
            return {}
        return {
            "mean_std_chosen": float(std[:, chosen].mean()),
            "mean_std_pool": float(std.mean()),
        }

    def select_bank(self, rewards, n_actions: int, embeddings=None) -> np.ndarray:
        """The columns of the best bank for a users x candidates reward matrix.

        The optimizer's own selection (:func:`greedy_bank` with its
        ``diversity_weight``); the company calls it with the true rewards to
        find the best bank the pool could have given.

        Parameters
        ----------
        rewards : array-like of shape (n_users, n_candidates)
        n_actions : int
        embeddings : array-like of shape (n_candidates, dim), optional
            Needed when ``diversity_weight > 0``.

        Returns
        -------
        ndarray of int
        """
        weight = self.diversity_weight if embeddings is not None else 0.0
        return greedy_bank(rewards, n_actions, embeddings=embeddings, diversity_weight=weight)

    def predict_rewards(self, X_users, actions) -> np.ndarray:
        """The reward model's P(click) of each user for each action.

        Parameters
        ----------
        X_users : DataFrame
            Users with the log's feature columns.
        actions : ActionBank or array-like of embeddings

        Returns
        -------
        ndarray of shape (n_users, n_actions)
        """
        return self.reward_model_.predict_matrix(X_users[self.user_columns_], actions)

    def _expected_failed_checks(self):
        # check_fit1d passes: a 1-d X is refused as the check wants.
        return dict.fromkeys(
            (c for c in LOG_CHECKS if c != "check_fit1d"),
            "fit takes a targeting log (a DataFrame with action_id and reward) and its banks, "
            "not an (X, y) matrix",
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags
