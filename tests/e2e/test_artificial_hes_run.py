"""NHS Digital's artificial HES through every stage, configured as the README shows it
("Run on NHS Digital's artificial HES"): each source says only its layout and
``identifier = "pseudonym"``, and the workspace declares that opt-outs were applied
upstream. The files are the excerpt in tests/data/artificial_hes (source and licence in
its README): real HES layouts, names and "not known" codes, made-up values.

What a new user must see: every stage runs; at most 1% of rows quarantined (only rows
with no usable key or date); need, measure and cost (from unit costs, there being no
ledgers) publish non-empty tables; what could not be done is said, not left empty; and
no upstream pseudonym survives link.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from openphm.cli import app
from openphm.workspace import Workspace
from tests.e2e.workspaces import KEY

EXCERPT = Path(__file__).parents[1] / "data" / "artificial_hes"
LAYOUTS = {"apc": "hes_apc", "op": "hes_op", "ae": "hes_ae"}


def _tokens() -> set[str]:
    found = set()
    for name in LAYOUTS:
        with open(EXCERPT / f"{name}.csv", newline="", encoding="utf-8") as fh:
            found |= {row["PSEUDO_HESID"] for row in csv.DictReader(fh)}
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("artificial_hes") / "ws"
    Workspace.init(root)
    (root / "pseudonym.key").write_bytes(KEY)
    (root / "pseudonym.key").chmod(0o600)  # a key others can read is refused
    config = (root / "openphm.toml").read_text()
    config = config.replace('key_env = "OPENPHM_PSEUDONYM_KEY"', 'key_file = "pseudonym.key"')
    config = config.replace(
        'description = "Population health management for the integrated care system"',
        'description = "Population health management for the integrated care system"\n'
        "opt_outs_applied_upstream = true",
    )
    for name, layout in LAYOUTS.items():
        shutil.copy(EXCERPT / f"{name}.csv", root / f"{name}.csv")
        config += (
            f'\n[sources.{name}]\npath = "{name}.csv"\nlayout = "{layout}"\n'
            'identifier = "pseudonym"\n'
        )
    (root / "openphm.toml").write_text(config)
    result = CliRunner().invoke(app, ["run", "--dir", str(root)])
    return root, result


def published(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "published" / f"{name}.csv", dtype=str, keep_default_na=False)


def test_every_stage_runs_to_the_end(run):
    root, result = run
    assert result.exit_code == 0, result.output
    stages = [r["action"] for r in Workspace(root).audit.records()]
    assert stages == [f"stage:{s}" for s in ("ingest", "link", "need", "cost", "risk")] + [
        "stage:measure",
        "stage:publish",
    ]


def test_at_most_one_percent_of_rows_are_quarantined(run):
    root, _ = run
    files = published(root, "dq_files").set_index("source")
    for name in LAYOUTS:
        read = int(files.loc[name, "rows_read"])
        quarantined = int(files.loc[name, "rows_quarantined"].replace("*", "0") or 0)
        assert read >= 200
        assert quarantined <= 0.01 * read, (name, quarantined, read)


def test_need_measure_and_cost_publish_tables_with_figures(run):
    root, _ = run
    ws = Workspace(root)
    assert ws.table("person").count().execute() > 250  # pseudonymised people, with person rows
    assert ws.table("person_need").count().execute() > 250
    assert ws.table("indicator_values").count().execute() > 0
    basis = published(root, "cost_by_basis")
    assert set(basis.basis) == {"unit_cost"}  # no ledgers: estimates, said so
    assert ws.table("cost_encounter").count().execute() > 0
    need = [p for p in (root / "published").glob("need_*.csv")]
    assert need and all(len(pd.read_csv(p)) > 0 for p in need)
    ws.close()


def test_what_could_not_be_done_is_said(run):
    root, result = run
    notes = published(root, "stage_notes")
    said = " ".join(notes.note)
    assert "ledger" in said  # costs are unit-cost estimates, not reconciled
    assert "Opt-outs were applied upstream" in said
    assert set(notes.stage) >= {"cost", "link"}


def test_no_upstream_pseudonym_survives_link(run):
    root, _ = run
    tokens = {t.encode() for t in _tokens()}
    for folder in ("published", "audit"):
        for path in (root / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(t in data for t in tokens), path
    warehouse = (root / "warehouse.duckdb").read_bytes()
    assert not any(t in warehouse for t in tokens)
