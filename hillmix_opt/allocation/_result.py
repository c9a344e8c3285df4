"""AllocationResult: an optimal allocation with its per-model breakdown."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AllocationResult"]


@dataclass
class AllocationResult:
    """The outcome of :meth:`BudgetAllocator.optimize <hillmix_opt.BudgetAllocator.optimize>`.

    Spend is per period and held for the allocator's ``num_periods``;
    responses are totals over those periods and the carryover after them, in
    each model's target units. Intervals are equal-tailed posterior intervals
    of mass ``coverage``.

    Attributes
    ----------
    optimal_allocation : dict of str to float
        Spend per period of each channel.
    total_budget : float
        The budget: ``sum(optimal_allocation.values())``.
    response_by_model : dict of str to float
        Posterior mean response of each model.
    combined_response : float
        ``sum(weights[m] * response_by_model[m])``.
    response_ci_by_model : dict of str to (float, float)
        Posterior interval of each model's response.
    combined_response_ci : (float, float)
        Posterior interval of the combined response.
    allocation_contribution : DataFrame of shape (n_channels, n_models)
        Posterior mean response of each channel (rows) in each model
        (columns); zero where a model lacks the channel. Columns sum to
        ``response_by_model``.
    weights : dict of str to float
        The weight of each model.
    objective : float
        The maximised utility of the combined response.
    utility : str
        The utility's name.
    success : bool
        Whether the optimisation converged.
    message : str
        Why it stopped.
    iterations : int
        Exact-gradient steps of the final refinement.
    coverage : float
        Mass of the intervals.
    current_allocation : dict of str to float or None
        The historical allocation, when compared.
    current_response_by_model : dict of str to float or None
    current_combined_response : float or None
    current_objective : float or None
        The utility of the historical allocation's combined response.
    num_periods : int or None
        Periods the spend is held for (the allocator's ``num_periods``).
    carryover_periods : int or None
        Zero-spend periods after them whose response counts.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BudgetAllocator, HillCurveModel
    >>> spend = np.array([[30.0, 10.0], [50.0, 30.0]])
    >>> model = HillCurveModel(amplitude=[100.0, 60.0], kappa=[40.0, 10.0]).fit(spend)
    >>> result = BudgetAllocator(models=model, random_state=0).fit(spend).optimize(
    ...     60.0, compare_to_current=True)
    >>> list(result.summary().columns)
    ['allocation', 'share', 'response[model]', 'combined', 'current', 'change', 'change_pct']
    """

    optimal_allocation: dict
    total_budget: float
    response_by_model: dict
    combined_response: float
    response_ci_by_model: dict
    combined_response_ci: tuple
    allocation_contribution: pd.DataFrame
    weights: dict
    objective: float
    utility: str
    success: bool
    message: str
    iterations: int
    coverage: float
    current_allocation: dict | None = None
    current_response_by_model: dict | None = None
    current_combined_response: float | None = None
    current_objective: float | None = None
    num_periods: int | None = None
    carryover_periods: int | None = None

    def summary(self) -> pd.DataFrame:
        """One row per channel and a ``"total"`` row.

        Returns
        -------
        summary : DataFrame
            ``allocation`` and ``share`` of the budget, ``response[label]``
            per model, ``combined`` (weighted sum of the models' responses)
            and, when compared with the current allocation, ``current``,
            ``change`` and ``change_pct``.
        """
        channels = list(self.optimal_allocation)
        alloc = pd.Series(self.optimal_allocation, dtype=float)
        table = pd.DataFrame({"allocation": alloc})
        total = alloc.sum()
        table["share"] = alloc / total if total > 0 else np.nan
        contrib = self.allocation_contribution.loc[channels]
        for label in contrib.columns:
            table[f"response[{label}]"] = contrib[label]
        weights = pd.Series(self.weights)
        table["combined"] = contrib.mul(weights[contrib.columns], axis=1).sum(axis=1)
        if self.current_allocation is not None:
            current = pd.Series(self.current_allocation, dtype=float)
            table["current"] = current
            table["change"] = alloc - current
            with np.errstate(divide="ignore", invalid="ignore"):
                table["change_pct"] = np.where(
                    current > 0, 100 * (alloc - current) / current.where(current > 0, 1), np.nan
                )
        totals = table.sum(numeric_only=True)
        if "change_pct" in table:
            current_total = table["current"].sum()
            totals["change_pct"] = (
                100 * (total - current_total) / current_total if current_total > 0 else np.nan
            )
        table.loc["total"] = totals
        table.index.name = "channel"
        return table

    def plot(self, ax=None):
        """Allocation bars, and each channel's response stacked by model.

        Parameters
        ----------
        ax : sequence of two matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        axes : ndarray of two matplotlib Axes
            Spend per channel (optimal, and current when compared), and the
            weighted response per channel stacked by model, a total over the
            horizon and its carryover, as the axis label says.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _fig, ax = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
        ax = np.asarray(ax).ravel()
        if ax.size != 2:
            raise ValueError(f"ax must hold two Axes, got {ax.size}.")
        channels = list(self.optimal_allocation)
        pos = np.arange(len(channels))
        alloc = np.array([self.optimal_allocation[c] for c in channels])
        if self.current_allocation is not None:
            current = np.array([self.current_allocation[c] for c in channels])
            ax[0].bar(pos - 0.2, current, 0.4, label="current", color="0.7")
            ax[0].bar(pos + 0.2, alloc, 0.4, label="optimal", color="C0")
            ax[0].legend()
        else:
            ax[0].bar(pos, alloc, 0.6, label="optimal", color="C0")
        ax[0].set_xticks(pos, channels, rotation=30, ha="right")
        ax[0].set_ylabel("spend per period")
        ax[0].set_title(f"Allocation of {self.total_budget:,.6g} per period")
        _headroom(ax[0])
        bottom = np.zeros(len(channels))
        contrib = self.allocation_contribution.loc[channels]
        for i, label in enumerate(contrib.columns):
            values = contrib[label].to_numpy() * self.weights[label]
            ax[1].bar(
                pos,
                values,
                0.6,
                bottom=bottom,
                label=f"{label} (x{self.weights[label]:g})",
                color=f"C{i + 1}",
            )
            bottom += values
        ax[1].set_xticks(pos, channels, rotation=30, ha="right")
        ax[1].set_ylabel(f"weighted response, {self._horizon()}")
        ax[1].set_title(f"Combined response {self.combined_response:,.6g}")
        ax[1].legend(title="model")
        _headroom(ax[1])
        return ax

    def _horizon(self):
        """What the responses are totals over, in words."""
        if self.num_periods is None:
            return "total over the horizon and its carryover"
        carryover = self.carryover_periods or 0
        return (
            f"total over {self.num_periods} periods + {carryover} of carryover"
            if carryover
            else f"total over {self.num_periods} periods"
        )


def _headroom(ax, fraction=0.25):
    """Room above the tallest bar for the legend, which would cover it."""
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + fraction * (top - bottom))
