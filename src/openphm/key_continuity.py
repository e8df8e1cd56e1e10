"""Key continuity: a re-run pseudonymises with the key the workspace was built with.

A person_id is HMAC-SHA256 of the NHS number under the pseudonymisation key, so a
different key on a re-run silently gives everyone a new id that links to nothing
before it. The workspace therefore remembers a fingerprint of its key (never the
key) and a stage that reads the key stops, before changing anything, when the key
it is given has another fingerprint. ``openphm run --rekey`` changes the key on
purpose: the stage's audit record holds the old and new fingerprints, and the
stored fingerprint moves only once that stage has committed.

Where the fingerprint is kept: a small file, ``key-fingerprint.json``, beside
openphm.toml, not a warehouse table. It is read before the engine connects and
before ingest starts (a long run stops in its first second, not at link), it is
the same on every engine, and it is not swapped with a stage's tables. Every
audit record of a stage that reads the key also holds the fingerprint, so a
deleted file falls back to the authenticated trail instead of letting any key in.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openphm.config import ConfigError, Pseudonymisation
from openphm.workspace import atomic_write_text

if TYPE_CHECKING:
    from openphm.workspace import Workspace

FINGERPRINT_FILE = "key-fingerprint.json"
# A fixed message under the key, so the fingerprint is no pseudonym of anything and the
# scheme can change (v2) without a stored v1 fingerprint being mistaken for another.
FINGERPRINT_MESSAGE = b"openphm key fingerprint v1"
FINGERPRINT_HEX_DIGITS = 16  # 64 bits: a wrong key slips past 1 time in 2**64
# Not secret, but it confirms a guessed key: readable by the workspace's owner only.
FINGERPRINT_FILE_MODE = 0o600
AUDIT_FIELD = "pseudonymisation_key"  # in the audit record of each stage that reads it


class KeyChanged(ConfigError):
    """The configured key is not the one the workspace's pseudonyms were made with."""


def fingerprint(key: bytes) -> str:
    """HMAC-SHA256(key, FINGERPRINT_MESSAGE), first FINGERPRINT_HEX_DIGITS hex digits."""
    return hmac.digest(key, FINGERPRINT_MESSAGE, "sha256").hex()[:FINGERPRINT_HEX_DIGITS]


@dataclass(frozen=True)
class KeyUse:
    """The key a stage is about to use, and what the workspace held before it."""

    fingerprint: str
    previous: str | None  # None: the workspace has no key recorded yet
    rekey: bool  # a deliberate change (--rekey) from ``previous``

    def audit(self) -> dict[str, Any]:
        """The stage's audit field: fingerprints only, and whether the key changed."""
        entry: dict[str, Any] = {"fingerprint": self.fingerprint}
        if self.previous is None:
            entry["first_use"] = True
        elif self.rekey:
            entry.update(rekey=True, previous=self.previous)
        return entry


def _setting(where: Pseudonymisation) -> str:
    if where.key_env is not None:
        return f"pseudonymisation.key_env (environment variable {where.key_env})"
    return f"pseudonymisation.key_file ({where.key_file})"


def stored(ws: Workspace) -> str | None:
    """The fingerprint the workspace holds: its file, else the latest one audited."""
    path = ws.root / FINGERPRINT_FILE
    if path.exists():
        try:
            value = json.loads(path.read_text(encoding="utf-8"))["fingerprint"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{path} is not a key fingerprint openphm wrote; restore it from a copy, or "
                f"delete it to fall back to the fingerprint in the audit trail"
            ) from None
        return str(value)
    for record in reversed(ws.audit.records()):
        entry = record.get(AUDIT_FIELD)
        if isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str):
            return entry["fingerprint"]
    return None


def check(ws: Workspace, what: str, rekey: bool = False) -> KeyUse:
    """The configured key's use, or KeyChanged when it is not the workspace's key and
    ``rekey`` was not asked for. Reads the key (ConfigError when it cannot be read).

    ``what`` names what the check guards, for the message ("stage 'link'", "this run").
    """
    where = ws.config.pseudonymisation
    current = fingerprint(where.read_key(base=ws.root))
    previous = stored(ws)
    changed = previous is not None and previous != current
    if changed and not rekey:
        raise KeyChanged(
            f"{_setting(where)}: this key (fingerprint {current}) is not the key this "
            f"workspace's pseudonyms were made with (fingerprint {previous}), so {what} "
            "did not run and nothing was changed. Set {_setting(where)} back to "
            "the workspace's key; or, to re-pseudonymise everyone with the new key on "
            "purpose (every person_id changes and none links to an earlier output), run "
            "`openphm run --rekey`"
        )
    return KeyUse(current, previous, rekey=changed)


def record(ws: Workspace, use: KeyUse) -> None:
    """Remember the key's fingerprint; call only after the stage using it has committed."""
    path = ws.root / FINGERPRINT_FILE
    if use.previous == use.fingerprint and path.exists():
        return
    body = {"fingerprint": use.fingerprint, "scheme": FINGERPRINT_MESSAGE.decode()}
    atomic_write_text(path, json.dumps(body, indent=2) + "\n")
    path.chmod(FINGERPRINT_FILE_MODE)
