"""The compiled objective of an allocation problem and the solver pipeline.

:class:`Engine` closes over fitted models (through the response protocol
only) and compiles, once per allocator, three JAX programs: the exact
objective with its gradient over all posterior draws, the response tables
the global search interpolates, and the per-model responses reported to the
user. Budgets and bounds are arguments of these programs, never constants, so
a new budget does not recompile anything.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import ClosedJaxpr, jaxpr_as_fun

from ._solver import ascend, spend_grid

__all__ = ["Engine", "feasible_point", "shared_jit"]

logger = logging.getLogger(__name__)

# Draws and grid points of the search surrogate: enough to place the global
# optimum's basin; the exact refinement then uses every draw.
SEARCH_DRAWS = 64
GRID_POINTS = 25
SEARCH_ITER = 300
POLISH_ITER = 12
# The search runs on channels padded to a multiple of this (padding channels
# are fixed at zero spend), so problems of similar size share one program.
CHANNEL_BLOCK = 8
# The refinement stops when a step gains less than this fraction of the
# objective: far below any decision-relevant difference.
_RTOL = 1e-5
# Search tables kept per allocator (one per set of bounds and budget scale).
_CACHE_SIZE = 8
# Per-model responses are computed for this many allocations at a time (one
# compiled program whatever the number of allocations).
CHUNK = 2


class Engine:
    """Objective, search tables and responses of one allocation problem.

    Parameters
    ----------
    models : list of ResponseModel
    index : list of ndarray of int
        For each model, the positions of its channels among the union.
    weights : ndarray of shape (n_models,)
    num_periods : int
        Periods the allocation is held for.
    carryover : int
        Zero-spend periods appended to count carryover.
    n_draws : int
        Posterior draws used per model (every model offers at least these).
    n_channels : int
    utility : callable
        ``per-draw combined response -> scalar``.
    """

    def __init__(
        self, models, index, weights, num_periods, carryover, n_draws, n_channels, utility
    ):
        self.models = models
        self.index = [np.asarray(ix, dtype=int) for ix in index]
        self.weights = np.asarray(weights, dtype=float)
        self.num_periods = num_periods
        self.carryover = carryover
        self.n_draws = n_draws
        self.n_search = min(n_draws, SEARCH_DRAWS)
        self.n_channels = n_channels
        self.utility = utility
        self.active = [m for m in range(len(models)) if self.weights[m] > 0]
        self._cache = OrderedDict()
        # An array, not Python floats: the weights stay out of the programs'
        # text, so models that differ only in values share compiled programs.
        self._weights = jnp.asarray(self.weights)

        def objective(x):
            # Each model's response per draw and channel comes along, for
            # the result's breakdown without another pass.
            parts = tuple(self._totals(x, m, n_draws) for m in range(len(models)))
            combined = sum(self._weights[m] * parts[m].sum(axis=1) for m in self.active)
            return utility(combined), parts

        def tables(grid):
            def one(x):
                return jax.jvp(
                    lambda z: self._weighted(z, self.n_search), (x,), (jnp.ones_like(x),)
                )

            return jax.vmap(one)(grid)

        def totals(X):
            return jax.vmap(
                lambda x: tuple(self._totals(x, m, n_draws) for m in range(len(models)))
            )(X)

        x = jnp.zeros(n_channels)
        self._value_and_grad = shared_jit(jax.value_and_grad(objective, has_aux=True), x)
        self._tables = shared_jit(tables, jnp.zeros((GRID_POINTS, n_channels)))
        self._totals_chunk = shared_jit(totals, jnp.zeros((CHUNK, n_channels)))

    # ------------------------------------------------------------- response
    def _plan(self, x):
        held = jnp.broadcast_to(x, (self.num_periods, x.shape[0]))
        return jnp.concatenate([held, jnp.zeros((self.carryover, x.shape[0]), held.dtype)])

    def _totals(self, x, m, n_draws):
        """Model ``m``'s response over the horizon, per draw and channel."""
        response = self.models[m].media_response(self._plan(x[self.index[m]]), n_draws=n_draws)
        return jnp.asarray(response)[:n_draws].sum(axis=1)

    def _weighted(self, x, n_draws):
        out = jnp.zeros((n_draws, self.n_channels), dtype=x.dtype)
        for m in self.active:
            out = out.at[:, self.index[m]].add(self._weights[m] * self._totals(x, m, n_draws))
        return out

    def responses(self, X):
        """Each model's response over the horizon to each allocation.

        Parameters
        ----------
        X : ndarray of shape (n_allocations, n_channels)

        Returns
        -------
        responses : list of ndarray of shape (n_allocations, n_draws, n_model_channels)
            One per model.
        """
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        padded = np.concatenate([X, np.zeros((-n % CHUNK, X.shape[1]))])
        parts = [
            [np.asarray(p) for p in self._totals_chunk(jnp.asarray(padded[i : i + CHUNK]))]
            for i in range(0, len(padded), CHUNK)
        ]
        return [np.concatenate([chunk[m] for chunk in parts])[:n] for m in range(len(self.models))]

    def objective_from(self, responses):
        """The objective per allocation, from :meth:`responses`."""
        combined = sum(
            self.weights[m] * responses[m].sum(axis=-1) for m in self.active
        )  # (n_allocations, n_draws)
        return np.asarray(jax.vmap(self.utility)(jnp.asarray(combined)))

    def value_and_grad(self, x):
        """The objective, its gradient and each model's response at ``x``.

        Returns
        -------
        value : float
        gradient : ndarray of shape (n_channels,)
        responses : list of ndarray of shape (n_draws, n_model_channels)
        """
        (value, parts), grad = self._value_and_grad(jnp.asarray(x, dtype=float))
        return float(value), np.asarray(grad), [np.asarray(p) for p in parts]

    # ---------------------------------------------------------------- solve
    def solve(self, lower, upper, budget, starts, baseline=None):
        """Maximise the objective over the budget set.

        Parameters
        ----------
        lower, upper : ndarray of shape (n_channels,)
            Bounds; ``upper`` finite (capped by the caller).
        budget : float
        starts : ndarray of shape (n_starts, n_channels)
            Starts for the search besides the greedy one.
        baseline : ndarray of shape (n_channels,), default=None
            A feasible allocation the result must not fall below (the
            current allocation at this budget).

        Returns
        -------
        solution : dict
            ``x``, ``objective``, ``gradient``, ``responses`` (each model's
            response at ``x``, per draw and channel; None on failure),
            ``success``, ``message``, ``iterations`` (exact-gradient steps of
            the refinement).
        """
        scale = max(float(np.max(upper - lower)), np.finfo(float).tiny)
        surrogate = self._surrogate(lower, upper, budget)
        active = np.ones(len(starts) + 2, bool)
        xs, fs, _ = surrogate.ascend(
            starts, active, starts[0], np.zeros_like(lower), 0.0, lower, upper, budget
        )
        xs, fs = xs[active], fs[active]
        # The surrogate's best, scored exactly next to the current allocation.
        best = int(np.argmax(np.where(np.isfinite(fs), fs, -np.inf)))
        candidates = [feasible_point(xs[best], lower, upper, budget)]
        if baseline is not None:
            candidates.append(feasible_point(baseline, lower, upper, budget))
        exact = self.objective_from(self.responses(np.asarray(candidates)))
        finite = np.isfinite(exact)
        if not np.any(finite):
            return _failed(candidates[0], "the objective is not finite at any candidate allocation")
        best = int(np.argmax(np.where(finite, exact, -np.inf)))
        # Spend a rounding error away from a bound sits on it: a Hill
        # exponent below one has an infinite slope just above zero spend,
        # which would mislead the refinement's gradient.
        x = candidates[best]
        near = (x - lower <= 1e-9 * scale) | (upper - x <= 1e-9 * scale)
        to_bound = np.where(x - lower <= upper - x, lower, upper)
        snapped = feasible_point(np.where(near, to_bound, x), lower, upper, budget)
        f, g, parts = self.value_and_grad(snapped)
        if np.any(snapped != x) and not f >= exact[best]:
            # Snapping cost something: keep the candidate.
            f, g, parts = self.value_and_grad(x)
        else:
            x = snapped
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            return _failed(x, "the objective's gradient is not finite", f)
        return self._polish(x, f, g, parts, surrogate, len(starts), lower, upper, budget, scale)

    def _surrogate(self, lower, upper, budget):
        """The search surrogate for these bounds, from a small cache.

        The grid reaches the budget left above the lower bounds rounded up to
        a power of two, so that budgets within a factor of two of each other
        (the budgets of ``predict`` or ``find_budget``) share one table.
        """
        free = budget - lower.sum()
        reach = 2.0 ** np.ceil(np.log2(max(free, np.finfo(float).tiny)))
        top = np.minimum(upper, lower + reach)
        key = (lower.tobytes(), top.tobytes())
        surrogate = self._cache.get(key)
        if surrogate is None:
            grid = spend_grid(jnp.asarray(lower), jnp.asarray(top), GRID_POINTS)
            values, slopes = self._tables(grid)
            # At the lowest grid point a Hill exponent below one has an
            # infinite slope, which autodiff reports as zero (the curves are
            # evaluated with a safe log): a zero slope there would make an
            # empty channel look like a local maximum. Take at least the
            # slope of the secant to the next grid point.
            width = grid[1] - grid[0]
            secant = (values[1] - values[0]) / jnp.where(width > 0, width, 1.0)
            slopes = slopes.at[0].set(jnp.maximum(slopes[0], secant))
            surrogate = self._cache[key] = _Padded(grid, values, slopes, self.utility, len(lower))
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return surrogate

    def clear_cache(self):
        """Forget the cached search tables."""
        self._cache.clear()

    def _polish(self, x, f, g, parts, surrogate, n_starts, lower, upper, budget, scale):
        """Trust-region refinement on the exact objective.

        Each step maximises the surrogate corrected to match the exact
        gradient at ``x``, inside a box around ``x``; a step is taken only if
        the exact objective rises, so the result never falls below the start.
        """
        radius = 0.1 * scale
        converged, reason = False, f"reached {POLISH_ITER} refinement steps"
        iterations = 0
        for iterations in range(1, POLISH_ITER + 1):
            lo = np.maximum(lower, x - radius)
            hi = np.minimum(upper, x + radius)
            starts = np.broadcast_to(x, (n_starts, len(x)))
            active = np.zeros(n_starts + 2, bool)
            active[2] = True  # the first of starts: x
            xs, fs, f0s = surrogate.ascend(starts, active, x, g, 1.0, lo, hi, budget)
            y = feasible_point(xs[2], lo, hi, budget)
            predicted = float(fs[2] - f0s[2])
            if not predicted > _RTOL * max(abs(f), np.finfo(float).tiny):
                converged, reason = True, "no ascent direction left"
                break
            f_y, g_y, parts_y = self.value_and_grad(y)
            actual = f_y - f
            step = float(np.max(np.abs(y - x)))
            logger.debug(
                "refinement %d: step %.3g, gain %.3g (predicted %.3g)",
                iterations,
                step,
                actual,
                predicted,
            )
            if np.isfinite(f_y) and np.all(np.isfinite(g_y)) and actual > 0:
                x, f, g, parts = y, f_y, g_y, parts_y
                if actual <= _RTOL * max(abs(f), np.finfo(float).tiny):
                    converged, reason = True, "the objective stopped improving"
                    break
                if actual > 0.75 * predicted and step > 0.5 * radius:
                    radius = 2 * radius
            else:
                radius = 0.25 * step
                if radius <= 1e-12 * scale:
                    converged, reason = True, "no improving step left"
                    break
        message = f"Optimisation {'converged' if converged else 'stopped'}: {reason}."
        return {
            "x": x,
            "objective": f,
            "gradient": g,
            "responses": parts,
            "success": converged,
            "message": message,
            "iterations": iterations,
        }


class _Padded:
    """The surrogate's tables with channels padded to a block size.

    Padding channels have zero bounds and zero response, so they change
    nothing; problems whose channel counts round to the same block share one
    compiled search program.
    """

    def __init__(self, grid, values, slopes, utility, n_channels):
        self.n = n_channels
        self.size = -(-n_channels // CHANNEL_BLOCK) * CHANNEL_BLOCK
        pad = self.size - n_channels
        self.grid = jnp.pad(grid, ((0, 0), (0, pad)))
        self.values = jnp.pad(values, ((0, 0), (0, 0), (0, pad)))
        self.slopes = jnp.pad(slopes, ((0, 0), (0, 0), (0, pad)))
        self.utility = utility

    def _pad(self, a):
        a = np.asarray(a, dtype=float)
        width = [(0, 0)] * (a.ndim - 1) + [(0, self.size - self.n)]
        return jnp.asarray(np.pad(a, width))

    def ascend(self, starts, active, anchor, gradient, correct, lower, upper, budget):
        """:func:`~hillmix_opt.allocation._solver.ascend` on the padded problem.

        Starts are padded too, with inactive rows, so that the number of
        starts does not change the program either.
        """
        n_rows = len(starts)
        rows = -(-n_rows // CHANNEL_BLOCK) * CHANNEL_BLOCK
        starts = np.concatenate([starts, np.zeros((rows - n_rows, self.n))])
        active = np.concatenate([active, np.zeros(rows - n_rows, bool)])  # 2 + rows
        xs, fs, f0s = ascend(
            self._pad(starts),
            jnp.asarray(active),
            self._pad(anchor),
            self._pad(gradient),
            float(correct),
            self.grid,
            self.values,
            self.slopes,
            self._pad(lower),
            self._pad(upper),
            float(budget),
            utility=self.utility,
            max_iter=SEARCH_ITER,
        )
        n = n_rows + 2
        return np.asarray(xs)[:n, : self.n], np.asarray(fs)[:n], np.asarray(f0s)[:n]


def _failed(x, reason, objective=np.nan):
    return {
        "x": x,
        "objective": objective,
        "gradient": np.full_like(x, np.nan),
        "responses": None,
        "success": False,
        "message": f"Optimisation failed: {reason}; returning a feasible allocation.",
        "iterations": 0,
    }


def feasible_point(x, lower, upper, budget):
    """``x`` moved into the bounds, then onto the budget exactly.

    The gap to the budget is shared in proportion to each channel's room in
    the needed direction, so the bounds keep holding exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt.allocation._engine import feasible_point
    >>> feasible_point(np.array([3.0, 3.0]), np.zeros(2), np.array([2.0, 10.0]), 6.0).tolist()
    [2.0, 4.0]
    """
    x = np.clip(np.asarray(x, dtype=float), lower, upper)
    for _ in range(4):
        gap = budget - x.sum()
        room = upper - x if gap > 0 else x - lower
        total = room.sum()
        if gap == 0 or total <= 0:
            break
        x = np.clip(x + gap * room / total, lower, upper)
    # Spend a rounding error off a bound is on it (the sum moves by as much).
    # Relative to the budget: an absolute floor would snap every channel of
    # a budget below it to its upper bound, and the sum far past the budget.
    tolerance = 1e-12 * budget
    x = np.where(x - lower <= tolerance, lower, x)
    return np.where(upper - x <= tolerance, upper, x)


_PROGRAMS: OrderedDict = OrderedDict()
_MAX_PROGRAMS = 64


def shared_jit(fun, *example_args):
    """``jax.jit(fun)``, sharing compiled programs between functions of one structure.

    ``fun`` closes over model parameters, which tracing turns into constants
    of its program; two allocators over models of the same shapes would
    compile the same program twice, with different constants. Here the
    constants become arguments and the program is cached under the text of
    its jaxpr (operations, shapes and literal values), so the second
    allocator only traces.

    Parameters
    ----------
    fun : callable
        A function of arrays.
    *example_args
        Arguments of the shapes and dtypes ``fun`` will be called with.

    Returns
    -------
    compiled : callable
        Same signature and results as ``fun``.
    """
    closed, out_shapes = jax.make_jaxpr(fun, return_shape=True)(*example_args)
    out_tree = jax.tree.structure(out_shapes)
    consts = [jnp.asarray(c) for c in closed.consts]
    key = (str(closed.jaxpr), tuple((c.shape, str(c.dtype)) for c in consts))
    program = _PROGRAMS.get(key)
    if program is None:
        jaxpr = closed.jaxpr

        def run(consts, *flat_args):
            return jaxpr_as_fun(ClosedJaxpr(jaxpr, consts))(*flat_args)

        program = _PROGRAMS[key] = jax.jit(run)
        if len(_PROGRAMS) > _MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
    else:
        _PROGRAMS.move_to_end(key)

    def compiled(*args):
        return jax.tree.unflatten(out_tree, program(consts, *jax.tree.leaves(args)))

    return compiled
