"""Silent loss by configuration (issue 16): the same file configured twice doubled the
encounters (cost then stopped with "this is a bug in openphm"); a header-only hes_apc file
was accepted without warning and every admission disappeared downstream."""

from __future__ import annotations

import pytest

from openphm.ingest import stage as ingest
from openphm.ingest.layouts import LAYOUTS
from openphm.runner import StageError, run_stage
from openphm.workspace import Workspace

HEADER = ",".join(LAYOUTS["gp_registrations"].all_columns)
ROW = "r1,9990000018,A81001,2020-01-01,"


def workspace(root, sources: dict[str, tuple[str, str]], files: dict[str, str]) -> Workspace:
    Workspace.init(root)
    for name, text in files.items():
        (root / name).write_text(text)
    config = (root / "openphm.toml").read_text()
    for name, (path, layout) in sources.items():
        config += f'\n[sources.{name}]\npath = "{path}"\nlayout = "{layout}"\n'
    (root / "openphm.toml").write_text(config)
    return Workspace(root)


def test_one_file_configured_twice_stops_ingest_naming_both(tmp_path):
    ws = workspace(
        tmp_path / "ws",
        {"regs": ("regs.csv", "gp_registrations"), "again": ("./regs.csv", "gp_registrations")},
        {"regs.csv": f"{HEADER}\n{ROW}\n"},
    )
    with pytest.raises(StageError, match="'regs' and 'again' name the same file"):
        run_stage(ws, ingest.STAGE)
    assert not ws.has("dq_files")


def test_a_header_only_activity_file_stops_ingest(tmp_path):
    ws = workspace(
        tmp_path / "ws",
        {"regs": ("regs.csv", "gp_registrations")},
        {"regs.csv": f"{HEADER}\n"},
    )
    with pytest.raises(StageError, match="'regs' .* holds a header and no rows"):
        run_stage(ws, ingest.STAGE)
