"""Publishing with a damaged audit log (issue 16): with one record edited, the publish
stage rewrote all 41 published files and then crashed with a stack trace, so the new
files were never audited. Now no stage runs on a damaged trail, and nothing changes."""

from __future__ import annotations

import json

import pytest

from openphm.runner import StageError, load_sources, run_stage
from openphm.sample import sample_population
from openphm.stages import STAGES

MEASURE, PUBLISH = (s for s in STAGES if s.name in ("measure", "publish"))


def test_no_stage_runs_on_an_edited_audit_trail_and_nothing_is_changed(ws):
    load_sources(ws, sample_population(300, seed=5), source="sample")
    run_stage(ws, MEASURE)
    run_stage(ws, PUBLISH)
    before = {p.name: p.read_bytes() for p in ws.published_dir.iterdir()}
    catalog = ws.catalog()
    log = ws.audit_dir / "log.jsonl"
    lines = log.read_text().splitlines()
    record = json.loads(lines[0])
    record["user"] = "someone else"  # an edit by hand
    log.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    for stage in (MEASURE, PUBLISH):
        with pytest.raises(StageError, match="audit trail .* is damaged .* nothing was changed"):
            run_stage(ws, stage)
    assert {p.name: p.read_bytes() for p in ws.published_dir.iterdir()} == before
    assert ws.catalog() == catalog
