"""Similarity of simulated data to real data, metric by metric.

Each metric is a function of one table that draws its sample (baskets'
sizes, households' store counts, ...), compared between two tables by
1 - Kolmogorov-Smirnov (:func:`ks_similarity`) or 1 - total variation
(:func:`tv_similarity`); :func:`compare` reports them all, next to the
combined :func:`harmonic_score` and the plain :func:`mean_score`.
"""

from ._retail import (
    METRICS,
    Metric,
    basket_revenue,
    baskets_per_household_week,
    compare,
    days_between_visits,
    discount_depth,
    discounted_share,
    display_flags,
    harmonic_score,
    ks_similarity,
    lines_per_basket,
    mailer_flags,
    mean_score,
    metric_samples,
    online_flags,
    quantity_per_line,
    similarity,
    stores_per_household,
    tv_similarity,
)

__all__ = [
    "METRICS",
    "Metric",
    "basket_revenue",
    "baskets_per_household_week",
    "compare",
    "days_between_visits",
    "discount_depth",
    "discounted_share",
    "display_flags",
    "harmonic_score",
    "ks_similarity",
    "lines_per_basket",
    "mailer_flags",
    "mean_score",
    "metric_samples",
    "online_flags",
    "quantity_per_line",
    "similarity",
    "stores_per_household",
    "tv_similarity",
]
