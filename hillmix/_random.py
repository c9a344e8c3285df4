"""Randomness: ``random_state`` into seeds, and the one counter-based stream.

Every random draw of the distribution comes from ``random_state``, resolved
once into a seed (:func:`resolve_seed`, :func:`check_generator`). Where a
draw must not depend on how work is split into batches or processes (a
household's shopping, a strategy's ``i``-th decision), it comes from a
counter-based stream: ``mix(base + counter * GOLDEN)``, the SplitMix64 output
function applied to a counter, where ``base`` is one entity's (a
household's, a product's, a decision stream's) own stream seed and
``counter`` says which draw of that entity it is. Nothing is carried from
one draw to the next, so the same entity gets the same numbers whichever
batch it falls in, however many processes share the work, in whatever
order they run; and the hash is vectorised over millions of draws at once
with NumPy's uint64 arithmetic, which wraps modulo 2**64 as the generator
needs.

SplitMix64 (Steele, Lea and Flood 2014) is the generator NumPy and Java
seed others with; its output function is a strong 64-bit mixer, and the
sequence ``mix(seed + i * GOLDEN)`` passes BigCrush.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
from sklearn.base import clone

__all__ = [
    "check_generator",
    "entity_bases",
    "mix64",
    "resolve_seed",
    "seeded_copy",
    "stream_key",
    "uniform_pair",
    "uniforms",
    "uniforms53",
]


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


def seeded_copy(component, seed: int):
    """A copy of ``component`` whose unset ``random_state`` is ``seed``; a set one is kept.

    How a component passed to another (a strategy to a simulation, a reward
    model to an optimizer) gets its randomness from its owner's seed without
    the caller's object being changed, advanced or shared between runs:
    estimators are cloned; other objects (duck-typed generators, algorithms)
    are deep-copied.

    Parameters
    ----------
    component : object
    seed : int

    Returns
    -------
    object

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> from hillmix.utils import seeded_copy
    >>> seeded_copy(SGDClassifier(), 3).random_state
    3
    >>> seeded_copy(SGDClassifier(random_state=1), 3).random_state
    1
    """
    if hasattr(component, "get_params"):
        duplicate = clone(component, safe=False)
        if duplicate.get_params().get("random_state", 0) is None:
            duplicate.set_params(random_state=seed)
        return duplicate
    duplicate = copy.deepcopy(component)
    if getattr(duplicate, "random_state", 0) is None:
        duplicate.random_state = seed
    return duplicate


# ------------------------------------------------------- counter-based stream
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_U64_GOLDEN = np.uint64(_GOLDEN)
_U64_M1 = np.uint64(_M1)
_U64_M2 = np.uint64(_M2)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
# Uniforms are (k + 0.5) / 2**32 for a 32-bit k: strictly inside (0, 1), so
# log(u), log(1 - u) and normal quantiles stay finite.
_SCALE32 = 2.0**-32


def _mix_int(z: int) -> int:
    """SplitMix64's output function on a Python int (for scalar keys)."""
    z &= _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def stream_key(seed: int, *labels: int) -> int:
    """A 64-bit key for one stream of draws, from a seed and integer labels.

    Parameters
    ----------
    seed : int
        Non-negative seed (``random_state`` resolved).
    *labels : int
        Non-negative integers naming the stream (a purpose, a table).

    Returns
    -------
    key : int
        In ``[0, 2**64)``.

    Examples
    --------
    >>> from hillmix._random import stream_key
    >>> stream_key(0, 1) == stream_key(0, 1) != stream_key(0, 2)
    True
    """
    z = _mix_int(int(seed) + _GOLDEN)
    for label in labels:
        z = _mix_int(z + (int(label) + 1) * _GOLDEN)
    return z


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function, in place on a uint64 array.

    In place, because fresh temporaries of millions of elements cost more
    in page faults than the arithmetic does.

    Parameters
    ----------
    z : ndarray of uint64
        Overwritten with the mixed values.

    Returns
    -------
    z : ndarray of uint64
        The same array.
    """
    tmp = np.right_shift(z, _S30)
    z ^= tmp
    z *= _U64_M1
    np.right_shift(z, _S27, out=tmp)
    z ^= tmp
    z *= _U64_M2
    np.right_shift(z, _S31, out=tmp)
    z ^= tmp
    return z


def entity_bases(key: int, ids) -> np.ndarray:
    """Each entity's own stream seed: ``mix(key + id * GOLDEN)``.

    Parameters
    ----------
    key : int
        A :func:`stream_key`.
    ids : array-like of int
        Non-negative entity ids (household, product).

    Returns
    -------
    bases : ndarray of uint64, same shape as ``ids``
    """
    z = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    z *= _U64_GOLDEN
    z += np.uint64(key & _MASK)
    return mix64(z)


def _bits(bases: np.ndarray, counters) -> np.ndarray:
    counters = np.asarray(counters)
    if counters.dtype != np.uint64:
        counters = counters.astype(np.int64, copy=False).astype(np.uint64)
        counters *= _U64_GOLDEN
        z = counters
    else:
        z = counters * _U64_GOLDEN
    try:
        z += bases  # in place when bases broadcast to the counters' shape
    except ValueError:
        z = z + bases
    return mix64(z)


def uniforms(bases: np.ndarray, counters) -> np.ndarray:
    """One uniform in (0, 1) per (base, counter), from the draw's top 32 bits.

    Parameters
    ----------
    bases : ndarray of uint64
        Stream seeds (from :func:`entity_bases`), broadcast against
        ``counters``.
    counters : array-like of int
        Non-negative draw indices within each stream.

    Returns
    -------
    u : ndarray of float64
        Uniform on ``{(k + 0.5) / 2**32}``.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix._random import entity_bases, stream_key, uniforms
    >>> bases = entity_bases(stream_key(0, 1), np.arange(3))
    >>> u = uniforms(bases[:, None], np.arange(4)[None, :])
    >>> u.shape, bool((u > 0).all() and (u < 1).all())
    ((3, 4), True)
    >>> bool(np.array_equal(u[1], uniforms(bases[1], np.arange(4))))
    True
    """
    z = _bits(bases, counters)
    z >>= _S32
    u = z.astype(np.float64)
    u += 0.5
    u *= _SCALE32
    return u


def uniform_pair(bases: np.ndarray, counters) -> tuple[np.ndarray, np.ndarray]:
    """Two independent uniforms per (base, counter): top and bottom 32 bits.

    Parameters
    ----------
    bases : ndarray of uint64
    counters : array-like of int

    Returns
    -------
    u1, u2 : ndarray of float64
    """
    z = _bits(bases, counters)
    low = z & _LOW32
    z >>= _S32
    u1 = z.astype(np.float64)
    u1 += 0.5
    u1 *= _SCALE32
    u2 = low.astype(np.float64)
    u2 += 0.5
    u2 *= _SCALE32
    return u1, u2


_S11 = np.uint64(11)
_SCALE53 = 2.0**-53


def uniforms53(bases: np.ndarray, counters) -> np.ndarray:
    """One uniform in [0, 1) per (base, counter), at full double precision (53 bits).

    For draws compared with probabilities that may be tiny (a softmax
    propensity of 1e-12): 53 bits resolve them where the 32 bits of
    :func:`uniforms` would not.

    Parameters
    ----------
    bases : ndarray of uint64
        Stream seeds (from :func:`entity_bases`), broadcast against
        ``counters``.
    counters : array-like of int
        Non-negative draw indices within each stream.

    Returns
    -------
    u : ndarray of float64
        Uniform on ``{k / 2**53}``.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix._random import entity_bases, stream_key, uniforms53
    >>> base = entity_bases(stream_key(0, 7), [0])
    >>> whole, part = uniforms53(base, np.arange(10)), uniforms53(base, np.arange(4, 10))
    >>> bool(np.array_equal(whole[4:], part))
    True
    """
    z = _bits(bases, counters)
    z >>= _S11
    u = z.astype(np.float64)
    u *= _SCALE53
    return u
