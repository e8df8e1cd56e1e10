"""Run the dashboard with uvicorn.

uvicorn's own access log is off: it prints query strings, and the dashboard's access
log (``openphm.web.access``) prints the path only. Session cookies are marked Secure
unless the dashboard listens on a loopback address only (plain http on one machine);
behind an https proxy on another address they are always Secure.
"""

from __future__ import annotations

import logging
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def serve(
    root: Path | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    secure_cookies: bool | None = None,
) -> None:
    import uvicorn

    from openphm.web.app import create_app

    secure = host not in LOOPBACK if secure_cookies is None else secure_cookies
    configure_logging()
    if secure:
        logging.getLogger("openphm.web").warning(
            "session cookies are Secure: browsers send them back only over https, so serve "
            "this behind an https proxy (or use --no-secure-cookies on loopback only)"
        )
    app = create_app(root, secure_cookies=secure)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", server_header=False)
