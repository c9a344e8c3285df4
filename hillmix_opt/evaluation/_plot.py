"""plot_policy_values: estimates of several policies with their intervals, against the truth."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._result import PolicyValue

__all__ = ["plot_policy_values"]


def plot_policy_values(
    values: Mapping[str, Mapping[str, PolicyValue]],
    truth: Mapping[str, float] | None = None,
    ax=None,
):
    """Each policy's estimates with their intervals, estimator by estimator, and its truth.

    Parameters
    ----------
    values : mapping of str to mapping of str to PolicyValue
        For each policy, its estimate by each estimator (``{policy:
        {estimator: value}}``).
    truth : mapping of str to float, optional
        Each policy's true value, drawn as a black bar across its group.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> from hillmix_opt import PolicyValue, plot_policy_values
    >>> v = PolicyValue("IPW", 0.12, 0.10, 0.14, 0.95, 0.01, 800.0, 1000)
    >>> ax = plot_policy_values({"greedy": {"IPW": v}}, truth={"greedy": 0.125})
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['greedy']
    """
    import matplotlib.pyplot as plt

    if not isinstance(values, Mapping) or not values:
        raise TypeError("values must be a non-empty mapping {policy: {estimator: PolicyValue}}.")
    for policy, by_estimator in values.items():
        if not isinstance(by_estimator, Mapping) or not all(
            isinstance(v, PolicyValue) for v in by_estimator.values()
        ):
            raise TypeError(f"values[{policy!r}] must map estimator names to PolicyValue results.")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    policies = list(values)
    estimators = list(dict.fromkeys(name for v in values.values() for name in v))
    width = 0.8 / max(len(estimators), 1)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, name in enumerate(estimators):
        offset = -0.4 + width * (j + 0.5)
        xs, ys, lows, highs = [], [], [], []
        for i, policy in enumerate(policies):
            value = values[policy].get(name)
            if value is None:
                continue
            xs.append(i + offset)
            ys.append(value.estimate)
            lows.append(value.estimate - value.ci_low)
            highs.append(value.ci_high - value.estimate)
        ax.errorbar(xs, ys, yerr=np.array([lows, highs]), fmt="o", capsize=3, label=name,
                    color=colours[j % len(colours)])  # fmt: skip
    if truth is not None:
        for i, policy in enumerate(policies):
            if policy in truth:
                ax.hlines(truth[policy], i - 0.45, i + 0.45, colors="black", linewidth=2,
                          label="truth" if i == 0 else None)  # fmt: skip
    ax.set_xticks(range(len(policies)), policies)
    ax.set_ylabel("expected reward (click rate)")
    ax.legend(fontsize="small", ncols=2)
    return ax
