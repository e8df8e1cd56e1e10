"""Spec: the statistics added to the counts, in pandas, with openphm.stats.

Counts arrive from the engine as a small long table; each indicator's kind decides its
interval: Byar (exact below 10 events) for rates, Wilson for proportions, the normal
approximation for means; a value that is not a count of events (bed days) gets none.
Standardised rates weight each ESP 2013 age band half to each sex.
"""

import math

import pandas as pd
import pytest

from openphm import stats
from openphm.measure import statistics
from openphm.measure.definitions import load

KEYS = {
    "period_type": "year",
    "period": "2024/25",
    "org_basis": "current",
    "breakdown": "place",
}


COLUMNS = [*KEYS, "indicator", "group_code", "numerator", "denominator", "numerator_squares"]


def _counts(rows):
    records = [
        {**KEYS, "indicator": i, "group_code": g, "numerator": n, "denominator": d}
        | {"numerator_squares": s}
        for i, g, n, d, s in rows
    ]
    return pd.DataFrame(records, columns=COLUMNS)


def test_each_kind_of_indicator_gets_its_own_interval():
    counts = _counts(
        [
            ("emergency_admissions", "P1", 120, 1000, 0),  # rate per 1,000: Byar
            ("emergency_admissions", "P2", 4, 1000, 0),  # under 10 events: exact
            ("emergency_readmissions_30d", "P1", 10, 200, 0),  # percentage: Wilson
            ("emergency_length_of_stay", "P1", 30, 10, 130),  # mean of 10 stays: normal
            ("emergency_bed_days", "P1", 300, 1000, 0),  # bed days: no interval
            ("emergency_admissions", "Unknown", 9, 0, 0),  # no population: no rate
        ]
    )
    out = statistics.values(counts, load()).set_index(["indicator", "group_code"])
    rate = out.loc[("emergency_admissions", "P1")]
    assert rate.value == 120.0 and rate.method == "byar"
    assert rate.lower95_0cl == pytest.approx(stats.byar_lower(120, 0.95) / 1000 * 1000, rel=1e-6)
    assert out.loc[("emergency_admissions", "P2")].method == "exact"
    wilson = out.loc[("emergency_readmissions_30d", "P1")]
    assert wilson.value == 5.0 and wilson.method == "wilson"
    assert wilson.lower95_0cl == pytest.approx(stats.wilson_lower(10, 200, 0.95) * 100, rel=1e-6)
    mean = out.loc[("emergency_length_of_stay", "P1")]
    # 10 stays summing to 30 days with squares summing to 130: variance (130 - 90) / 9.
    half = 1.959964 * math.sqrt(40 / 9 / 10)
    assert mean.value == 3.0 and mean.method == "normal"
    assert mean.lower95_0cl == pytest.approx(3.0 - half, rel=1e-5)
    beds = out.loc[("emergency_bed_days", "P1")]
    assert beds.value == 300.0 and beds.method == "none" and math.isnan(beds.lower95_0cl)
    assert math.isnan(out.loc[("emergency_admissions", "Unknown")].value)


def _cell(group, band, sex, events, people):
    return {**KEYS, "indicator": "emergency_admissions", "group_code": group} | {
        "age_band": band,
        "sex": sex,
        "numerator": events,
        "population": people,
    }


def _cells(group, per_band):
    rows = []
    for band in stats.ESP2013_AGE_BANDS:
        for sex in ("1", "2"):
            events, people = per_band(band, sex)
            rows.append(_cell(group, band, sex, events, people))
    return rows


def test_a_standardised_rate_weights_each_age_band_half_to_each_sex():
    # The same age-sex rates (100 per 1,000 men, 50 per 1,000 women) in a young and an
    # old place give the same DSR, 75 per 1,000, whatever their age structures.
    def young(band, sex):
        people = 2000 if band < "40" else 200
        return (people // 10 if sex == "1" else people // 20), people

    def old(band, sex):
        people = 200 if band < "40" else 2000
        return (people // 10 if sex == "1" else people // 20), people

    cells = pd.DataFrame(_cells("young", young) + _cells("old", old))
    cells.loc[len(cells)] = _cell("old", "Unknown", "1", 3, 0)
    out = statistics.standardised(cells, load()).set_index("group_code")
    assert out.loc["young"].value == pytest.approx(75.0)
    assert out.loc["old"].value == pytest.approx(75.0)
    assert out.loc["old"].events_not_standardised == 3  # an admission of unknown age
    assert out.loc["old"].method == "dobson"


def test_the_funnel_flags_a_place_whose_standardised_ratio_is_beyond_its_limits():
    # Four places at one set of age-sex rates and a small fifth at twice them: with so
    # few places no over-dispersion is estimated, and only the fifth is flagged.
    def rates(times, people):
        return lambda band, sex: (people // 100 * times, people)

    places = [("A", 1, 1000), ("B", 1, 1000), ("C", 1, 1000), ("D", 1, 1000), ("E", 2, 200)]
    cells = pd.DataFrame([c for g, times, n in places for c in _cells(g, rates(times, n))])
    out = statistics.funnels(_counts([]), cells, load()).set_index("group_code")
    assert out.flag95_0.to_dict() == {"A": 0, "B": 0, "C": 0, "D": 0, "E": 1}
    assert out.loc["E"].flag99_8 == 1 and out.loc["E"].comparison == "ratio"
    # Each band pools 44 events in 4,200 people: E's 4 in 200 are 1.909 times that.
    assert out.loc["E"].value == pytest.approx(2 * 4200 / 4400)
    assert set(out.adjustment) == {"none"}


def test_spc_charts_each_monthly_series_of_the_current_places():
    months = [f"2024-{m:02d}" for m in range(1, 13)] + [f"2025-{m:02d}" for m in range(1, 7)]
    values = [10.0] * 17 + [40.0]  # a steady series, then a month far above it
    records = [
        {**KEYS, "period_type": "month", "period": p, "indicator": "emergency_admissions"}
        | {"group_code": "P1", "numerator": int(v), "denominator": 1000, "value": v}
        for p, v in zip(months, values, strict=True)
    ]
    table = pd.DataFrame(records)
    table.loc[3, "value"] = 11.0  # some variation, so the limits have a width
    out = statistics.spc(table, load())
    last = out.iloc[-1]
    assert last.rule == "above_upper_limit"
    assert last.point_type == "special_cause_concern"  # emergency admissions: lower is better
