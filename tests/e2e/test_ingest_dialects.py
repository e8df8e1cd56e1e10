"""Files written the ways real extracts are (pipe and tab delimiters, lower-case headers,
UK dates, SQL Server date-times, NULL for no value) are ingested whole once their source
says how they are written, where before every row was quarantined."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from openphm.ingest import stage as ingest
from openphm.runner import run_stage
from openphm.workspace import Workspace

# Synthetic NHS numbers from the never-issued 999 range, valid under Modulus 11.
REGISTRATIONS = (
    "reg_id|nhs number|practice_code|registration_start|registration_end\n"
    "r1|9990000018|A81001|04/06/2019|NULL\n"
    "r2|9990000026|A81001|15/01/2020|31/12/2023\n"
)
EVENTS = (
    "Event Id\tNHS Number\tPractice Code\tEvent Date\tSnomed Code\tValue\n"
    "e1\t9990000018\tA81001\t2024-01-02 00:00:00.000\t38341003\tNULL\n"
    "e2\t9990000026\tA81001\t2024-02-03 09:15:00\t38341003\t7.5\n"
)
SOURCES = """
[sources.registrations]
path = "registrations.txt"
layout = "gp_registrations"
delimiter = "|"
date_formats = ["%d/%m/%Y"]
null_values = ["NULL"]

[sources.events]
path = "events.tsv"
layout = "gp_events"
null_values = ["NULL"]
"""


def _workspace(root: Path, sources: str) -> Workspace:
    Workspace.init(root)
    (root / "registrations.txt").write_text(REGISTRATIONS)
    (root / "events.tsv").write_text(EVENTS)
    config = root / "openphm.toml"
    config.write_text(config.read_text() + sources)
    return Workspace(root)


def _files(ws: Workspace) -> dict[str, tuple[int, int, int]]:
    frame = ws.table("dq_files").to_pandas()
    return {
        r.source: (r.rows_read, r.rows_accepted, r.rows_quarantined)
        for r in frame.itertuples(index=False)
    }


def test_files_whose_sources_say_how_they_are_written_are_ingested_whole(tmp_path):
    ws = _workspace(tmp_path / "ws", SOURCES)
    try:
        run_stage(ws, ingest.STAGE)
        assert _files(ws) == {"registrations": (2, 2, 0), "events": (2, 2, 0)}
        staged = ws.quarantine_dir / "ingest" / "staged_registration.parquet"
        regs = pd.read_parquet(staged).sort_values("start_date")
        assert [str(d) for d in regs.start_date] == ["2019-06-04", "2020-01-15"]
        assert regs.end_date.isna().tolist() == [True, False]  # NULL: no end, still registered
    finally:
        ws.close()


def test_without_the_settings_every_registration_row_is_quarantined(tmp_path):
    plain = SOURCES.replace('date_formats = ["%d/%m/%Y"]\n', "")
    ws = _workspace(tmp_path / "ws", plain)
    try:
        run_stage(ws, ingest.STAGE)
        assert _files(ws)["registrations"] == (2, 0, 2)
    finally:
        ws.close()
