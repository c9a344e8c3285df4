"""Metrics of simulated against real transactions, and The Complete Journey's conversion."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hillmix_sim import make_retail_data
from hillmix_sim.datasets import convert_complete_journey
from hillmix_sim.metrics import (
    METRICS,
    baskets_per_household_week,
    compare,
    days_between_visits,
    discount_depth,
    discounted_share,
    harmonic_score,
    ks_similarity,
    lines_per_basket,
    mean_score,
    metric_samples,
    similarity,
    stores_per_household,
    tv_similarity,
)

TX = pd.DataFrame(
    {
        "household_id": [1, 1, 1, 1, 2, 2],
        "store_id": [10, 10, 11, 11, 10, 10],
        "basket_id": [100, 100, 101, 102, 200, 200],
        "product_id": [1, 2, 3, 4, 5, 6],
        "week": [1, 1, 1, 3, 2, 2],
        "day": [1, 1, 3, 16, 9, 9],
        "quantity": [1, 2, 1, 1, 3, 1],
        "sales_value": [1.0, 2.5, 4.0, 1.0, 3.0, 2.0],
        "retail_disc": [0.0, 0.5, 0.0, 1.0, 0.0, 0.0],
        "coupon_disc": [0.0] * 6,
        "on_display": [False, True, False, False, False, True],
        "on_mailer": [False, False, True, False, False, False],
    }
)


def test_samples_by_hand():
    assert lines_per_basket(TX).tolist() == [2, 1, 1, 2]
    # Household 1: weeks 1 (2 baskets), 2 (0), 3 (1); household 2: week 2 only.
    assert baskets_per_household_week(TX).tolist() == [2, 0, 1, 0, 1, 0]
    assert days_between_visits(TX).tolist() == [2, 13]
    assert stores_per_household(TX).tolist() == [2, 1]
    np.testing.assert_allclose(discounted_share(TX), [0.5, 0.0])
    np.testing.assert_allclose(discount_depth(TX), [0.5 / 3.0, 0.5])


def test_samples_do_not_depend_on_row_order():
    shuffled = TX.sample(frac=1.0, random_state=3)
    for name in METRICS:
        if name == "online_share":
            continue
        a = np.sort(metric_samples(TX, [name])[name])
        b = np.sort(metric_samples(shuffled, [name])[name])
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_ks_similarity_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.3, 1.2, size=500)
    assert ks_similarity(a, b) == pytest.approx(1 - stats.ks_2samp(a, b).statistic)
    ia, ib = rng.poisson(2.0, 400), rng.poisson(2.5, 300)
    assert ks_similarity(ia, ib) == pytest.approx(1 - stats.ks_2samp(ia, ib).statistic)
    assert math.isnan(ks_similarity([], [1]))


def test_tv_similarity():
    assert tv_similarity([True, False], [True, False, True, False]) == 1.0
    assert tv_similarity(["a", "a"], ["b"]) == 0.0


def test_harmonic_score_as_the_seed_documents():
    balanced = {"lines_per_basket": 0.75, "basket_revenue": 0.78,
                "baskets_per_household_week": 0.77, "quantity_per_line": 0.76}
    k = np.array(list(balanced.values()))
    expected = 0.65 * 4 / np.sum(1 / k) + 0.15 * (1 - np.std(k) / 0.3) + 0.1  # bonus: all > 0.7
    assert harmonic_score(balanced) == pytest.approx(expected)
    # One poor metric costs the harmonic score far more than the plain mean.
    poor = {**balanced, "quantity_per_line": 0.35}
    drop_mean = mean_score(balanced) - mean_score(poor)
    assert 3 * drop_mean < harmonic_score(balanced) - harmonic_score(poor)
    assert mean_score(poor) == pytest.approx(np.mean([0.75, 0.78, 0.77, 0.35]))
    # The marketing (1-TV) component and NaN metrics.
    with_tv = {**balanced, "display_share": 1.0, "online_share": math.nan}
    assert harmonic_score(with_tv) == pytest.approx(expected + 0.1)
    perfect = dict.fromkeys(METRICS, 1.0)
    assert harmonic_score(perfect) == pytest.approx(1.0)


def test_compare_reports_every_metric_and_nan_where_a_table_cannot():
    data, _ = make_retail_data(n_households=30, n_weeks=3, n_products=60, n_categories=6,
                               n_stores=3, random_state=0)
    report = compare(data.transactions, data.transactions)
    assert list(report.index) == list(METRICS)
    measured = report.drop(index="online_share")
    assert (measured["similarity"] == 1.0).all()
    assert math.isnan(report.loc["online_share", "similarity"])
    assert report.attrs["harmonic_score"] == pytest.approx(1.0)
    assert similarity("basket_revenue", TX, TX) == 1.0


def test_metric_errors_name_the_missing_column():
    with pytest.raises(ValueError, match=r"\['basket_id'\]"):
        lines_per_basket(TX.drop(columns="basket_id"))
    with pytest.raises(TypeError, match="DataFrame"):
        lines_per_basket([1, 2])
    with pytest.raises(ValueError, match="Unknown metric"):
        similarity("basket_size", TX, TX)


# --------------------------------------------------------- the conversion
def _raw():
    ts = pd.to_datetime(
        ["2017-01-01 12:00", "2017-01-03 12:00", "2017-01-03 12:00", "2017-01-03 12:00",
         "2017-01-10 09:00", "2017-12-31 10:00"]
    )
    raw = pd.DataFrame(
        {
            "household_id": [1, 1, 1, 1, 2, 2],
            "store_id": [5, 5, 5, 5, 6, 6],
            "basket_id": [9, 10, 10, 10, 11, 12],
            "product_id": [100, 100, 200, 300, 100, 400],
            "quantity": [1, 2, 12000, 1, 0, 1],
            "sales_value": [1.0, 2.0, 30.0, 3.0, 0.0, 4.0],
            "retail_disc": [0.0, -0.5, 0.0, -1.0, 0.0, 0.0],
            "coupon_disc": [0.0] * 6,
            "coupon_match_disc": [0.0] * 6,
            "week": [1, 2, 2, 2, 3, 53],
            "transaction_timestamp": ts + pd.Timedelta(hours=5),
        }
    )
    products = pd.DataFrame(
        {"product_id": [100, 200, 300, 400], "department": ["GROCERY", "FUEL", "DELI", "PRODUCE"],
         "product_category": ["A", "FUEL", "B", "C"]}
    )
    promotions = pd.DataFrame(
        {"product_id": [100, 300], "store_id": [5, 5], "week": [2, 2],
         "display_location": ["0", "3"], "mailer_location": ["A", "0"]}
    )
    return raw, products, promotions


def test_conversion_handles_fuel_partial_weeks_and_signs():
    raw, products, promotions = _raw()
    tx, removed = convert_complete_journey(raw, products, promotions)
    assert removed == {"partial_first_week": 1, "non_grocery": 1, "unknown_product": 0,
                       "zero_quantity": 1, "baskets_split_across_stores": 0}
    assert tx["quantity"].max() < 1000
    assert tx["week"].tolist() == [1, 1, 52]
    assert tx["day"].tolist() == [2, 2, 364]
    assert (tx["retail_disc"] >= 0).all() and tx["retail_disc"].tolist() == [0.5, 1.0, 0.0]
    assert tx["on_mailer"].tolist() == [True, False, False]
    assert tx["on_display"].tolist() == [False, True, False]


def test_conversion_splits_baskets_across_stores_and_refuses_mixed_signs():
    raw, products, promotions = _raw()
    raw.loc[3, "store_id"] = 7
    tx, removed = convert_complete_journey(raw, products, promotions)
    assert removed["baskets_split_across_stores"] == 1
    assert tx.groupby("basket_id")["store_id"].nunique().max() == 1
    raw.loc[1, "retail_disc"] = 0.5
    with pytest.raises(ValueError, match="retail_disc has both positive and negative"):
        convert_complete_journey(raw, products, promotions)
    with pytest.raises(ValueError, match="week"):
        convert_complete_journey(raw.drop(columns="week"), products)
    with pytest.raises(ValueError, match="no rows"):
        convert_complete_journey(raw.iloc[:0], products)


@pytest.mark.xdist_group("complete_journey")
def test_complete_journey_in_the_simulator_schema(complete_journey):
    from hillmix_sim import TRANSACTION_COLUMNS

    tx = complete_journey.transactions
    assert list(tx.columns) == list(TRANSACTION_COLUMNS)
    assert complete_journey.n_weeks == 52 and tx["week"].between(1, 52).all()
    assert tx["household_id"].nunique() > 2400
    assert tx["quantity"].max() < 1000  # fuel (thousandths of gallons) removed
    assert (tx[["retail_disc", "coupon_disc"]] >= 0).all().all()
    assert ((tx["day"] - 1) // 7 + 1 == tx["week"]).all()
    assert tx.groupby("basket_id")["store_id"].nunique().max() == 1
    assert 0.05 < tx["on_display"].mean() < 0.2 and 0.1 < tx["on_mailer"].mean() < 0.3
    assert complete_journey.removed["non_grocery"] > 10_000
