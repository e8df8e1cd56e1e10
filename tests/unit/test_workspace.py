"""The workspace: layout, catalog, atomic commits and clean-up."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import ibis
import pytest

from openphm import engine
from openphm.workspace import Workspace, WorkspaceError


def frame(n):
    return ibis.memtable({"k": list(range(n)), "v": [f"x{i}" for i in range(n)]})


def test_init_makes_the_layout_and_a_duckdb_warehouse(ws):
    for sub in ("audit", "quarantine", "published"):
        assert (ws.root / sub).is_dir()
    ws.commit({"t": frame(3)})
    assert (ws.root / "warehouse.duckdb").exists()
    assert ws.table("t").count().execute() == 3


def test_not_a_workspace_says_how_to_make_one(tmp_path):
    with pytest.raises(WorkspaceError, match="openphm init"):
        Workspace(tmp_path)


def test_unknown_table_names_what_the_workspace_holds(ws):
    ws.commit({"person": frame(1)})
    with pytest.raises(WorkspaceError, match=r"'nope'.*\['person'\]"):
        ws.table("nope")


def test_a_commit_replaces_tables_together_and_drops_the_old_ones(ws):
    ws.commit({"a": frame(1), "b": frame(2)})
    old = ws.catalog()
    ws.commit({"a": frame(5), "b": frame(6)})
    new = ws.catalog()
    assert set(new) == {"a", "b"} and new["a"] != old["a"]
    assert (ws.table("a").count().execute(), ws.table("b").count().execute()) == (5, 6)
    physical = engine.table_names(ws.con)
    assert old["a"] not in physical and old["b"] not in physical


def test_table_names_must_be_plain(ws):
    with pytest.raises(WorkspaceError, match="lower case"):
        ws.commit({"Bad Name": frame(1)})


def test_tables_survive_reopening(ws):
    ws.commit({"a": frame(4)})
    root = ws.root
    ws.close()
    again = Workspace(root)
    assert again.table("a").count().execute() == 4
    again.close()


KILLED_WRITER = """
import sys, time
from pathlib import Path
import ibis
from openphm import engine
from openphm.workspace import Workspace

ws = Workspace(sys.argv[1])
real = engine.write_table
def slow(con, name, obj):
    real(con, name, obj)
    Path(sys.argv[2]).write_text(name)  # tell the parent one table is written
    time.sleep(60)
engine.write_table = slow
ws.commit({"a": ibis.memtable({"k": [9, 9, 9]}), "b": ibis.memtable({"k": [9]})})
"""


def test_a_commit_killed_part_way_leaves_the_previous_tables(ws, tmp_path):
    ws.commit({"a": frame(1), "b": frame(2)})
    before = ws.catalog()
    prints = {t: engine.fingerprint(ws.table(t)) for t in ("a", "b")}
    ws.close()
    marker = tmp_path / "written"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(ws.root), str(marker)]
    )
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the writer never got as far as its first table"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    after = Workspace(ws.root)
    assert after.catalog() == before
    assert {t: engine.fingerprint(after.table(t)) for t in ("a", "b")} == prints
    # The half-written table is in the warehouse but in no catalog; the next commit clears it.
    orphan = marker.read_text()
    assert orphan in engine.table_names(after.con)
    after.commit({"c": frame(1)})
    assert orphan not in engine.table_names(after.con)
    after.close()


def test_catalog_is_valid_json_naming_physical_tables(ws):
    ws.commit({"a": frame(1)})
    catalog = json.loads((ws.root / "catalog.json").read_text())
    assert catalog["tables"]["a"].startswith("a__r")
