"""Raw identifiers left on disk (issue 16): a kill during ingest left a ``staging-*``
folder of raw NHS numbers and postcodes that later runs never removed; the restricted
quarantine files were created world-readable (0644)."""

from __future__ import annotations

import stat

import ibis

from openphm.runner import STAGING_PREFIX, Stage, StageOutput, run_stage, write_restricted


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_restricted_files_are_for_the_owner_only(ws):
    path = write_restricted(ws, "ingest", "quarantine", ibis.memtable({"line": [1]}))
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(ws.quarantine_dir) == 0o700


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(ws):
    left = ws.root / f"{STAGING_PREFIX}abc123"
    left.mkdir()
    (left / "0.parquet").write_bytes(b"raw identifiers")
    noop = Stage(
        "noop", "", (), ("done",), lambda inp: StageOutput({"done": ibis.memtable({"k": [1]})})
    )
    run_stage(ws, noop)
    assert not left.exists()
