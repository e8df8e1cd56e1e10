"""Ingest on a HES APC file as a user would run it: a row is quarantined only when it cannot
be used, every failure is in the restricted field issues, the published validity table
counts them by column, reason and action and never shows a raw value as a provider, and
the summary's "rows out" is the rows accepted.

The file is written here from the HES Data Dictionary's value sets, with synthetic NHS
numbers from the never-issued 999 range.
"""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest

from openphm.ingest import stage as ingest
from openphm.ingest.layouts import LAYOUTS
from openphm.publish import stage as publish
from openphm.runner import run_stage
from openphm.workspace import Workspace

APC = LAYOUTS["hes_apc"]
GOOD = {
    "PROCODE3": "RWE",
    "PROVSPNOPS": "s1",
    "NEWNHSNO": "9990000018",
    "DOB": "1950-03-01",
    "SEX": "1",
    "ETHNOS": "A",
    "ADMIDATE": "2024-01-02",
    "ADMIMETH": "21",
    "ADMISORC": "19",
    "CLASSPAT": "1",
    "EPISTART": "2024-01-02",
    "EPIEND": "2024-01-05",
    "EPIORDER": "1",
    "MAINSPEF": "300",
    "TRETSPEF": "300",
    "DISDATE": "2024-01-05",
    "DISMETH": "1",
    "DISDEST": "19",
    "DIAG_4_01": "I10X",
    "DIAG_4_02": "-",  # HES: no diagnosis
    "OPERTN_4_01": "-",  # HES: no operation
}
# Line number (the header is line 1) -> what differs from a good episode.
ROWS = {
    2: {},
    3: {"ETHNOS": "7Q", "DISDEST": "42", "DIAG_4_02": "7999"},  # kept, three values nulled
    4: {"ETHNOS": "X", "SEX": "0", "ADMIMETH": "99", "TRETSPEF": "&"},  # not known: valid
    5: {"ADMIDATE": ""},  # no admission date: quarantined
    6: {"PROCODE3": "9990000026", "NEWNHSNO": "9990000019"},  # columns shifted: kept
    7: {"EPIORDER": "2.0"},  # a whole number
}
NHS_NUMBERS = ("9990000018", "9990000019", "9990000026")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("severity") / "ws"
    Workspace.init(root)
    with open(root / "apc.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(APC.all_columns))
        writer.writeheader()
        for line, change in ROWS.items():
            writer.writerow({"EPIKEY": f"e{line}", **GOOD, **change})
    config = (root / "openphm.toml").read_text()
    config = config.replace(
        "[stages.link]", '[stages.ingest]\nextract_date = "2026-11-22"\n\n[stages.link]'
    )
    config += '\n[sources.apc]\npath = "apc.csv"\nlayout = "hes_apc"\n'
    (root / "openphm.toml").write_text(config)
    ws = Workspace(root)
    summary = run_stage(ws, ingest.STAGE)
    run_stage(ws, publish.STAGE)
    yield ws, summary
    ws.close()


def test_rows_read_are_rows_accepted_plus_quarantined_and_rows_out_is_accepted(ingested):
    _, summary = ingested
    (f,) = summary.counts["files"]
    assert (f["rows_read"], f["rows_accepted"], f["rows_quarantined"]) == (6, 5, 1)
    assert (summary.rows_in, summary.rows_out, summary.rows_quarantined) == (6, 5, 1)
    # Rows 3 and 6 were kept with values nulled: the summary says so.
    assert any(n.startswith("apc: 2 of 5 rows kept had values that failed") for n in summary.notes)


def test_one_quarantine_row_per_unusable_row(ingested):
    ws, _ = ingested
    bad = pd.read_parquet(ws.quarantine_dir / "ingest" / "quarantine.parquet")
    assert list(zip(bad.line, bad.column, bad.reason, strict=True)) == [
        (5, "ADMIDATE", "missing_value")
    ]


def test_every_failure_is_a_field_issue_with_what_was_done(ingested):
    ws, _ = ingested
    found = pd.read_parquet(ws.quarantine_dir / "ingest" / "field_issues.parquet")
    assert set(found.columns) >= {"source", "file", "line", "column", "value", "reason", "action"}
    got = sorted(zip(found.line, found.column, found.reason, found.action, strict=True))
    assert got == [
        (3, "DIAG_4_02", "invalid_icd10", "nulled"),
        (3, "DISDEST", "invalid_value", "nulled"),
        (3, "ETHNOS", "invalid_value", "nulled"),
        (5, "ADMIDATE", "missing_value", "quarantined"),
        (6, "NEWNHSNO", "invalid_nhs_number", "nulled"),
        (6, "PROCODE3", "invalid_code", "nulled"),
    ]
    assert set(found.source) == {"apc"} and set(found.file) == {"apc.csv"}


def test_kept_rows_reach_the_staged_tables_with_their_invalid_values_nulled(ingested):
    ws, _ = ingested
    identity = pd.read_parquet(ws.quarantine_dir / "ingest" / "staged_identity.parquet")
    ethnic = dict(zip(identity.record_key, identity.ethnic_category, strict=True))
    # HES ETHNOS X (not known) is kept as delivered and recoded to ETHNIC CATEGORY 99
    assert ethnic == {"e2": "A", "e3": "99", "e4": "99", "e6": "A", "e7": "A"}
    numbers = dict(zip(identity.record_key, identity.nhs_number, strict=True))
    assert pd.isna(numbers["e6"]) and numbers["e2"] == "9990000018"
    diagnoses = pd.read_parquet(ws.quarantine_dir / "ingest" / "staged_diagnosis.parquet")
    assert set(diagnoses.code) == {"I10"}  # '-' is no diagnosis, '7999' was nulled


def test_validity_counts_by_column_reason_and_action_and_shows_no_raw_value(ingested):
    ws, _ = ingested
    validity = ws.table("dq_validity").to_pandas()
    assert list(validity.columns) == ["source", "provider_code", "column", "reason", "action"] + [
        "rows"
    ]
    got = sorted(
        zip(validity.provider_code, validity.column, validity.action, validity.rows, strict=True)
    )
    assert got == [
        ("RWE", "ADMIDATE", "quarantined", 1),
        ("RWE", "DIAG_4_02", "nulled", 1),
        ("RWE", "DISDEST", "nulled", 1),
        ("RWE", "ETHNOS", "nulled", 1),
        ("invalid value", "NEWNHSNO", "nulled", 1),
        ("invalid value", "PROCODE3", "nulled", 1),
    ]
    shown = set(validity.provider_code)
    for table in ("dq_completeness", "dq_timeliness"):
        shown |= set(ws.table(table).provider_code.to_pyarrow().to_pylist())
    assert all(re.fullmatch(r"[A-Z0-9]{3,5}|invalid value|unknown", p) for p in shown), shown
    published = (ws.published_dir / "dq_validity.csv").read_text()
    assert "column" in published.splitlines()[0] and "action" in published.splitlines()[0]
    for path in ws.published_dir.iterdir():
        assert not any(n in path.read_text() for n in NHS_NUMBERS), path.name
