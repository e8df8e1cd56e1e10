"""Pseudonymised HES, end to end through ``openphm run --stage ingest`` and ``--stage link``.

Two hand-written files in the shape of HES APC and HES OP (column names as the
layouts define them; values from the NHS Data Dictionary's code sets) whose NEWNHSNO
holds no NHS number but a 32-character upstream pseudonym, like the artificial HES
data's PSEUDO_HESID. Both sources are configured with ``identifier = "pseudonym"``.
Without ``[governance] opt_outs_applied_upstream = true`` ingest refuses before reading
anything; with it, every row is kept, a token's records in both files are one person,
and no token is left anywhere in the workspace afterwards.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from openphm.cli import app
from openphm.ingest.layouts import LAYOUTS
from openphm.link import pseudonym
from openphm.workspace import Workspace
from tests.e2e.workspaces import KEY

T1 = "TESTWn4Rt4ww00zIOJ8rYBMf5fgC4tvI"
T2 = "TESTa9Qm2Lxk77pRZd0sNyVc3HjUe1oB"
T3 = "TESTq-9Zr_Ke41mPx0aLw2NcVb7HdYs3"  # base64url tokens may hold '-' ...
T4 = "TESTq9Zr_Ke41mPx0aLw2NcVb7HdYs3"  # ... and this is T3 without it: another person
T5 = "TEST7kLm0Pq2Rs4Tu6Vw8Xy0Za2Bc4De"
TOKENS = (T1, T2, T3, T4, T5)

PATIENT = {"SEX": "2", "ETHNOS": "A", "LSOA21": "E01000001", "HOMEADD": "ZZ1 1AA"}
APC = [  # EPIKEY, PROVSPNOPS, NEWNHSNO, DOB, ADMIDATE, DISDATE, DIAG_4_01
    ("100000000001", "S1", T1, "1950-06-15", "2024-01-10", "2024-01-14", "I214"),
    ("100000000002", "S2", T2, "1988-01-20", "2024-02-01", "2024-02-02", "J189"),
    ("100000000003", "S3", T3, "1962-09-30", "2024-03-05", "2024-03-09", "K359"),
    ("100000000004", "S4", T1, "1950-06-15", "2024-05-20", "2024-05-22", "I500"),
]
OP = [  # ATTENDKEY, NEWNHSNO, DOB, APPTDATE; the second token padded with spaces
    ("200000000001", T1, "1950-06-15", "2024-02-12"),
    ("200000000002", f"  {T2} ", "1988-01-20", "2024-03-01"),
    ("200000000003", T4, "1971-11-02", "2024-04-15"),
    ("200000000004", T5, "2001-07-07", "2024-06-03"),
]


def _write(path: Path, layout: str, rows: list[dict[str, str]]) -> None:
    columns = LAYOUTS[layout].all_columns
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _deliver(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    apc = [
        {
            "EPIKEY": key,
            "PROCODE3": "RXX",
            "PROVSPNOPS": spell,
            "NEWNHSNO": token,
            "DOB": dob,
            **PATIENT,
            "GPPRAC": "A81001",
            "ADMIDATE": admitted,
            "ADMIMETH": "21",
            "ADMISORC": "19",
            "CLASSPAT": "1",
            "EPISTART": admitted,
            "EPIEND": discharged,
            "EPIORDER": "1",
            "MAINSPEF": "300",
            "TRETSPEF": "300",
            "DISDATE": discharged,
            "DISMETH": "1",
            "DISDEST": "19",
            "DIAG_4_01": diagnosis,
        }
        for key, spell, token, dob, admitted, discharged, diagnosis in APC
    ]
    op = [
        {
            "ATTENDKEY": key,
            "PROCODE3": "RXX",
            "NEWNHSNO": token,
            "DOB": dob,
            **PATIENT,
            "GPPRAC": "A81001",
            "APPTDATE": when,
            "ATTENDED": "5",
            "FIRSTATT": "1",
            "MAINSPEF": "320",
            "TRETSPEF": "320",
        }
        for key, token, dob, when in OP
    ]
    _write(folder / "hes_apc.csv", "hes_apc", apc)
    _write(folder / "hes_op.csv", "hes_op", op)
    return folder / "hes_apc.csv", folder / "hes_op.csv"


def _workspace(root: Path, apc: Path, op: Path) -> Path:
    Workspace.init(root).close()
    key_file = root.parent / "pseudonym.key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o600)  # a key others can read is refused
    toml = root / "openphm.toml"
    text = toml.read_text().replace('key_env = "OPENPHM_PSEUDONYM_KEY"', f'key_file = "{key_file}"')
    text = text.replace(
        "[stages.link]", '[stages.ingest]\nextract_date = "2024-12-31"\n\n[stages.link]'
    )
    text += f"""
[sources.hes_apc]
path = "{apc}"
layout = "hes_apc"
identifier = "pseudonym"

[sources.hes_op]
path = "{op}"
layout = "hes_op"
identifier = "pseudonym"
"""
    toml.write_text(text)
    return toml


def _declare(toml: Path) -> None:
    text = toml.read_text()
    marker = 'description = "Population health management for the integrated care system"'
    assert marker in text
    toml.write_text(text.replace(marker, marker + "\nopt_outs_applied_upstream = true"))


def _run(root: Path, stage: str):
    return CliRunner().invoke(app, ["run", "-w", str(root), "--stage", stage])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("pseudo")
    apc, op = _deliver(base / "delivered")
    root = base / "ws"
    toml = _workspace(root, apc, op)
    refused = _run(root, "ingest")
    left_after_refusal = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    _declare(toml)
    ingested = _run(root, "ingest")
    linked = _run(root, "link")
    return root, refused, left_after_refusal, ingested, linked


def test_ingest_refuses_pseudonymised_sources_without_the_declaration(world):
    root, refused, left, _, _ = world
    assert refused.exit_code == 2, refused.output
    message = " ".join(refused.output.split())
    assert "hes_apc, hes_op" in message
    assert "national data opt-out" in message
    assert "opt_outs_applied_upstream = true under [governance]" in message
    assert not any(t in refused.output for t in TOKENS)
    # Refused before reading: nothing staged, quarantined or committed.
    assert not [p for p in left if p.startswith(("quarantine/", "staging-"))], left
    assert "catalog.json" not in left or not Workspace(root).catalog()


def test_every_row_is_kept(world):
    root, _, _, ingested, linked = world
    assert ingested.exit_code == 0, ingested.output
    assert linked.exit_code == 0, linked.output
    ws = Workspace(root)
    try:
        encounter = ws.table("encounter").to_pandas()
        quarantined = pd.read_parquet(ws.quarantine_dir / "ingest" / "quarantine.parquet")
    finally:
        ws.close()
    assert len(quarantined) == 0, quarantined[["column", "reason"]]
    assert sorted(_visits(encounter)) == sorted(
        [f"apc {row[4]}" for row in APC] + [f"op {row[3]}" for row in OP]
    )
    assert set(encounter.link_method) == {"upstream_pseudonym"}


def _visits(encounter: pd.DataFrame) -> pd.Series:
    """Each encounter as 'SETTING START_DATE' (one a day per setting in these files)."""
    return encounter.setting + " " + encounter.start_date.astype(str)


def test_a_tokens_records_in_both_files_are_one_person(world):
    root, _, _, _, _ = world
    ws = Workspace(root)
    try:
        encounter = ws.table("encounter").to_pandas()
        person = ws.table("person").to_pandas()
    finally:
        ws.close()
    ids = dict(zip(TOKENS, pseudonym.of_upstream(KEY, TOKENS), strict=True))
    encounter["visit"] = _visits(encounter)
    by_person = encounter.groupby("person_id").visit.apply(set).to_dict()
    assert by_person == {
        ids[T1]: {"apc 2024-01-10", "apc 2024-05-20", "op 2024-02-12"},
        ids[T2]: {"apc 2024-02-01", "op 2024-03-01"},
        ids[T3]: {"apc 2024-03-05"},
        ids[T4]: {"op 2024-04-15"},
        ids[T5]: {"op 2024-06-03"},
    }
    born = zip(person.year_of_birth, person.month_of_birth, strict=True)
    births = dict(zip(person.person_id, born, strict=True))
    assert births == {
        ids[T1]: (1950, 6),
        ids[T2]: (1988, 1),
        ids[T3]: (1962, 9),
        ids[T4]: (1971, 11),
        ids[T5]: (2001, 7),
    }


def test_the_audit_record_and_the_output_say_opt_outs_were_applied_upstream(world):
    root, _, _, _, linked = world
    ws = Workspace(root)
    try:
        records = [r for r in ws.audit.records() if r.get("action") == "stage:link"]
    finally:
        ws.close()
    counts = records[-1]["counts"]["link"]
    assert counts["opt_outs_applied_upstream"] is True
    assert counts["pseudonymised_sources"] == ["hes_apc", "hes_op"]
    assert counts["upstream_pseudonym_people"] == 5
    assert any("applied upstream for sources hes_apc, hes_op" in n for n in records[-1]["notes"])
    assert "applied upstream" in " ".join(linked.output.split())


def test_no_token_is_left_anywhere_in_the_workspace(world):
    """Every byte of every file: warehouse, catalog, audit log, quarantine, published;
    and everything the command line printed."""
    root, refused, _, ingested, linked = world
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".duckdb") for p in files)
    for path in files:
        data = path.read_bytes()
        for token in TOKENS:
            assert token.encode() not in data, (path.relative_to(root), token)
    for result in (refused, ingested, linked):
        assert not any(t in result.output for t in TOKENS)
