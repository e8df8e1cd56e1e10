"""The dashboard in headless Chromium: served by uvicorn on a loopback port, signed in as each role.

The workspace is the demo test_report.py builds once per session (copied, since care-team
views append to its audit trail). Every response the browser receives is kept and
scanned: no count cell between 1 and 7, and no pseudonymised id anywhere except the
care-team user's own cohort page, which holds exactly their practice's people.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import socket
import threading
import time

import pytest
import uvicorn

from openphm.report.charts import NHS_BLUE, WARM_YELLOW
from openphm.web import create_app
from openphm.web.accounts import Accounts
from tests.e2e.test_report import (
    HEX64,
    colour_share,
    count_cells,
    demo_workspace,
    person_ids,
    practice_ids,
    unsafe_count_cells,
)
from tests.unit.test_web import direct_care

PASSWORD = "a long test password for the dashboard"
USERS = {"ana": "analyst", "pat": "public", "carol": "care_team"}


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(base url, workspace, care team's practice, access log lines) of a running dashboard."""
    src, _ = demo_workspace()
    root = tmp_path_factory.mktemp("dash") / "ws"
    shutil.copytree(src, root)
    direct_care(root)  # care teams see their list only in a direct-care workspace
    practice = sorted({p for p in _practices(root) if isinstance(p, str)})[0]
    accounts = Accounts(root)
    for name, role in USERS.items():
        accounts.add(name, role, PASSWORD, practice=practice if role == "care_team" else None)
    log = Collect()
    logging.getLogger("openphm.web.access").addHandler(log)
    logging.getLogger("openphm.web.access").setLevel(logging.INFO)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(root, secure_cookies=False),
            host="127.0.0.1",
            port=port,
            access_log=False,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", root, practice, log.lines
    server.should_exit = True
    thread.join(10)
    logging.getLogger("openphm.web.access").removeHandler(log)


def _practices(root):
    from openphm.workspace import Workspace

    ws = Workspace(root)
    try:
        return ws.table("risk_score").practice_code.execute()
    finally:
        ws.close()


class Visit:
    """A browser context for one person, keeping every response body it receives."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.page = self.context.new_page()
        self.bodies: list[tuple[str, int, str]] = []
        self.page.on("response", self._keep)

    def _keep(self, response):
        if response.url.startswith(self.base) and response.status != 303:
            # A redirect or an aborted load has no body.
            with contextlib.suppress(Exception):
                self.bodies.append((response.url, response.status, response.text()))

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def api(self, path: str):
        response = self.context.request.get(self.base + path)
        self.bodies.append((response.url, response.status, response.text()))
        return response

    def sign_in(self, name: str):
        self.go("/signin")
        self.page.fill('input[name="username"]', name)
        self.page.fill('input[name="password"]', PASSWORD)
        self.page.click('button[type="submit"]:has-text("Sign in")')
        self.page.wait_for_load_state()

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def visits(site, browser):
    """Each role's visit to the same pages and API endpoints, done once."""
    base, root, practice, _ = site
    out = {}
    for who in ("anonymous", *USERS):
        v = Visit(browser, base)
        if who != "anonymous":
            v.sign_in(who)
        v.landing = v.page.url
        v.status = {}
        for path in (
            "/",
            f"/?practice={practice}",
            "/tables",
            "/tables/indicator_emergency_admissions?period=2024/25&group=place",
            "/cohort-profile",
            "/care-team",
        ):
            v.status[path] = v.go(path).status
            v.status[path + " url"] = v.page.url
        for path in (
            "/api/summary",
            "/api/tables/need_summary",
            "/api/cohort-profile",
            "/api/care-team/cohort",
        ):
            v.status[path] = v.api(path).status
        out[who] = v
    yield out
    for v in out.values():
        v.close()


def test_each_role_lands_on_its_own_page(visits, site):
    base = site[0]
    assert visits["pat"].landing == base + "/"
    assert visits["ana"].landing == base + "/cohort-profile"
    assert visits["carol"].landing == base + "/care-team"


def test_what_each_role_can_and_cannot_see(visits, site):
    base = site[0]
    for who, v in visits.items():
        for path in ("/", "/tables", "/api/summary", "/api/tables/need_summary"):
            assert v.status[path] == 200, (who, path)  # the published aggregates: everyone
    a, p, n, c = visits["ana"], visits["pat"], visits["anonymous"], visits["carol"]
    assert a.status["/cohort-profile"] == 200 and a.status["/api/cohort-profile"] == 200
    assert a.status["/care-team"] == 403 and a.status["/api/care-team/cohort"] == 403
    assert c.status["/care-team"] == 200 and c.status["/api/care-team/cohort"] == 200
    assert c.status["/cohort-profile"] == 403 and c.status["/api/cohort-profile"] == 403
    assert p.status["/cohort-profile"] == 403 and p.status["/care-team"] == 403
    # Signed out: protected pages send you to sign in, the API says 401.
    assert n.status["/care-team url"] == base + "/signin"
    assert n.status["/api/care-team/cohort"] == 401 and n.status["/api/cohort-profile"] == 401


def test_navigation_offers_each_role_only_its_pages(visits):
    def links(v):
        v.go("/")
        return v.page.locator("header nav a").all_inner_texts()

    assert "Cohort profiles" in links(visits["ana"]) and "My practice's cohort" not in links(
        visits["ana"]
    )
    assert "My practice's cohort" in links(visits["carol"])
    assert links(visits["pat"]) == links(visits["anonymous"]) == ["Summary", "Published tables"]


def test_no_small_count_and_no_person_outside_the_care_team_view(visits, site):
    _, root, practice, _ = site
    everyone = person_ids(root)
    own = practice_ids(root, practice)
    assert own
    scanned = 0
    for who, v in visits.items():
        for url, status, body in v.bodies:
            scanned += 1
            ids = set(HEX64.findall(body)) & everyone
            is_cohort = (
                who == "carol"
                and status == 200
                and (url.endswith("/care-team") or url.endswith("/api/care-team/cohort"))
            )
            if is_cohort:
                assert ids and ids <= own, url  # their own practice's people, nobody else
            else:
                assert ids == set(), (who, url)
            if body.lstrip().startswith("<"):
                assert unsafe_count_cells(body) == [], (who, url)
            elif body.startswith("{") and not is_cohort:
                _check_json_counts(json.loads(body), url)
    assert scanned >= 40
    cells = [c for v in visits.values() for _, _, body in v.bodies for c in count_cells(body)]
    assert len(cells) > 50 and "*" in cells


def _check_json_counts(data: dict, url: str) -> None:
    counts = data.get("counts") or []
    rows = data.get("rows") or []
    if "indicators" in data:  # the summary: numerators and denominators are counts
        counts, rows = ["numerator", "denominator"], data["indicators"]
        rows = rows + (data.get("population") or {}).get("rows", [])
        counts = [*counts, "population"]
    for row in rows:
        for c in counts:
            text = str(row.get(c, "")).replace(",", "")
            if text in ("", "*"):
                continue
            n = int(text)
            assert not 1 <= n <= 7 and n % 5 == 0, (url, c, n)


def test_care_team_views_are_audited_without_naming_anyone(visits, site):
    _, root, practice, _ = site
    from openphm.audit import AuditLog

    log = AuditLog(root / "audit")
    views = [r for r in log.records() if r["action"] == "view:care_team_cohort"]
    assert {(r["user"], r["practice"], r["via"]) for r in views} >= {
        ("carol", practice, "page"),
        ("carol", practice, "api"),
    }
    assert set(HEX64.findall(json.dumps(views))) & person_ids(root) == set()
    assert log.verify().ok


def test_the_summary_chart_is_drawn(visits, site, tmp_path_factory):
    v = visits["pat"]
    v.go(f"/?practice={site[2]}")
    img = v.page.locator('img[alt^="Age-sex pyramid"]')
    png = img.screenshot(path=tmp_path_factory.mktemp("dash-shots") / "pyramid.png")
    assert colour_share(png, NHS_BLUE) > 0.05 and colour_share(png, WARM_YELLOW) > 0.05
    box = img.bounding_box()
    assert box["width"] > 300 and box["height"] > 150


def test_bad_filters_get_a_page_saying_what_was_wrong(visits, site):
    v = visits["anonymous"]
    response = v.go("/tables/registered_population?practice=Z00000")
    assert response.status == 400
    assert "practice 'Z00000' is not in registered_population" in v.page.inner_text("main")
    assert "Traceback" not in v.page.content()


def test_access_log_has_no_query_strings_or_ids(visits, site):
    *_, lines = site
    assert len(lines) > 30
    assert not [line for line in lines if "?" in line or re.search(r"[0-9a-f]{64}", line)]
