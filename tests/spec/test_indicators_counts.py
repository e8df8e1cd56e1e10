"""Spec: indicators counted into periods and breakdowns, with their denominators.

A tiny ICS: places P1 and P2 merged into P12 on 1 April 2024; practice A1 is in P1,
B1 in P2, C1 in P3. Rates per population take the people registered on 1 October of
the financial year (a month shares its year's); a group with people and no events has
a numerator of 0; an event of someone with no registration that day is "Unknown".

These run the whole count on DuckDB only: each transform they chain has its own spec
on both engines (admissions, readmissions, attribution, organisations), and the whole
chain is hundreds of Spark stages, minutes per test on a laptop.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from datetime import date

from openphm.measure.activity import outpatient_appointments
from openphm.measure.definitions import load as definitions
from openphm.measure.indicators import Scratch, counts
from tests.spec.harness import assert_spec, assert_transform, load

INDEX_DATE = date(2026, 3, 31)

ORGANISATION = """
code | kind     | name | parent_code | valid_from | valid_to   | successor_code
ICB  | icb      | ICB  |             | 2019-04-01 |            |
P1   | sub_icb  | P1   | ICB         | 2019-04-01 | 2024-03-31 | P12
P2   | sub_icb  | P2   | ICB         | 2019-04-01 | 2024-03-31 | P12
P12  | sub_icb  | P12  | ICB         | 2024-04-01 |            |
P3   | sub_icb  | P3   | ICB         | 2019-04-01 |            |
N1   | pcn      | N1   | P1          | 2019-04-01 |            |
N2   | pcn      | N2   | P2          | 2019-04-01 |            |
N3   | pcn      | N3   | P3          | 2019-04-01 |            |
A1   | practice | A1   | N1          | 2019-04-01 |            |
B1   | practice | B1   | N2          | 2019-04-01 |            |
C1   | practice | C1   | N3          | 2019-04-01 |            |
R1   | provider | R1   | ICB         | 2019-04-01 |            |
"""

PERSON = """
person_id | year_of_birth | month_of_birth | sex | ethnic_category | lsoa_code
a         | 1950          | 1              | 1   | A               | L1
b         | 1980          | 1              | 2   | A               | L1
c         | 1990          | 1              | 2   | M               | L2
u         | 1960          | 1              | 1   | A               | L2
"""

REGISTRATION = """
person_id | practice_code | start_date
a         | A1            | 2010-01-01
b         | B1            | 2010-01-01
c         | C1            | 2010-01-01
"""

LSOA = """
lsoa_code | place_code | imd_decile
L1        | P1         | 2
L2        | P3         | 9
"""

ENCOUNTER = """
encounter_id | person_id | setting | provider_code | start_date | end_date   | admission_method | is_emergency | discharge_destination | cip_spell_id | attended
apc:1        | a         | apc     | R1            | 2023-06-01 | 2023-06-03 | 21               | T            | 19                    | apc:1        |
apc:2        | a         | apc     | R1            | 2024-06-01 | 2024-06-01 | 21               | T            | 19                    | apc:2        |
apc:3        | b         | apc     | R1            | 2024-07-01 | 2024-07-05 | 22               | T            | 19                    | apc:3        |
apc:4        | u         | apc     | R1            | 2024-08-01 | 2024-08-02 | 21               | T            | 19                    | apc:4        |
op:1         | c         | op      | R1            | 2024-09-01 | 2024-09-01 |                  | F            |                       |              | T
op:2         | c         | op      | R1            | 2024-09-08 | 2024-09-08 |                  | F            |                       |              | F
op:3         | c         | op      | R1            | 2024-09-15 | 2024-09-15 |                  | F            |                       |              |
"""


def _counts(con, indicator: str):
    """The count table of one indicator for the tiny ICS."""
    tables = {
        name: load(con, name, text)
        for name, text in {
            "organisation": ORGANISATION,
            "person": PERSON,
            "registration": REGISTRATION,
            "lsoa": LSOA,
            "encounter": ENCOUNTER,
        }.items()
    }
    table, _, _ = counts(tables, INDEX_DATE, definitions(), Scratch(con))
    return table.filter(table.indicator == indicator)


def test_emergency_admissions_by_place_at_the_time_and_recast_onto_todays_places(duckdb_con):
    # 2023/24: a's admission was in P1 then, and is in P12 now; C1's place P3 had none.
    # 2024/25: u was not registered, so is counted under Unknown, with no population.
    t = _counts(duckdb_con, "emergency_admissions")
    assert_spec(
        t.filter((t.period_type == "year") & (t.breakdown == "place")),
        """
        period  | org_basis | group_code | numerator | denominator
        2023/24 | at_time   | P1         | 1         | 1
        2023/24 | at_time   | P2         | 0         | 1
        2023/24 | at_time   | P3         | 0         | 1
        2023/24 | current   | P12        | 1         | 2
        2023/24 | current   | P3         | 0         | 1
        2024/25 | at_time   | P12        | 2         | 2
        2024/25 | at_time   | P3         | 0         | 1
        2024/25 | at_time   | Unknown    | 1         | 0
        2024/25 | current   | P12        | 2         | 2
        2024/25 | current   | P3         | 0         | 1
        2024/25 | current   | Unknown    | 1         | 0
        2025/26 | at_time   | P12        | 0         | 2
        2025/26 | at_time   | P3         | 0         | 1
        2025/26 | current   | P12        | 0         | 2
        2025/26 | current   | P3         | 0         | 1
        """,
    )


def test_months_count_their_own_events_over_their_years_population(duckdb_con):
    t = _counts(duckdb_con, "emergency_admissions")
    assert_spec(
        t.filter(
            (t.period_type == "month")
            & (t.breakdown == "ics")
            & (t.org_basis == "current")
            & t.period.isin(["2024-06", "2024-07", "2024-08", "2024-09"])
        ),
        """
        period  | group_code | numerator | denominator
        2024-06 | ICB        | 1         | 3
        2024-07 | ICB        | 1         | 3
        2024-08 | ICB        | 0         | 3
        2024-08 | Unknown    | 1         | 0
        2024-09 | ICB        | 0         | 3
        """,
    )


def test_zero_length_of_stay_is_a_share_of_emergency_admissions_by_person_breakdowns(duckdb_con):
    # a's 2024 admission was a same-day discharge; a is 74 in June 2024, in IMD quintile 1.
    t = _counts(duckdb_con, "emergency_admissions_zero_los")
    assert_spec(
        t.filter((t.period == "2024/25") & t.breakdown.isin(["age_band", "imd_quintile"])),
        """
        org_basis      | breakdown    | group_code | numerator | denominator
        not_applicable | age_band     | 40-44      | 0         | 1
        not_applicable | age_band     | 60-64      | 0         | 1
        not_applicable | age_band     | 70-74      | 1         | 1
        not_applicable | imd_quintile | 1          | 1         | 2
        not_applicable | imd_quintile | 5          | 0         | 1
        """,
    )


def test_outpatient_dna_counts_appointments_with_a_known_outcome(duckdb_con):
    # c attended one appointment and missed one; the third has no recorded outcome.
    t = _counts(duckdb_con, "outpatient_dna")
    assert_spec(
        t.filter((t.period == "2024/25") & (t.breakdown == "practice")),
        """
        org_basis | group_code | numerator | denominator
        at_time   | C1         | 1         | 2
        current   | C1         | 1         | 2
        """,
    )


def test_an_appointment_not_attended_is_a_did_not_attend(con):
    assert_transform(
        con,
        outpatient_appointments,
        {"encounter": ENCOUNTER},
        """
        encounter_id | event_date | did_not_attend
        op:1         | 2024-09-01 | F
        op:2         | 2024-09-08 | T
        """,
    )
