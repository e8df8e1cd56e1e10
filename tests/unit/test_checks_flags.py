"""What ``checks.label`` keeps for a check that no value of the file fails.

The checks run once per row, into bit masks (``checks.flag``), and that is what a stage
materialises; the checked rows (``checks.cleaned``) read the bits. A check that no row
failed needs no CASE and no ``_raw_`` copy of its column, so none is made (nor, for a
looked-up check such as the NHS number's, a bit); a file where one value fails keeps the
value as delivered, and both read the same through ``split`` and ``issues``.
"""

from __future__ import annotations

from datetime import date

import ibis

from openphm.ingest import checks
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.reader import LINE

LAYOUT = LAYOUTS["gp_events"]
SNOMED = "44054006"  # type 2 diabetes mellitus, a valid concept id
VALID_NHS = "9990000018"
INVALID_NHS = "9990000019"  # wrong Modulus 11 check digit


def _checked(con, nhs_numbers: list[str], values: list[str] | None = None):
    rows = [
        {"EVENT_ID": f"e{i}", "NHS_NUMBER": n, "EVENT_DATE": "2024-01-01", "SNOMED_CODE": SNOMED}
        for i, n in enumerate(nhs_numbers)
    ]
    for row, value in zip(rows, values or [], strict=False):
        row["VALUE"] = value
    data = {c: [r.get(c) for r in rows] for c in LAYOUT.all_columns}
    data[LINE] = list(range(2, len(rows) + 2))
    staged = ibis.memtable(data, schema={c: "string" for c in LAYOUT.all_columns} | {LINE: "int64"})
    window = checks.Window(date(1900, 1, 1), date(2026, 11, 22))
    return con.create_table("checked", checks.label(staged, LAYOUT, window), overwrite=True)


def test_a_check_no_value_fails_leaves_no_raw_column_and_the_same_rows(duckdb_con):
    checked = _checked(duckdb_con, [VALID_NHS, "999 000 0018"], ["5.5", None])  # as typed
    assert "_raw_NHS_NUMBER" not in checked.columns
    assert "_raw_VALUE" not in checked.columns  # a pattern check no value fails
    accepted, bad = checks.split(checked, LAYOUT)
    assert accepted.count().execute() == 2 and bad.count().execute() == 0
    assert checks.issues(checked, LAYOUT).count().execute() == 0


def test_a_check_one_value_fails_keeps_that_value_as_delivered(duckdb_con):
    checked = _checked(duckdb_con, [VALID_NHS, INVALID_NHS])
    assert "_raw_NHS_NUMBER" in checked.columns
    accepted, _ = checks.split(checked, LAYOUT)
    kept = accepted.order_by(LINE).NHS_NUMBER.to_pyarrow().to_pylist()
    assert kept == [VALID_NHS, None]  # nulled, the row kept
    found = checks.issues(checked, LAYOUT).to_pyarrow().to_pydict()
    assert (found["line"], found["value"], found["reason"], found["action"]) == (
        [3],
        [INVALID_NHS],
        ["invalid_nhs_number"],
        ["nulled"],
    )


def test_a_pattern_check_one_value_fails_nulls_it_and_keeps_it_as_delivered(duckdb_con):
    checked = _checked(duckdb_con, [VALID_NHS, VALID_NHS], ["5.5", "high"])
    assert "_raw_VALUE" in checked.columns and "_raw_NHS_NUMBER" not in checked.columns
    accepted, _ = checks.split(checked, LAYOUT)
    assert accepted.order_by(LINE).VALUE.to_pyarrow().to_pylist() == ["5.5", None]
    found = checks.issues(checked, LAYOUT).to_pyarrow().to_pydict()
    assert (found["line"], found["value"], found["reason"]) == ([3], ["high"], ["invalid_decimal"])
