"""The cost stage's notes: what is reconciled, what is estimated, what carries no cost."""

from __future__ import annotations

from openphm.cost import coverage
from openphm.cost.coverage import Coverage


def figures(**changes) -> Coverage:
    base = dict(
        ledger_providers=(),
        ledger_years=(),
        ledger_encounters=0,
        ledger_pence=0,
        unit_cost_encounters=12_345,
        unit_cost_pence=123_456_789,
        gp_contacts=0,
        uncosted={},
    )
    return Coverage(**(base | changes))


def test_with_no_ledgers_every_pound_is_called_an_estimate():
    (note,) = coverage.notes(figures())
    assert note == (
        "No costing ledgers were given: all 12,345 costed encounters were priced from "
        "national unit costs (unit_costs.csv): £1,234,568 of estimates, none of it "
        "reconciled to a ledger."
    )
    (note,) = coverage.notes(figures(gp_contacts=2_000), "my_costs.csv")
    assert "(including 2,000 GP contacts counted from coded GP events)" in note
    assert "(my_costs.csv)" in note


def test_with_some_ledgers_the_reconciled_and_estimated_pounds_are_each_given():
    c = figures(
        ledger_providers=("RZ1",),
        ledger_years=("2023/24", "2024/25"),
        ledger_encounters=1_000,
        ledger_pence=300_000_00,
        unit_cost_encounters=500,
        unit_cost_pence=100_000_00,
    )
    (note,) = coverage.notes(c)
    assert note.startswith(
        "Costing ledgers were given for 1 provider(s) (RZ1) in 2023/24 and 2024/25: "
        "1,000 encounters were costed from them, reconciled to the ledgers (£300,000); "
        "500 encounters at providers or in years with no ledger were priced from "
        "national unit costs"
    )
    assert note.endswith("£100,000 of estimates, not reconciled, 25% of the £400,000 costed.")


def test_when_every_encounter_is_reconciled_there_is_nothing_to_say():
    c = figures(
        ledger_providers=("RZ1",),
        ledger_years=("2024/25",),
        ledger_encounters=10,
        ledger_pence=100,
        unit_cost_encounters=0,
        unit_cost_pence=0,
    )
    assert coverage.notes(c) == []


def test_encounters_with_no_cost_are_counted_by_reason_and_setting():
    c = figures(
        uncosted={
            coverage.NO_START_DATE: {"op": 2},
            coverage.NOT_ATTENDED: {"community": 1_200, "op": 30},
            coverage.NO_FEED_RECORD: {"apc": 4},
            coverage.NO_UNIT_COST: {"ambulance": 7},
        }
    )
    notes = coverage.notes(c)[1:]
    assert notes == [
        "2 encounters with no start date were not costed (op 2): a cost needs a financial year.",
        "1,230 encounters the patient did not attend were not costed (community 1,200 and "
        "op 30): the unit costs are of care given.",
        "4 encounters at providers with a ledger for their year carry no cost: no feed "
        "record was matched to them (apc 4); cost_match_rates shows the matching by feed.",
        "7 encounters were not costed: they have no ledger and no row of unit_costs.csv "
        "prices their setting (ambulance 7); add a row for the setting (with its source) "
        "to price them.",
    ]
