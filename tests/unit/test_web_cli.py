"""``openphm user`` and ``openphm report`` as a user types them (in-process, CliRunner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from openphm.cli import app
from openphm.web.accounts import Accounts
from tests.unit.test_report import tiny_workspace

runner = CliRunner()
PASSWORD = "three random words here"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    ws = tiny_workspace(tmp_path_factory.mktemp("cli") / "ws")
    ws.close()
    return ws.root


def test_user_add_prompts_for_the_password_twice_and_stores_its_hash(root):
    result = runner.invoke(
        app,
        ["user", "add", "carol", "--role", "care_team", "--practice", "A81001", "--dir", str(root)],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "user carol added (care_team, practice A81001)" in result.output
    assert Accounts(root).authenticate("carol", PASSWORD).practice == "A81001"
    assert PASSWORD not in (root / "users.json").read_text()


def test_user_add_refuses_a_care_team_without_a_practice(root):
    result = runner.invoke(
        app,
        ["user", "add", "dave", "--role", "care_team", "--dir", str(root)],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 2
    assert "needs --practice" in result.output
    assert Accounts(root).get("dave") is None


def test_user_token_prints_a_token_once_and_list_shows_roles(root):
    runner.invoke(
        app,
        ["user", "add", "ana", "--role", "analyst", "--dir", str(root)],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    result = runner.invoke(app, ["user", "token", "ana", "--dir", str(root)])
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("oph_") and Accounts(root).by_token(token).name == "ana"
    stored = json.loads((root / "users.json").read_text())["users"]["ana"]["tokens"]
    assert len(stored) == 1 and token not in json.dumps(stored)
    listing = runner.invoke(app, ["user", "list", "--dir", str(root)]).output
    assert "analyst" in listing and "care_team" in listing and "A81001" in listing


def test_report_command_writes_the_pack_and_names_what_has_not_run(root, tmp_path):
    out = tmp_path / "pack.html"
    result = runner.invoke(app, ["report", "--dir", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # Rich wraps long lines
    assert "report written:" in said and out.name in said
    assert "not run yet:" in said and "Emergency admissions" in said
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_report_outside_a_workspace_says_how_to_make_one(tmp_path):
    result = runner.invoke(app, ["report", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not an openphm workspace" in " ".join(result.output.split())
