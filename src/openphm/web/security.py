"""Sessions, CSRF tokens and security headers for the dashboard.

- The session is a cookie signed with the workspace's session key (itsdangerous):
  ``{"u": user name or "", "csrf": token, "sid": random id, "t": issued (epoch s)}``,
  HttpOnly, SameSite=Strict, Secure when served over https, expiring after
  ``SESSION_SECONDS``. It holds no data, only who is signed in; the role is looked up in
  ``users.json`` on every request, so removing a user ends their access, and a session
  issued before the user's password last changed is refused. Signing out revokes the
  session's id on the server (``guard.SignInGuard``), so the old cookie stops working.
- Every form carries the session's CSRF token; a POST whose token does not match is
  refused (403). Signing in issues a new token (no session fixation).
- Every response carries a strict Content Security Policy (``default-src 'self'``) and
  the usual hardening headers; nothing the dashboard serves runs a script.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "openphm_session"
SESSION_SECONDS = 8 * 60 * 60  # a working day
SESSION_KEY_FILE = ".session-key"
SESSION_KEY_ENV = "OPENPHM_SESSION_KEY"
CSRF_FIELD = "csrf_token"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Only over https (secure cookies): browsers then refuse plain http to the host for a year.
HSTS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}


def session_key(root: Path) -> str:
    """The signing key: from the environment, else a random one kept in the workspace (0600)."""
    if os.environ.get(SESSION_KEY_ENV):
        return os.environ[SESSION_KEY_ENV]
    path = Path(root) / SESSION_KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


class Sessions:
    def __init__(self, key: str, secure: bool):
        self._signer = URLSafeTimedSerializer(key, salt="openphm-session")
        self.secure = secure

    def load(self, cookie: str | None) -> dict | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:  # includes expired
            return None
        if not isinstance(data, dict):
            return None
        if not all(isinstance(data.get(k), str) for k in ("csrf", "sid")):
            return None
        return data if isinstance(data.get("t"), int) else None

    def new(self, user: str = "") -> dict:
        return {
            "u": user,
            "csrf": secrets.token_urlsafe(32),
            "sid": secrets.token_urlsafe(16),
            "t": int(time.time()),
        }

    def dump(self, session: dict) -> str:
        return self._signer.dumps(session)

    def cookie_options(self) -> dict:
        return {
            "httponly": True,
            "samesite": "strict",
            "secure": self.secure,
            "max_age": SESSION_SECONDS,
            "path": "/",
        }


def csrf_ok(session: dict | None, submitted: str | None) -> bool:
    if not session or not submitted:
        return False
    try:
        return hmac.compare_digest(session["csrf"], submitted)
    except TypeError:  # non-ASCII text cannot be compared in constant time: never a token
        return False
