"""Published sets: published/ is a link to one whole set, switched only as the audit says."""

from __future__ import annotations

import json

import ibis
import pytest

from openphm.disclosure import gate
from openphm.publish import sets
from openphm.runner import PENDING_PREFIX, Stage, StageError, StageOutput, run_stage
from openphm.workspace import WorkspaceError


def table(n: int):
    return ibis.memtable({"place": ["a", "b"], "people": [10 * n, 20 * n]})


def publishing(n: int) -> Stage:
    def build(inp):
        g = gate(
            "people", table(n), keys=["place"], counts=["people"], policy=inp.config.disclosure
        )
        return StageOutput(published=[g])

    return Stage("publish", "", (), (), build, publishes=True)


def test_a_real_published_folder_becomes_a_linked_set_with_a_manifest(ws):
    (ws.published_dir / "old.csv").write_text("x\n1\n")
    sets.settle(ws.root, [])
    assert sets.live(ws.root) == sets.MIGRATED
    assert (ws.published_dir / "old.csv").read_text() == "x\n1\n"  # readers see the same
    assert sets.manifest_problem(ws.root / sets.MIGRATED) is None


def test_a_kill_between_the_migrations_rename_and_link_is_finished(ws):
    (ws.published_dir / "old.csv").write_text("x\n1\n")
    sets.write_manifest(ws.published_dir)
    ws.published_dir.rename(ws.root / sets.MIGRATED)  # killed here: no published/ at all
    sets.settle(ws.root, [])
    assert (ws.published_dir / "old.csv").exists() and sets.live(ws.root) == sets.MIGRATED


def test_publishing_switches_to_a_new_set_named_by_the_audit_and_removes_the_old(ws):
    run_stage(ws, publishing(1))
    first = sets.live(ws.root)
    run_stage(ws, publishing(2))
    second = sets.live(ws.root)
    assert first != second and not (ws.root / first).exists()
    assert sets.last_audited_set(ws.audit.records())["folder"] == second
    assert "as the last publish audit record names" in sets.check(ws.root, ws.audit.records())
    assert "a,20" in (ws.published_dir / "people.csv").read_text()  # the second set's


def test_an_audited_set_not_yet_switched_to_is_rolled_forward_and_an_unaudited_one_removed(ws):
    run_stage(ws, publishing(1))
    old = sets.live(ws.root)
    audited = sets.write_set(ws.root, "r2", [])
    ws.audit.append({"action": "stage:publish", sets.AUDIT_KEY: audited.audit_entry()})
    unaudited = sets.write_set(ws.root, "r3", [])
    with pytest.raises(sets.PublishedSetError, match="run any stage to roll forward"):
        sets.check(ws.root, ws.audit.records())
    assert sets.settle(ws.root, ws.audit.records()) == audited.folder
    assert sets.live(ws.root) == audited.folder
    assert not (ws.root / old).exists() and not (ws.root / unaudited.folder).exists()


def test_a_set_changed_after_its_audit_is_neither_rolled_forward_nor_passed(ws):
    run_stage(ws, publishing(1))
    live = sets.live(ws.root)
    named = sets.write_set(ws.root, "r2", [])
    ws.audit.append({"action": "stage:publish", sets.AUDIT_KEY: named.audit_entry()})
    (ws.root / named.folder / "planted.csv").write_text("x\n1\n")
    sets.settle(ws.root, ws.audit.records())
    assert sets.live(ws.root) == live  # not switched to a set other than the audited one
    (ws.published_dir / "people.csv").write_text("place,people\na,3\n")
    with pytest.raises(sets.PublishedSetError, match=r"1 changed \['people.csv'\]"):
        sets.check(ws.root, ws.audit.records())


def test_only_a_stage_declared_to_publish_may_publish(ws):
    sneaky = publishing(1)
    sneaky = Stage("measure", "", (), (), sneaky.build)
    with pytest.raises(StageError, match="only a stage declared with publishes=True"):
        run_stage(ws, sneaky)
    assert list(ws.published_dir.glob("*.csv")) == []


def test_a_failed_stage_leaves_no_restricted_file_it_made(ws):
    def build(inp):
        # A table name the warehouse refuses: the commit fails after the restricted file
        # was written.
        return StageOutput(
            tables={"Bad": table(1)}, restricted={"rows": ibis.memtable({"nhs": ["x"]})}
        )

    with pytest.raises(WorkspaceError, match="table name 'Bad'"):
        run_stage(ws, Stage("ingest", "", (), ("Bad",), build))
    assert list(ws.quarantine_dir.rglob("*.parquet")) == []
    assert list(ws.quarantine_dir.glob(f"{PENDING_PREFIX}*")) == []


def test_the_manifest_lists_every_file_with_its_sha256(ws):
    run_stage(ws, publishing(1))
    manifest = json.loads((ws.published_dir / sets.MANIFEST).read_text())
    assert sorted(manifest["files"]) == ["people.csv", "people.disclosure.json"]
