"""Matplotlib views of a fitted HillMixtureMMM."""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["plot_contributions", "plot_response_curves"]


def plot_response_curves(model, channels=None, ax=None, coverage: float = 0.9):
    """Steady-state response curves of a fitted model, with intervals.

    Parameters
    ----------
    model : HillMixtureMMM
        A fitted model.
    channels : list of str, default=None
        Channels to draw; all when None.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    coverage : float, default=0.9
        Mass of the shaded interval.

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> from hillmix import HillMixtureMMM, plot_response_curves
    >>> from hillmix_sim import make_mmm_data
    >>> X, y, _ = make_mmm_data(n_periods=40, n_channels=2, random_state=0)
    >>> mmm = HillMixtureMMM(n_components=1, inference="svi", svi_steps=100,
    ...                      svi_learning_rate=0.05, num_samples=50,
    ...                      random_state=0).fit(X, y)
    >>> ax = plot_response_curves(mmm)
    >>> len(ax.lines)
    2
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    channels = list(model.channel_names_) if channels is None else channels
    for channel in channels:
        curve = model.response_curve(channel, coverage=coverage)
        (line,) = ax.plot(curve["spend"], curve["mean"], label=str(channel))
        ax.fill_between(
            curve["spend"], curve["lower"], curve["upper"], color=line.get_color(), alpha=0.2
        )
    ax.set_xlabel("spend per period")
    ax.set_ylabel("response per period")
    ax.set_title(f"Steady-state response curves ({coverage:.0%} intervals)")
    # Not "upper left": the curves rise from the origin, the steepest into that corner.
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_contributions(model, X, ax=None):
    """Stacked baseline and channel contributions over time.

    Parameters
    ----------
    model : HillMixtureMMM
        A fitted model.
    X : {array-like, DataFrame} of shape (n_periods, n_features)
        Same columns as at fit.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    means = model.contributions(X).xs("mean", axis=1, level=1)
    periods = range(len(means))
    ax.stackplot(periods, means.T.to_numpy(), labels=list(means.columns), alpha=0.85)
    ax.set_xlabel("period")
    ax.set_ylabel("contribution to target")
    ax.set_title("Baseline and media contributions (posterior mean)")
    ax.legend(loc="upper left", fontsize="small", ncols=2)
    return ax
