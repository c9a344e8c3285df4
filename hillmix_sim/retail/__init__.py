"""Retail transactions of heterogeneous households, with a known truth.

One concept a module: the estimator (:mod:`._simulator`), the weekly
simulation of households (:mod:`._engine`), the retailer's catalog,
prices and promotions (:mod:`._catalog`), the trait distributions
(:mod:`._traits`), and the tables in memory and on disk (:mod:`._io`).
"""

from ._io import TRANSACTION_COLUMNS, RetailData
from ._simulator import RetailSimulator, make_retail_data

__all__ = ["TRANSACTION_COLUMNS", "RetailData", "RetailSimulator", "make_retail_data"]
