"""Patient-level costing, worked on paper: a small ledger, two patients, one stray record.

Provider P1, financial year 2023/24. The ledger (pence)::

    W01 Ward        patient_facing  pay_nursing         1000  -> nurses
    W01 Ward        patient_facing  clinical_supplies    300  -> supplies
    PA01 Pathology  patient_facing  pay_other_clinical   600  -> allied_health
    ES01 Estates    support         premises             400  -> overheads
    ED01 Education  non_patient_care pay_admin            50  -> excluded
    IN01 Income     income          other               -100  -> excluded

CP1: ledger total 2250; less education and training -50; less income +100; costed
quantum 2300 (direct 1900, overheads 400).

Overheads: estates is spread by floor area, W01 30 m2 and PA01 10 m2 (units of 1/1000:
30000 and 10000), receivers in cost-centre order PA01 then W01: PA01 takes
floor(400 x 10000 / 40000) = 100 and W01 the rest, 300.

Activity (record, centre, quantity x weight = driver, encounter):
a1 W01 120 min x 1.0 = 120 (e1), a2 W01 60 min x 1.5 = 90 (e2), a3 W01 90 min x 1.0 = 90
(matched to nothing); a4 PA01 3 tests x 1.0 = 3 (e1), a5 PA01 2 tests x 2.0 = 4 (e2).

Running-total shares, records in id order. W01 (D = 300, running totals 120, 210, 300):
nurses 1000 -> F = 400, 700, 1000 -> a1 400, a2 300, a3 300; supplies 300 -> 120, 90,
90; overheads 300 -> 120, 90, 90. PA01 (D = 7, running totals 3, 7): allied health 600
-> floor(600 x 3/7) = floor(257.14) = 257, then 343; overheads 100 -> floor(42.86) = 42,
then 58.

So e1 costs 400 + 120 + 120 + 257 + 42 = 939 pence, e2 300 + 90 + 90 + 343 + 58 = 881,
the unmatched bucket holds a3's 300 + 90 + 90 = 480, and 939 + 881 + 480 = 2300, the
quantum, to the penny.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)
from __future__ import annotations

import itertools

import ibis
import pandas as pd
import pytest

from openphm import engine
from openphm.cost import rules
from openphm.cost.errors import CostError
from openphm.cost.stage import cost_ledgers
from tests.spec.harness import load

LEDGER = """
provider_code | financial_year | cost_centre    | cost_centre_type | expense_type       | resource | amount_pence
P1            | 2023/24        | W01 Ward       | patient_facing   | pay_nursing        | nurses   | 1000
P1            | 2023/24        | W01 Ward       | patient_facing   | clinical_supplies  | supplies | 300
P1            | 2023/24        | PA01 Pathology | patient_facing   | pay_other_clinical | ahp      | 600
P1            | 2023/24        | ES01 Estates   | support          | premises           | premises | 400
P1            | 2023/24        | ED01 Education | non_patient_care | pay_admin          | admin    | 50
P1            | 2023/24        | IN01 Income    | income           | other              | income   | -100
"""
BASIS = """
provider_code | financial_year | cost_centre    | basis         | value
P1            | 2023/24        | W01 Ward       | floor_area_m2 | 30
P1            | 2023/24        | PA01 Pathology | floor_area_m2 | 10
"""
MATCHED_SCHEMA = {
    "activity_id": "string",
    "source": "string",
    "encounter_id": "string",
    "match_rule": "string",
    "provider_code": "string",
    "activity_type": "string",
    "cost_centre": "string",
    "quantity": "float64",
    "weight": "float64",
    "cost_pence": "int64",
    "activity_date": "date",
    "start_time": "timestamp",
    "end_time": "timestamp",
}
MATCHED = """
activity_id | source | encounter_id | match_rule | provider_code | activity_type | cost_centre    | quantity | weight | activity_date
a1          | feed   | e1           | key        | P1            | ward_stay     | W01 Ward       | 120      | 1.0    | 2023-06-01
a2          | feed   | e2           | key        | P1            | ward_stay     | W01 Ward       | 60       | 1.5    | 2023-07-01
a3          | feed   |              | unmatched  | P1            | ward_stay     | W01 Ward       | 90       | 1.0    | 2023-08-01
a4          | feed   | e1           | key        | P1            | pathology     | PA01 Pathology | 3        | 1.0    | 2023-06-01
a5          | feed   | e2           | key        | P1            | pathology     | PA01 Pathology | 2        | 2.0    | 2023-07-01
"""
_n = itertools.count()


def run(
    con,
    ledger=LEDGER,
    basis=BASIS,
    matched=MATCHED,
    matched_schema=MATCHED_SCHEMA,
    capacity=None,
    pool_without_volume="error",
):
    def keep(name, table):
        return engine.scratch_table(con, f"spec_cost_{name}_{next(_n)}", table)

    # The spec harness reads dates, not times: times come in as text and are cast here.
    as_text = {k: "string" if v == "timestamp" else v for k, v in matched_schema.items()}
    records = load(con, "matched", matched, as_text)
    records = records.mutate(
        start_time=records.start_time.cast("timestamp"), end_time=records.end_time.cast("timestamp")
    )
    return cost_ledgers(
        load(con, "ledger", ledger),
        load(con, "overhead_basis", basis),
        records,
        rules.load(),
        keep,
        capacity,
        pool_without_volume,
    )


def test_the_worked_example_gives_the_pennies_worked_on_paper(con):
    out = run(con)
    by = out["by_encounter"].execute()
    by["encounter_id"] = by["encounter_id"].fillna("unmatched")
    per = by.groupby(["encounter_id", "cost_centre", "resource"])["pence"].sum().to_dict()
    assert per == {
        ("e1", "W01 Ward", "nurses"): 400,
        ("e1", "W01 Ward", "supplies"): 120,
        ("e1", "W01 Ward", "overheads"): 120,
        ("e1", "PA01 Pathology", "allied_health"): 257,
        ("e1", "PA01 Pathology", "overheads"): 42,
        ("e2", "W01 Ward", "nurses"): 300,
        ("e2", "W01 Ward", "supplies"): 90,
        ("e2", "W01 Ward", "overheads"): 90,
        ("e2", "PA01 Pathology", "allied_health"): 343,
        ("e2", "PA01 Pathology", "overheads"): 58,
        ("unmatched", "W01 Ward", "nurses"): 300,
        ("unmatched", "W01 Ward", "supplies"): 90,
        ("unmatched", "W01 Ward", "overheads"): 90,
    }
    assert by.groupby("encounter_id")["pence"].sum().to_dict() == {
        "e1": 939,
        "e2": 881,
        "unmatched": 480,
    }


def test_the_reconciliation_statement_runs_from_ledger_total_to_where_the_quantum_went(
    duckdb_con,
):
    statement = run(duckdb_con)["statement"].execute().sort_values("step")
    assert list(zip(statement.line, statement.pence, strict=True)) == [
        ("ledger_total", 2250),
        ("less_education_and_training", -50),
        ("less_research_and_development", 0),
        ("less_other_non_patient_care", 0),
        ("less_income", 100),
        ("costed_quantum", 2300),
        ("of_which_direct", 1900),
        ("of_which_overheads", 400),
        ("allocated_to_patients", 1820),
        ("unmatched", 480),
        ("excluded_unused_capacity", 0),
        ("unallocated_no_driver_volume", 0),
    ]


def test_estates_is_stepped_down_by_floor_area_leaving_no_indirect_cost(duckdb_con):
    flows = run(duckdb_con)["flows"].execute()
    assert sorted(zip(flows.from_cost_centre, flows.to_cost_centre, flows.pence, strict=True)) == [
        ("ES01 Estates", "PA01 Pathology", 100),
        ("ES01 Estates", "W01 Ward", 300),
    ]


STRADDLE = """
activity_id | source | encounter_id | match_rule | provider_code | activity_type | cost_centre | quantity | weight | activity_date | start_time          | end_time
s1          | feed   | e1           | key        | P1            | ward_stay     | W01 Ward    | 1440     | 1.0    | 2024-03-31    | 2024-03-31 12:00:00 | 2024-04-01 12:00:00
s2          | feed   | e2           | key        | P1            | ward_stay     | W01 Ward    | 720      | 1.0    | 2024-02-01    | 2024-02-01 00:00:00 | 2024-02-01 12:00:00
"""
TWO_YEARS = """
provider_code | financial_year | cost_centre | cost_centre_type | expense_type | resource | amount_pence
P1            | 2023/24        | W01 Ward    | patient_facing   | pay_nursing  | nurses   | 900
P1            | 2024/25        | W01 Ward    | patient_facing   | pay_nursing  | nurses   | 500
"""


def test_a_stay_across_1_april_is_costed_in_each_year_for_its_minutes_there(con):
    """s1 runs 12:00 31 March to 12:00 1 April 2024: half its 1440 minutes (720) in each
    year. In 2023/24 it shares 900 pence with s2's 720 minutes: 450 each. In 2024/25 it is
    alone: all 500 pence."""
    out = run(con, ledger=TWO_YEARS, basis=BASIS.splitlines()[1], matched=STRADDLE)
    by = out["by_encounter"].execute()
    got = by.groupby(["encounter_id", "financial_year"])["pence"].sum().to_dict()
    assert got == {("e1", "2023/24"): 450, ("e2", "2023/24"): 450, ("e1", "2024/25"): 500}


def test_a_pool_with_cost_but_no_driver_volume_stops_the_run_naming_the_pool(duckdb_con):
    no_pathology = "\n".join(ln for ln in MATCHED.splitlines() if "PA01" not in ln)
    with pytest.raises(CostError, match=r"P1 2023/24 'PA01 Pathology' resource 'allied_health'"):
        run(duckdb_con, matched=no_pathology)


def test_configured_so_a_pool_without_volume_stays_off_patients_on_its_own_line(duckdb_con):
    no_pathology = "\n".join(ln for ln in MATCHED.splitlines() if "PA01" not in ln)
    out = run(duckdb_con, matched=no_pathology, pool_without_volume="unallocated")
    statement = out["statement"].execute().set_index("line").pence
    # Pathology's 600 direct and 100 overheads have no records to go to.
    assert statement["unallocated_no_driver_volume"] == 700
    assert statement["allocated_to_patients"] + statement["unmatched"] + 700 == 2300


def test_a_patient_facing_centre_no_rule_places_stops_the_run_naming_it(duckdb_con):
    odd = LEDGER.replace(
        "W01 Ward       | patient_facing   | pay_nursing",
        "ZZ9 Mystery    | patient_facing   | pay_nursing",
    )
    with pytest.raises(
        CostError, match=r"ledger P1 2023/24, cost centre 'ZZ9 Mystery'.*\[\[activity\]\]"
    ):
        run(duckdb_con, ledger=odd)


def test_a_support_centre_with_no_basis_holder_stops_the_run(duckdb_con):
    no_floor = BASIS.replace("floor_area_m2", "staff_wte")
    with pytest.raises(CostError, match=r"'ES01 Estates' \(400 pence by floor_area_m2\)"):
        run(duckdb_con, basis=no_floor)


CAPACITY = {
    "provider_code": ["P1"],
    "financial_year": ["2023/24"],
    "cost_centre": ["W01 Ward"],
    "resource": ["nurses"],
    "practical_capacity": [400.0],
}


def test_time_driven_costing_keeps_unused_capacity_off_the_patients(duckdb_con):
    """W01's nurses (1000 pence) have a practical capacity of 400 weighted minutes; the
    records used 300. The rate is 1000 / 400 = 2.5 pence a minute: a1 (120) 300 pence,
    a2 (90) 225, a3 (90, unmatched) 225; the unused 100 minutes, 250 pence, are excluded."""
    out = run(duckdb_con, capacity=ibis.memtable(pd.DataFrame(CAPACITY)))
    by = out["by_encounter"].execute()
    nurses = by[by.resource == "nurses"].fillna({"encounter_id": "unmatched"})
    assert nurses.set_index("encounter_id").pence.to_dict() == {
        "e1": 300,
        "e2": 225,
        "unmatched": 225,
    }
    summary = out["summary"].execute().set_index(["cost_centre", "resource"])
    assert summary.loc[("W01 Ward", "nurses"), "excluded_pence"] == 250
    statement = out["statement"].execute().set_index("line").pence
    assert statement["excluded_unused_capacity"] == 250
    assert statement["allocated_to_patients"] + statement["unmatched"] + 250 == 2300
