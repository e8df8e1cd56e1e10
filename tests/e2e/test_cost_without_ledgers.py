"""The cost stage when the ICS holds no costing ledgers, or ledgers for one provider only.

Most ICSs hold no patient-level costing ledgers. A 400-person synthetic ICS is run
through ingest, link, cost and publish twice on DuckDB, with its sources set up by
``tests/e2e/workspaces.py``:

- **no ledgers**: the costing folder (ledger, overhead bases, feeds) removed. Every
  encounter is priced from the national unit costs, every cost row says
  ``unit_cost``, the stage's note gives the figures, and the report calls every pound
  an estimate.
- **one provider's ledger**: only RZ1's ledger lines and overhead bases kept (every
  feed kept). RZ1's care is costed from its ledger and reconciled to the penny; the
  other acute trust's (RZ2's) care, which has no ledger, is priced from unit costs.

Nothing is dropped silently: every encounter is either costed or counted, by reason,
in the stage's summary.
"""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from openphm.cost import coverage
from openphm.cost import stage as cost
from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.publish import stage as publish
from openphm.report import build_report
from openphm.runner import run_stage
from openphm.synth import generate
from tests.e2e.workspaces import configure_sources

PEOPLE = 400
KEPT = "RZ1"  # the one provider whose ledger is kept
ACUTE = ("RZ1", "RZ2")  # the synthetic ICS's acute trusts: APC, OP and A&E


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, people=PEOPLE, seed=11)
    return out


def run(tmp_path_factory, synth, name, change):
    data = tmp_path_factory.mktemp(f"data_{name}")
    shutil.copytree(synth, data, dirs_exist_ok=True)
    change(data / "costing")
    root = tmp_path_factory.mktemp(f"ws_{name}")
    ws = configure_sources(root, data)
    config = (root / "openphm.toml").read_text()
    (root / "openphm.toml").write_text(
        config + '\n[stages.cost]\npool_without_volume = "unallocated"\n'
    )
    ws = type(ws)(root)
    summaries = {s.name: run_stage(ws, s) for s in (ingest.STAGE, link.STAGE)}
    summaries["cost"] = run_stage(ws, cost.STAGE)
    run_stage(ws, publish.STAGE)
    html = build_report(root).path.read_text()
    return ws, summaries["cost"], html


def _only(provider: str):
    def change(costing):
        for name in ("ledger.csv", "overhead_bases.csv"):
            frame = pd.read_csv(costing / name, dtype=str, keep_default_na=False)
            frame[frame["PROVIDER_CODE"].eq(provider)].to_csv(costing / name, index=False)

    return change


@pytest.fixture(scope="module")
def no_ledgers(tmp_path_factory, synth):
    ws, summary, html = run(tmp_path_factory, synth, "none", lambda c: shutil.rmtree(c))
    yield ws, summary, html
    ws.close()


@pytest.fixture(scope="module")
def one_ledger(tmp_path_factory, synth):
    ws, summary, html = run(tmp_path_factory, synth, "one", _only(KEPT))
    yield ws, summary, html
    ws.close()


def frame(ws, name) -> pd.DataFrame:
    return ws.table(name).to_pandas()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_with_no_ledgers_every_encounter_is_priced_from_unit_costs(no_ledgers):
    ws, _, _ = no_ledgers
    enc = frame(ws, "cost_encounter")
    assert len(enc) and set(enc.basis) == {"unit_cost"}
    assert (enc.cost_pence > 0).all()
    # Every setting the ICS's records hold is priced.
    settings = set(frame(ws, "encounter").setting)
    assert settings <= set(enc.setting), settings - set(enc.setting)
    person_year = frame(ws, "cost_person_year")
    assert len(person_year) and (person_year.ledger_pence == 0).all()
    assert (person_year.unit_cost_pence == person_year.cost_pence).all()
    assert int(person_year.cost_pence.sum()) == int(enc.cost_pence.sum())
    assert frame(ws, "cost_reconciliation").empty


def test_with_no_ledgers_the_note_gives_the_figures(no_ledgers):
    ws, summary, _ = no_ledgers
    enc = frame(ws, "cost_encounter")
    n = enc.encounter_id.nunique()
    gp = enc[enc.encounter_id.str.startswith("gp_contact:")].encounter_id.nunique()
    pounds = (int(enc.cost_pence.sum()) + 50) // 100
    assert summary.notes[0] == (
        f"No costing ledgers were given: all {n:,} costed encounters (including {gp:,} GP "
        "contacts counted from coded GP events) were priced from national unit costs "
        f"(unit_costs.csv): £{pounds:,} of estimates, none of it reconciled to a ledger."
    )


def test_every_encounter_is_costed_or_counted_with_its_reason(no_ledgers):
    ws, summary, _ = no_ledgers
    encounters = frame(ws, "encounter")
    costed = set(frame(ws, "cost_encounter").encounter_id)
    figures = summary.counts["cost"]["coverage"]
    uncounted = sum(n for by in figures["uncosted"].values() for n in by.values())
    assert len(encounters) == len(costed & set(encounters.encounter_id)) + uncounted
    # The synthetic ICS's records include contacts the patient did not attend.
    did_not_attend = figures["uncosted"][coverage.NOT_ATTENDED]
    assert sum(did_not_attend.values()) == int((encounters.attended == False).sum())  # noqa: E712
    assert any("did not attend were not costed" in n for n in summary.notes)


def test_with_no_ledgers_the_published_tables_and_report_say_every_pound_is_estimated(
    no_ledgers,
):
    ws, _, html = no_ledgers
    published = ws.root / "published"
    by_basis = pd.read_csv(published / "cost_by_basis.csv", dtype=str)
    assert len(by_basis) and set(by_basis.basis) == {"unit_cost"}
    by_setting = pd.read_csv(published / "cost_by_setting.csv", dtype=str)
    shown = by_setting[by_setting.cost_pounds != "*"]
    assert len(shown) and (shown.unit_cost_pounds == shown.cost_pounds).all()
    assert set(shown.unit_cost_percent.astype(float)) == {100.0}
    text = text_of(html)
    assert "No costing ledgers were given: every cost in this section is an estimate" in text
    assert "reconciled to the providers' ledgers" not in text
    assert "reconciled to those ledgers" not in text


def test_with_one_providers_ledger_it_is_reconciled_and_the_other_estimated(one_ledger):
    ws, summary, _ = one_ledger
    statement = frame(ws, "cost_reconciliation")
    assert set(statement.provider_code) == {KEPT}
    lines = statement.pivot_table(
        index=["provider_code", "financial_year"], columns="line", values="pence"
    )
    went = (
        lines.allocated_to_patients
        + lines.unmatched
        + lines.excluded_unused_capacity
        + lines.unallocated_no_driver_volume
    )
    assert (went == lines.costed_quantum).all()  # the quantum, to the penny
    enc = frame(ws, "cost_encounter")
    ledger = enc[enc.basis == "ledger"]
    assert set(ledger.provider_code) == {KEPT}
    assert int(ledger.cost_pence.sum()) == int(lines.allocated_to_patients.sum())
    # The other acute trust has no ledger: its spells and attendances are estimates.
    other = enc[enc.provider_code.isin(set(ACUTE) - {KEPT})]
    assert len(other) and set(other.basis) == {"unit_cost"}
    assert {"apc", "op"} <= set(other.setting)
    assert (
        not enc[(enc.provider_code == KEPT) & (enc.basis == "unit_cost")]
        .setting.isin(["apc", "op"])
        .any()
    )
    (note,) = [n for n in summary.notes if n.startswith("Costing ledgers were given")]
    assert note.startswith(f"Costing ledgers were given for 1 provider(s) ({KEPT}) in ")
    assert f"{ledger.encounter_id.nunique():,} encounters were costed from them" in note


def test_with_one_providers_ledger_the_report_splits_the_pounds(one_ledger):
    ws, _, html = one_ledger
    by_basis = pd.read_csv(ws.root / "published" / "cost_by_basis.csv", dtype=str)
    assert set(by_basis.basis) == {"ledger", "unit_cost"}
    text = text_of(html)
    assert "Costs at providers that sent costing ledgers are reconciled to those ledgers" in text
    assert re.search(r"£[0-9,]+ reconciled to ledgers and £[0-9,]+ estimated from unit costs", text)
