"""Cost conservation under Hypothesis: random ledgers, overhead bases and feeds.

For every generated case either the run stops with a CostError naming a pool that has
cost but no driver volume, or, to the penny:

- each pool's allocated + unmatched + excluded is its amount;
- all the pence on encounters and in the unmatched bucket add up to the costed quantum
  (the ledger total less the excluded lines);
- no record gets negative pence, and each gets its exact share A x u / D to within a penny;
- every activity record is costed (has a part in a ledger year).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openphm import engine
from openphm.cost import rules
from openphm.cost.errors import CostError
from openphm.cost.stage import cost_ledgers
from openphm.model import TABLES

FACING = {"W01 Ward": "ward_stay", "PA01 Pathology": "pathology", "TH01 Theatres": "theatre"}
SUPPORT = {"ES01 Estates": "floor_area_m2", "IT01 Information technology": "it_devices"}
EXPENSES = ("pay_nursing", "clinical_supplies", "pay_consultants")
_n = itertools.count()


@pytest.fixture(scope="module")
def con():
    c = engine.connect("duckdb://")
    yield c
    engine.close(c)


@st.composite
def cases(draw):
    ledger, basis, activity = [], [], []
    for provider in draw(st.sets(st.sampled_from(["P1", "P2"]), min_size=1)):
        year = "2023/24"
        centres = draw(st.lists(st.sampled_from(sorted(FACING)), min_size=1, unique=True))
        for centre in centres:
            for expense in draw(st.lists(st.sampled_from(EXPENSES), min_size=1, unique=True)):
                amount = draw(st.integers(0, 10**9))
                ledger.append((provider, year, centre, "patient_facing", expense, amount))
            for b in SUPPORT.values():
                value = draw(st.floats(0.1, 5000, allow_nan=False).map(lambda v: round(v, 2)))
                basis.append((provider, year, centre, b, value))
            for _ in range(draw(st.integers(1, 12))):
                activity.append(
                    dict(
                        activity_id=f"a{next(_n)}",
                        source="feed",
                        encounter_id=draw(st.sampled_from([None, "e1", "e2", "e3"])),
                        provider_code=provider,
                        activity_type=FACING[centre],
                        cost_centre=centre,
                        quantity=draw(st.sampled_from([0.0, 1.0, 3.0, 17.0, 240.0, 1440.0])),
                        weight=draw(st.sampled_from([0.5, 1.0, 1.3, 2.7])),
                        activity_date=pd.Timestamp("2023-06-01").date(),
                    )
                )
        for centre in draw(st.lists(st.sampled_from(sorted(SUPPORT)), unique=True)):
            amount = draw(st.integers(0, 10**8))
            ledger.append((provider, year, centre, "support", "premises", amount))
        for centre, kind in (("ED01 Education", "non_patient_care"), ("IN01 Income", "income")):
            amount = draw(st.integers(-(10**7), 10**7))
            ledger.append((provider, year, centre, kind, "other", amount))
    return ledger, basis, activity


def _table(con, name, frame, schema):
    return engine.scratch_table(
        con, f"prop_cost_{name}_{next(_n)}", ibis.memtable(frame, schema=schema)
    )


def _run(con, ledger, basis, activity):
    lcols = ["provider_code", "financial_year", "cost_centre", "cost_centre_type", "expense_type"]
    lf = pd.DataFrame(ledger, columns=[*lcols, "amount_pence"]).assign(
        resource="other", activity_type=None
    )
    bf = pd.DataFrame(
        basis, columns=["provider_code", "financial_year", "cost_centre", "basis", "value"]
    )
    af = pd.DataFrame(activity)
    schema = {
        "activity_id": "string",
        "source": "string",
        "encounter_id": "string",
        "provider_code": "string",
        "activity_type": "string",
        "cost_centre": "string",
        "quantity": "float64",
        "weight": "float64",
        "activity_date": "date",
    }
    if af.empty:
        af = pd.DataFrame({c: [] for c in schema})
    af = af.assign(
        match_rule=af["encounter_id"].map(lambda e: "unmatched" if e is None else "key"),
        cost_pence=pd.array([None] * len(af), dtype="Int64"),
        start_time=pd.NaT,
        end_time=pd.NaT,
    )
    schema |= {
        "match_rule": "string",
        "cost_pence": "int64",
        "start_time": "timestamp",
        "end_time": "timestamp",
    }

    def keep(name, table):
        return engine.scratch_table(con, f"prop_cost_{name}_{next(_n)}", table)

    return cost_ledgers(
        _table(con, "ledger", lf[list(TABLES["ledger"].schema().names)], TABLES["ledger"].schema()),
        _table(con, "basis", bf, TABLES["overhead_basis"].schema()),
        _table(con, "matched", af[list(schema)], schema),
        rules.load(),
        keep,
    )


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases())
def test_every_penny_of_the_quantum_lands_on_a_patient_or_in_a_bucket(con, case):
    ledger, basis, activity = case
    try:
        out = _run(con, ledger, basis, activity)
    except CostError as exc:
        # Only a pool with cost and no driver volume may stop the run.
        assert "no driver volume" in str(exc)
        return
    summary = out["summary"].execute()
    assert (
        summary.allocated_pence + summary.unmatched_pence + summary.excluded_pence
        == summary.amount_pence
    ).all()
    quantum = sum(a for *_, kind, _e, a in ledger if kind in ("patient_facing", "support"))
    by = out["by_encounter"].execute()
    assert int(by.pence.sum()) == quantum
    assert int(summary.amount_pence.sum()) == quantum

    # Each record's pence: never negative, and within a penny of its exact share.
    units = out["units"].execute()
    pools = summary.merge(
        out["totals"].execute()[["provider_code", "cost_centre", "driver", "total_units"]],
        on=["provider_code", "cost_centre", "driver"],
        suffixes=("", "_t"),
    )
    from openphm.cost import allocate

    fan = allocate.allocate(out["units"], out["pools"], out["totals"]).execute()
    assert (fan.pence >= 0).all()
    fan = fan.merge(units[["activity_id", "driver", "units"]], on=["activity_id", "driver"])
    fan = fan.merge(
        pools[["provider_code", "cost_centre", "resource", "amount_pence", "total_units"]]
    )
    for r in fan.itertuples():
        if r.total_units == 0:  # a pool of 0 pence with no volume: nothing to share
            assert r.pence == 0 and r.amount_pence == 0
            continue
        exact = Fraction(int(r.amount_pence) * int(r.units), int(r.total_units))
        assert abs(Fraction(int(r.pence)) - exact) < 1
    assert set(out["parts"].execute().activity_id) == {a["activity_id"] for a in activity}
