"""The stage runner: declared inputs and outputs, summaries and audit records."""

import re

import ibis
import pytest

from openphm import engine
from openphm.runner import (
    NOTES_TABLE,
    Stage,
    StageError,
    StageOutput,
    check_note,
    load_sources,
    run_stage,
    select_stages,
)
from openphm.sample import sample_population
from openphm.stages import STAGES
from openphm.workspace import Workspace

# The stages after linkage, run here on the sample population as if linked.
AFTER_LINK = tuple(s for s in STAGES if s.name in ("measure", "publish"))


@pytest.fixture
def ws(tmp_path):
    """A fresh workspace whose measure counts the registered population on 31 March 2026:
    the sample population has registrations but no encounters to take a date from."""
    Workspace.init(tmp_path / "ws").close()
    config = tmp_path / "ws" / "openphm.toml"
    text = re.sub(
        r"(\[stages\.measure\]\n)(# ?)?index_date = [^\n]*\n",
        r'\1index_date = "2026-03-31"\n',
        config.read_text(),
    )
    config.write_text(text)
    w = Workspace(tmp_path / "ws")
    assert str(w.config.stages.measure.index_date) == "2026-03-31"
    yield w
    w.close()


def test_the_demo_stages_run_in_order_and_each_leaves_an_audit_record(ws):
    loaded = load_sources(ws, sample_population(1_000, seed=3), source="sample")
    assert loaded == {"person": 1_000, "registration": 1_000}
    summaries = [run_stage(ws, s) for s in AFTER_LINK]
    assert [s.stage for s in summaries] == ["measure", "publish"]
    measure, publish = summaries
    assert measure.rows_in == 2_000
    assert measure.rows_out == ws.table("registered_population").count().execute()
    # Without encounters there are no indicators, and the measure stage's note says so.
    assert publish.published == (
        ws.published_dir / "registered_population.csv",
        ws.published_dir / "stage_notes.csv",
    )
    assert measure.notes == (
        "No indicators were measured: the workspace has no encounter table. Load activity "
        "sources (hes_apc, hes_op, ecds and the like).",
    )

    records = ws.audit.records()
    assert [r["action"] for r in records] == ["load:sample", "stage:measure", "stage:publish"]
    rec = records[1]
    assert rec["purpose"] == "planning"
    assert "Article 6(1)(e)" in rec["lawful_basis"] and "9(2)(h)" in rec["lawful_basis"]
    assert rec["code_version"].startswith("0.1.0")
    assert {i["table"] for i in rec["inputs"]} == {"person", "registration"}
    out = rec["outputs"][0]
    assert out["table"] == "registered_population" and out["rows"] == measure.rows_out
    assert out["fingerprint"] == engine.fingerprint(ws.table("registered_population"))[0]
    decisions = records[2]["published"][0]["disclosure"]
    assert decisions["enabled"] and decisions["suppression_threshold"] == 7
    assert decisions["cells"] > measure.rows_out  # the gate added margins
    assert ws.audit.verify().ok


def test_audit_records_hold_no_person_ids(ws):
    sample = sample_population(300, seed=4)
    load_sources(ws, sample, source="sample")
    for s in AFTER_LINK:
        run_stage(ws, s)
    log = (ws.audit_dir / "log.jsonl").read_text()
    ids = sample["person"].execute()["person_id"]
    assert not any(pid in log for pid in ids)
    published = (ws.published_dir / "registered_population.csv").read_text()
    assert not any(pid in published for pid in ids)


def test_a_stage_whose_inputs_are_missing_says_what_to_run(ws):
    with pytest.raises(StageError, match=r"needs table\(s\) \['person', 'registration'\]"):
        run_stage(ws, AFTER_LINK[0])


def test_a_stage_must_build_exactly_what_it_declares(ws):
    ws.commit({"source": ibis.memtable({"k": [1]})})
    liar = Stage(
        "liar", "", ("source",), ("a",), lambda inp: StageOutput(tables={"b": inp.tables["source"]})
    )
    with pytest.raises(StageError, match=r"declared outputs \['a'\] but built \['b'\]"):
        run_stage(ws, liar)
    assert not ws.has("b")


def test_unknown_stage_names_the_stages():
    assert [s.name for s in STAGES] == [
        "ingest",
        "link",
        "need",
        "cost",
        "risk",
        "measure",
        "publish",
    ]
    with pytest.raises(StageError, match="'measure', 'publish'"):
        select_stages(STAGES, "nope")
    assert [s.name for s in select_stages(STAGES, "publish")] == ["publish"]


def _noting(name: str, notes: list[str]) -> Stage:
    """A stage that writes one table and says ``notes``."""
    return Stage(
        name,
        "",
        (),
        (f"{name}_out",),
        lambda inp: StageOutput(tables={f"{name}_out": ibis.memtable({"k": [1]})}, notes=notes),
    )


def _kept(ws) -> list[tuple[str, str]]:
    frame = ws.table(NOTES_TABLE).to_pandas().sort_values(["stage", "position"])
    return list(zip(frame.stage, frame.note, strict=True))


def test_each_stage_keeps_its_latest_notes_beside_its_outputs(ws):
    first = "Risk was not modelled: the data are too short."
    summary = run_stage(ws, _noting("one", [first, first]))
    assert summary.notes == (first, first)  # the summary has them as given
    assert _kept(ws) == [("one", first)]  # the table once each
    run_stage(ws, _noting("two", ["Rates have no denominator."]))
    assert _kept(ws) == [("one", first), ("two", "Rates have no denominator.")]
    # A later run of a stage replaces its own notes, and with none, clears them.
    run_stage(ws, _noting("one", ["Nothing was measured."]))
    assert _kept(ws) == [("one", "Nothing was measured."), ("two", "Rates have no denominator.")]
    run_stage(ws, _noting("one", []))
    assert _kept(ws) == [("two", "Rates have no denominator.")]
    records = [r for r in ws.audit.records() if r["action"] == "stage:one"]
    assert [r["notes"] for r in records][-2:] == [["Nothing was measured."], []]


def test_a_stage_without_notes_writes_no_notes_table(ws):
    run_stage(ws, _noting("quiet", []))
    assert NOTES_TABLE not in ws.catalog()


# 943 476 5919 is a valid (Modulus 11) NHS number from the never-issued 9 block.
@pytest.mark.parametrize(
    ("note", "kept"),
    [
        ("Person 943 476 5919 has no registration.", "Person [withheld] has no registration."),
        ("Person 9434765919 has no registration.", "Person [withheld] has no registration."),
        (
            "Person 3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6 has no LSOA.",  # a pseudonym's hex
            "Person [withheld] has no LSOA.",
        ),
        # Ten digits that fail the check digit (here a pence total) are not an NHS number.
        ("The pool holds 1234567890 pence.", "The pool holds 1234567890 pence."),
        ("Two\nlines,   spaced.", "Two lines, spaced."),
    ],
)
def test_a_note_is_one_line_with_anything_like_an_identifier_withheld(ws, note, kept):
    summary = run_stage(ws, _noting("leaky", [note]))
    assert summary.notes == (kept,)
    assert _kept(ws) == [("leaky", kept)]
    record = [r for r in ws.audit.records() if r["action"] == "stage:leaky"][-1]
    assert record["notes"] == [kept]
    assert "9434765919" not in (ws.audit_dir / "log.jsonl").read_text()


def test_an_empty_note_is_refused_and_nothing_is_committed(ws):
    with pytest.raises(StageError, match="empty note"):
        run_stage(ws, _noting("blank", [" "]))
    assert not ws.has("blank_out") and NOTES_TABLE not in ws.catalog()


def test_notes_with_dates_counts_and_settings_pass_unchanged():
    note = (
        "Risk was not modelled: the training index dates (2001-11-01, 2002-04-01) have fewer "
        "than 10 people with an emergency admission; set [stages.risk] min_history_months "
        "(2,694 people, 12,345,678 pence)."
    )
    assert check_note("risk", note) == note
