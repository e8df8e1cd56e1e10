"""The stage runner: declared inputs and outputs, summaries and audit records."""

import ibis
import pytest

from openphm import engine
from openphm.runner import Stage, StageError, StageOutput, load_sources, run_stage, select_stages
from openphm.sample import sample_population
from openphm.stages import STAGES

# The stages after linkage, run here on the sample population as if linked.
AFTER_LINK = tuple(s for s in STAGES if s.name in ("measure", "publish"))


def test_the_demo_stages_run_in_order_and_each_leaves_an_audit_record(ws):
    loaded = load_sources(ws, sample_population(1_000, seed=3), source="sample")
    assert loaded == {"person": 1_000, "registration": 1_000}
    summaries = [run_stage(ws, s) for s in AFTER_LINK]
    assert [s.stage for s in summaries] == ["measure", "publish"]
    measure, publish = summaries
    assert measure.rows_in == 2_000
    assert measure.rows_out == ws.table("registered_population").count().execute()
    assert publish.published == (ws.published_dir / "registered_population.csv",)

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
