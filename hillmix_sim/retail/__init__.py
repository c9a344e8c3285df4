"""Retail transactions of heterogeneous households, with a known truth.

One concept a module: the estimator (:mod:`._simulator`), the weekly
simulation of households (:mod:`._engine`), the retailer's catalog,
prices and promotions (:mod:`._catalog`), the trait distributions
(:mod:`._traits`), and the tables in memory and on disk (:mod:`._io`).
"""

from ._calibration import SimulatorCalibrator, plot_calibration, simulate_transactions
from ._io import TRANSACTION_COLUMNS, RetailData
from ._search_spaces import SEARCH_SPACES
from ._simulator import RetailSimulator, make_retail_data

__all__ = [
    "SEARCH_SPACES",
    "TRANSACTION_COLUMNS",
    "RetailData",
    "RetailSimulator",
    "SimulatorCalibrator",
    "make_retail_data",
    "plot_calibration",
    "simulate_transactions",
]
