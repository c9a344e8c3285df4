"""The response protocol: what a model must offer to be allocated over."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["ResponseModel", "check_response_model"]


@runtime_checkable
class ResponseModel(Protocol):
    """What :class:`~hillmix_opt.BudgetAllocator` needs from a fitted model.

    :class:`hillmix.HillMixtureMMM` and :class:`~hillmix_opt.HillCurveModel`
    implement it; any other class can, without inheriting from anything.

    Attributes
    ----------
    channel_names_ : sequence of str
        The model's spend channels, in the order of ``media_response``'s
        columns. Channels of several models are matched by name.
    adstock_max_lag : int, optional
        Periods over which spend keeps working, the current one included.
        When present, the allocator counts ``adstock_max_lag - 1`` periods of
        carryover after the planning horizon (see its ``carryover_periods``).

    Notes
    -----
    ``media_response(spend_plan, n_draws=None)`` must

    - take ``spend_plan``, an array of shape (n_periods, n_channels) of spend
      per period in the order of ``channel_names_``, in original units, with
      no spend before its first row;
    - return an array of shape (n_draws, n_periods, n_channels): each
      channel's response per period and posterior draw, in target units;
    - use ``n_draws`` evenly spaced posterior draws (all of them when
      ``None``; fewer when the model has fewer), the same ones on every call;
    - be pure JAX in ``spend_plan``, so the allocator can ``jit`` it and take
      gradients with ``grad`` and ``jvp``;
    - let each channel's response depend on that channel's spend only (an
      additive model). The allocator's global search relies on this; its
      final refinement uses the exact response whatever the model.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import HillCurveModel, ResponseModel
    >>> model = HillCurveModel(amplitude=[10.0, 4.0], kappa=[5.0, 2.0]).fit(np.ones((3, 2)))
    >>> isinstance(model, ResponseModel)
    True
    >>> model.media_response(np.full((4, 2), 5.0)).shape
    (1, 4, 2)
    """

    channel_names_: object

    def media_response(self, spend_plan, n_draws=None):
        """Posterior draws of each channel's response to a spend plan."""


def check_response_model(model, name: str):
    """Check that ``model`` offers the response protocol; its channel names.

    Parameters
    ----------
    model : object
    name : str
        How to refer to the model in errors, e.g. ``"models['online']"``.

    Returns
    -------
    channels : list of str

    Raises
    ------
    TypeError
        When ``model`` lacks ``channel_names_`` or ``media_response``.
    ValueError
        When its channel names are empty or repeat.
    """
    if not callable(getattr(model, "media_response", None)):
        raise TypeError(
            f"{name} ({type(model).__name__}) has no media_response method: the allocator "
            "needs a fitted model offering the response protocol (see hillmix_opt.ResponseModel)."
        )
    names = getattr(model, "channel_names_", None)
    if names is None:
        raise TypeError(
            f"{name} ({type(model).__name__}) has no channel_names_: is it fitted? "
            "The allocator needs a fitted model offering the response protocol "
            "(see hillmix_opt.ResponseModel)."
        )
    channels = [str(c) for c in np.asarray(names, dtype=object).ravel()]
    if not channels:
        raise ValueError(f"{name} has no channel (channel_names_ is empty).")
    if len(set(channels)) != len(channels):
        raise ValueError(f"{name} repeats channel names: {channels}.")
    return channels
