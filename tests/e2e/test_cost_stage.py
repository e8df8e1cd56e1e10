"""The cost stage on a synthetic ICS, measured against the truth it was generated from.

A 1,500-person ICS through ingest, link, cost and publish on DuckDB. The generator
priced each provider's patient-facing cost centres from the activity it wrote and kept
the truth (``truth/costing_unit_costs``): each centre's direct cost, its weighted
quantity, its unit cost and the support cost spread onto it in one step by the bases.

- Direct pools are the ledger's lines: equal to the truth's direct pence exactly.
- Overheads: the support centres hold no basis themselves, so the cascade is one step,
  as the truth's; each centre's overheads agree to a penny per support centre (rounding).
- Unit costs (direct pence per weighted unit): never below the truth, and close to it.
  They sit above it by the share of the year's activity the pipeline does not see:
  records of people with a national data opt-out are removed at link (about 5%), and
  the rows ingest quarantines. That share goes onto everyone else's records.
- Conservation to the penny: per provider and year, the quantum is allocated +
  unmatched + excluded, and the person-year totals add up to the encounter costs.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from openphm.cli import app
from openphm.cost import stage as cost
from openphm.cost.rollup import BY_PERSON, ROLLUPS
from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.publish import stage as publish
from openphm.runner import run_stage
from openphm.synth import generate
from tests.e2e.workspaces import configure_sources

PEOPLE = 1_500
SUPPORT_CENTRES = 6  # the generator's support centres: one rounding penny each at most
MAX_MEDIAN_UNIT_COST_RATIO = 1.10  # opted-out and quarantined activity is about 5%


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, people=PEOPLE, seed=5)
    root = tmp_path_factory.mktemp("ws")
    ws = configure_sources(root, out)
    # As in the demo: at this size a cost centre's only stays can belong to people who
    # opted out (link removes them), so its pool keeps its cost on a line of its own.
    config = (root / "openphm.toml").read_text()
    (root / "openphm.toml").write_text(
        config + '\n[stages.cost]\npool_without_volume = "unallocated"\n'
    )
    ws = type(ws)(root)
    for stage in (ingest.STAGE, link.STAGE, cost.STAGE, publish.STAGE):
        run_stage(ws, stage)
    yield out, ws
    ws.close()


def frame(ws, name) -> pd.DataFrame:
    return ws.table(name).to_pandas()


def test_every_pound_of_the_quantum_is_on_a_patient_or_in_a_bucket(world):
    _, ws = world
    statement = frame(ws, "cost_reconciliation").pivot_table(
        index=["provider_code", "financial_year"], columns="line", values="pence"
    )
    went = (
        statement.allocated_to_patients
        + statement.unmatched
        + statement.excluded_unused_capacity
        + statement.unallocated_no_driver_volume
    )
    assert (went == statement.costed_quantum).all()
    assert (
        statement.costed_quantum == statement.of_which_direct + statement.of_which_overheads
    ).all()
    enc = frame(ws, "cost_encounter")
    assert (enc.cost_pence >= 0).all()
    ledger = enc[enc.basis == "ledger"]
    assert int(ledger.cost_pence.sum()) == int(statement.allocated_to_patients.sum())
    unmatched = frame(ws, "cost_unmatched")
    assert int(unmatched.pence.sum()) == int(statement.unmatched.sum())
    person_year = frame(ws, "cost_person_year")
    assert int(person_year.cost_pence.sum()) == int(enc.cost_pence.sum())
    assert (person_year.cost_pence == person_year.ledger_pence + person_year.unit_cost_pence).all()
    # About 2% of feed records match nothing by design (the generator's MATCH_SHARES).
    share = statement.unmatched.sum() / statement.costed_quantum.sum()
    assert 0.005 < share < 0.06


def test_pools_and_unit_costs_recover_the_generators_truth(world):
    out, ws = world
    truth = pd.read_parquet(out / "truth" / "costing_unit_costs.parquet")
    truth.columns = truth.columns.str.lower()
    key = ["provider_code", "financial_year", "cost_centre"]
    pools = frame(ws, "cost_pool")
    direct = pools[pools.resource != "overheads"].groupby(key).amount_pence.sum()
    over = pools[pools.resource == "overheads"].groupby(key).amount_pence.sum()
    units = ws.table("cost_activity")
    units = units.filter(units.driver != "issue_cost")  # pharmacy drugs go by cost
    weighted = units.group_by(key).aggregate(w=units.units.sum()).to_pandas().set_index(key).w
    m = truth.set_index(key).join(
        pd.DataFrame({"direct": direct, "over": over, "w": weighted / 1000}).fillna({"over": 0}),
        how="inner",
    )
    assert len(m) == len(truth)  # every centre of the truth has pools
    assert (m.direct == m.direct_pence).all()
    gap = (m.over - m.overhead_pence).abs()
    assert (gap <= SUPPORT_CENTRES).all(), gap.sort_values().tail(3)
    # A centre whose only activity the pipeline cannot see (opted out, quarantined) has
    # no driver volume: its whole cost, direct and overheads, is the unallocated line.
    unseen = m.w.isna()
    assert unseen.sum() <= 2
    statement = frame(ws, "cost_reconciliation")
    unallocated = statement[statement.line == "unallocated_no_driver_volume"].pence.sum()
    assert int(unallocated) == int((m.direct + m.over)[unseen].sum())
    ratio = ((m.direct / m.w) / m.unit_cost_pence)[~unseen]
    assert (ratio >= 0.999).all()
    assert ratio.median() <= MAX_MEDIAN_UNIT_COST_RATIO


def test_care_without_a_ledger_is_priced_from_unit_costs_and_labelled(world):
    _, ws = world
    enc = frame(ws, "cost_encounter")
    social = enc[enc.setting == "social_care"]
    assert len(social) and (social.basis == "unit_cost").all()
    assert set(enc[enc.setting == "apc"].basis) == {"ledger"}


def test_the_published_roll_ups_pass_the_gate(world):
    _, ws = world
    published = ws.root / "published"
    for name in ("cost_reconciliation", "cost_match_rates", *ROLLUPS):
        table = pd.read_csv(published / f"{name}.csv")
        assert len(table) and (published / f"{name}.disclosure.json").exists()
    by_age = pd.read_csv(published / "cost_by_age_band.csv")
    people = pd.to_numeric(by_age.people, errors="coerce").dropna()
    assert ((people == 0) | (people > 7)).all() and (people % 5 == 0).all()


def test_every_roll_up_by_person_holds_everyone_and_every_pound_once_a_year(world):
    # Each person falls in one practice, PCN, place, quintile, band and segment a year,
    # so every such roll-up counts the year's people once and its pounds add up to the
    # year's total (each cell rounded to the pound, so within half a pound a cell).
    _, ws = world
    person_year = frame(ws, "cost_person_year")
    people = person_year.groupby("financial_year").person_id.nunique()
    pounds = person_year.groupby("financial_year").cost_pence.sum() / 100
    for name, key in BY_PERSON.items():
        table = frame(ws, name)
        assert table[key].notna().all(), name
        by_year = table.groupby("financial_year")
        assert by_year.people.sum().to_dict() == people.to_dict(), name
        gap = (by_year.cost_pounds.sum() - pounds).abs()
        assert (gap <= by_year.size() * 0.5).all(), name
    practices = frame(ws, "cost_by_practice")
    unregistered = practices[practices.practice_code == "Unknown"].people.sum()
    assert unregistered < 0.1 * practices.people.sum()  # most are registered on 1 April


def test_explain_traces_a_persons_pennies_to_ledger_lines(world):
    _, ws = world
    enc = frame(ws, "cost_encounter")
    ledger = enc[enc.basis == "ledger"]
    person = ledger.groupby("person_id").cost_pence.sum().idxmax()
    result = CliRunner().invoke(app, ["cost", "explain", person, "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "ledger line" in text and "matched by" in text and "overheads of" in text
    # Every record line's pence, added up, is the person's ledger cost.
    pence = [
        int(line.rsplit("-> ", 1)[1].split()[0]) for line in text.splitlines() if "-> " in line
    ]
    assert sum(pence) == int(ledger[ledger.person_id == person].cost_pence.sum())
    missing = CliRunner().invoke(app, ["cost", "explain", "nobody", "-w", str(ws.root)])
    assert missing.exit_code == 2
