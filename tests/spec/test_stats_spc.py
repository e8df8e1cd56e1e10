"""Spec: XmR charts as NHS England's Making Data Count reads them (openphm.stats.xmr).

A stable process alternating 5, 6, 5, 6 has mean 5.5 and mean moving range 1, so its
process limits are 5.5 +/- 2.66 (2.84 to 8.16) and its two-sigma lines 5.5 +/- 1.77.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openphm.stats import xmr
from openphm.stats.spc_rules import trend_ends

STABLE = [5, 6] * 6


def test_a_stable_process_is_all_common_cause():
    chart = xmr(STABLE)
    assert chart[["mean", "lower_limit", "upper_limit"]].iloc[0].tolist() == pytest.approx(
        [5.5, 2.84, 8.16]
    )
    assert chart.rule.isna().all()
    assert set(chart.point_type) == {"common_cause"}


@pytest.mark.parametrize(
    ("improvement", "point_type"),
    [
        ("increase", "special_cause_improvement"),
        ("decrease", "special_cause_concern"),
        ("neutral", "special_cause_neutral_high"),
    ],
)
def test_a_point_above_the_upper_limit_is_read_by_the_indicators_direction(improvement, point_type):
    chart = xmr([*STABLE, 12], improvement=improvement)
    last = chart.iloc[-1]
    assert last.value > last.upper_limit
    assert last.rule == "above_upper_limit"
    assert last.point_type == point_type


def test_a_point_outside_the_limits_takes_precedence_over_the_trend_it_ends():
    values = [*STABLE[:10], 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 20]
    chart = xmr(values)
    assert trend_ends(values)[-1] == 1  # 20 also ends a rising trend of seven
    assert chart.rule.tolist()[-7:] == ["trend_increasing"] * 6 + ["above_upper_limit"]


def test_a_falling_trend_above_the_mean_is_concern_when_higher_is_better():
    # the last eight points fall one after another while staying above the mean; they are
    # also seven-plus on one side of the mean, but a trend outranks a shift
    values = [0, 10] * 5 + [9.6, 9.5, 9.4, 9.3, 9.2, 9.1, 9.0]
    chart = xmr(values, improvement="increase")
    trend = chart.iloc[9:]
    assert (trend.value > trend["mean"]).all()
    assert set(trend.rule) == {"trend_decreasing"}
    assert set(trend.point_type) == {"special_cause_concern"}
    assert chart.iloc[:9].rule.isna().all()


def test_rebasing_gives_each_period_its_own_mean_limits_and_runs():
    months = pd.date_range("2023-04-01", periods=24, freq="MS")
    admissions = pd.Series([5, 6] * 6 + [15, 16] * 6, index=months)
    one_period = xmr(admissions)
    rebased = xmr(admissions, rebase=[pd.Timestamp("2024-04-01")])

    # one mean across a step change (10.5): every month is outside limits that fit neither
    assert set(one_period.rule) == {"below_lower_limit", "above_upper_limit"}
    # recalculated from April 2024: two stable processes
    assert rebased.groupby("period")["mean"].first().tolist() == [5.5, 15.5]
    assert rebased.rule.isna().all()
    assert np.isnan(rebased.loc["2024-04-01", "moving_range"])  # no range across the rebase
    assert rebased.index.equals(months)


def test_run_lengths_are_configurable():
    values = [*STABLE[:10], 5.1, 5.2, 5.3, 5.4, 5.5, 5.6]  # six rising points
    assert xmr(values).rule.isna().all()
    assert xmr(values, trend_length=6).rule.tolist()[-6:] == ["trend_increasing"] * 6


def test_only_moving_ranges_of_3_267_times_the_mean_or_more_are_screened_out():
    # nine ranges of 1, then a jump of 4.0435: 3.1 times the mean range (1.30435), so it
    # stays in and widens the limits; a jump of 5.5 (3.6 times) is screened out
    kept = xmr([*STABLE[:10], 6 + 4.0435])
    screened = xmr([*STABLE[:10], 6 + 5.5])
    assert kept.upper_limit.iloc[0] - kept["mean"].iloc[0] == pytest.approx(2.66 * 1.30435)
    assert screened.upper_limit.iloc[0] - screened["mean"].iloc[0] == pytest.approx(2.66)


def test_limits_can_be_fixed_from_a_baseline():
    chart = xmr([*STABLE, 9, 9, 9], fix_after=12)
    assert chart[["mean", "lower_limit", "upper_limit"]].iloc[-1].tolist() == pytest.approx(
        [5.5, 2.84, 8.16]
    )
    assert chart.rule.tolist()[-3:] == ["above_upper_limit"] * 3


def test_two_of_three_beyond_two_sigma_on_one_side():
    chart = xmr([*STABLE, *STABLE, 8.0, 6, 8.1, 5, 6])
    tail = chart.iloc[24:]
    # 8.0 and 8.1 lie between the two-sigma line and the upper limit, 6 between them is
    # above the mean: the two near the limit are flagged, the 6 is not
    assert (tail.upper_2sigma < 8.0).all() and (tail.upper_limit > 8.1).all()
    assert tail.rule.tolist() == ["two_in_three_above", None, "two_in_three_above", None, None]
    # with the middle point below the mean the three are not on one side: no signal
    assert xmr([*STABLE, *STABLE, 8.0, 5, 8.1, 5, 6]).rule.isna().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [5, np.nan, 6]}, r"values\[1\] is nan"),
        ({"values": STABLE, "improvement": "up"}, "improvement must be one of"),
        ({"values": STABLE, "rebase": [11]}, "period 1 has 1 point"),
        ({"values": STABLE, "rebase": [40]}, "rebase label 40 is not in the index"),
        ({"values": STABLE, "trend_length": 1}, "trend_length must be a whole number"),
    ],
)
def test_bad_inputs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        xmr(**kwargs)
