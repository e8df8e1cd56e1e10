"""Attacks on the audit trail (issue 16).

Publishing with a damaged audit log: with one record edited, the publish stage rewrote all
41 published files and then crashed with a stack trace, so the new files were never audited.
Now no stage runs on a damaged trail, and nothing changes.

Item 9, a determined editor: deleting the log and its head, appending a forged but correctly
chained record, swapping in another workspace's audit/, rewriting the whole chain, and cutting
the last record off and rewriting HEAD all verified as intact. Now each is reported, naming
what was found; an exported head also catches a rollback of the whole workspace.
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from openphm.audit import GENESIS, AuditError, canonical, head_mac, record_hash, record_mac
from openphm.cli import app
from openphm.runner import StageError, load_sources, run_stage
from openphm.sample import sample_population
from openphm.stages import STAGES
from openphm.workspace import Workspace

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


# --- issue 16, item 9: an audit trail that holds against a determined editor ---------------------
# The red team made each of these verify as intact on the unauthenticated chain. Every record
# now carries an HMAC (key outside the workspace) over the workspace's id and its hash, and so
# does HEAD; each attack below must be reported, naming what was found.

KEYLESS_ATTACKER = b"the-attackers-own-key-of-32-bytes-or-more"


def audited(ws):
    """A workspace that has loaded data, measured and published: three audit records."""
    load_sources(ws, sample_population(300, seed=5), source="sample")
    run_stage(ws, MEASURE)
    run_stage(ws, PUBLISH)
    assert ws.audit.verify().authenticated
    return ws


def log_records(ws) -> list[dict]:
    return [json.loads(line) for line in (ws.audit_dir / "log.jsonl").read_text().splitlines()]


def write_log(ws, records: list[dict], head: dict) -> None:
    text = "".join(canonical(r) + "\n" for r in records)
    (ws.audit_dir / "log.jsonl").write_text(text)
    (ws.audit_dir / "HEAD").write_text(canonical(head))


def rechain(records: list[dict], mac=None) -> list[dict]:
    """What an editor with write access does: recompute every prev and hash (and a mac, if
    given a way to make one)."""
    out, prev = [], GENESIS
    for seq, rec in enumerate(records, 1):
        rec = {k: v for k, v in rec.items() if k not in ("hash", "mac")}
        rec.update(seq=seq, prev=prev)
        rec["hash"] = prev = record_hash(rec)
        if mac is not None:
            rec["mac"] = mac(rec)
        out.append(rec)
    return out


def refused(ws) -> str:
    with pytest.raises(StageError) as info:
        run_stage(ws, MEASURE)
    return str(info.value)


def test_deleting_the_log_and_its_head_is_caught(ws):
    audited(ws)
    (ws.audit_dir / "log.jsonl").unlink()
    (ws.audit_dir / "HEAD").unlink()
    v = ws.audit.verify()
    assert not v.ok
    assert "audit log is empty or missing" in v.reason and "deleted" in v.reason
    assert "empty or missing" in refused(ws)  # and no stage runs
    # Without published files too, workspace.json still remembers the audit had begun.
    live = ws.published_dir.resolve()  # published/ is a link to the live set's folder
    ws.published_dir.unlink()
    shutil.rmtree(live)
    ws.published_dir.mkdir()
    v = ws.audit.verify()
    assert not v.ok and "workspace.json records that this workspace's audit had begun" in v.reason


def test_an_unaudited_new_workspace_still_verifies(ws):
    v = ws.audit.verify()
    assert v.ok and v.records == 0 and v.reason == "intact: 0 records"


def test_a_correctly_chained_record_appended_without_the_key_is_caught(ws):
    records = log_records(audited(ws))
    forged = rechain([*records, {"action": "stage:publish", "user": "someone else"}])[-1]
    head = {"seq": forged["seq"], "hash": forged["hash"]}
    write_log(ws, [*records, forged], head)
    v = ws.audit.verify()
    assert not v.ok and v.first_bad == 4
    assert v.reason.startswith("record 4 carries no mac although record 1 before it does")


def test_a_record_forged_with_another_key_is_caught(ws):
    records = log_records(audited(ws))
    workspace_id = json.loads((ws.root / "workspace.json").read_text())["id"]  # readable

    def attackers_mac(rec):
        return record_mac(KEYLESS_ATTACKER, workspace_id, rec["hash"])

    forged = rechain([*records, {"action": "stage:publish"}], mac=attackers_mac)[-1]
    head = {
        "seq": 4,
        "hash": forged["hash"],
        "mac": head_mac(KEYLESS_ATTACKER, workspace_id, 4, forged["hash"]),
    }
    write_log(ws, [*records, forged], head)
    v = ws.audit.verify()
    assert not v.ok and v.first_bad == 4
    assert "record 4's mac does not match although record(s) before it do" in v.reason


def test_another_workspaces_audit_trail_swapped_in_is_caught(ws, tmp_path):
    audited(ws)
    other = Workspace.init(tmp_path / "other")  # same key (the same environment variable)
    try:
        load_sources(other, sample_population(300, seed=5), source="sample")
        assert other.audit.verify().authenticated
    finally:
        other.close()
    shutil.rmtree(ws.audit_dir)
    shutil.copytree(other.audit_dir, ws.audit_dir)
    v = ws.audit.verify()
    assert not v.ok and v.first_bad == 1
    assert "record 1's mac does not match" in v.reason and "another workspace" in v.reason


def test_rewriting_the_whole_chain_is_caught(ws):
    records = log_records(audited(ws))
    old_macs = iter(r["mac"] for r in records)
    records[0]["user"] = "someone else"
    # Without macs: a downgrade to the old, unkeyed format.
    rewritten = rechain(records)
    write_log(ws, rewritten, {"seq": 3, "hash": rewritten[-1]["hash"]})
    v = ws.audit.verify()
    assert not v.ok
    assert "none of the log's 3 records carries a mac although [audit] key_env" in v.reason
    # Keeping the old macs: they no longer match the new hashes.
    rewritten = rechain(records, mac=lambda rec: next(old_macs, "0" * 64))
    write_log(ws, rewritten, {"seq": 3, "hash": rewritten[-1]["hash"], "mac": "0" * 64})
    v = ws.audit.verify()
    assert not v.ok and v.first_bad == 1 and "record 1's mac does not match" in v.reason


def test_cutting_the_last_record_and_rewriting_head_is_caught(ws):
    records = log_records(audited(ws))
    kept = records[:-1]
    # HEAD rewritten without a mac, then with the cut record's own mac (another domain).
    for head in (
        {"seq": 2, "hash": kept[-1]["hash"]},
        {"seq": 2, "hash": kept[-1]["hash"], "mac": kept[-1]["mac"]},
    ):
        write_log(ws, kept, head)
        v = ws.audit.verify()
        assert not v.ok and v.first_bad is None
        assert v.reason.startswith(("HEAD carries no mac", "HEAD's mac does not match")), v.reason
        assert "HEAD" in refused(ws)


def test_an_exported_head_catches_a_rollback_of_the_whole_workspace(ws, tmp_path):
    audited(ws)
    backup = tmp_path / "backup"
    shutil.copytree(ws.root, backup)  # an earlier, consistent copy of everything
    run_stage(ws, MEASURE)
    exported = ws.audit.head()
    assert set(exported) == {"workspace", "seq", "hash", "mac"} and exported["seq"] == 4
    # Roll the audit trail back to the copy: it is self-consistent, so it verifies alone...
    shutil.rmtree(ws.audit_dir)
    shutil.copytree(backup / "audit", ws.audit_dir)
    assert ws.audit.verify().ok
    # ...but not against the head kept elsewhere.
    v = ws.audit.verify_against(exported)
    assert not v.ok
    assert "exported head is at record 4 but the log holds 3" in v.reason
    assert "rolled back" in v.reason


def test_an_exported_head_catches_a_rewrite_by_someone_holding_the_key(ws, audit_key):
    records = log_records(audited(ws))
    exported = ws.audit.head()
    workspace_id = exported["workspace"]
    records[1]["user"] = "someone else"
    rewritten = rechain(records, mac=lambda rec: record_mac(audit_key, workspace_id, rec["hash"]))
    last = rewritten[-1]["hash"]
    write_log(
        ws, rewritten, {"seq": 3, "hash": last, "mac": head_mac(audit_key, workspace_id, 3, last)}
    )
    assert ws.audit.verify().ok  # the key holder can re-sign: only the export shows it
    v = ws.audit.verify_against(exported)
    assert not v.ok and v.first_bad == 3
    assert "record 3 is not the one exported: the log was rewritten" in v.reason


def test_the_command_line_exports_the_head_and_checks_against_it(ws, tmp_path):
    audited(ws)
    head = CliRunner().invoke(app, ["audit", "head", "-w", str(ws.root)])
    assert head.exit_code == 0, head.output
    exported = json.loads(head.output)  # one line of JSON
    (tmp_path / "minutes.json").write_text(head.output)
    for given in (head.output.strip(), str(tmp_path / "minutes.json")):
        ok = CliRunner().invoke(app, ["audit", "verify", "-w", str(ws.root), "--head", given])
        assert ok.exit_code == 0, ok.output
        assert "authenticated with the audit key" in ok.output and "exported head" in ok.output
    records = log_records(ws)[:2]
    write_log(ws, records, {"seq": 2, "hash": records[-1]["hash"], "mac": "0" * 64})
    bad = CliRunner().invoke(
        app, ["audit", "verify", "-w", str(ws.root), "--head", json.dumps(exported)]
    )
    assert bad.exit_code == 1
    assert "damaged" in bad.output


# --- keys: missing, wrong, or never configured ---------------------------------------------------


def without_audit_key_setting(ws) -> Workspace:
    config = ws.root / "openphm.toml"
    text = config.read_text()
    assert "[audit]\n" in text
    config.write_text(
        text.replace('key_env = "OPENPHM_AUDIT_KEY"\n', "", 1).replace("[audit]\n", "")
    )
    ws.close()
    return Workspace(ws.root)


def test_a_keyed_log_verified_without_a_key_says_the_macs_were_not_checked(ws):
    audited(ws)
    keyless = without_audit_key_setting(ws)
    try:
        v = keyless.audit.verify()
        assert v.ok and v.keyed and not v.authenticated
        assert "chain intact: 3 records, but their macs were NOT checked" in v.reason
        message = refused(keyless)  # nor can anyone add records without the key
        assert "authenticated with a key, but openphm.toml has no [audit] key_env" in message
        with pytest.raises(AuditError, match="authenticated with an audit key but none"):
            keyless.audit.append({"action": "forged"})
        result = CliRunner().invoke(app, ["audit", "verify", "-w", str(keyless.root)])
        assert result.exit_code == 0 and "NOT checked" in " ".join(result.output.split())
    finally:
        keyless.close()


def test_the_wrong_key_stops_a_stage_naming_the_setting_and_never_showing_a_key(
    ws, monkeypatch, audit_key
):
    audited(ws)
    wrong = "a-different-audit-key-that-is-long-enough"
    monkeypatch.setenv("OPENPHM_AUDIT_KEY", wrong)
    fresh = Workspace(ws.root)
    try:
        message = refused(fresh)
    finally:
        fresh.close()
    assert "[audit] key_env = OPENPHM_AUDIT_KEY" in message and "not the one" in message
    assert wrong not in message and audit_key.decode() not in message


def test_a_missing_key_stops_a_stage_naming_the_setting(ws, monkeypatch):
    audited(ws)
    monkeypatch.delenv("OPENPHM_AUDIT_KEY")
    fresh = Workspace(ws.root)
    try:
        message = refused(fresh)
    finally:
        fresh.close()
    assert "audit.key_env: environment variable OPENPHM_AUDIT_KEY is not set" in message


def test_an_unkeyed_workspace_still_runs_and_can_be_sealed_later(ws):
    unkeyed = without_audit_key_setting(ws)
    try:
        load_sources(unkeyed, sample_population(300, seed=5), source="sample")
        run_stage(unkeyed, MEASURE)
        v = unkeyed.audit.verify()
        assert v.ok and not v.keyed and "unauthenticated" in v.reason
        assert "openphm audit seal" in v.reason  # says how to start authenticating
    finally:
        unkeyed.close()
    (ws.root / "openphm.toml").write_text(
        (ws.root / "openphm.toml").read_text() + '\n[audit]\nkey_env = "OPENPHM_AUDIT_KEY"\n'
    )
    keyed = Workspace(ws.root)
    try:
        assert not keyed.audit.verify().ok  # key configured, nothing keyed: a downgrade?
        assert "openphm audit seal" in refused(keyed)
        sealed = keyed.audit.seal()
        assert sealed["action"] == "audit:seal" and sealed["unauthenticated_records"] == 2
        run_stage(keyed, MEASURE)
        v = keyed.audit.verify()
        assert v.ok and v.authenticated
        assert "records 3 to 4 authenticated with the audit key, the 2 before them" in v.reason
    finally:
        keyed.close()
