"""MIPSEstimator: importance weights on clusters of action embeddings, not on actions.

When actions are many, or new, weights on action ids are huge or
undefined. Marginalised inverse propensity scoring (MIPS; Saito and
Joachims, 2022) weighs each logged row by how much more the target than
the logger chooses actions *like* the logged one:
``w_i = p(c_i | x_i; pi) / p(c_i | x_i; pi_0)``, with ``c`` a cluster of
the actions' embeddings and ``p(c | x; pi) = sum_{a in c} pi(a | x)``.

Clusters are learnt on the log's actions (k-means on their unit-length
embeddings, cosine geometry); a target action is put in the cluster of its
nearest centre, so an action never logged still gets a weight, as long as
its cluster holds logged actions. MIPS is unbiased when the reward depends
on the action only through its cluster given the user (no direct effect of
the action within a cluster): coarser clusters mean smaller weights and
more of that bias. With a reward model, the estimate is doubly robust in
cluster space (Saito, Ren and Joachims, 2023, OffCEM): the model values
every action, and the cluster weights correct its mean residual, which is
unbiased when the model's error is the same for the actions of a cluster.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods, Interval

from ._base import _BaseOffPolicyEstimator
from ._direct import _RewardModelMixin
from ._threads import one_thread

__all__ = ["MIPSEstimator"]


def _unit_rows(E: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(norms > 0, norms, 1.0)


class MIPSEstimator(_RewardModelMixin, _BaseOffPolicyEstimator):
    """Marginalised IPW over clusters of action embeddings, for large or new action sets.

    ``V = mean_i w_i r_i`` with ``w_i = p(c_i | x_i; pi) / p(c_i | x_i;
    pi_0)``, ``c_i`` the cluster of the logged action and ``p(c | x; pi)``
    the probability a policy gives the cluster's actions. With a
    ``reward_model``, ``V = mean_i [sum_a pi(a | x_i) f(x_i, a) + w_i (r_i -
    f(x_i, a_i))]``: the model values every action, and the cluster weights
    correct its residual (doubly robust in cluster space).

    Clusters: k-means on the log's actions' unit-length embeddings; a target
    action (a new bank's too) belongs to the cluster of its nearest centre;
    with ``n_clusters`` at least the log's actions, each is its own cluster
    and MIPS is IPW. The logger's cluster probabilities come from the log's
    ``logging_proba``; without it, from a multinomial logistic regression of
    the logged action's cluster on the users (consistent only as far as
    that model fits the logging policy).

    Assumptions: every cluster the target uses holds actions the logger
    takes (otherwise an :class:`UnsupportedActionWarning` names the target's
    share on the others); without a model, the reward depends on the action
    only through its cluster, given the user (the bias grows with the
    spread of rewards within clusters); with a model, its error is the
    same for every action of a cluster.

    Parameters
    ----------
    n_clusters : int, default=8
        Clusters of the log's actions (at most one per action).
    reward_model : reward model or None, default=None
        None: pure MIPS. Otherwise a reward model of
        :mod:`hillmix_opt.rewards`, fitted on the log in :meth:`fit`
        (cross-fitted over ``n_folds``; a :class:`sklearn.frozen.FrozenEstimator`
        is used as it is).
    n_folds : int, default=2
        Cross-fitting folds of the reward model (used with one only).
    clip : float or None, default=None
        Clip the weights at this value; None weighs as they are.
    coverage : float, default=0.95
        Mass of the interval.
    n_bootstrap : int, default=0
        0 gives the normal interval of the estimate's influence function;
        a positive number, a percentile bootstrap over that many resamples
        of the log's rows (the reward models are not refitted).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the clusters, the folds, the bootstrap, and every reward model
        whose own ``random_state`` is None; resolved in :meth:`fit`.

    Attributes
    ----------
    log_ : BanditLog
    cluster_centers_ : ndarray of shape (n_found_clusters, embedding_dim)
        On unit-length embeddings; ``n_found_clusters`` is ``n_clusters``, or
        the number of actions when the logged bank has no more (each its own cluster).
    action_clusters_ : ndarray of int of shape (n_actions,)
        The cluster of each of the log's actions.
    logging_cluster_proba_ : ndarray of shape (n_samples, n_found_clusters)
        The logger's probability of each cluster for each row.
    reward_models_ : list of reward models
        With a ``reward_model`` only.
    n_samples_ : int

    See Also
    --------
    IPWEstimator, DREstimator

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BanditLog, MIPSEstimator
    >>> rng = np.random.default_rng(0)
    >>> embeddings = np.repeat(np.eye(2), 5, axis=0) + rng.normal(0, 0.01, (10, 2))
    >>> actions = rng.integers(10, size=2000)
    >>> rewards = (rng.random(2000) < np.where(actions < 5, 0.1, 0.3)).astype(int)
    >>> log = BanditLog(actions=actions, rewards=rewards, propensities=np.full(2000, 0.1),
    ...                 logging_proba=np.full((2000, 10), 0.1), action_ids=np.arange(10),
    ...                 action_embeddings=embeddings)
    >>> mips = MIPSEstimator(n_clusters=2, random_state=0).fit(log)
    >>> new_bank = (np.array([100, 101]), np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> value = mips.estimate_policy_value(np.tile([1.0, 0.0], (2000, 1)), bank=new_bank)
    >>> round(value.estimate, 2)
    0.3
    """

    _label = "MIPS"
    _unsupported_what = "clusters of actions the logging policy never takes for those users"
    _parameter_constraints: dict = {
        **_BaseOffPolicyEstimator._parameter_constraints,
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "reward_model": [HasMethods(["fit", "predict_matrix"]), None],
        "n_folds": [Interval(numbers.Integral, 1, None, closed="left")],
        "clip": [Interval(numbers.Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        *,
        n_clusters: int = 8,
        reward_model=None,
        n_folds: int = 2,
        clip=None,
        coverage: float = 0.95,
        n_bootstrap: int = 0,
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.reward_model = reward_model
        self.n_folds = n_folds
        self.clip = clip
        self.coverage = coverage
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    @property
    def label(self) -> str:
        """``"MIPS"``, or ``"MIPS-DR"`` with a reward model."""
        return "MIPS" if self.reward_model is None else "MIPS-DR"

    def _check_log(self, log):
        if log.action_embeddings is None:
            raise ValueError(
                "MIPSEstimator clusters the log's actions by their embeddings, but the log has "
                "no action_embeddings (BanditLog.from_observations with the bank gives them)."
            )
        if log.logging_proba is None and log.users is None:
            raise ValueError(
                "MIPSEstimator needs the logger's probability of each cluster: give the log "
                "its logging_proba, or its users to estimate them from."
            )
        if self.reward_model is not None:
            self._check_model_log(log)

    def _fit(self, log):
        unit = _unit_rows(log.action_embeddings)
        n_actions = len(unit)
        if self.n_clusters >= n_actions:
            self.cluster_centers_ = unit.copy()
            self.action_clusters_ = np.arange(n_actions)
        else:
            kmeans = KMeans(n_clusters=self.n_clusters, n_init=10, random_state=self._seeds[3])
            # A few dozen points: OpenMP threads would cost more than the work.
            with one_thread("openmp"):
                self.action_clusters_ = kmeans.fit_predict(unit).astype(np.int64)
            self.cluster_centers_ = kmeans.cluster_centers_
        n_clusters = len(self.cluster_centers_)
        membership = np.zeros((n_actions, n_clusters))
        membership[np.arange(n_actions), self.action_clusters_] = 1.0
        if log.logging_proba is not None:
            self.logging_cluster_proba_ = log.logging_proba @ membership
        else:
            self.logging_cluster_proba_ = self._estimated_cluster_proba(log, n_clusters)
        self._logged_clusters = self.action_clusters_[log.actions]
        if self.reward_model is not None:
            self._fit_reward_models(log)

    def _estimated_cluster_proba(self, log, n_clusters):
        clusters = self.action_clusters_[log.actions]
        seen = np.unique(clusters)
        proba = np.zeros((log.n_samples, n_clusters))
        if seen.size == 1:
            proba[:, seen[0]] = 1.0
            return proba
        users = log.users
        scale = users.std(axis=0)
        Z = (users - users.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
        classifier = LogisticRegression(max_iter=1000).fit(Z, clusters)
        proba[:, classifier.classes_] = classifier.predict_proba(Z)
        return proba

    def _target_clusters(self, target) -> np.ndarray:
        """The cluster of each target action: its own for the log's, the nearest centre's else."""
        clusters = np.empty(len(target.columns), dtype=np.int64)
        known = target.columns >= 0
        clusters[known] = self.action_clusters_[target.columns[known]]
        if (~known).any():
            if target.embeddings is None:
                raise ValueError("the target's new actions have no embeddings to cluster.")
            unit = _unit_rows(target.embeddings[~known])
            distance = ((unit[:, None, :] - self.cluster_centers_[None]) ** 2).sum(axis=2)
            clusters[~known] = np.argmin(distance, axis=1)
        return clusters

    def _cluster_proba(self, target) -> np.ndarray:
        clusters = self._target_clusters(target)
        membership = np.zeros((len(clusters), len(self.cluster_centers_)))
        membership[np.arange(len(clusters)), clusters] = 1.0
        return target.proba @ membership

    def _unsupported_share(self, target) -> float:
        unsupported = self.logging_cluster_proba_ <= 0
        return float(np.sum(self._cluster_proba(target) * unsupported) / self.log_.n_samples)

    def _terms(self, target):
        p_target = self._cluster_proba(target)
        rows = np.arange(self.log_.n_samples)
        logged = self._logged_clusters
        w = p_target[rows, logged] / self.logging_cluster_proba_[rows, logged]
        if self.clip is not None:
            w = np.minimum(w, self.clip)
        rewards = self.log_.rewards
        if self.reward_model is None:
            return w * rewards, None, w
        return self._direct(target) + w * (rewards - self.fitted_rewards_), None, w
