"""Action-bank generation: from a targeting log to a new bank of actions.

A reward model of the log scores candidate actions for every user
(:mod:`hillmix_opt.rewards`); candidates come from variations of the best
actions (:mod:`._candidates`); a bank is chosen from them by greedy facility
location (:mod:`._selection`); :mod:`._optimizer` ties the three together as
the company's action-bank algorithm.
"""

from ._candidates import CandidateGenerator
from ._optimizer import ActionBankOptimizer
from ._selection import bank_value, greedy_bank

__all__ = ["ActionBankOptimizer", "CandidateGenerator", "bank_value", "greedy_bank"]
