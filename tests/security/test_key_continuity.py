"""A wrong pseudonymisation key on a re-run (issue 16, item 8): pointed at another key,
`openphm run` silently re-pseudonymised everyone (0 of 1,909 pseudonyms kept), exited 0
and left nothing in the audit trail. Now the workspace keeps its key's fingerprint (never
the key); a different key stops the run before anything changes, with a message naming
the setting and `--rekey`; and only `openphm run --rekey` changes the key, on the record."""

from __future__ import annotations

import getpass
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from openphm import engine
from openphm.cli import app
from openphm.ingest import stage as ingest
from openphm.key_continuity import (
    AUDIT_FIELD,
    FINGERPRINT_FILE,
    FINGERPRINT_FILE_MODE,
    KeyChanged,
    fingerprint,
)
from openphm.link import stage as link
from openphm.runner import Stage, StageOutput, run_stage
from openphm.synth import generate
from openphm.workspace import Workspace
from tests.e2e.workspaces import KEY, configure_sources

PEOPLE = 300
OTHER_KEY = b"a-second-key-for-the-same-workspace-0123456789"
KEY_ENV = "OPENPHM_PSEUDONYM_KEY"  # what `openphm init` writes


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def flat(result: Result) -> str:
    """The output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A workspace whose people were pseudonymised once, under KEY."""
    synth = tmp_path_factory.mktemp("synth")
    generate(synth, people=PEOPLE, seed=8)
    ws = configure_sources(tmp_path_factory.mktemp("built") / "ws", synth)
    run_stage(ws, ingest.STAGE)
    run_stage(ws, link.STAGE)
    ws.close()
    return ws.root


@pytest.fixture
def copy(built, tmp_path) -> Path:
    """A copy of the built workspace, with a key file of its own (still holding KEY)."""
    root = tmp_path / "ws"
    shutil.copytree(built, root)
    config = root / "openphm.toml"
    config.write_text(config.read_text().replace(str(built), str(root)))
    return root


def state(root: Path) -> dict:
    """What a run could change: the catalog, every table's content, the audit trail, the
    stored fingerprint, and the people's pseudonyms."""
    ws = Workspace(root)
    try:
        tables = {t: engine.fingerprint(ws.table(t)) for t in ws.catalog()}
        people = set(ws.table("person").person_id.to_pyarrow().to_pylist())
    finally:
        ws.close()
    return {
        "catalog": (root / "catalog.json").read_text(),
        "tables": tables,
        "people": people,
        "audit": (root / "audit" / "log.jsonl").read_text(),
        "fingerprint": (root / FINGERPRINT_FILE).read_text(),
    }


def last_link_record(root: Path) -> dict:
    records = Workspace(root).audit.records()
    return next(r for r in reversed(records) if r["action"] == "stage:link")


def test_a_different_key_stops_the_run_before_ingest_and_changes_nothing(copy):
    before = state(copy)
    (copy / "pseudonym.key").write_bytes(OTHER_KEY)
    result = invoke("run", "--dir", copy)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = flat(result)
    assert "pseudonymisation.key_file" in message
    assert "`openphm run --rekey`" in message
    assert fingerprint(KEY) in message and fingerprint(OTHER_KEY) in message
    assert "did not run and nothing was changed" in message
    assert KEY.decode() not in message and OTHER_KEY.decode() not in message
    # Stopped before ingest: no table, no audit record, no scratch folder.
    assert state(copy) == before
    assert not list(copy.glob("staging-*"))


def test_rekey_re_pseudonymises_everyone_on_the_record(copy):
    ws = Workspace(copy)
    run_stage(ws, ingest.STAGE)  # ingest never reads the key: link is where it stops
    ws.close()
    (copy / "pseudonym.key").write_bytes(OTHER_KEY)
    before = state(copy)

    # The stage itself refuses, under the workspace lock, for callers of the Python API.
    ws = Workspace(copy)
    with pytest.raises(KeyChanged, match=r"pseudonymisation\.key_file .* --rekey"):
        run_stage(ws, link.STAGE)
    ws.close()
    assert state(copy) == before

    result = invoke("run", "--dir", copy, "--stage", "link", "--rekey")
    assert result.exit_code == 0, result.output
    after = state(copy)
    assert len(after["people"]) == len(before["people"])
    assert not after["people"] & before["people"]  # everyone has a new pseudonym
    record = last_link_record(copy)
    assert record[AUDIT_FIELD] == {
        "fingerprint": fingerprint(OTHER_KEY),
        "previous": fingerprint(KEY),
        "rekey": True,
    }
    assert record["user"] == getpass.getuser()
    assert json.loads(after["fingerprint"])["fingerprint"] == fingerprint(OTHER_KEY)

    # The new key is now the workspace's: going back to the old one is another change.
    (copy / "pseudonym.key").write_bytes(KEY)
    result = invoke("run", "--dir", copy)
    assert result.exit_code == 2, result.output
    assert state(copy) == after


def test_the_same_key_again_runs_as_before(copy):
    before = state(copy)
    ws = Workspace(copy)
    run_stage(ws, ingest.STAGE)
    ws.close()
    result = invoke("run", "--dir", copy, "--stage", "link")
    assert result.exit_code == 0, result.output
    after = state(copy)
    assert after["people"] == before["people"]
    assert after["fingerprint"] == before["fingerprint"]
    assert last_link_record(copy)[AUDIT_FIELD] == {"fingerprint": fingerprint(KEY)}


def test_the_fingerprint_file_never_holds_the_key(built):
    path = built / FINGERPRINT_FILE
    data = path.read_bytes()
    for spelling in (KEY, KEY.hex().encode(), KEY.upper(), KEY[:16]):
        assert spelling not in data
    stored = json.loads(data)["fingerprint"]
    assert stored == fingerprint(KEY) and len(stored) == 16
    assert path.stat().st_mode & 0o777 == FINGERPRINT_FILE_MODE
    assert KEY not in (built / "audit" / "log.jsonl").read_bytes()
    first = last_link_record(built)[AUDIT_FIELD]
    assert first == {"fingerprint": fingerprint(KEY), "first_use": True}


def test_deleting_the_fingerprint_file_does_not_let_another_key_in(copy):
    (copy / FINGERPRINT_FILE).unlink()
    (copy / "pseudonym.key").write_bytes(OTHER_KEY)
    result = invoke("run", "--dir", copy)
    assert result.exit_code == 2, result.output
    assert fingerprint(KEY) in flat(result)  # found in the audit trail


def test_rekey_needs_a_stage_that_reads_the_key(copy):
    result = invoke("run", "--dir", copy, "--stage", "measure", "--rekey")
    assert result.exit_code == 2, result.output
    assert "link" in flat(result) and "--stage" in flat(result)


def _keyed(fail: bool = False) -> Stage:
    def build(inp):
        if fail:
            raise RuntimeError("the stage broke before it committed")
        return StageOutput(tables={"keyed": pd.DataFrame({"n": [1]})})

    return Stage("keyed", "a stage that reads the key", (), ("keyed",), build, reads_key=True)


def test_a_rekey_that_fails_before_commit_keeps_the_old_fingerprint(ws, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    run_stage(ws, _keyed())
    stored = (ws.root / FINGERPRINT_FILE).read_text()
    monkeypatch.setenv(KEY_ENV, OTHER_KEY.decode())
    with pytest.raises(RuntimeError, match="broke before it committed"):
        run_stage(ws, _keyed(fail=True), rekey=True)
    assert (ws.root / FINGERPRINT_FILE).read_text() == stored
    with pytest.raises(KeyChanged, match=r"key_env \(environment variable OPENPHM_PSEUDONYM_KEY"):
        run_stage(ws, _keyed())


def test_fingerprints_tell_keys_apart_and_say_nothing_else():
    assert fingerprint(KEY) == fingerprint(KEY)
    assert fingerprint(KEY) != fingerprint(OTHER_KEY)
    assert len(fingerprint(KEY)) == 16 and int(fingerprint(KEY), 16) >= 0
