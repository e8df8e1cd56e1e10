"""Tamper-evident audit trail: an append-only, hash-chained, authenticated JSON Lines log.

Each record carries ``seq``, ``prev`` (the previous record's hash) and ``hash`` (SHA-256 of its
own canonical JSON without ``hash`` and ``mac``), so editing, removing, inserting or reordering
any record breaks the chain. ``HEAD`` remembers the last sequence number and hash, so cutting
whole records off the end is caught too.

A chain alone proves nothing to someone who can rewrite it: anyone with write access can
recompute every hash. So when an audit key is configured (kept outside the workspace), each
record also carries ``mac``, an HMAC-SHA256 over the workspace's random id and the record's hash,
and HEAD carries one too. Then:

- a record appended or rewritten without the key fails its mac;
- once one record carries a mac, every later one must (no downgrade to unkeyed records);
- another workspace's ``audit/`` swapped in fails, because the id bound into its macs differs;
- truncating the log and rewriting HEAD fails HEAD's mac;
- an empty or missing log where the workspace shows it was audited (the identity file says so,
  or ``published/`` holds files) is reported as deleted, not as a fresh log.

What no file in the workspace can prove: that the whole workspace was not put back to an
earlier, consistent copy, nor that someone holding the key did not rewrite the log. Export
``AuditLog.head()`` (``openphm audit head``) somewhere else and check against it
(``openphm audit verify --head``) for that.

Only counts, fingerprints and run metadata belong here, never row-level (patient) data: the log
is meant to be kept and shared indefinitely, which would be unlawful for personal data.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openphm.files import fsync_dir

GENESIS = "0" * 64
RESERVED = ("seq", "prev", "hash", "mac")
# Domain separation: a record's mac can never be passed off as HEAD's, or the reverse.
RECORD_MAC_DOMAIN = b"openphm-audit-record-v1"
HEAD_MAC_DOMAIN = b"openphm-audit-head-v1"
SEAL_ACTION = "audit:seal"
NO_KEY_HINT = (
    "configure an audit key kept outside the workspace: [audit] key_env or key_file in openphm.toml"
)

Key = bytes | Callable[[], bytes]


class AuditError(Exception):
    """The log cannot be read, or is not intact and so must not be extended."""


@dataclass(frozen=True)
class Verification:
    """Outcome of ``AuditLog.verify``; ``first_bad`` is a 1-based record position.

    ``keyed``: some record carries a mac. ``authenticated``: a key was configured and every
    mac it could check matched (records before the first keyed one predate the key).
    """

    ok: bool
    records: int
    first_bad: int | None
    reason: str
    head_hash: str | None
    keyed: bool = False
    authenticated: bool = False


def canonical(obj: Any) -> str:
    """One spelling per value, so the hash depends only on content (NaN is not JSON: refused)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k not in ("hash", "mac")}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def record_mac(key: bytes, workspace_id: str, digest: str) -> str:
    message = b"\0".join((RECORD_MAC_DOMAIN, workspace_id.encode(), digest.encode()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_mac(key: bytes, workspace_id: str, seq: int, digest: str) -> str:
    parts = (HEAD_MAC_DOMAIN, workspace_id.encode(), str(seq).encode(), digest.encode())
    message = b"\0".join(parts)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _replace_atomically(path: Path, text: str) -> None:
    # Temp file + os.replace: a crash leaves the old file or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _parse(line: bytes) -> dict | None:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


class Identity:
    """The workspace's random id, bound into every mac, in a small file outside ``audit/``.

    It also remembers that the workspace's audit has begun, so a deleted log is not mistaken
    for a new one.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (UnicodeDecodeError, ValueError):
            raise AuditError(f"{self.path.name} is not valid JSON (edited by hand?)") from None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise AuditError(f"{self.path.name} holds no workspace id (edited by hand?)")
        return data

    @property
    def id(self) -> str | None:
        return self.read().get("id")

    @property
    def audit_begun(self) -> bool:
        return self.read().get("audit_begun") is True

    def ensure(self, audit_begun: bool = False) -> str:
        """The id, made (random, 128 bits) if the workspace has none yet."""
        data = self.read() or {"id": secrets.token_hex(16)}
        if audit_begun and data.get("audit_begun") is not True:
            data = {**data, "audit_begun": True}
        elif self.path.exists():
            return data["id"]
        _replace_atomically(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        return data["id"]


class AuditLog:
    """The audit trail in one directory: ``log.jsonl``, ``HEAD`` and ``.lock``.

    ``key``: the audit key (or a function reading it, called only when needed); None keeps an
    unauthenticated chain. ``identity``: the workspace's identity file (required with a key).
    ``evidence``: says what shows the workspace was used (e.g. published files), or None;
    with it an empty log does not verify. ``key_setting`` names where the key is configured,
    for messages.
    """

    def __init__(
        self,
        directory: Path,
        key: Key | None = None,
        identity: Path | None = None,
        evidence: Callable[[], str | None] | None = None,
        key_setting: str = "the audit key",
    ) -> None:
        if key is not None and identity is None:
            raise ValueError("an audit key needs the workspace identity file to bind its id")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / "log.jsonl"
        self.head_path = self.directory / "HEAD"
        self.lock_path = self.directory / ".lock"
        self._key_source = key
        self._key_value: bytes | None = None
        self.identity = Identity(identity) if identity is not None else None
        self._evidence = evidence
        self.key_setting = key_setting

    @property
    def key_configured(self) -> bool:
        return self._key_source is not None

    def _key(self) -> bytes:
        if self._key_value is None:
            source = self._key_source
            self._key_value = source() if callable(source) else source
        return self._key_value

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
        """Walk the chain, check macs and HEAD; see the module docstring for what is caught."""
        with self._locked(fcntl.LOCK_SH):
            return self._verify()

    def _workspace_id(self) -> str | None:
        return self.identity.id if self.identity is not None else None

    def _verify(self, allow_unkeyed: bool = False) -> Verification:
        def bad(n: int, first: int | None, reason: str) -> Verification:
            return Verification(False, n, first, reason, None, keyed_from is not None)

        keyed_from: int | None = None  # position of the first record with a mac
        key = self._key() if self.key_configured else None
        try:
            wid = self._workspace_id() if key is not None else None
        except AuditError as exc:
            return bad(0, None, str(exc))
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
            if "mac" not in rec:
                if keyed_from is not None:
                    return bad(
                        n,
                        i,
                        f"record {i} carries no mac although record {keyed_from} before it "
                        "does: it was appended or rewritten by someone without the audit key",
                    )
            else:
                keyed_from = keyed_from or i
                if key is not None:
                    if wid is None:
                        return bad(n, i, self._no_id_reason())
                    if not _same(rec["mac"], record_mac(key, wid, rec["hash"])):
                        return bad(n, i, self._mac_reason(i, first=i == keyed_from))
            hashes.append(rec["hash"])
        n = len(hashes) - 1

        if key is not None and n and keyed_from is None and not allow_unkeyed:
            return bad(
                n,
                1,
                f"none of the log's {n} records carries a mac although {self.key_setting} "
                "configures an audit key: the log was written before the key was configured, "
                "or rewritten by someone without it. If you know it predates the key, "
                "authenticate it from here on with: openphm audit seal",
            )
        if n == 0:
            deleted = self._deletion_evidence()
            if deleted:
                reason = f"the audit log is empty or missing, but {deleted}: it was deleted"
                return bad(0, None, reason)

        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if n:
                return bad(n, None, "HEAD is missing")
            return Verification(True, 0, None, "intact: 0 records", None, False, key is not None)
        except (UnicodeDecodeError, ValueError):
            return bad(n, None, "HEAD is not valid JSON")
        if not isinstance(head, dict) or type(head.get("seq")) is not int or head["seq"] < 0:
            return bad(n, None, "HEAD is malformed")
        k = head["seq"]
        if k > n:
            return bad(n, n + 1, f"log truncated: HEAD records {k} records but the log holds {n}")
        if hashes[k] != head.get("hash"):
            return bad(n, k, f"record {k} was edited")
        if keyed_from is not None and k >= keyed_from:
            if "mac" not in head:
                return bad(
                    n,
                    None,
                    "HEAD carries no mac although the log is keyed: it was rewritten by "
                    "someone without the audit key (records cut off the end?)",
                )
            if key is not None and not _same(head["mac"], head_mac(key, wid, k, hashes[k])):
                return bad(
                    n,
                    None,
                    f"HEAD's mac does not match (HEAD says {k} records): it was rewritten by "
                    "someone without the audit key, for example after cutting records off the end",
                )
        # Records after HEAD that chain (and mac) correctly are a crash before HEAD was
        # updated: accepted.
        head_hash = hashes[-1] if n else None
        keyed = keyed_from is not None
        if key is not None:
            if keyed_from in (None, 1):
                reason = f"intact: {n} records, authenticated with the audit key"
            else:
                reason = (
                    f"intact: {n} records; records {keyed_from} to {n} authenticated with the "
                    f"audit key, the {keyed_from - 1} before them written before it was configured"
                )
            return Verification(True, n, None, reason, head_hash, keyed, True)
        if keyed:
            reason = (
                f"chain intact: {n} records, but their macs were NOT checked: no audit key is "
                f"configured; {NO_KEY_HINT} (the key this log was written with)"
            )
        else:
            reason = (
                f"intact: {n} records, but unauthenticated: whoever can write audit/ could "
                f"rewrite it unnoticed; {NO_KEY_HINT}, then run: openphm audit seal"
            )
        return Verification(True, n, None, reason, head_hash, keyed, False)

    def _mac_reason(self, i: int, first: bool) -> str:
        if first:
            return (
                f"record {i}'s mac does not match: the audit key ({self.key_setting}) is not the "
                "one this log was written with, or this audit/ comes from another workspace "
                "(each workspace's id is bound into its macs), or the record was forged"
            )
        return (
            f"record {i}'s mac does not match although record(s) before it do: it was "
            "forged, or rewritten, by someone without the audit key"
        )

    def _no_id_reason(self) -> str:
        name = self.identity.path.name if self.identity is not None else "the identity file"
        return (
            f"the workspace id ({name}) is missing, so no mac can match: it was deleted, "
            "or this audit/ comes from another workspace"
        )

    def _deletion_evidence(self) -> str | None:
        if self.identity is not None and self.identity.audit_begun:
            return f"{self.identity.path.name} records that this workspace's audit had begun"
        return self._evidence() if self._evidence is not None else None

    def head(self) -> dict:
        """The latest record as ``{workspace, seq, hash, mac}``: keep it somewhere else and
        pass it to ``verify_against`` later to catch a rollback or a rewrite."""
        with self._locked(fcntl.LOCK_SH):
            v = self._verify()
            if not v.ok:
                raise AuditError(f"the log does not verify, so has no head to export: {v.reason}")
            if not v.records:
                raise AuditError("the log is empty: there is no head to export yet")
            head: dict[str, Any] = {"seq": v.records, "hash": v.head_hash}
            if v.authenticated and v.keyed:
                wid = self._workspace_id() or ""
                mac = head_mac(self._key(), wid, v.records, v.head_hash)
                head = {"workspace": wid, **head, "mac": mac}
            return head

    def verify_against(self, exported: Mapping[str, Any]) -> Verification:
        """``verify``, and the log must still hold the exported head's record at its seq."""
        with self._locked(fcntl.LOCK_SH):
            v = self._verify()
            if not v.ok:
                return v
            seq, digest = exported.get("seq"), exported.get("hash")
            if type(seq) is not int or seq < 1 or not isinstance(digest, str):
                raise AuditError('an exported head is {"seq": N, "hash": "...", ...}')

            def bad(first: int | None, reason: str) -> Verification:
                return Verification(False, v.records, first, reason, None, v.keyed)

            ours = self.identity.id if self.identity is not None else None
            if "workspace" in exported and exported["workspace"] != ours:
                return bad(None, "the exported head is from another workspace")
            if seq > v.records:
                return bad(
                    v.records + 1,
                    f"the exported head is at record {seq} but the log holds {v.records}: "
                    "it was cut short or rolled back to an earlier copy",
                )
            rec = _parse(self._lines()[seq - 1]) or {}
            if rec.get("hash") != digest:
                return bad(
                    seq,
                    f"record {seq} is not the one exported: the log was rewritten since the "
                    "head was exported",
                )
            if "mac" in exported and v.authenticated:
                wid = self._workspace_id() or ""
                if not _same(exported["mac"], head_mac(self._key(), wid, seq, digest)):
                    return bad(None, "the exported head's mac does not match (another key?)")
            return Verification(
                True,
                v.records,
                None,
                f"{v.reason}; it holds the exported head (record {seq})",
                v.head_hash,
                v.keyed,
                v.authenticated,
            )

    def _write_head(self, seq: int, digest: str, mac: str | None) -> None:
        head: dict[str, Any] = {"seq": seq, "hash": digest}
        if mac is not None:
            head["mac"] = mac
        _replace_atomically(self.head_path, canonical(head))

    def append(self, entry: Mapping[str, Any]) -> dict:
        """Add one record and return it; refuses if the log does not verify."""
        for key in RESERVED:
            if key in entry:
                raise ValueError(f"audit entry may not contain reserved key {key!r}")
        with self._locked(fcntl.LOCK_EX):
            v = self._verify()
            if not v.ok:
                raise AuditError(f"refusing to append to a log that does not verify: {v.reason}")
            if v.keyed and not self.key_configured:
                raise AuditError(
                    "refusing to append: the log is authenticated with an audit key but none is "
                    f"configured; {NO_KEY_HINT} (the key this log was written with)"
                )
            return self._append(entry, v)

    def seal(self) -> dict:
        """Start authenticating an unkeyed log: append a keyed record vouching for those before.

        Only for a log known to predate the key: whoever runs it vouches that nobody rewrote
        the unkeyed records."""
        if not self.key_configured:
            raise AuditError(f"no audit key is configured; {NO_KEY_HINT}")
        with self._locked(fcntl.LOCK_EX):
            v = self._verify(allow_unkeyed=True)
            if not v.ok:
                raise AuditError(f"refusing to seal a log that does not verify: {v.reason}")
            if v.keyed:
                raise AuditError("the log is already authenticated with the audit key")
            return self._append({"action": SEAL_ACTION, "unauthenticated_records": v.records}, v)

    def _append(self, entry: Mapping[str, Any], v: Verification) -> dict:
        key = self._key() if self.key_configured else None
        wid = self.identity.ensure(audit_begun=True) if self.identity is not None else None
        record = dict(entry)
        record.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        record["seq"] = v.records + 1
        record["prev"] = v.head_hash or GENESIS
        # Round-trip so the returned record is exactly what a reader will see and hash.
        record = json.loads(canonical(record))
        record["hash"] = record_hash(record)
        mac = None
        if key is not None:
            record["mac"] = record_mac(key, wid, record["hash"])
            mac = head_mac(key, wid, record["seq"], record["hash"])
        created = not self.log_path.exists()
        with open(self.log_path, "ab") as fh:
            fh.write((canonical(record) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            fsync_dir(self.directory)
        self._write_head(record["seq"], record["hash"], mac)  # also repairs a stale HEAD
        return record
