"""Turning ``random_state`` into seeds: the one source of randomness."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_generator", "resolve_seed"]


def resolve_seed(random_state) -> int:
    """An integer seed from ``random_state``, drawn once.

    Parameters
    ----------
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        An int in ``[0, 2**32)`` is used as is (so equal ints give equal
        seeds, and different ints different ones); a generator is advanced
        by one draw; ``None`` draws fresh OS entropy.

    Returns
    -------
    seed : int
        In ``[0, 2**32)``; drawn seeds are in ``[0, 2**31)``.

    Examples
    --------
    >>> from hillmix.utils import resolve_seed
    >>> resolve_seed(7)
    7
    """
    if random_state is None:
        return int(np.random.default_rng().integers(2**31))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**32:
            raise ValueError(f"random_state must be in [0, 2**32) when an int, got {random_state}.")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    raise TypeError(
        "random_state must be an int, a numpy.random.Generator or None, "
        f"got {type(random_state).__name__}."
    )


def check_generator(random_state) -> np.random.Generator:
    """A :class:`numpy.random.Generator` seeded from ``random_state``.

    Examples
    --------
    >>> from hillmix.utils import check_generator
    >>> check_generator(0).integers(10) == check_generator(0).integers(10)
    np.True_
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(resolve_seed(random_state))
