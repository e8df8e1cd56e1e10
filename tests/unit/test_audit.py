"""Unit tests for the tamper-evident audit log."""

import hashlib
import json

import pytest

from openphm.audit import GENESIS, AuditError, AuditLog


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def lines(log):
    return log.log_path.read_text(encoding="utf-8").splitlines()


def test_append_records_roundtrip(tmp_path):
    log = AuditLog(tmp_path / "audit")
    a = log.append({"event": "load", "rows": 120, "note": "ünïcode"})
    b = log.append({"event": "cost", "rows": 7, "time": "2024-01-01T00:00:00Z"})
    assert log.records() == [a, b]
    assert a["event"] == "load" and a["rows"] == 120 and a["note"] == "ünïcode"
    assert b["time"] == "2024-01-01T00:00:00Z"
    assert len(a["time"]) == 20 and a["time"].endswith("Z") and a["time"][10] == "T"
    # One canonical JSON record per line, trailing newline.
    raw = log.log_path.read_text(encoding="utf-8")
    assert raw.endswith("\n")
    assert lines(log) == [canon(a), canon(b)]


def test_seq_and_prev_chain(tmp_path):
    log = AuditLog(tmp_path)
    recs = [log.append({"i": i}) for i in range(4)]
    assert [r["seq"] for r in recs] == [1, 2, 3, 4]
    assert recs[0]["prev"] == GENESIS == "0" * 64
    for before, after in zip(recs, recs[1:], strict=False):
        assert after["prev"] == before["hash"]


def test_hash_is_sha256_of_canonical_json_without_hash(tmp_path):
    log = AuditLog(tmp_path)
    for entry in ({"b": 2, "a": "x"}, {"z": [1, 2], "y": {"k": "é"}}):
        rec = log.append(entry)
        body = {k: v for k, v in rec.items() if k != "hash"}
        expected = hashlib.sha256(canon(body).encode("utf-8")).hexdigest()
        assert rec["hash"] == expected
    head = json.loads(log.head_path.read_text())
    assert head == {"seq": 2, "hash": rec["hash"]}


@pytest.mark.parametrize("key", ["seq", "prev", "hash"])
def test_reserved_keys_rejected(tmp_path, key):
    log = AuditLog(tmp_path)
    with pytest.raises(ValueError, match=key):
        log.append({"event": "x", key: 1})
    assert log.records() == []


def test_unserialisable_entry_rejected_and_nothing_written(tmp_path):
    log = AuditLog(tmp_path)
    with pytest.raises(TypeError):
        log.append({"obj": object()})
    with pytest.raises(ValueError):
        log.append({"x": float("nan")})
    assert log.records() == []
    assert log.verify().ok


def test_intact_log_verifies(tmp_path):
    log = AuditLog(tmp_path)
    recs = [log.append({"i": i}) for i in range(5)]
    v = log.verify()
    assert v.ok and v.records == 5 and v.first_bad is None
    assert v.head_hash == recs[-1]["hash"]
    assert v.reason.startswith("intact: 5 records, but unauthenticated")  # no key given


def test_empty_dir_verifies(tmp_path):
    log = AuditLog(tmp_path / "new")
    assert (tmp_path / "new").is_dir()
    v = log.verify()
    assert v.ok and v.records == 0 and v.first_bad is None and v.head_hash is None


def test_head_missing_with_records_fails(tmp_path):
    log = AuditLog(tmp_path)
    log.append({"i": 1})
    log.head_path.unlink()
    v = log.verify()
    assert not v.ok and v.first_bad is None and "HEAD is missing" in v.reason


def test_crash_between_append_and_head(tmp_path):
    log = AuditLog(tmp_path)
    log.append({"i": 1})
    old_head = log.head_path.read_text()
    r2 = log.append({"i": 2})
    log.head_path.write_text(old_head)  # as if we crashed before HEAD was replaced
    v = log.verify()
    assert v.ok and v.records == 2 and v.head_hash == r2["hash"]
    r3 = log.append({"i": 3})
    assert r3["seq"] == 3 and r3["prev"] == r2["hash"]
    assert json.loads(log.head_path.read_text()) == {"seq": 3, "hash": r3["hash"]}


def test_append_refuses_on_tampered_log(tmp_path):
    log = AuditLog(tmp_path)
    for i in range(3):
        log.append({"rows": i})
    ls = lines(log)
    rec = json.loads(ls[1])
    rec["rows"] = 999
    ls[1] = canon(rec)
    log.log_path.write_text("\n".join(ls) + "\n")
    before = log.log_path.read_bytes()
    v = log.verify()
    assert not v.ok and v.first_bad == 2 and "record 2 was edited" in v.reason
    with pytest.raises(AuditError, match="record 2 was edited"):
        log.append({"rows": 4})
    assert log.log_path.read_bytes() == before


def test_log_cut_mid_line_is_caught(tmp_path):
    log = AuditLog(tmp_path)
    for i in range(3):
        log.append({"rows": i})
    raw = log.log_path.read_bytes()
    start_of_3 = raw.rindex(b"\n", 0, len(raw) - 1) + 1
    log.log_path.write_bytes(raw[: start_of_3 + 10])
    v = log.verify()
    assert not v.ok and v.first_bad == 3 and v.records == 2
    assert "not valid JSON" in v.reason
    with pytest.raises(AuditError):
        log.records()
    with pytest.raises(AuditError):
        log.append({"rows": 9})


def test_truncated_log_is_caught(tmp_path):
    log = AuditLog(tmp_path)
    for i in range(3):
        log.append({"rows": i})
    ls = lines(log)
    log.log_path.write_text(ls[0] + "\n")
    v = log.verify()
    assert not v.ok and v.first_bad == 2
    assert v.reason == "log truncated: HEAD records 3 records but the log holds 1"


def test_last_record_edited_with_rehash_caught_by_head(tmp_path):
    log = AuditLog(tmp_path)
    for i in range(2):
        log.append({"rows": i})
    ls = lines(log)
    rec = json.loads(ls[1])
    rec["rows"] = 50
    body = {k: v for k, v in rec.items() if k != "hash"}
    rec["hash"] = hashlib.sha256(canon(body).encode()).hexdigest()
    ls[1] = canon(rec)
    log.log_path.write_text("\n".join(ls) + "\n")
    v = log.verify()
    assert not v.ok and v.first_bad == 2 and v.reason == "record 2 was edited"
