"""What the simulated company asks of the components passed to it.

The company never imports a strategy or an algorithm (they live in
:mod:`hillmix_opt`, above this package); it states what it needs as
protocols, and checks its parameters against them. Any class with the
methods qualifies, without inheriting from anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ._action_bank import ActionBank

__all__ = ["ActionBankAlgorithm", "Embedder", "TargetingStrategy", "TextGenerator"]


@runtime_checkable
class TargetingStrategy(Protocol):
    """What :class:`CompanySimulator` asks of a targeting strategy.

    The strategies of :mod:`hillmix_opt` (``LinUCBStrategy``,
    ``BootstrapEnsembleStrategy``, ``RandomStrategy``) implement it. For
    each batch of users the company calls ``predict_proba`` (the
    probabilities of the actions, for the strategy's true policy value),
    ``decide`` (one action per user and the probability it had, logged as
    the propensity) and ``partial_fit`` with the clicks; ``set_bank`` when
    the bank changes.
    """

    def set_bank(self, actions) -> TargetingStrategy:
        """Make ``actions`` (an ActionBank) the bank decisions choose from."""

    def predict_proba(self, X_users) -> np.ndarray:
        """The probability of each action of the bank for each user, rows summing to one."""

    def decide(self, X_users) -> tuple[np.ndarray, np.ndarray]:
        """An action id for each user, and the probability it had."""

    def partial_fit(self, X_users, action_ids, rewards) -> TargetingStrategy:
        """Learn from the rewards of a batch of decisions."""


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
    ) -> ActionBank:
        """The next bank of ``n_actions`` actions."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors: :class:`HashingEmbedder`, :class:`OpenAIEmbedder`, ..."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An array of shape (n_texts, embedding_dim)."""


@runtime_checkable
class TextGenerator(Protocol):
    """Writes action texts: :class:`TemplateActionGenerator`, :class:`LLMActionGenerator`."""

    def generate(self, n: int, exclude: Iterable[str] = ()) -> list[str]:
        """``n`` distinct texts, none of them in ``exclude``."""
