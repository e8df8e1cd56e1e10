"""Attacks on the dashboard's sign-in and sessions that once worked (issue 16), kept as tests.

Each test repeats what an attacker or a careless operator did against a workspace served
on loopback, and asserts what must happen now. Before the fix: twenty concurrent wrong
passwords were all tried against a limit of five; failed sign-ins were not logged; the
lockout reset on restart; there was no overall limit; sign-out left the old cookie
working for up to eight hours; accounts could not be removed, passwords not changed,
tokens not revoked; twelve spaces were a password; no HSTS even with secure cookies; a
non-ASCII CSRF token gave a 500.
"""

from __future__ import annotations

import logging
import threading

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openphm.cli import app as cli
from openphm.web import create_app, guard
from openphm.web.accounts import AccountError, Accounts
from tests.unit.test_report import PRACTICES, tiny_workspace
from tests.unit.test_web import PASSWORD, csrf_of, ids_in, sign_in

WRONG = "not the password at all"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return tiny_workspace(tmp_path_factory.mktemp("attacks") / "ws")


def client_of(ws, secure: bool = False) -> TestClient:
    return TestClient(create_app(ws.root, secure_cookies=secure), follow_redirects=False)


def test_twenty_concurrent_wrong_passwords_get_at_most_five_checks(ws):
    Accounts(ws.root).add("victim", "analyst", PASSWORD)
    app = create_app(ws.root, secure_cookies=False)
    statuses: list[int] = []
    start = threading.Barrier(20)

    def guess():
        client = TestClient(app, follow_redirects=False)
        token = csrf_of(client)
        start.wait()
        r = client.post(
            "/signin", data={"username": "victim", "password": WRONG, "csrf_token": token}
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 20
    assert statuses.count(401) <= guard.MAX_FAILED_SIGNINS  # the rest refused unchecked
    assert set(statuses) <= {401, 429}
    # Guessing on, one at a time: five wrong passwords are checked in all, never more.
    client = client_of(ws)
    while (status := sign_in(client, "victim", WRONG).status_code) == 401:
        statuses.append(status)
    assert status == 429 and statuses.count(401) == guard.MAX_FAILED_SIGNINS
    assert sign_in(client, "victim").status_code == 429  # locked, even the right password


def test_a_lockout_survives_a_restart_and_failures_are_logged_without_passwords(ws, caplog):
    Accounts(ws.root).add("bob", "analyst", PASSWORD)
    caplog.set_level(logging.WARNING, logger="openphm")
    first = client_of(ws)
    for _ in range(guard.MAX_FAILED_SIGNINS):
        assert sign_in(first, "bob", WRONG).status_code == 401
    restarted = client_of(ws)  # a new server process over the same workspace
    assert sign_in(restarted, "bob").status_code == 429
    assert "failed sign-in for account bob" in caplog.text
    assert WRONG not in caplog.text and PASSWORD not in caplog.text
    sign_in(restarted, "someone who does not exist", WRONG)
    assert "someone who does not exist" not in caplog.text  # it may be a misplaced password


def test_a_spray_across_many_names_pauses_every_sign_in(ws, monkeypatch, tmp_path):
    sprayed = tiny_workspace(tmp_path / "ws")
    Accounts(sprayed.root).add("ana", "analyst", PASSWORD)
    monkeypatch.setattr(guard, "MAX_FAILED_OVERALL", 6)
    client = client_of(sprayed)
    for i in range(6):
        assert sign_in(client, f"name{i}", WRONG).status_code == 401
    refused = sign_in(client, "ana")  # a real account with the right password
    assert refused.status_code == 429 and "paused" in refused.text


def test_signing_out_ends_the_session_on_the_server(ws):
    Accounts(ws.root).add("carl", "analyst", PASSWORD)
    client = client_of(ws)
    assert sign_in(client, "carl").status_code == 303
    stolen = dict(client.cookies)
    assert client.get("/cohort-profile").status_code == 200
    out = client.post("/signout", data={"csrf_token": csrf_of(client, "/")})
    assert out.status_code == 303
    replay = client_of(ws)
    replay.cookies.update(stolen)  # the cookie copied before sign-out
    assert replay.get("/cohort-profile").status_code == 303  # sent to sign in


def test_a_new_password_ends_every_earlier_session(ws):
    accounts = Accounts(ws.root)
    accounts.add("dora", "analyst", PASSWORD)
    client = client_of(ws)
    assert sign_in(client, "dora").status_code == 303
    accounts.set_password("dora", "a different long passphrase")
    assert client.get("/cohort-profile").status_code == 303
    assert sign_in(client_of(ws), "dora", "a different long passphrase").status_code == 303


def test_a_removed_user_and_a_revoked_token_open_nothing(ws):
    accounts = Accounts(ws.root)
    accounts.add("eve", "analyst", PASSWORD)
    token = accounts.new_token("eve")
    bearer = {"authorization": f"Bearer {token}"}
    client = client_of(ws)
    assert client.get("/api/tables", headers=bearer).status_code == 200
    (token_id,) = [t["id"] for t in accounts.tokens("eve")]
    accounts.revoke_token("eve", token_id)
    assert client.get("/api/cohort-profile", headers=bearer).status_code == 401
    signed_in = client_of(ws)
    assert sign_in(signed_in, "eve").status_code == 303
    accounts.remove("eve")
    assert signed_in.get("/cohort-profile").status_code == 303
    assert accounts.get("eve") is None


@pytest.mark.parametrize(
    "password, why",
    [(" " * 12, "spaces"), ("a" * 20, "repeated"), ("frank-is-my-password", "user name")],
)
def test_weak_passwords_are_refused_saying_why(ws, password, why):
    with pytest.raises(AccountError, match=why):
        Accounts(ws.root).add("frank", "analyst", password)


def test_the_password_is_never_a_command_line_argument(ws):
    runner = CliRunner()
    argument = runner.invoke(
        cli, ["user", "add", "gina", "--role", "analyst", "--password", PASSWORD, "--dir", ws.root]
    )
    assert argument.exit_code != 0 and "No such option" in argument.output
    piped = runner.invoke(
        cli,
        ["user", "add", "gina", "--role", "analyst", "--password-stdin", "--dir", str(ws.root)],
        input=PASSWORD + "\n",
    )
    assert piped.exit_code == 0, piped.output
    assert Accounts(ws.root).authenticate("gina", PASSWORD) is not None
    changed = runner.invoke(
        cli, ["user", "passwd", "gina", "--dir", str(ws.root)], input="another passphrase x\n" * 2
    )
    assert changed.exit_code == 0, changed.output
    assert Accounts(ws.root).authenticate("gina", "another passphrase x") is not None
    removed = runner.invoke(cli, ["user", "remove", "gina", "--dir", str(ws.root)])
    assert removed.exit_code == 0 and Accounts(ws.root).get("gina") is None


def test_hsts_is_sent_when_cookies_are_secure_and_only_then(ws):
    assert "max-age=" in client_of(ws, secure=True).get("/").headers["strict-transport-security"]
    assert "strict-transport-security" not in client_of(ws).get("/").headers


def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(ws):
    client = client_of(ws)
    client.get("/signin")
    r = client.post("/signin", data={"username": "x", "password": "y", "csrf_token": "é" * 40})
    assert r.status_code == 403


def test_a_care_team_in_a_planning_workspace_is_shown_no_one(ws):
    """The dashboard served 479 and 248 pseudonymised ids to care-team accounts in a
    planning workspace, and audited them as planning; the CLI refused the same."""
    Accounts(ws.root).add("hana", "care_team", PASSWORD, practice=PRACTICES[0])
    client = client_of(ws)  # tiny_workspace's purpose is planning
    assert sign_in(client, "hana").status_code == 303
    for path in ("/care-team", "/api/care-team/cohort"):
        r = client.get(path)
        assert r.status_code == 403 and "only for direct care" in r.text
        assert ids_in(r.text) == set()
    views = [r for r in ws.audit.records() if r["action"] == "view:care_team_cohort"]
    assert views == []
