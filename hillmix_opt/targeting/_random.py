"""RandomStrategy: every action of the bank with the same probability."""

from __future__ import annotations

import numpy as np

from ._base import _BaseStrategy

__all__ = ["RandomStrategy"]


class RandomStrategy(_BaseStrategy):
    """The uniform baseline: each action of the bank with probability ``1 / n_actions``.

    It learns nothing that changes its decisions, but it keeps the same
    per-action memory as the other strategies (counts and mean rewards by
    action id, see :meth:`action_stats`), and its logs, with propensity
    ``1 / n_actions``, are the textbook data for off-policy estimates.

    Parameters
    ----------
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the decisions; resolved at the first :meth:`set_bank` (or
        :meth:`fit`).

    Attributes
    ----------
    classes_ : ndarray of int64 of shape (n_actions,)
        The ids of the current bank.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When the first users came as a DataFrame with string column names.
    user_mean_, user_scale_ : ndarray of shape (n_features_in,)
        The users' standardisation (unused by the decisions; kept for the
        common interface).
    n_embedding_features_ : int
    n_decisions_, n_observations_ : int

    See Also
    --------
    LinUCBStrategy, BootstrapEnsembleStrategy

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import RandomStrategy
    >>> bank = (np.array([10, 11, 12, 13]), np.eye(4))
    >>> strategy = RandomStrategy(random_state=0).set_bank(bank)
    >>> ids, propensities = strategy.decide(np.zeros((5, 2)))
    >>> ids, propensities
    (array([10, 13, 12, 10, 12]), array([0.25, 0.25, 0.25, 0.25, 0.25]))
    >>> strategy.partial_fit(np.zeros((5, 2)), ids, [1, 0, 0, 1, 1]).action_stats()
       action_id  in_bank  n_observations  mean_reward
    0         10     True               2          1.0
    1         11     True               0          NaN
    2         12     True               2          0.5
    3         13     True               1          0.0
    """

    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def _propensities(self, X, start):
        n_actions = self.classes_.size
        return np.full((X.shape[0], n_actions), 1.0 / n_actions)

    def _expected(self, X, start):
        # The observed click rate of each action (0 where never tried), the
        # same for every user.
        counts = self._counts[self._bank_slots]
        rate = self._reward_sums[self._bank_slots] / np.maximum(counts, 1)
        return np.broadcast_to(rate, (X.shape[0], rate.size)).copy()

    def _learn(self, X, slots, rewards, start):
        pass  # the counts and reward sums kept by every strategy are all it uses
