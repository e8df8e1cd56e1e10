"""Spec: openphm.stats rates, proportions and standardised rates, as an analyst meets them.

What is shown and what is not, which interval method is used when, and what a mistake
in the input says back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openphm.stats import (
    ESP2013,
    ESP2013_AGE_BANDS,
    crude_rate,
    directly_standardised_rate,
    indirectly_standardised_ratio,
    proportion,
    standardised_ratio,
)


def practices(events_per_band: dict[str, list[float]]) -> pd.DataFrame:
    """One row per practice and ESP 2013 age band, 1,000 people in every band."""
    return pd.DataFrame(
        [(practice, band, events, 1000)
         for practice, counts in events_per_band.items()
         for band, events in zip(ESP2013_AGE_BANDS, counts, strict=True)],
        columns=["practice", "age_band", "admissions", "population"],
    )  # fmt: skip


def test_a_dsr_from_fewer_than_10_events_is_not_shown():
    nine = [0] * 10 + [1] * 9
    ten = [0] * 9 + [1] * 10
    result = directly_standardised_rate(
        practices({"A": nine, "B": ten}), count="admissions", population="population", by="practice"
    )
    a, b = result.iloc[0], result.iloc[1]
    assert a.total_count == 9 and np.isnan(a.value)
    assert a[["lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"]].isna().all()
    assert a.suppression_reason == "not shown: fewer than 10 events"
    assert b.total_count == 10 and b.value > 0 and b.lower95_0cl < b.value < b.upper95_0cl
    assert b.suppression_reason is None


def test_a_dsr_of_a_flat_rate_is_that_rate_whatever_the_standard():
    # 5 admissions per 1,000 in every band: standardising cannot change a flat rate
    result = directly_standardised_rate(
        practices({"A": [5] * 19}), count="admissions", population="population"
    )
    assert result.value.iloc[0] == pytest.approx(500.0)  # per 100,000
    assert list(result.columns[:2]) == ["total_count", "total_pop"]  # no `by`, no key column


def test_a_missing_count_is_zero_events_in_that_band():
    with_gap = [np.nan] + [5] * 18
    with_zero = [0] + [5] * 18
    gap = directly_standardised_rate(
        practices({"A": with_gap}), count="admissions", population="population"
    )  # noqa: E501
    zero = directly_standardised_rate(
        practices({"A": with_zero}), count="admissions", population="population"
    )  # noqa: E501
    pd.testing.assert_frame_equal(gap, zero)


def test_crude_rates_use_exact_poisson_limits_below_10_events_and_byar_from_10():
    result = crude_rate([9, 10], [1000, 1000])
    assert result.method.tolist() == ["exact", "byar"]


def test_results_keep_the_callers_index():
    numerator = pd.Series([20, 30], index=["Y01", "Y02"])
    denominator = pd.Series([1000, 1500], index=["Y01", "Y02"])
    assert crude_rate(numerator, denominator).index.tolist() == ["Y01", "Y02"]
    assert proportion(numerator, denominator).index.tolist() == ["Y01", "Y02"]


def test_any_confidence_level_from_90_percent_gets_its_own_named_columns():
    result = proportion([20], [100], confidence=[0.95, 0.975, 0.998])
    assert [c for c in result.columns if c.endswith("cl")] == [
        "lower95_0cl", "upper95_0cl", "lower97_5cl", "upper97_5cl", "lower99_8cl", "upper99_8cl",
    ]  # fmt: skip
    assert result.lower99_8cl[0] < result.lower97_5cl[0] < result.lower95_0cl[0]


def test_a_standardised_ratio_from_model_expected_counts():
    # observed deaths against the deaths a risk model expected, as SHMI does
    result = standardised_ratio([120, 4], [100, 8], reference_value=100)
    assert result.value.tolist() == [120.0, 50.0]
    assert result.method.tolist() == ["byar", "exact"]


# Mistakes in the input: each error names the argument and the value, and says what to do.


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: crude_rate([5, -1], [100, 100]), r"numerator\[1\] is -1\.0"),
        (lambda: crude_rate([5, 1], [100, 0]), r"denominator\[1\] is 0\.0"),
        (lambda: crude_rate([5, 1, 2], [100, 100]), "numerator has 3, denominator has 2"),
        (lambda: proportion([120], [100]), r"numerator\[0\] is 120\.0.*crude_rate"),
        (lambda: proportion([5], [100], confidence=95), "write 0.95 for 95%"),
        (lambda: proportion([5], [100], confidence=0.8), "confidence level 0.8"),
        (lambda: crude_rate([5], [100], multiplier=0), "multiplier must be a number greater"),
        (lambda: standardised_ratio([5], [0]), r"expected\[0\] is 0\.0"),
    ],
)
def test_bad_inputs_are_refused_with_the_offending_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_dsr_needs_all_19_esp_age_bands():
    short = practices({"A": [5] * 19}).iloc[:18]  # the 90+ band is missing
    with pytest.raises(ValueError, match="19 bands.*has 18.*add the missing bands"):
        directly_standardised_rate(short, count="admissions", population="population")


def test_a_dsr_needs_every_band_populated():
    data = practices({"A": [5] * 19})
    data.loc[3, "population"] = 0
    with pytest.raises(ValueError, match=r"population\[3\] is 0\.0"):
        directly_standardised_rate(data, count="admissions", population="population")


def test_a_dsr_refuses_negative_counts_and_unknown_columns():
    data = practices({"A": [5] * 19})
    data.loc[0, "admissions"] = -2
    with pytest.raises(ValueError, match=r"admissions must not be negative.*-2\.0"):
        directly_standardised_rate(data, count="admissions", population="population")
    with pytest.raises(ValueError, match="count='admits' is not a column of data"):
        directly_standardised_rate(data, count="admits", population="population")


def test_rows_without_a_group_are_refused_rather_than_dropped():
    data = practices({"A": [5] * 19, "B": [5] * 19})
    data.loc[20, "practice"] = None
    with pytest.raises(ValueError, match="practice must have no missing values, but row 20"):
        directly_standardised_rate(data, count="admissions", population="population", by="practice")


def test_an_isr_needs_one_reference_value_per_age_band():
    data = practices({"A": [5] * 19})
    with pytest.raises(ValueError, match="reference_count has 18 values.*group of data has 19"):
        indirectly_standardised_ratio(
            data, count="admissions", population="population",
            reference_count=[1] * 18, reference_population=list(ESP2013),
        )  # fmt: skip
