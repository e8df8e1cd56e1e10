"""The dashboard through FastAPI's test client: accounts, sessions, CSRF, roles and errors.

The workspace is tests/unit/test_report.py's tiny one: real published files from the
gate and writer, and a ``risk_score`` table in its DuckDB warehouse.
"""

from __future__ import annotations

import json
import logging
import re
import stat

import pytest
from fastapi.testclient import TestClient

from openphm.web import create_app
from openphm.web.accounts import AccountError, Accounts
from openphm.web.security import SESSION_COOKIE
from tests.unit.test_report import PRACTICES, count_cells, person_id, tiny_workspace, unsafe_counts

PASSWORD = "correct horse battery staple"
ALL_IDS = {person_id(i) for i in range(1, 200)}
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def direct_care(root) -> None:
    """The workspace's purpose set to direct care, the only one that lists people."""
    config = root / "openphm.toml"
    config.write_text(config.read_text().replace('purpose = "planning"', 'purpose = "direct_care"'))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = tiny_workspace(tmp_path_factory.mktemp("web") / "ws")
    direct_care(ws.root)
    accounts = Accounts(ws.root)
    accounts.add("ana", "analyst", PASSWORD)
    accounts.add("carol", "care_team", PASSWORD, practice=PRACTICES[0])
    accounts.add("pat", "public", PASSWORD)
    return ws


@pytest.fixture
def client(ws):
    return TestClient(create_app(ws.root, secure_cookies=False), follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    html = client.get(path).text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD):
    return client.post(
        "/signin",
        data={"username": name, "password": password, "csrf_token": csrf_of(client)},
    )


def ids_in(text: str) -> set[str]:
    return set(HEX64.findall(text)) & ALL_IDS


# --- accounts -------------------------------------------------------------------------------


def test_passwords_are_stored_only_as_argon2id_hashes(ws):
    raw = (ws.root / "users.json").read_text()
    assert PASSWORD not in raw
    assert json.loads(raw)["users"]["ana"]["password"].startswith("$argon2id$")
    assert stat.S_IMODE((ws.root / "users.json").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("name", "role", "password", "practice", "message"),
    [
        ("bob", "admin", PASSWORD, None, "role 'admin' is not one of public, analyst, care_team"),
        ("bob", "care_team", PASSWORD, None, "needs --practice"),
        ("bob", "analyst", PASSWORD, "A81001", "--practice is only for care_team users"),
        ("bob", "analyst", "short", None, "at least 12 characters"),
        ("Bob!", "analyst", PASSWORD, None, "user name 'Bob!'"),
        ("ana", "analyst", PASSWORD, None, "user 'ana' already exists"),
    ],
)
def test_bad_accounts_are_refused_saying_why(ws, name, role, password, practice, message):
    with pytest.raises(AccountError, match=re.escape(message)):
        Accounts(ws.root).add(name, role, password, practice)


def test_tokens_are_shown_once_and_stored_hashed(ws, client):
    token = Accounts(ws.root).new_token("ana")
    assert token not in (ws.root / "users.json").read_text()
    ok = client.get("/api/cohort-profile", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    bad = client.get("/api/cohort-profile", headers={"Authorization": "Bearer oph_nope_x"})
    assert bad.status_code == 401 and "token is not valid" in bad.json()["error"]


# --- sessions and CSRF ----------------------------------------------------------------------


def test_signing_in_sets_a_signed_httponly_samesite_strict_cookie(client):
    response = sign_in(client, "ana")
    assert response.status_code == 303 and response.headers["location"] == "/cohort-profile"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.cookies.get(SESSION_COOKIE).count(".") == 2  # payload.timestamp.signature
    assert client.get("/cohort-profile").status_code == 200


def test_cookies_are_secure_when_served_over_https(ws):
    secure = TestClient(create_app(ws.root, secure_cookies=True), follow_redirects=False)
    assert "Secure" in secure.get("/").headers["set-cookie"]


def test_a_forged_cookie_is_ignored(ws, client):
    client.cookies.set(SESSION_COOKIE, "eyJ1IjoiYW5hIn0.forged.signature")
    assert client.get("/cohort-profile").status_code == 303  # to the sign-in page


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    response = sign_in(client, "ana", "not the password at all")
    assert response.status_code == 401
    assert "do not match an account" in response.text
    assert sign_in(client, "nobody").status_code == 401


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_form_posts_without_the_sessions_csrf_token_are_refused(client, token):
    csrf_of(client)
    data = {"username": "ana", "password": PASSWORD}
    if token:
        data["csrf_token"] = token
    response = client.post("/signin", data=data)
    assert response.status_code == 403
    assert "did not come from this site" in response.text
    signout = client.post("/signout", data=data)
    assert signout.status_code == 403


def test_signing_in_issues_a_new_csrf_token(client):
    before = csrf_of(client)
    sign_in(client, "ana")
    assert csrf_of(client, "/") != before


# --- roles ----------------------------------------------------------------------------------


def test_public_view_needs_no_sign_in_and_shows_no_person(client):
    for path in (
        "/",
        "/tables",
        "/tables/registered_population",
        "/api/tables",
        "/api/tables/cost_by_setting",
        "/api/summary",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert ids_in(response.text) == set(), path
    assert unsafe_counts(count_cells(client.get("/").text)) == []


def test_signed_out_users_are_sent_to_sign_in_for_protected_pages(client):
    assert client.get("/care-team").headers["location"] == "/signin"
    assert client.get("/api/care-team/cohort").status_code == 401
    assert client.get("/api/cohort-profile").status_code == 401


@pytest.mark.parametrize("name", ["pat", "ana"])
def test_only_care_teams_see_a_cohort_list(client, name):
    sign_in(client, name)
    response = client.get("/care-team")
    assert response.status_code == 403
    assert "for care team accounts" in response.text
    assert ids_in(response.text) == set()


def test_care_team_sees_its_own_practice_only_and_every_view_is_audited(ws, client):
    before = len(ws.audit.records())
    sign_in(client, "carol")
    page = client.get("/care-team")
    api = client.get("/api/care-team/cohort").json()
    risk = ws.table("risk_score").execute()
    mine = set(risk.loc[risk.practice_code == PRACTICES[0], "person_id"])
    assert ids_in(page.text) == mine  # all 30 of them, and nobody else
    assert {r["person_id"] for r in api["rows"]} == mine and api["practice"] == PRACTICES[0]
    records = ws.audit.records()[before:]
    assert [r["action"] for r in records] == ["view:care_team_cohort"] * 2
    assert {(r["user"], r["practice"], r["via"]) for r in records} == {
        ("carol", PRACTICES[0], "page"),
        ("carol", PRACTICES[0], "api"),
    }
    assert ids_in(json.dumps(records)) == set()  # the audit names no one
    assert ws.audit.verify().ok


def test_analysts_see_cohort_profiles_through_the_gate(client):
    sign_in(client, "ana")
    profile = client.get("/api/cohort-profile").json()
    cells = [r["people"] for r in profile["rows"]]
    assert "*" in cells and unsafe_counts(cells) == []
    assert {r["practice_code"] for r in profile["rows"]} == {*PRACTICES, "Total"}
    assert ids_in(client.get("/cohort-profile").text) == set()


# --- errors and headers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/tables/nope", 404, "no published table 'nope'"),
        ("/api/tables/cost_by_setting?limit=abc", 400, "limit: Input should be a valid integer"),
        ("/api/tables/cost_by_setting?limit=0", 400, "limit must be from 1 to 1000; got 0"),
        ("/api/tables/cost_by_setting?place=X1A", 400, "cannot be filtered by place"),
        (
            "/api/tables/registered_population?practice=Z99999",
            400,
            "practice 'Z99999' is not in registered_population; it has: A81001",
        ),
        (
            "/api/tables/registered_population?practice=%3Cscript%3E",
            400,
            "practice must be 1 to 40 letters",
        ),
        ("/api/summary?practice=Z99999", 400, "practice 'Z99999' is not in"),
    ],
)
def test_bad_parameters_get_a_4xx_saying_what_was_wrong(client, path, status, message):
    response = client.get(path)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_html_errors_are_pages_with_the_message(client):
    response = client.get("/tables/registered_population?place=X1A")
    assert response.status_code == 400
    assert "cannot be filtered by place" in response.text and "<!DOCTYPE html>" in response.text


def test_a_server_error_shows_no_stack_trace(ws, tmp_path, caplog):
    broken = tiny_workspace(tmp_path / "broken")
    # A published file without the columns the summary reads: the code fails on it.
    (broken.published_dir / "registered_population.csv").write_text("oops\n1\n")
    client = TestClient(create_app(broken.root, secure_cookies=False))
    with caplog.at_level(logging.ERROR, logger="openphm.web"):
        response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "Traceback" not in response.text and "KeyError" not in response.text
    assert "unhandled KeyError on GET /" in caplog.text


def test_every_response_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in response.text


def test_the_access_log_has_paths_but_never_query_strings(ws, caplog):
    client = TestClient(create_app(ws.root, secure_cookies=False))
    with caplog.at_level(logging.INFO, logger="openphm.web.access"):
        client.get("/api/tables/registered_population?practice=A81001")
        sign_in(client, "carol")
        client.get("/care-team")
    lines = [r.getMessage() for r in caplog.records if r.name == "openphm.web.access"]
    assert any(line.startswith("GET /api/tables/registered_population 200") for line in lines)
    assert not any("?" in line or "A81001" in line for line in lines)
    assert ids_in(caplog.text) == set() and PASSWORD not in caplog.text


def test_repeated_failed_sign_ins_lock_the_name_for_a_while(ws):
    client = TestClient(create_app(ws.root, secure_cookies=False), follow_redirects=False)
    statuses = [sign_in(client, "pat", "wrong password number x").status_code for _ in range(5)]
    assert statuses == [401] * 5
    locked = sign_in(client, "pat")  # the right password, too late
    assert locked.status_code == 429 and "too many failed sign-ins" in locked.text
    assert sign_in(client, "ana").status_code == 303  # other accounts are unaffected
