"""``openphm risk cohort``: a cohort's gated profile for anyone, its ids for direct care only.

The workspace holds a small scored population (``risk_score`` and ``person_need``, as
the risk and need stages write them); the command reads a TOML file of filters.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from typer.testing import CliRunner

from openphm.cli import app
from openphm.runner import load_sources
from openphm.workspace import Workspace

runner = CliRunner()
PEOPLE = 40


def _workspace(tmp_path, purpose: str) -> Workspace:
    root = tmp_path / "ws"
    ws = Workspace.init(root)
    config = (root / "openphm.toml").read_text()
    (root / "openphm.toml").write_text(
        config.replace('purpose = "planning"', f'purpose = "{purpose}"')
    )
    ws = Workspace(root)
    ids = [f"pseudo{i:02d}" for i in range(PEOPLE)]
    score = pd.DataFrame(
        {
            "person_id": ids,
            "index_date": dt.date(2026, 4, 1),
            "practice_code": ["Z90001"] * PEOPLE,
            "probability": [0.9 - i / 100 for i in range(PEOPLE)],
            "tier": ["top_0.5%"] * 20 + ["rest"] * 20,
            "rank": list(range(1, PEOPLE + 1)),
            "factor_1": "age",
            "factor_2": "male sex",
            "factor_3": "COPD",
        }
    )
    need = pd.DataFrame(
        {
            "person_id": ids,
            "segment": ["frailty_dementia"] * 15 + ["healthy"] * 25,
            "age": 80,
            "imd_decile": 2,
            "emergency_admissions_12m": 1,
            "ltc_copd": [True] * 30 + [False] * 10,
        }
    )
    load_sources(ws, {"risk_score": score, "person_need": need}, "test")
    return ws


def test_planning_sees_the_gated_profile_and_never_the_ids(tmp_path):
    ws = _workspace(tmp_path, "planning")
    filters = tmp_path / "cohort.toml"
    filters.write_text('tier = ["top_0.5%"]\nconditions = ["copd"]\n')
    result = runner.invoke(app, ["risk", "cohort", str(filters), "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "tier" in result.output and "20" in result.output
    assert "pseudo" not in result.output
    refused = runner.invoke(
        app, ["risk", "cohort", str(filters), "-w", str(ws.root), "--ids-out", "ids.csv"]
    )
    assert refused.exit_code == 2
    assert "only for direct care" in refused.output


def test_direct_care_gets_the_pseudonymised_ids(tmp_path):
    ws = _workspace(tmp_path, "direct_care")
    filters = tmp_path / "cohort.toml"
    filters.write_text('tier = ["top_0.5%"]\nsegment = ["frailty_dementia"]\n')
    out = tmp_path / "ids.csv"
    result = runner.invoke(
        app, ["risk", "cohort", str(filters), "-w", str(ws.root), "--ids-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    ids = out.read_text().split()
    assert ids == ["person_id", *[f"pseudo{i:02d}" for i in range(15)]]


def test_an_unknown_filter_is_named(tmp_path):
    ws = _workspace(tmp_path, "planning")
    filters = tmp_path / "cohort.toml"
    filters.write_text('teir = ["top_0.5%"]\n')
    result = runner.invoke(app, ["risk", "cohort", str(filters), "-w", str(ws.root)])
    assert result.exit_code == 2
    assert "unknown filter(s) ['teir']" in result.output
