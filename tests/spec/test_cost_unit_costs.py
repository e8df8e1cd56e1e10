"""Spec: care with no provider ledger is costed from the shipped unit-cost table.

Worked by hand from ``openphm/cost/unit_costs.csv``:

- a GP consultation is 9.22 minutes at 447 pence a minute: 4,121.34, so 4,121 pence;
- a community contact is 6,000 pence, a mental health contact 15,000, a crisis
  (emergency) mental health contact 21,000: the most specific row wins;
- home care is 12 hours a week at 2,700 pence an hour, costed by the day it runs in each
  financial year: 25 March to 7 April 2024 is 7 days in 2023/24 and 7 in 2024/25, each
  2,700 x 12 x 7 / 7 = 32,400 pence;
- residential care with no end runs to the end of the last year costed: 1 to 31 March
  2025 is 31 days at 100,000 pence a week: 3,100,000 / 7 = 442,857.14, so 442,857;
- a contact not attended, a contact outside the years costed, and a contact at a
  provider with a ledger for that year are not costed here.

These run on DuckDB and on local Spark and must give the same pennies.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from __future__ import annotations

from openphm.cost.unit_costs import cost_by_unit, load_unit_costs, with_gp_contacts
from tests.spec.harness import assert_spec, load

ENCOUNTERS = """
encounter_id    | person_id | setting       | provider_code | start_date | end_date   | is_emergency | treatment_function | attended
gp:1            | p1        | gp            | P100          | 2024-05-01 | 2024-05-01 | F            |                    | T
community:1     | p1        | community     | RZ4           | 2024-06-01 | 2024-06-01 | F            |                    | T
community:2     | p1        | community     | RZ4           | 2024-06-02 | 2024-06-02 | F            |                    | F
community:3     | p1        | community     | RZ4           | 2022-06-02 | 2022-06-02 | F            |                    | T
mental_health:1 | p2        | mental_health | RZ3           | 2023-07-01 | 2023-07-01 | F            |                    |
mental_health:2 | p2        | mental_health | RZ3           | 2023-07-02 | 2023-07-02 | T            |                    |
mental_health:3 | p2        | mental_health | RZ3           | 2024-07-02 | 2024-07-02 | F            |                    |
social_care:1   | p3        | social_care   | LA1           | 2024-03-25 | 2024-04-07 | F            | home_care          |
social_care:2   | p3        | social_care   | LA1           | 2025-03-01 |            | F            | residential_care   |
"""

# RZ3 has a ledger in 2024/25 only; nothing else has one.
LEDGERS = """
provider_code | financial_year
RZ3           | 2024/25
"""


def test_encounters_without_a_ledger_are_priced_from_the_table(con):
    result = cost_by_unit(
        load(con, "encounter", ENCOUNTERS),
        load_unit_costs(),
        load(con, "ledgers", LEDGERS, {"provider_code": "string", "financial_year": "string"}),
        years=["2023/24", "2024/25"],
    )
    assert_spec(
        result,
        """
        encounter_id    | financial_year | unit_cost_item            | resource                  | activity_type | cost_pence | basis
        gp:1            | 2024/25        | gp_consultation           | general_practice          | contact       | 4121       | unit_cost
        community:1     | 2024/25        | community_contact         | community_health_services | contact       | 6000       | unit_cost
        mental_health:1 | 2023/24        | mental_health_contact     | mental_health_services    | contact       | 15000      | unit_cost
        mental_health:2 | 2023/24        | crisis_resolution_contact | mental_health_services    | contact       | 21000      | unit_cost
        social_care:1   | 2023/24        | home_care_hour            | social_care               | contact       | 32400      | unit_cost
        social_care:1   | 2024/25        | home_care_hour            | social_care               | contact       | 32400      | unit_cost
        social_care:2   | 2024/25        | residential_care_week     | social_care               | contact       | 442857     | unit_cost
        """,
    )
    sources = result.select("unit_cost_item", "unit_cost_source").distinct().execute()
    assert sources.unit_cost_source.str.contains(
        "PSSRU|National Cost Collection|Adult Social"
    ).all()


def test_the_years_costed_are_the_ledgers_years_by_default(duckdb_con):
    # Ledgers for 2023/24 only: the 2024/25 care is outside the costing period.
    ledgers = load(
        duckdb_con,
        "ledgers",
        """
        provider_code | financial_year
        RZ1           | 2023/24
        """,
        {"provider_code": "string", "financial_year": "string"},
    )
    result = cost_by_unit(load(duckdb_con, "encounter", ENCOUNTERS), load_unit_costs(), ledgers)
    assert_spec(
        result,
        """
        encounter_id    | financial_year | cost_pence
        mental_health:1 | 2023/24        | 15000
        mental_health:2 | 2023/24        | 21000
        social_care:1   | 2023/24        | 32400
        """,
    )


HALVES = """setting,service,emergency,item,resource,activity_type,unit,pence,quantity,quantity_per,approximate,source,licence
gp,*,*,half_a_penny,general_practice,contact,minute,1,2.5,contact,no,test figure,test
community,*,*,a_penny_and_a_half,community_health_services,contact,minute,3,0.5,contact,no,test figure,test
social_care,*,*,half_a_week,social_care,contact,week,1,3.5,week,no,test figure,test
"""


def test_pennies_are_rounded_half_up_once_per_encounter_and_year(duckdb_con, tmp_path):
    # 1 x 2.5 = 2.5 -> 3 and 3 x 0.5 = 1.5 -> 2 (half up, never to even); 1 penny x 3.5
    # a week for 1 day (31 March 2024) = 0.5 -> 1, and for 3 days (1-3 April) = 1.5 -> 2.
    path = tmp_path / "halves.csv"
    path.write_text(HALVES)
    encounters = load(
        duckdb_con,
        "encounter",
        """
        encounter_id  | person_id | setting     | provider_code | start_date | end_date
        gp:1          | p1        | gp          | P100          | 2024-05-01 | 2024-05-01
        community:1   | p1        | community   | RZ4           | 2024-06-01 | 2024-06-01
        social_care:1 | p3        | social_care | LA1           | 2024-03-31 | 2024-04-03
        """,
    )
    ledgers = load(
        duckdb_con,
        "ledgers",
        "provider_code | financial_year\nRZ1 | 2023/24\nRZ1 | 2024/25",
        {"provider_code": "string", "financial_year": "string"},
    )
    assert_spec(
        cost_by_unit(encounters, load_unit_costs(path), ledgers),
        """
        encounter_id  | financial_year | cost_pence | unit_cost_source
        gp:1          | 2024/25        | 3          | test figure
        community:1   | 2024/25        | 2          | test figure
        social_care:1 | 2023/24        | 1          | test figure
        social_care:1 | 2024/25        | 2          | test figure
        """,
    )


def test_gp_care_is_priced_as_one_contact_per_person_and_day_with_coded_events(con):
    # GP extracts hold coded events, not consultations. p1 has three codes on 1 May
    # (one consultation) and one on 2 May; p2 has a code on a day an OMOP office visit
    # (the gp encounter v1) already covers, so that day is not counted twice.
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | person_id | setting | provider_code | start_date | end_date   | is_emergency | treatment_function | attended
        v1           | p2        | gp      | Z1            | 2024-05-01 | 2024-05-01 | F            |                    | T
        """,
    )
    gp_event = load(
        con,
        "gp_event",
        """
        person_id | event_date | practice_code
        p1        | 2024-05-01 | Z1
        p1        | 2024-05-01 | Z1
        p1        | 2024-05-01 |
        p1        | 2024-05-02 | Z1
        p2        | 2024-05-01 | Z1
        """,
        {"person_id": "string", "event_date": "date", "practice_code": "string"},
    )
    assert_spec(
        with_gp_contacts(encounter, gp_event).select("encounter_id", "setting", "provider_code"),
        """
        encounter_id             | setting | provider_code
        gp_contact:p1:2024-05-01 | gp      | Z1
        gp_contact:p1:2024-05-02 | gp      | Z1
        v1                       | gp      | Z1
        """,
    )
