"""Local accounts and API tokens for the dashboard, kept in the workspace's ``users.json``.

Passwords are stored only as Argon2id hashes (argon2-cffi's defaults, RFC 9106's
second recommended profile). API tokens are 256 random bits shown once; only their
SHA-256 is stored (a slow hash adds nothing to a secret that cannot be guessed, and
would slow every API call). The file is written atomically with mode 0600.

Roles:

- ``public``: the published, disclosure-controlled tables (also readable signed out);
- ``analyst``: every aggregate, including cohort profiles gated on the fly;
- ``care_team``: bound to one practice; sees that practice's pseudonymised cohort list,
  and every view is written to the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from openphm.workspace import atomic_write_text

USERS_FILE = "users.json"
PUBLIC, ANALYST, CARE_TEAM = "public", "analyst", "care_team"
ROLES = (PUBLIC, ANALYST, CARE_TEAM)
MIN_PASSWORD_LENGTH = 12  # NCSC: length over complexity rules
MIN_DISTINCT_CHARACTERS = 5  # "            " and "aaaaaaaaaaaa" are not passwords
TOKEN_PREFIX = "oph_"
TOKEN_BYTES = 32
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
_PRACTICE = re.compile(r"^[A-Z][A-Z0-9]{5}$")  # an ODS GP practice code, e.g. A81001

_hasher = PasswordHasher()
# Checked against when the user does not exist, so sign-in takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A user, role, practice or password that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    practice: str | None = None


ANONYMOUS = User("", PUBLIC)


class Accounts:
    """The accounts of one workspace: ``<workspace>/users.json``."""

    def __init__(self, root: Path | str):
        self.path = Path(root) / USERS_FILE

    def _read(self) -> dict:
        if not self.path.exists():
            return {"users": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def _write(self, data: dict) -> None:
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True))
        os.chmod(self.path, 0o600)

    def add(self, name: str, role: str, password: str, practice: str | None = None) -> User:
        if not _NAME.fullmatch(name or ""):
            raise AccountError(
                f"user name {name!r}: use 2 to 40 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter"
            )
        if role not in ROLES:
            raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if role == CARE_TEAM:
            if not practice or not _PRACTICE.fullmatch(practice):
                raise AccountError(
                    f"a care_team user needs --practice with their GP practice's ODS code "
                    f"(a letter and five letters or digits, e.g. A81001); got {practice!r}"
                )
        elif practice:
            raise AccountError(f"--practice is only for care_team users, not {role}")
        check_password(name, password)
        data = self._read()
        if name in data["users"]:
            raise AccountError(f"user {name!r} already exists in {self.path}")
        data["users"][name] = {
            "role": role,
            "practice": practice,
            "password": _hasher.hash(password),
            "tokens": [],
            "created": _now(),
        }
        self._write(data)
        return User(name, role, practice)

    def names(self) -> list[User]:
        return [_user(n, u) for n, u in sorted(self._read()["users"].items())]

    def get(self, name: str, issued: int | None = None) -> User | None:
        """The user; with ``issued`` (a session's issue time), None if the session began
        before the password was last changed."""
        u = self._read()["users"].get(name)
        if not u or (issued is not None and issued < u.get("sessions_after", 0)):
            return None
        return _user(name, u)

    def remove(self, name: str) -> None:
        """Remove an account, its tokens with it; its sessions end at their next request."""
        data = self._read()
        self._known(data, name)
        del data["users"][name]
        self._write(data)

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session signed in before now ends."""
        data = self._read()
        self._known(data, name)
        check_password(name, password)
        u = data["users"][name]
        u["password"] = _hasher.hash(password)
        u["sessions_after"] = int(time.time()) + 1  # sessions carry whole seconds
        self._write(data)

    def tokens(self, name: str) -> list[dict]:
        """The user's tokens: id and when made (the tokens themselves are not kept)."""
        data = self._read()
        self._known(data, name)
        return [{"id": t["id"], "created": t["created"]} for t in data["users"][name]["tokens"]]

    def revoke_token(self, name: str, token_id: str) -> None:
        data = self._read()
        self._known(data, name)
        tokens = data["users"][name]["tokens"]
        kept = [t for t in tokens if t["id"] != token_id]
        if len(kept) == len(tokens):
            raise AccountError(
                f"user {name!r} has no token {token_id!r}; list them with: "
                f"openphm user tokens {name}"
            )
        data["users"][name]["tokens"] = kept
        self._write(data)

    @staticmethod
    def _known(data: dict, name: str) -> None:
        if name not in data["users"]:
            raise AccountError(f"no user {name!r}; the users are listed by: openphm user list")

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right, else None (the same time either way)."""
        data = self._read()
        u = data["users"].get(name)
        try:
            _hasher.verify(u["password"] if u else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if u is None:
            return None
        if _hasher.check_needs_rehash(u["password"]):
            u["password"] = _hasher.hash(password)
            self._write(data)
        return _user(name, u)

    def new_token(self, name: str) -> str:
        """A new API token for the user, returned once; only its hash is kept."""
        data = self._read()
        self._known(data, name)
        token_id = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(TOKEN_BYTES)}"
        data["users"][name]["tokens"].append(
            {"id": token_id, "sha256": _digest(token), "created": _now()}
        )
        self._write(data)
        return token

    def by_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = _digest(token)
        for name, u in self._read()["users"].items():
            for t in u.get("tokens", []):
                if hmac.compare_digest(t["sha256"], digest):
                    return _user(name, u)
        return None


def check_password(name: str, password: str) -> None:
    """NCSC's advice: length, not composition rules; but not spaces, one character
    repeated, or the user's own name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters "
            "(three random words make a good one)"
        )
    if len(set(password.strip())) < MIN_DISTINCT_CHARACTERS:
        raise AccountError(
            "the password is spaces or a few characters repeated; "
            "three random words make a good one"
        )
    if name and name.lower() in password.lower():
        raise AccountError("the password must not contain the user name")


def _user(name: str, u: dict) -> User:
    return User(name, u["role"], u.get("practice"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
