"""The main job: simulate with a known truth, fit HillMixtureMMM, report, plot."""

from __future__ import annotations

import numbers
import time
from pathlib import Path
from typing import TextIO

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hillmix import HillMixtureMMM
from hillmix_opt import BudgetAllocator, ModelWeight
from hillmix_sim import MMMDataGenerator

__all__ = ["run_demo"]


# The online outcome responds to every channel but the last, so the demo
# needs two; a quarter of the weeks is held out and the rest must exceed
# HillMixtureMMM's default adstock window of 8 weeks; the seed seeds two
# simulations, as seed and seed + 1.
_RANGES = {"periods": (16, None), "channels": (2, None), "draws": (1, None), "seed": (0, 2**32 - 2)}


def check_sizes(sizes: dict) -> None:
    """Raise a ValueError naming the first size outside what the demo can run.

    ``sizes`` maps names ending in ``periods``, ``channels``, ``draws`` or
    ``seed`` (``n_periods`` or ``--periods``) to their values.
    """
    for name, value in sizes.items():
        least, most = next(v for k, v in _RANGES.items() if name.endswith(k))
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or value < least
            or (most is not None and value > most)
        ):
            within = f">= {least}" if most is None else f"in [{least}, {most}]"
            raise ValueError(f"{name} must be an int {within}, got {value!r}.")


def prepare_output(output, name: str = "output") -> Path:
    """Create the plots' directory, or raise a ValueError naming ``name`` and why not.

    ``name`` is how the caller calls the path (``output`` or ``--output``).
    """
    path = Path(output)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise ValueError(
                f"{name} {str(path)!r} cannot be a directory: {str(blocking)!r} is a file. "
                "Give a directory for the plots."
            ) from None
        raise ValueError(
            f"{name} {str(path)!r}: cannot create the directory ({error.strerror})."
        ) from None
    return path


def run_demo(
    output="demo_output",
    n_periods: int = 156,
    n_channels: int = 4,
    seed: int = 0,
    progress: bool = True,
    stream: TextIO | None = None,
    n_draws: int = 1000,
) -> dict:
    """Simulate two outcomes of one spend, fit a model to each, allocate a budget.

    In-store revenue responds to every channel through mixtures of three Hill
    curves; online revenue, driven by the same spend, responds to all but the
    last channel through one Hill curve each. The demo fits HillMixtureMMM to
    each, prints diagnostics and the curves against the truth, then splits
    this quarter's budget between the channels to maximise the profit of both
    outcomes (margins 0.3 in store, 0.5 online) with
    :class:`hillmix_opt.BudgetAllocator`.

    Parameters
    ----------
    output : str or path-like, default="demo_output"
        Directory for the plots (created if missing); a ValueError, before
        any fit, when it cannot be one (an existing file, or under one).
    n_periods : int, default=156
        Weeks of simulated data, at least 16; the last quarter is held out.
    n_channels : int, default=4
        Media channels, at least 2.
    seed : int, default=0
        Seed of the simulation and of the sampler, in [0, 2**32 - 2].
    progress : bool, default=True
        Show the sampler's progress bar.
    n_draws : int, default=1000
        Kept NUTS draws per chain (two chains) of the in-store model, at
        least 1, after 1.5 times as many warm-up iterations; the online
        model runs half as many of each.
    stream : file-like, default=None
        Where the summary goes; nothing is printed when None.

    Returns
    -------
    report : dict
        The figures printed, for programmatic use.
    """
    check_sizes(
        {"n_periods": n_periods, "n_channels": n_channels, "n_draws": n_draws, "seed": seed}
    )
    output = prepare_output(output)
    say = (
        (lambda text="": print(text, file=stream)) if stream is not None else (lambda text="": None)
    )

    truth = MMMDataGenerator(
        dgp="mixture_k3", n_periods=n_periods, n_channels=n_channels, random_state=seed
    ).fit()
    X, y = truth.generate()
    n_train = round(0.75 * n_periods)
    say(
        f"Simulated {n_periods} weeks x {n_channels} channels; each channel's true "
        "response is a mixture of 3 Hill curves."
    )
    say(f"Fitting HillMixtureMMM (K=3, NUTS) on the first {n_train} weeks ...")

    start = time.perf_counter()
    mmm = HillMixtureMMM(
        n_components=3,
        # A longer warm-up than sampling: with 1000 warm-up draws, K=3 fits
        # kept an occasional divergent transition; 1500 removed them on the
        # demo's data for seeds 0-2 (about 40% more sampling time).
        num_warmup=3 * n_draws // 2,
        num_samples=n_draws,
        num_chains=2,
        random_state=seed,
        progress=progress,
    ).fit(X.iloc[:n_train], y.iloc[:n_train])
    elapsed = time.perf_counter() - start

    # Predict the whole series so held-out weeks carry over earlier spend.
    lower, upper = mmm.predict_interval(X, coverage=0.9)
    y_hat = mmm.predict(X)
    test = slice(n_train, None)
    coverage = float(
        np.mean((y.iloc[test] >= lower.iloc[test]) & (y.iloc[test] <= upper.iloc[test]))
    )
    rmse = float(np.sqrt(np.mean((y.to_numpy()[test] - y_hat[test]) ** 2)))
    d = mmm.diagnostics_

    say()
    say(f"Fit took {elapsed:.1f} s.")
    say(
        "Diagnostics: "
        f"max R-hat {d['max_rhat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
        f"divergences {d['divergences']} at target acceptance {d['target_accept']:g}, "
        f"converged: {d['converged']}"
    )
    say(f"Held-out weeks: RMSE {rmse:.1f}, 90% interval coverage {coverage:.2f}")
    say()
    say("Effective number of Hill components per channel (1 / sum w^2, w = pi A / sum pi A):")
    say(mmm.effective_k_.round(2).to_string())
    say()

    rows = []
    for channel in mmm.channel_names_:
        curve = mmm.response_curve(channel)
        true = truth.true_response(channel, curve["spend"])
        inside = (true >= curve["lower"]) & (true <= curve["upper"])
        rows.append(
            {
                "channel": channel,
                "truth inside 90% band": f"{inside.mean():.0%}",
                "max response (fit)": curve["mean"].iloc[-1],
                "max response (truth)": true[-1],
            }
        )
    recovery = pd.DataFrame(rows).set_index("channel")
    say("Response curves against the truth (0 to 4x typical spend):")
    say(recovery.round(1).to_string())

    fig = plot_fit(
        mmm, truth, X, y, n_train, lower=lower, upper=upper, y_hat=y_hat, target="in-store revenue"
    )
    fig.savefig(output / "response_curves.png", dpi=110)
    plt.close(fig)

    ax = mmm.plot_contributions(X)
    ax.figure.tight_layout()
    ax.figure.savefig(output / "contributions.png", dpi=110)
    plt.close(ax.figure)
    allocation = _allocate(X, n_train, mmm, n_draws, seed, progress, output, say)
    say()
    say(
        f"Plots written to {output}/response_curves.png, {output}/contributions.png "
        f"and {output}/allocation.png"
    )
    return {
        "allocation": allocation,
        "fit_seconds": elapsed,
        "diagnostics": {k: v for k, v in d.items() if k != "summary"},
        "holdout_rmse": rmse,
        "holdout_coverage": coverage,
        "effective_k": mmm.effective_k_,
        "recovery": recovery,
    }


def plot_fit(
    mmm,
    truth,
    X,
    y,
    n_train,
    *,
    lower=None,
    upper=None,
    y_hat=None,
    coverage=0.9,
    target="target",
):
    """The demo's first figure: curves against the truth, and the forecast.

    Left, each channel's fitted steady-state response (posterior mean, solid,
    and its band) with its true curve dotted in the same colour; right, the
    target, the posterior mean and interval, and where the hold-out starts.

    Parameters
    ----------
    mmm : HillMixtureMMM
        Fitted on the first ``n_train`` rows.
    truth : MMMDataGenerator
        The fitted generator the data came from.
    X, y : DataFrame and Series
        The whole series.
    n_train : int
        Rows fitted on; the rest are held out.
    lower, upper, y_hat : array-like of shape (n_periods,), default=None
        The interval and the mean on ``X``; computed when None.
    coverage : float, default=0.9
    target : str, default="target"
        What ``y`` is, for the forecast's axis label.

    Returns
    -------
    figure : matplotlib.figure.Figure
        With two Axes: ``figure.axes[0]`` the curves, ``figure.axes[1]``
        the forecast.
    """
    from matplotlib.lines import Line2D

    if lower is None or upper is None:
        lower, upper = mmm.predict_interval(X, coverage=coverage)
    y_hat = mmm.predict(X) if y_hat is None else y_hat
    fig, (curves, forecast) = plt.subplots(1, 2, figsize=(14, 5), layout="constrained")
    band = f"{coverage:.0%}"
    handles = []
    for i, channel in enumerate(mmm.channel_names_):
        color = f"C{i}"
        curve = mmm.response_curve(channel, coverage=coverage)
        curves.plot(curve["spend"], curve["mean"], color=color)
        curves.fill_between(curve["spend"], curve["lower"], curve["upper"], color=color, alpha=0.2)
        true = truth.true_response(channel, curve["spend"])
        curves.plot(curve["spend"], true, color=color, ls=":", lw=2)
        handles.append(Line2D([], [], color=color, lw=6, alpha=0.6, label=str(channel)))
    # Colour says which channel, line style fitted or true.
    handles += [
        Line2D([], [], color="k", label=f"fitted: posterior mean, {band} band"),
        Line2D([], [], color="k", ls=":", lw=2, label="true curve"),
    ]
    # Below the axes: inside, it covered a curve.
    curves.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=3,
        fontsize="small",
    )
    curves.set_xlabel("spend per week (held constant)")
    curves.set_ylabel("response per week")
    curves.set_title("Steady-state response curves: fitted (solid) and true (dotted)")

    weeks = np.arange(len(y))
    forecast.plot(weeks, np.asarray(y), "k.", ms=3, label="observed")
    forecast.plot(weeks, np.asarray(y_hat), color="C0", label="posterior mean")
    forecast.fill_between(
        weeks,
        np.asarray(lower),
        np.asarray(upper),
        color="C0",
        alpha=0.25,
        label=f"{band} predictive interval",
    )
    forecast.axvline(
        n_train - 0.5,
        color="grey",
        ls="--",
        lw=1,
        label=f"end of fit (weeks {n_train}+ held out)",
    )
    forecast.set_xlabel("week")
    forecast.set_ylabel(target)
    forecast.set_title("Fit and held-out forecast")
    forecast.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize="small")
    return fig


def _allocate(X, n_train, store, n_draws, seed, progress, output, say):
    """Fit the online outcome of the same spend and share one budget between both."""
    # Online revenue of the same spend: its own truth, no response to the
    # last channel (say, out-of-home), smaller and fewer segments.
    online_channels = list(X.columns[:-1])
    online_truth = MMMDataGenerator(dgp="mixture_k2", media_share=0.25, random_state=seed + 1).fit(
        X[online_channels]
    )
    _, y_online = online_truth.generate()
    say()
    say(
        f"Fitting a single-Hill HillMixtureMMM (K=1) to online revenue, which responds to "
        f"{len(online_channels)} of the {X.shape[1]} channels ..."
    )
    online = HillMixtureMMM(
        n_components=1,
        num_warmup=max(n_draws // 2, 1),
        num_samples=max(n_draws // 2, 1),
        num_chains=2,
        random_state=seed,
        progress=progress,
    ).fit(X[online_channels].iloc[:n_train], y_online.iloc[:n_train])
    d = online.diagnostics_
    say(
        f"Diagnostics: max R-hat {d['max_rhat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
        f"divergences {d['divergences']}"
    )

    margins = [ModelWeight("in-store", store, 0.3), ModelWeight("online", online, 0.5)]
    allocator = BudgetAllocator(
        models=margins, weights="margin", num_periods=13, random_state=seed
    ).fit(X.iloc[:n_train])
    budget = float(allocator.current_allocation_.sum())
    result = allocator.optimize(budget, compare_to_current=True)
    say()
    say(
        f"Budget allocation: {budget:,.0f} per week for 13 weeks, maximising "
        "0.3 x in-store + 0.5 x online revenue (posterior mean) over the 13 weeks and "
        f"the {allocator.carryover_periods_} weeks of carryover after them:"
    )
    # Shares as percentages: rounded to one decimal as fractions, they read
    # 0.2, 0.4, 0.2, 0.2.
    say(
        result.summary().to_string(
            formatters={"share": "{:.1%}".format}, float_format=lambda v: f"{v:,.1f}"
        )
    )
    gain = result.combined_response - result.current_combined_response
    say(
        f"Profit over the quarter and its carryover: {result.combined_response:,.0f} "
        f"against {result.current_combined_response:,.0f} with the current split "
        f"({gain:+,.0f}); optimiser: {result.message}"
    )
    axes = result.plot()
    figure = np.ravel(axes)[0].figure
    figure.savefig(output / "allocation.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return result
