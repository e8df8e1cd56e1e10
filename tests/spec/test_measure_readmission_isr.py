"""Spec: 30-day emergency readmissions, indirectly standardised as NHS Digital publishes them.

NHS Digital's readmissions indicator (I02040, NHS OF 3b) compares each organisation's
readmissions with those expected at the reference rates for its mix of patients (age
band, sex, method of admission, and diagnosis and procedure group; here the first
three), and publishes the indirectly standardised percentage: the ratio of observed to
expected times the reference percentage, with the ratio's Byar limits (exact below 10).
The reference here is the ICS: all the breakdown's groups together, in each age band,
sex and admission method group (``stratum``).
"""

import pandas as pd
import pytest

from openphm import stats
from openphm.measure import statistics
from openphm.measure.definitions import load

KEYS = {
    "indicator": "emergency_readmissions_30d",
    "period_type": "year",
    "period": "2024/25",
    "org_basis": "current",
    "breakdown": "provider",
}
# provider, stratum, readmissions, discharges: one age band and sex, two strata.
CELLS = [
    ("A", "emergency", 30, 100),
    ("A", "elective", 2, 100),
    ("B", "emergency", 10, 100),
    ("B", "elective", 8, 200),
    ("C", "emergency", 20, 100),
    ("C", "elective", 5, 100),
]


def _cells(rows=CELLS, sex="1"):
    return pd.DataFrame(
        [
            {**KEYS, "group_code": g, "age_band": "70-74", "sex": sex, "stratum": s}
            | {"numerator": n, "population": d}
            for g, s, n, d in rows
        ]
    )


def test_each_provider_is_compared_with_the_readmissions_its_case_mix_would_have():
    # Reference rates: emergency 60 / 300 = 0.2, elective 15 / 400 = 0.0375; the ICS's
    # percentage 75 / 700. A expects 100 * 0.2 + 100 * 0.0375 = 23.75 and had 32.
    out = statistics.standardised(_cells(), load()).set_index("group_code")
    a = out.loc["A"]
    reference = 75 / 700 * 100
    assert a.total_count == 32 and a.total_pop == 200
    assert a.value == pytest.approx(32 / 23.75 * reference, rel=1e-6)
    assert a.lower95_0cl == pytest.approx(stats.byar_lower(32, 0.95) / 23.75 * reference, rel=1e-6)
    assert a.upper99_8cl == pytest.approx(stats.byar_upper(32, 0.998) / 23.75 * reference, rel=1e-6)
    assert a.method == "indirect, byar"
    # B had mostly elective discharges, which are rarely readmitted: its crude 6% is
    # below A's 16% partly for that, and standardisation allows for it (27.5 expected).
    assert out.loc["B"].value == pytest.approx(18 / 27.5 * reference, rel=1e-6)
    # Observed and expected add up to the same total across the providers.
    assert out.total_count.sum() == 75


def test_fewer_than_10_readmissions_get_exact_limits():
    rows = [("A", "emergency", 4, 50), ("B", "emergency", 30, 100), ("C", "emergency", 20, 100)]
    out = statistics.standardised(_cells(rows), load()).set_index("group_code")
    assert out.loc["A"].method == "indirect, exact"
    expected = 50 * 54 / 250
    reference = 54 / 250 * 100
    assert out.loc["A"].lower95_0cl == pytest.approx(
        stats.exact_poisson_lower(4, 0.95) / expected * reference, rel=1e-6
    )


def test_the_readmission_funnel_plots_the_standardised_ratio():
    counts = pd.DataFrame(columns=["indicator", "period_type", "period", "org_basis", "breakdown"])
    counts = counts.assign(group_code=[], numerator=[], denominator=[], numerator_squares=[])
    out = statistics.funnels(counts, _cells(), load()).set_index("group_code")
    assert set(out.comparison) == {"ratio"}
    assert out.loc["A"].observed == 32
    assert out.loc["A"].expected == pytest.approx(23.75)
    assert out.loc["A"].value == pytest.approx(32 / 23.75)
    assert out.loc["A"].target == 1
