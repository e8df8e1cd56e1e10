"""Property tests: every single tampering of a valid audit log is caught, at the right record."""

import hashlib
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from openphm.audit import AuditLog

payloads = st.dictionaries(
    st.text(alphabet="abcdefg", min_size=1, max_size=4),  # never a reserved key or "time"
    st.one_of(st.text(max_size=8), st.integers()),
    min_size=1,
    max_size=4,
)
logs = st.lists(payloads, min_size=1, max_size=12)
MUTATIONS = ["edit", "edit_rehash", "delete", "swap", "truncate", "cut"]


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build(directory, entries):
    log = AuditLog(Path(directory))
    for entry in entries:
        log.append(entry)
    return log


def write_lines(log, lines):
    log.log_path.write_bytes(b"".join(line + b"\n" for line in lines))


def mutate(data, log, n):
    """Apply one mutation drawn from MUTATIONS; return (expected first_bad, reason fragment)."""
    lines = log.log_path.read_bytes().split(b"\n")[:-1]
    assert len(lines) == n
    kind = data.draw(st.sampled_from(MUTATIONS if n > 1 else [m for m in MUTATIONS if m != "swap"]))
    if kind in ("edit", "edit_rehash"):
        k = data.draw(st.integers(1, n))
        rec = json.loads(lines[k - 1])
        key = data.draw(
            st.sampled_from(sorted(k_ for k_ in rec if k_ not in ("seq", "prev", "hash", "time")))
        )
        rec[key] = rec[key] + 1 if isinstance(rec[key], int) else rec[key] + "x"
        if kind == "edit_rehash":
            body = {f: v for f, v in rec.items() if f != "hash"}
            rec["hash"] = hashlib.sha256(canon(body).encode("utf-8")).hexdigest()
        lines[k - 1] = canon(rec).encode("utf-8")
        write_lines(log, lines)
        # A re-hashed record is self-consistent, so the break shows at the next record's prev
        # link (rule 3) or, for the last record, at HEAD.
        if kind == "edit":
            return k, f"record {k} was edited (its hash does not match"
        if k < n:
            return k + 1, f"chain broken at record {k + 1}"
        return k, f"record {k} was edited"
    if kind == "delete":
        k = data.draw(st.integers(1, n))
        del lines[k - 1]
        write_lines(log, lines)
        if k == n:  # losing the last line is indistinguishable from truncation
            return k, f"HEAD records {n} records but the log holds {n - 1}"
        return k, f"record at position {k} has seq {k + 1}: a record was removed"
    if kind == "swap":
        k = data.draw(st.integers(1, n - 1))
        lines[k - 1], lines[k] = lines[k], lines[k - 1]
        write_lines(log, lines)
        return k, f"record at position {k} has seq {k + 1}: a record was removed"
    if kind == "truncate":
        m = data.draw(st.integers(0, n - 1))
        write_lines(log, lines[:m])
        return m + 1, f"log truncated: HEAD records {n} records but the log holds {m}"
    k = data.draw(st.integers(1, n))  # cut: strictly inside line k, before its newline
    keep = data.draw(st.integers(1, len(lines[k - 1]) - 1))
    raw = b"".join(line + b"\n" for line in lines[: k - 1]) + lines[k - 1][:keep]
    log.log_path.write_bytes(raw)
    return k, f"record {k} is not valid JSON (edited or cut short)"


@settings(max_examples=150, deadline=None)
@given(entries=logs)
def test_unmutated_log_verifies(entries):
    with tempfile.TemporaryDirectory() as d:
        log = build(d, entries)
        v = log.verify()
        recs = log.records()
        assert v.ok, v.reason
        assert v.records == len(entries) and v.first_bad is None
        assert v.head_hash == recs[-1]["hash"]
        assert [{k: r[k] for k in e} for r, e in zip(recs, entries, strict=True)] == entries


@settings(max_examples=150, deadline=None)
@given(entries=logs, data=st.data())
def test_any_single_mutation_is_caught_at_the_right_record(entries, data):
    with tempfile.TemporaryDirectory() as d:
        log = build(d, entries)
        expected, reason = mutate(data, log, len(entries))
        v = log.verify()
        assert not v.ok
        assert v.first_bad == expected, v
        assert reason in v.reason, v
        assert v.head_hash is None
