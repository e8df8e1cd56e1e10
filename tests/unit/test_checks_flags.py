"""What ``checks.label`` keeps for a looked-up check that no value of the file fails.

NHS numbers, dates and SNOMED CT codes are judged once per distinct value, in Python,
before the rows are checked. A check that no value fails needs no flag, no CASE and no
``_raw_`` copy of its column, so none is made; a file where one value fails keeps the
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


def _checked(con, nhs_numbers: list[str]):
    rows = [
        {"EVENT_ID": f"e{i}", "NHS_NUMBER": n, "EVENT_DATE": "2024-01-01", "SNOMED_CODE": SNOMED}
        for i, n in enumerate(nhs_numbers)
    ]
    data = {c: [r.get(c) for r in rows] for c in LAYOUT.all_columns}
    data[LINE] = list(range(2, len(rows) + 2))
    staged = ibis.memtable(data, schema={c: "string" for c in LAYOUT.all_columns} | {LINE: "int64"})
    window = checks.Window(date(1900, 1, 1), date(2026, 11, 22))
    return con.create_table("checked", checks.label(staged, LAYOUT, window), overwrite=True)


def test_a_check_no_value_fails_leaves_no_raw_column_and_the_same_rows(duckdb_con):
    checked = _checked(duckdb_con, [VALID_NHS, "999 000 0018"])  # spaces as typed
    assert "_raw_NHS_NUMBER" not in checked.columns
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
