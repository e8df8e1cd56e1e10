"""Stage notes reach people: the report's "What could not be done" and the dashboard.

The notes are published as the publish stage publishes them (through the gate, as
``stage_notes.csv``); the report and the dashboard read only that file.
"""

from __future__ import annotations

import ibis
import pandas as pd
from fastapi.testclient import TestClient

from openphm.disclosure import gate
from openphm.publish.writer import write_published
from openphm.report.build import build_report
from openphm.runner import NOTES_SCHEMA, NOTES_TABLE
from openphm.web import create_app
from openphm.workspace import Workspace

MEASURE = "Rates per population have no denominator: load GP registrations."
RISK = "Risk was not modelled: the data are too short."
NEED = "Charlson matched no one: it needs ICD-10 codes."


def _workspace(root, notes: list[tuple[str, int, str]]) -> Workspace:
    ws = Workspace.init(root)
    frame = pd.DataFrame(notes, columns=list(NOTES_SCHEMA))
    table = ibis.memtable(frame, schema=ibis.schema(NOTES_SCHEMA))
    gated = gate(NOTES_TABLE, table, keys=["stage", "position", "note"], counts=[])
    write_published(ws.published_dir, gated)
    return ws


def test_the_report_lists_each_note_first_in_stage_order(tmp_path):
    # Kept in the order the stages ran in, whatever order the table holds them in.
    ws = _workspace(
        tmp_path / "ws", [("measure", 0, MEASURE), ("risk", 0, RISK), ("need", 0, NEED)]
    )
    html = build_report(ws.root, tmp_path / "r.html").path.read_text()
    assert html.index("<section") == html.index('<section id="not-done"')
    section = html[html.index('<section id="not-done"') : html.index("</section>")]
    assert "What could not be done" in section
    found = [
        section.index(f"{stage}: {note}")
        for stage, note in (("Need", NEED), ("Risk", RISK), ("Measure", MEASURE))
    ]
    assert found == sorted(found)


def test_without_notes_there_is_no_such_section(tmp_path):
    ws = _workspace(tmp_path / "ws", [])
    html = build_report(ws.root, tmp_path / "r.html").path.read_text()
    assert "What could not be done" not in html


def test_the_dashboard_home_page_shows_the_notes(tmp_path):
    ws = _workspace(tmp_path / "ws", [("risk", 0, RISK)])
    page = TestClient(create_app(ws.root, secure_cookies=False)).get("/").text
    assert "What could not be done" in page and f"Risk: {RISK}" in page


def test_the_notes_follow_the_stages_run_order():
    from openphm.report.notes import _ORDER
    from openphm.stages import STAGES

    assert list(_ORDER) == [s.name for s in STAGES]


def test_the_methods_say_which_labels_were_withheld_and_how_many_never_which():
    from openphm.report.methods import withheld_values
    from openphm.report.published import Published, PublishedTable

    def table(name, invalid):
        frame = pd.DataFrame({"provider_code": ["RXX", "invalid value"], "rows": ["10", "15"]})
        return PublishedTable(name, frame, {"enabled": True, "invalid_values": invalid})

    pub = Published(
        {
            "dq_validity": table("dq_validity", {"provider_code": 2}),
            "cost_by_provider": table("cost_by_provider", {"provider_code": 0}),
            "link_summary": table("link_summary", {}),
        }
    )
    said = withheld_values(pub)
    assert "'invalid value'" in said and "dq_validity.csv provider_code (2)" in said
    assert "cost_by_provider" not in said and "link_summary" not in said  # nothing withheld
    clean = Published({"link_summary": table("link_summary", {})})
    assert withheld_values(clean).startswith("No label was withheld")
    unchecked = PublishedTable("link_summary", pd.DataFrame(), {"enabled": True})
    assert "before openphm checked labels" in withheld_values(Published({"x": unchecked}))
