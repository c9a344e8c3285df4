"""The allocation maths as pure JAX functions: feasible set, surrogate, solvers.

An allocation ``x`` (spend per period, one entry per channel) is feasible when
``sum(x) == budget`` and ``lower <= x <= upper``. The functions here work on
finite upper bounds: no channel can take more than the budget left once every
other channel has its lower bound, so callers cap infinite bounds there.

The response of each channel depends on that channel's spend only, so the
combined response per posterior draw is a sum of one-dimensional curves. The
search runs on cubic Hermite interpolants of those curves (values and exact
slopes from the models on a grid), where an evaluation costs a few hundred
flops instead of a pass through every model; the allocator then polishes the
best candidates on the exact objective.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

__all__ = [
    "ascend",
    "greedy_start",
    "interpolate",
    "lattice_optimum",
    "project",
    "spend_grid",
    "spg_maximize",
]

_ARMIJO = 1e-4


def project(y, lower, upper, budget):
    """Euclidean projection onto ``{x : sum(x) = budget, lower <= x <= upper}``.

    The projection is ``clip(y - tau, lower, upper)`` for the shift ``tau``
    that meets the budget. The spent sum is piecewise linear and falling in
    ``tau``, with kinks where a channel reaches a bound; evaluating it at
    every kink and interpolating on the crossing segment gives ``tau``
    exactly, without a loop.

    Parameters
    ----------
    y : jax.Array of shape (n_channels,)
    lower, upper : jax.Array of shape (n_channels,)
        Finite bounds with ``sum(lower) <= budget <= sum(upper)``.
    budget : float

    Returns
    -------
    x : jax.Array of shape (n_channels,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from hillmix_opt.allocation._solver import project
    >>> x = project(jnp.array([5.0, 1.0]), jnp.zeros(2), jnp.array([3.0, 10.0]), 4.0)
    >>> [round(float(v), 9) for v in x]
    [3.0, 1.0]
    """
    kinks = jnp.sort(jnp.concatenate([y - upper, y - lower]))
    spent = jnp.sum(jnp.clip(y[None, :] - kinks[:, None], lower, upper), axis=1)
    k = jnp.clip(jnp.sum(spent >= budget) - 1, 0, kinks.shape[0] - 2)
    t0, t1, s0, s1 = kinks[k], kinks[k + 1], spent[k], spent[k + 1]
    drop = s0 - s1
    tau = jnp.where(drop > 0, t0 + (s0 - budget) * (t1 - t0) / jnp.where(drop > 0, drop, 1.0), t0)
    return jnp.clip(y - tau, lower, upper)


def spend_grid(lower, upper, n_points: int):
    """Grid of spend per channel, denser at low spend where curves bend most.

    Parameters
    ----------
    lower, upper : jax.Array of shape (n_channels,)
    n_points : int

    Returns
    -------
    grid : jax.Array of shape (n_points, n_channels)
        Increasing in each column, from ``lower`` to ``upper``.
    """
    s = jnp.linspace(0.0, 1.0, n_points)[:, None]
    return lower + (upper - lower) * s**2


def interpolate(x, grid, values, slopes):
    """Cubic Hermite interpolation of each channel's response curves.

    Parameters
    ----------
    x : jax.Array of shape (n_channels,)
        Spend per channel, inside the grid's range.
    grid : jax.Array of shape (n_points, n_channels)
    values, slopes : jax.Array of shape (n_points, n_draws, n_channels)
        Response and its derivative at the grid points, per draw.

    Returns
    -------
    response : jax.Array of shape (n_draws, n_channels)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from hillmix_opt.allocation._solver import interpolate
    >>> grid = jnp.linspace(0.0, 2.0, 5)[:, None]
    >>> values, slopes = (grid**3)[:, None, :], (3 * grid**2)[:, None, :]
    >>> x = jnp.array([1.3])
    >>> round(float(interpolate(x, grid, values, slopes)[0, 0]), 9)  # exact on cubics
    2.197
    """
    n_points, n_channels = grid.shape
    channels = jnp.arange(n_channels)
    # Few grid points: comparing with all of them beats a binary search.
    i = jnp.clip(jnp.sum(grid <= x, axis=0) - 1, 0, n_points - 2)
    x0, x1 = grid[i, channels], grid[i + 1, channels]
    h = x1 - x0
    t = (x - x0) / jnp.where(h > 0, h, 1.0)
    # Keep t in [0, 1] with where, not clip: clip splits the derivative at a
    # tie, halving the slope at grid points (a lower bound is one).
    t = jnp.where(t < 0.0, 0.0, jnp.where(t > 1.0, 1.0, t))
    v0, v1 = values[i, :, channels].T, values[i + 1, :, channels].T
    m0, m1 = slopes[i, :, channels].T * h, slopes[i + 1, :, channels].T * h
    t2, t3 = t * t, t * t * t
    return (
        (2 * t3 - 3 * t2 + 1) * v0
        + (t3 - 2 * t2 + t) * m0
        + (3 * t2 - 2 * t3) * v1
        + (t3 - t2) * m1
    )


def _surrogate(utility, grid, values, slopes):
    return lambda x: utility(interpolate(x, grid, values, slopes).sum(axis=1))


def spg_maximize(f, x0, lower, upper, budget, max_iter: int, xtol: float = 1e-10):
    """Spectral projected gradient ascent of ``f`` over the budget set.

    Barzilai-Borwein step lengths with an Armijo search along the projected
    direction (Birgin, Martinez and Raydan, 2000); it works on non-concave
    objectives, where it finds a local maximum. The line search tries the
    step fractions 1, 7/8, ..., 1/8, 1/16, ..., 1/2**11 at once (one
    vectorised evaluation) and takes, among those that ascend enough, the
    one of highest value.

    Parameters
    ----------
    f : callable
        JAX-differentiable ``x -> scalar``.
    x0 : jax.Array of shape (n_channels,)
        Start (projected first).
    lower, upper : jax.Array of shape (n_channels,)
        Finite bounds.
    budget : float
    max_iter : int
    xtol : float, default=1e-10
        Stop when a projected-gradient step of reference length moves no
        channel by more than ``xtol`` times the widest bound range.

    Returns
    -------
    x : jax.Array of shape (n_channels,)
    value : jax.Array of shape ()
    start_value : jax.Array of shape ()
        ``f`` at the (projected) start.
    iterations : jax.Array of shape ()
    """
    value_and_grad = jax.value_and_grad(f)
    # Step fractions: eighths of the projected step, then halvings down to
    # 1/2048.
    fractions = jnp.concatenate([jnp.arange(8, 0, -1) / 8.0, 0.5 ** jnp.arange(4, 12)])
    x = project(x0, lower, upper, budget)
    tiny = jnp.finfo(x.dtype).tiny
    scale = jnp.maximum(jnp.max(upper - lower), tiny)

    def body(state):
        k, x, x_prev, g_prev, alpha, alpha_ref, f0, _, _ = state
        fx, g = value_and_grad(x)
        f0 = jnp.where(k == 0, fx, f0)
        # The first step moves spend by about the bound range; later ones
        # take Barzilai-Borwein lengths from the last step.
        alpha_ref = jnp.where(k == 0, scale / jnp.maximum(jnp.max(jnp.abs(g)), tiny), alpha_ref)
        s, y = x - x_prev, g_prev - g
        sy = s @ y
        bb = jnp.where(sy > 0, (s @ s) / jnp.where(sy > 0, sy, 1.0), 1e12 * alpha_ref)
        alpha = jnp.clip(jnp.where(k == 0, alpha_ref, bb), 1e-12 * alpha_ref, 1e12 * alpha_ref)
        targets = jax.vmap(lambda a: project(x + a * g, lower, upper, budget))(
            jnp.stack([alpha, alpha_ref])
        )
        d = targets[0] - x
        stationary = jnp.max(jnp.abs(targets[1] - x)) <= xtol * scale
        trial = jax.vmap(lambda t: f(x + t * d))(fractions)
        ascends = (trial >= fx + _ARMIJO * fractions * (g @ d)) & jnp.isfinite(trial)
        # The best trial point that ascends enough, not the longest step: on
        # S-shaped or kinked objectives (a quantile of draws) a long step can
        # jump over a higher ridge into a lower basin.
        j = jnp.argmax(jnp.where(ascends, trial, -jnp.inf))
        ok = ascends[j] & ~stationary
        x_new = jnp.where(ok, x + fractions[j] * d, x)
        f_new = jnp.where(ok, trial[j], fx)
        return k + 1, x_new, x, g, alpha, alpha_ref, f0, f_new, ~ok

    def cond(state):
        return (state[0] < max_iter) & ~state[-1]

    zeros = jnp.zeros_like(x)
    scalar = jnp.zeros((), x.dtype)
    state = (0, x, x, zeros, scalar, scalar, scalar, scalar, jnp.zeros((), bool))
    k, x, _, _, _, _, f0, fx, _ = lax.while_loop(cond, body, state)
    return x, fx, f0, k


def _lattice(lower, upper, budget, grid, values, slopes, n_chunks):
    """Each channel's surrogate response after 0, 1, ... n_chunks chunks of budget.

    Returns
    -------
    curve : jax.Array of shape (n_chunks + 1, n_draws, n_channels)
    reachable : jax.Array of shape (n_chunks + 1, n_channels) of bool
        Whether that many chunks fit under the channel's upper bound.
    delta : jax.Array of shape ()
        The chunk: the budget above the lower bounds over ``n_chunks``.
    """
    delta = jnp.maximum((budget - jnp.sum(lower)) / n_chunks, jnp.finfo(lower.dtype).tiny)
    steps = jnp.arange(n_chunks + 1)[:, None]
    levels = jnp.minimum(lower + steps * delta, upper)
    curve = jax.vmap(lambda x: interpolate(x, grid, values, slopes))(levels)
    reachable = lower + steps * delta <= upper * (1 + 1e-12) + 1e-300
    return curve, reachable, delta


def greedy_start(lower, upper, budget, grid, values, slopes, utility, n_chunks: int = 32):
    """Marginal-return greedy allocation on the surrogate.

    The budget above the lower bounds is cut into ``n_chunks`` equal chunks.
    At each step every channel is offered spans of 1, 2, ... chunks; the span
    with the best utility gain per unit of spend wins and is allocated. On
    concave curves this is the classical greedy (one chunk at a time to the
    best marginal return); on S-shaped curves the look-ahead over spans lets
    a channel cross its threshold, which a one-chunk greedy never does.

    Returns
    -------
    x : jax.Array of shape (n_channels,)
    """
    n_channels = lower.shape[0]
    curve, reachable, delta = _lattice(lower, upper, budget, grid, values, slopes, n_chunks)
    channels = jnp.arange(n_channels)
    spans = jnp.arange(1, n_chunks + 1)

    def step(_, state):
        chunks, left = state
        base = curve[chunks, :, channels].T  # (n_draws, n_channels)
        total = base.sum(axis=1)
        u0 = utility(total)
        target = jnp.minimum(chunks[None, :] + spans[:, None], n_chunks)  # (n_spans, n_channels)
        gains = curve[target, :, channels[None, :]] - base.T[None]  # (n_spans, n_channels, n_draws)
        u = jax.vmap(jax.vmap(lambda inc: utility(total + inc)))(gains)
        score = (u - u0) / (spans[:, None] * delta)
        feasible = (
            (chunks[None, :] + spans[:, None] <= n_chunks)
            & reachable[target, channels[None, :]]
            & (spans[:, None] <= left)
        )
        score = jnp.where(feasible & jnp.isfinite(score), score, -jnp.inf).ravel()
        best = jnp.argmax(score)
        any_ok = jnp.isfinite(score[best])
        span, channel = best // n_channels + 1, best % n_channels
        chunks = jnp.where(any_ok, chunks.at[channel].add(span), chunks)
        left = jnp.where(any_ok, left - span, 0)
        return chunks, left

    chunks, _ = lax.fori_loop(0, n_chunks, step, (jnp.zeros(n_channels, int), n_chunks))
    return project(lower + chunks * delta, lower, upper, budget)


def lattice_optimum(lower, upper, budget, grid, values, slopes, n_chunks: int = 64):
    """Global maximum of the surrogate's mean on a lattice of budget chunks.

    The mean combined response is a sum of one curve per channel, so dynamic
    programming over the channels (the best value of ``j`` chunks spread over
    the first ``c`` channels) finds its exact maximum over all allocations
    in whole chunks, whatever the curves' shapes: S-shaped channels get
    spend past their threshold or none. For other utilities this is a start
    for the ascent, not their optimum.

    Returns
    -------
    x : jax.Array of shape (n_channels,)
    """
    curve, reachable, delta = _lattice(lower, upper, budget, grid, values, slopes, n_chunks)
    value = jnp.where(reachable, curve.mean(axis=1), -jnp.inf)  # (n_chunks + 1, n_channels)
    steps = jnp.arange(n_chunks + 1)
    before = steps[:, None] - steps[None, :]  # chunks spent before, for j spent so far, i here

    def add_channel(best, channel_value):
        candidates = jnp.where(
            before >= 0, best[jnp.clip(before, 0, None)] + channel_value[None, :], -jnp.inf
        )
        return candidates.max(axis=1), candidates.argmax(axis=1)

    start = jnp.where(steps == 0, 0.0, -jnp.inf)
    best, choice = lax.scan(add_channel, start, value.T)  # choice: (n_channels, n_chunks + 1)
    # Spend every chunk if the lattice allows it, else as many as it allows.
    used = jnp.max(jnp.where(jnp.isfinite(best), steps, 0))

    def take(spent, channel_choice):
        here = channel_choice[spent]
        return spent - here, here

    _, chunks = lax.scan(take, used, choice, reverse=True)
    return project(lower + chunks * delta, lower, upper, budget)


@partial(jax.jit, static_argnames=("utility", "max_iter"))
def ascend(
    starts,
    active,
    anchor,
    gradient,
    correct,
    grid,
    values,
    slopes,
    lower,
    upper,
    budget,
    *,
    utility,
    max_iter: int,
):
    """Multi-start ascent on the surrogate model of the objective.

    The model is the surrogate, plus (with ``correct=1``) the linear term
    that makes its gradient at ``anchor`` equal the exact ``gradient``: the
    first-order-consistent model of a trust-region step. The lattice optimum
    of the mean (:func:`lattice_optimum`) and the greedy allocation
    (:func:`greedy_start`) are extra starts. One compiled program serves the
    global search (``correct=0``) and the refinement steps (one active start,
    the anchor).

    Parameters
    ----------
    starts : jax.Array of shape (n_starts, n_channels)
    active : jax.Array of shape (2 + n_starts,) of bool
        Which starts to run: the lattice optimum, the greedy allocation, then
        ``starts``; the others are returned as they are, at no cost.
    anchor, gradient : jax.Array of shape (n_channels,)
    correct : float
        1 to add the linear correction, 0 for the plain surrogate.
    grid, values, slopes : jax.Array
        The surrogate's tables (see :func:`interpolate`).
    lower, upper : jax.Array of shape (n_channels,)
    budget : float

    Returns
    -------
    xs : jax.Array of shape (2 + n_starts, n_channels)
        Local maxima, in the order of ``active``.
    values : jax.Array of shape (2 + n_starts,)
        The model's values there (-inf for inactive starts).
    start_values : jax.Array of shape (2 + n_starts,)
        The model's values at the (projected) starts.
    """
    surrogate = _surrogate(utility, grid, values, slopes)
    s_grad = jax.grad(surrogate)(anchor)
    # The correction is for sampling and interpolation error, which is small
    # next to the gradient itself. Where the exact gradient is much steeper
    # (a Hill exponent below one has an infinite slope at zero spend) a
    # linear model says nothing beyond a tiny step: cap the correction.
    cap = 0.5 * jnp.maximum(jnp.max(jnp.abs(s_grad)), jnp.median(jnp.abs(gradient)))
    # On a lower bound the exact gradient is one-sided and, for a Hill
    # exponent below one at zero spend, reported as zero though it is
    # infinite: keep the surrogate's slope there.
    inside = anchor > lower
    linear = correct * jnp.where(inside, jnp.clip(gradient - s_grad, -cap, cap), 0.0)

    def model(x):
        return surrogate(x) + linear @ x

    heuristic = lax.cond(
        active[0] | active[1],
        lambda: jnp.stack(
            [
                lattice_optimum(lower, upper, budget, grid, values, slopes),
                greedy_start(lower, upper, budget, grid, values, slopes, utility),
            ]
        ),
        lambda: jnp.stack([starts[0], starts[0]]),
    )
    starts = jnp.concatenate([heuristic, starts])

    def run(start):
        x0, on = start
        off = -jnp.inf * jnp.ones((), x0.dtype)
        return lax.cond(
            on,
            lambda: spg_maximize(model, x0, lower, upper, budget, max_iter)[:3],
            lambda: (x0, off, off),
        )

    # One start after the other: a vectorised loop would run every start for
    # as many iterations as the slowest one needs.
    return lax.map(run, (starts, active))
