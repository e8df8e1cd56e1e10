"""Spec: what reaches published/ from the indicator tables, and what the gate withholds.

Each indicator's counts pass the gate in their own file (suppressed 1-7, rounded to 5,
totals over each breakdown's groups with secondary suppression, the value recomputed
from the rounded counts). Its statistics come from the exact counts, so they are
published only beside counts the gate published, and from 10 events up.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from openphm.disclosure import DisclosurePolicy
from openphm.measure import indicators
from openphm.measure.publication import gated
from tests.spec.harness import assert_spec, load

VALUES = """
indicator            | period_type | period  | org_basis | breakdown | group_code | numerator | denominator | numerator_squares | value | lower95_0cl | upper95_0cl | method
emergency_admissions | year        | 2024/25 | current   | place     | P1         | 5         | 1000        | 0                 | 5.0   | 1.6         | 11.7        | exact
emergency_admissions | year        | 2024/25 | current   | place     | P2         | 120       | 1000        | 0                 | 120.0 | 99.5        | 143.5       | byar
emergency_admissions | year        | 2024/25 | current   | place     | P3         | 9         | 1000        | 0                 | 9.0   | 4.1         | 17.1        | exact
emergency_admissions | year        | 2024/25 | current   | place     | P4         | 40        | 1000        | 0                 | 40.0  | 28.6        | 54.5        | byar
"""


def _published(con):
    schema = indicators.SCHEMAS[indicators.VALUES]
    tables = {indicators.VALUES: load(con, "values", VALUES, schema)}
    return {g.name: g.table for g in gated(tables, DisclosurePolicy())}


def test_an_indicator_file_holds_gated_counts_and_a_value_from_the_rounded_counts(con):
    # P1's 5 is suppressed; P3's 9, the smallest other count, goes with it, so the
    # total cannot give P1 back; P4's 40 and P2's 120 are shown, their rates per 1,000
    # recomputed from the rounded counts.
    assert_spec(
        _published(con)["indicator_emergency_admissions"],
        """
        group_code | numerator | numerator_flag | denominator | value
        P1         |           | primary        | 1000        |
        P2         | 120       |                | 1000        | 120.0
        P3         |           | secondary      | 1000        |
        P4         | 40        |                | 1000        | 40.0
        Total      | 175       |                | 4000        | 43.75
        """,
    )


def test_statistics_are_published_only_beside_published_counts_of_10_or_more(con):
    # P3's 9 events give no interval, and its count stays withheld as in its own file.
    assert_spec(
        _published(con)["indicator_intervals"],
        """
        group_code | numerator | value | lower95_0cl | method
        P1         |           |       |             |
        P2         | 120       | 120.0 | 99.5        | byar
        P3         |           |       |             |
        P4         | 40        | 40.0  | 28.6        | byar
        """,
    )
