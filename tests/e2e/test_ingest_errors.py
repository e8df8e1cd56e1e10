"""A file that cannot be ingested stops the run with a message that says which
file, which column and what was found, and leaves nothing behind: no staging
files, no scratch tables, the previous outputs untouched."""

from __future__ import annotations

import pytest

from openphm import engine
from openphm.ingest import stage as ingest
from openphm.ingest.reader import IngestError
from openphm.runner import run_stage
from openphm.workspace import Workspace

GP_EVENTS = (
    "EVENT_ID,NHS_NUMBER,PRACTICE_CODE,EVENT_DATE,SNOMED_CODE,VALUE\n"
    "e1,9990000018,A81001,2024-01-02,38341003,\n"
)
REGISTRATIONS = (
    "REG_ID,NHS_NUMBER,PRACTICE_CODE,REGISTRATION_START,REGISTRATION_END\n"
    "r1,9990000018,A81001,2020-01-01,\n"
)


def _workspace(root, files: dict[str, tuple[str, str]]) -> Workspace:
    Workspace.init(root)
    config = (root / "openphm.toml").read_text()
    for name, (layout, text) in files.items():
        (root / f"{name}.csv").write_text(text)
        config += f'\n[sources.{name}]\npath = "{name}.csv"\nlayout = "{layout}"\n'
    (root / "openphm.toml").write_text(config)
    return Workspace(root)


def _left_behind(ws: Workspace) -> list[str]:
    staging = [p.name for p in ws.root.iterdir() if p.name.startswith("staging-")]
    scratch = [t for t in engine.table_names(ws.con) if t.startswith("_ingest")]
    return staging + scratch


def test_a_misnamed_column_names_the_file_the_column_a_close_match_and_what_was_found(tmp_path):
    misnamed = GP_EVENTS.replace("SNOMED_CODE", "SNOMED_CD")
    ws = _workspace(
        tmp_path / "ws",
        {"registrations": ("gp_registrations", REGISTRATIONS), "events": ("gp_events", misnamed)},
    )
    with pytest.raises(IngestError) as err:
        run_stage(ws, ingest.STAGE)
    message = str(err.value)
    assert "events.csv" in message
    assert "'SNOMED_CODE'" in message and "did you mean 'SNOMED_CD'?" in message
    assert "Columns found: EVENT_ID, NHS_NUMBER, PRACTICE_CODE, EVENT_DATE, SNOMED_CD" in message
    assert "9990000018" not in message  # no row-level data in an error
    assert _left_behind(ws) == []
    assert not ws.has("dq_files")


def test_a_missing_file_is_named_with_its_layout_and_where_to_fix_it(tmp_path):
    ws = _workspace(tmp_path / "ws", {"events": ("gp_events", GP_EVENTS)})
    (ws.root / "events.csv").unlink()
    with pytest.raises(IngestError, match=r"events\.csv \(layout gp_events\) does not exist"):
        run_stage(ws, ingest.STAGE)
    assert _left_behind(ws) == []
