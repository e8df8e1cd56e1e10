"""Tamper-evident audit trail: an append-only, hash-chained JSON Lines log.

Each record carries ``seq``, ``prev`` (the previous record's hash) and ``hash`` (SHA-256 of its
own canonical JSON without ``hash``), so editing, removing, inserting or reordering any record
breaks the chain. ``HEAD`` remembers the last sequence number and hash, so cutting whole records
off the end is caught too; publishing ``Verification.head_hash`` elsewhere (e.g. in board
minutes) anchors the whole history up to that point.

Only counts, fingerprints and run metadata belong here, never row-level (patient) data: the log
is meant to be kept and shared indefinitely, which would be unlawful for personal data.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
RESERVED = ("seq", "prev", "hash")


class AuditError(Exception):
    """The log cannot be read, or is not intact and so must not be extended."""


@dataclass(frozen=True)
class Verification:
    """Outcome of ``AuditLog.verify``; ``first_bad`` is a 1-based record position."""

    ok: bool
    records: int
    first_bad: int | None
    reason: str
    head_hash: str | None


def canonical(obj: Any) -> str:
    """One spelling per value, so the hash depends only on content (NaN is not JSON: refused)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(line: bytes) -> dict | None:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


class AuditLog:
    """The audit trail in one directory: ``log.jsonl``, ``HEAD`` and ``.lock``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / "log.jsonl"
        self.head_path = self.directory / "HEAD"
        self.lock_path = self.directory / ".lock"

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        # flock, not a lock file's existence: the kernel releases it if the process dies.
        with open(self.lock_path, "a") as fh:
            fcntl.flock(fh, mode)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _lines(self) -> list[bytes]:
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        if lines[-1] == b"":  # trailing newline (or empty file): not a record
            lines.pop()
        return lines

    def records(self) -> list[dict]:
        """All records in file order; no chain checks (use ``verify`` for that)."""
        with self._locked(fcntl.LOCK_SH):
            out = []
            for i, line in enumerate(self._lines(), 1):
                rec = _parse(line)
                if rec is None:
                    raise AuditError(f"record {i} is not valid JSON (edited or cut short)")
                out.append(rec)
            return out

    def verify(self) -> Verification:
        """Walk the chain and compare with HEAD; see the module docstring for what is caught."""
        with self._locked(fcntl.LOCK_SH):
            return self._verify()

    def _verify(self) -> Verification:
        def bad(n: int, first: int | None, reason: str) -> Verification:
            return Verification(False, n, first, reason, None)

        hashes = [GENESIS]  # hashes[i] is the stored hash of record i; 0 is the genesis
        for i, line in enumerate(self._lines(), 1):
            n = i - 1
            rec = _parse(line)
            if rec is None:
                return bad(n, i, f"record {i} is not valid JSON (edited or cut short)")
            seq = rec.get("seq")
            if type(seq) is not int or seq != i:
                return bad(
                    n,
                    i,
                    f"record at position {i} has seq {seq!r}: "
                    "a record was removed, inserted or reordered",
                )
            if rec.get("prev") != hashes[-1]:
                return bad(n, i, f"chain broken at record {i}: record {i - 1} or {i} was edited")
            try:
                ok_hash = rec.get("hash") == record_hash(rec)
            except ValueError:  # NaN/Infinity smuggled in by hand
                ok_hash = False
            if not ok_hash:
                return bad(n, i, f"record {i} was edited (its hash does not match its content)")
            hashes.append(rec["hash"])
        n = len(hashes) - 1

        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if n:
                return bad(n, None, "HEAD is missing")
            return Verification(True, 0, None, "intact: 0 records", None)
        except (UnicodeDecodeError, ValueError):
            return bad(n, None, "HEAD is not valid JSON")
        if not isinstance(head, dict) or type(head.get("seq")) is not int or head["seq"] < 0:
            return bad(n, None, "HEAD is malformed")
        k = head["seq"]
        if k > n:
            return bad(n, n + 1, f"log truncated: HEAD records {k} records but the log holds {n}")
        if hashes[k] != head.get("hash"):
            return bad(n, k, f"record {k} was edited")
        # Records after HEAD that chain correctly are a crash before HEAD was updated: accepted.
        return Verification(True, n, None, f"intact: {n} records", hashes[-1] if n else None)

    def _write_head(self, seq: int, digest: str) -> None:
        # Temp file + os.replace: a crash leaves the old HEAD or the new one, never half of one.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".HEAD.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(canonical({"seq": seq, "hash": digest}))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.head_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)

    def append(self, entry: Mapping[str, Any]) -> dict:
        """Add one record and return it; refuses if the log does not verify."""
        for key in RESERVED:
            if key in entry:
                raise ValueError(f"audit entry may not contain reserved key {key!r}")
        with self._locked(fcntl.LOCK_EX):
            v = self._verify()
            if not v.ok:
                raise AuditError(f"refusing to append to a log that does not verify: {v.reason}")
            record = dict(entry)
            record.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            record["seq"] = v.records + 1
            record["prev"] = v.head_hash or GENESIS
            # Round-trip so the returned record is exactly what a reader will see and hash.
            record = json.loads(canonical(record))
            record["hash"] = record_hash(record)
            created = not self.log_path.exists()
            with open(self.log_path, "ab") as fh:
                fh.write((canonical(record) + "\n").encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            if created:
                _fsync_dir(self.directory)
            self._write_head(record["seq"], record["hash"])  # also repairs a stale HEAD
            return record
