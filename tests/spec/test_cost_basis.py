"""Spec: every cost row says whether it is reconciled to a ledger or an estimate.

- ``cost_by_basis``: each year's encounters, people and pounds by basis (``ledger``:
  allocated from a provider's ledger and reconciled to it; ``unit_cost``: priced from
  the national unit costs, an estimate). A person costed both ways is in both rows.
- The roll-ups carry ``unit_cost_pounds`` beside ``cost_pounds``: the part of each
  cell's pounds that is estimated.
- An encounter with no cost row is counted by why (``coverage.uncosted``): no start
  date, not attended, at a provider with a ledger for the year but no feed record
  matched to it, or no row of the unit-cost table prices its setting.
- The years priced from unit costs run from the first year the care or a ledger covers
  to the last, every year between included (``stage.costing_years``).

Worked by hand below; these run on DuckDB and on local Spark.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from __future__ import annotations

from openphm.cost import coverage, rollup
from openphm.cost.stage import costing_years
from tests.spec.harness import assert_spec, load

COST_ENCOUNTER = {
    "encounter_id": "string",
    "person_id": "string",
    "provider_code": "string",
    "setting": "string",
    "financial_year": "string",
    "resource": "string",
    "activity_type": "string",
    "cost_pence": "int64",
    "basis": "string",
}

# p1 had a ledger-costed spell at RZ1 (two resources) and a GP contact; p2 a GP contact
# and a community contact at RZ4, which has no ledger.
COSTS = """
encounter_id | person_id | provider_code | setting   | financial_year | resource  | activity_type | cost_pence | basis
apc:1        | p1        | RZ1           | apc       | 2024/25        | staff     | ward_stay     | 250049     | ledger
apc:1        | p1        | RZ1           | apc       | 2024/25        | overheads | ward_stay     | 50000      | ledger
gp:1         | p1        | P1            | gp        | 2024/25        | gp        | contact       | 4121       | unit_cost
gp:2         | p2        | P1            | gp        | 2024/25        | gp        | contact       | 4121       | unit_cost
community:1  | p2        | RZ4           | community | 2024/25        | community | contact       | 6000       | unit_cost
"""


def test_pounds_by_basis_say_what_is_reconciled_and_what_is_estimated(con):
    # ledger: 250,049 + 50,000 pence = £3,000.49, so £3,000; unit costs: 4,121 x 2 +
    # 6,000 = 14,242 pence, so £142.
    assert_spec(
        rollup.by_basis(load(con, "cost_encounter", COSTS, COST_ENCOUNTER)),
        """
        financial_year | basis     | encounters | people | cost_pounds
        2024/25        | ledger    | 1          | 1      | 3000
        2024/25        | unit_cost | 3          | 2      | 142
        """,
    )


def test_each_roll_up_cell_carries_the_pounds_estimated_from_unit_costs(con):
    costs = load(con, "cost_encounter", COSTS, COST_ENCOUNTER)
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | person_id | setting   | provider_code | start_date
        apc:1        | p1        | apc       | RZ1           | 2024-05-01
        gp:1         | p1        | gp        | P1            | 2024-05-02
        gp:2         | p2        | gp        | P1            | 2024-05-03
        community:1  | p2        | community | RZ4           | 2024-05-04
        """,
    )
    care = rollup.encounter_attributes(costs, encounter)
    assert_spec(
        rollup.rollup(care, "provider_code"),
        """
        financial_year | provider_code | people | cost_pounds | unit_cost_pounds
        2024/25        | RZ1           | 1      | 3000        | 0
        2024/25        | P1            | 2      | 82          | 82
        2024/25        | RZ4           | 1      | 60          | 60
        """,
    )
    person_year = rollup.person_year(costs)
    assert_spec(
        person_year,
        """
        person_id | financial_year | cost_pence | ledger_pence | unit_cost_pence
        p1        | 2024/25        | 304170     | 300049       | 4121
        p2        | 2024/25        | 10121      | 0            | 10121
        """,
    )


def test_encounters_with_no_cost_are_counted_by_why(con):
    # RZ1 has a ledger for 2024/25. apc:2 there matched no feed record; op:1 was not
    # attended; op:2 has no start date; ambulance:1 is at a provider with no ledger but
    # no unit cost prices ambulance care (its cost table lacked the row); apc:1 and gp:1
    # are costed. An encounter at RZ1 in 2023/24 (no ledger that year) would be priced
    # from unit costs, so apc:3 is in the no-unit-cost bucket like ambulance:1.
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | person_id | setting   | provider_code | start_date | attended
        apc:1        | p1        | apc       | RZ1           | 2024-05-01 |
        apc:2        | p1        | apc       | RZ1           | 2024-06-01 |
        apc:3        | p2        | apc       | RZ1           | 2023-06-01 |
        gp:1         | p1        | gp        | P1            | 2024-05-02 | T
        op:1         | p2        | op        | RZ1           | 2024-05-03 | F
        op:2         | p2        | op        | RZ1           |            | T
        ambulance:1  | p2        | ambulance | RZ9           | 2024-07-01 |
        """,
    )
    ledger = load(
        con,
        "ledger",
        """
        provider_code | financial_year | amount_pence
        RZ1           | 2024/25        | 100
        RZ1           | 2024/25        | 200
        """,
        {"provider_code": "string", "financial_year": "string", "amount_pence": "int64"},
    )
    costs = load(con, "cost_encounter", COSTS, COST_ENCOUNTER)
    assert_spec(
        coverage.uncosted(encounter, costs, ledger),
        f"""
        reason                     | setting   | encounters
        {coverage.NO_FEED_RECORD}  | apc       | 1
        {coverage.NO_UNIT_COST}    | apc       | 1
        {coverage.NOT_ATTENDED}    | op        | 1
        {coverage.NO_START_DATE}   | op        | 1
        {coverage.NO_UNIT_COST}    | ambulance | 1
        """,
    )


def test_the_years_priced_run_from_the_first_year_covered_to_the_last(con):
    # Care in 2021/22 and 2023/24 (none starts in 2022/23, but a service may run
    # through it) and a ledger for 2024/25: four years, none skipped.
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | person_id | setting | provider_code | start_date
        a            | p1        | op      | RZ1           | 2021-05-01
        b            | p1        | op      | RZ1           | 2024-03-31
        c            | p1        | op      | RZ1           |
        """,
    )
    ledger = load(
        con,
        "ledger",
        "provider_code | financial_year\nRZ1 | 2024/25",
        {"provider_code": "string", "financial_year": "string"},
    )
    assert costing_years(encounter, ledger) == ["2021/22", "2022/23", "2023/24", "2024/25"]
    nothing = ledger.filter(ledger.provider_code == "none")
    assert costing_years(encounter.filter(encounter.encounter_id == "c"), nothing) == []


def test_the_notes_figures_are_measured_from_the_cost_rows(con):
    # COSTS holds one ledger-costed encounter (£3,000.49) and three priced from unit
    # costs (£142.42), one of them a GP contact counted from coded GP events.
    costs = load(
        con,
        "cost_encounter",
        COSTS.replace("gp:2 ", "gp_contact:p2:2024-05-03 "),
        COST_ENCOUNTER,
    )
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | person_id | setting | provider_code | start_date | attended
        apc:1        | p1        | apc     | RZ1           | 2024-05-01 |
        gp:1         | p1        | gp      | P1            | 2024-05-02 |
        op:1         | p1        | op      | RZ1           | 2024-05-03 | F
        """,
    )
    ledger = load(
        con,
        "ledger",
        "provider_code | financial_year\nRZ1 | 2024/25\nRZ1 | 2024/25",
        {"provider_code": "string", "financial_year": "string"},
    )
    assert coverage.measure(costs, encounter, ledger) == coverage.Coverage(
        ledger_providers=("RZ1",),
        ledger_years=("2024/25",),
        ledger_encounters=1,
        ledger_pence=300_049,
        unit_cost_encounters=3,
        unit_cost_pence=14_242,
        gp_contacts=1,
        uncosted={coverage.NOT_ATTENDED: {"op": 1}},
    )
