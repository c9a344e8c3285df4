"""hillmix_sim: generators and simulators with a known truth.

May import :mod:`hillmix`; never imports :mod:`hillmix_opt`.
"""

from ._mmm_data import MMMDataGenerator, make_mmm_data

__all__ = ["MMMDataGenerator", "make_mmm_data"]
