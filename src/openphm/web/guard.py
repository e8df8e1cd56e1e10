"""Who may try to sign in, and which sessions have ended, kept in the workspace so that
neither a restart nor a second server process forgets them.

- **Failed sign-ins are counted atomically, per account and overall.** An attempt is
  counted as a failure *before* its password is checked and forgiven if the password was
  right, under one lock shared by every process serving the workspace: twenty concurrent
  guesses at one account get five checks, not twenty.
- **Password checks are rationed.** Each Argon2id check costs 64 MiB and most of a core:
  at most ``MAX_CONCURRENT_CHECKS`` run at once, and after ``MAX_FAILED_OVERALL``
  failures in a window every sign-in waits (a spray across many names).
- **Signing out ends the session on the server**: the session's id is revoked until the
  cookie would have expired anyway, so a copied cookie is refused after sign-out.

The state file holds user names, times and random session ids; never a password.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openphm.workspace import atomic_write_text

STATE_FILE = ".signin-state.json"
LOCK_FILE = ".signin-state.lock"
MAX_FAILED_SIGNINS = 5  # per account, in LOCKOUT_SECONDS
MAX_FAILED_OVERALL = 50  # across all accounts and unknown names, in LOCKOUT_SECONDS
LOCKOUT_SECONDS = 15 * 60
MAX_CONCURRENT_CHECKS = 4

ACCOUNT_LOCKED = "account"
ALL_LOCKED = "overall"
BUSY = "busy"


class SignInGuard:
    """The sign-in state of one workspace: ``<workspace>/.signin-state.json`` (0600)."""

    def __init__(self, root: Path | str, clock=time.time):
        root = Path(root)
        self.path = root / STATE_FILE
        self._lock_path = root / LOCK_FILE
        self._threads = threading.Lock()
        self._checks = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)
        self._clock = clock
        self._cached: tuple[float, dict] | None = None  # (mtime, revoked) for every request

    @contextmanager
    def _locked(self) -> Iterator[dict]:
        """The state, read and written back under a lock every process honours."""
        with self._threads, open(self._lock_path, "a") as fh:
            os.chmod(self._lock_path, 0o600)
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                state = self._read()
                yield state
                self._prune(state)
                atomic_write_text(self.path, json.dumps(state, sort_keys=True))
                os.chmod(self.path, 0o600)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self) -> dict:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            state = {}
        state.setdefault("failures", {})
        state.setdefault("revoked", {})
        return state

    def _prune(self, state: dict) -> None:
        now = self._clock()
        for name in list(state["failures"]):
            recent = [t for t in state["failures"][name] if now - t < LOCKOUT_SECONDS]
            if recent:
                state["failures"][name] = recent
            else:
                del state["failures"][name]
        state["revoked"] = {s: t for s, t in state["revoked"].items() if t > now}

    @contextmanager
    def attempt(self, name: str) -> Iterator[Attempt]:
        """One sign-in attempt: ``refused`` says why it may not be tried (``ACCOUNT_LOCKED``,
        ``ALL_LOCKED`` or ``BUSY``); otherwise call ``succeeded()`` if the password was right.
        Anything else (a wrong password, an error) leaves it counted as a failure."""
        attempt = Attempt(self, name)
        if not self._checks.acquire(blocking=False):
            attempt.refused = BUSY
            yield attempt
            return
        try:
            with self._locked() as state:
                self._prune(state)
                failures = state["failures"]
                if sum(len(v) for v in failures.values()) >= MAX_FAILED_OVERALL:
                    attempt.refused = ALL_LOCKED
                elif len(failures.get(name, [])) >= MAX_FAILED_SIGNINS:
                    attempt.refused = ACCOUNT_LOCKED
                else:
                    attempt.at = self._clock()
                    failures.setdefault(name, []).append(attempt.at)
            yield attempt
        finally:
            self._checks.release()

    def _forgive(self, name: str) -> None:
        """A right password: its attempt and the account's earlier failures are cleared."""
        with self._locked() as state:
            state["failures"].pop(name, None)

    def revoke(self, session_id: str, until: float) -> None:
        with self._locked() as state:
            state["revoked"][session_id] = until

    def revoked(self, session_id: str) -> bool:
        """Whether a session was signed out; read on every request, so cached by mtime."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        if self._cached is None or self._cached[0] != mtime:
            self._cached = (mtime, self._read()["revoked"])
        return self._cached[1].get(session_id, 0) > self._clock()


class Attempt:
    def __init__(self, guard: SignInGuard, name: str):
        self._guard = guard
        self.name = name
        self.refused: str | None = None
        self.at: float | None = None

    def succeeded(self) -> None:
        if self.at is not None:
            self._guard._forgive(self.name)
