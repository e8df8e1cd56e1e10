"""A pseudonymised source's person column holds a token, not an NHS number.

``identifier="pseudonym"`` drops the Modulus 11 check on the layout's NHS-number
column and the checks joined to the GP register by NHS number; every other check
still applies, and rows keep the same reasons under either identifier.
"""

from __future__ import annotations

from datetime import date

import ibis

from openphm.ingest import checks
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.reader import LINE

LAYOUT = LAYOUTS["gp_events"]
TOKEN = "TESTWn4Rt4ww00zIOJ8rYBMf5fgC4tvI"  # like HES's artificial PSEUDO_HESID
SNOMED = "44054006"  # type 2 diabetes mellitus, a valid concept id


def _staged(rows: list[dict[str, str]]):
    data = {c: [r.get(c) for r in rows] for c in LAYOUT.all_columns}
    data[LINE] = list(range(2, len(rows) + 2))
    schema = {c: "string" for c in LAYOUT.all_columns} | {LINE: "int64"}
    return ibis.memtable(data, schema=schema)


def _window():
    register = ibis.memtable(
        {
            "nhs_number": ["9990000018"],
            "date_of_birth": [date(2000, 1, 1)],
            "date_of_death": [None],
        },
        schema={"nhs_number": "string", "date_of_birth": "date", "date_of_death": "date"},
    )
    return checks.Window(date(1900, 1, 1), date(2026, 11, 22), register)


def _reasons(duckdb_con, identifier: str) -> dict[str, tuple[str | None, set[str]]]:
    """Per event: the reason it was quarantined (None if kept), and every failure."""
    rows = [
        # A token in the NHS-number column.
        {"EVENT_ID": "e1", "NHS_NUMBER": TOKEN, "EVENT_DATE": "2024-01-01"},
        # A token that is also the register's NHS number, dated before that person's birth.
        {"EVENT_ID": "e2", "NHS_NUMBER": "9990000018", "EVENT_DATE": "1990-01-01"},
        # A bad date fails under either identifier.
        {"EVENT_ID": "e3", "NHS_NUMBER": "9990000026", "EVENT_DATE": "2024-02-30"},
    ]
    for row in rows:
        row["SNOMED_CODE"] = SNOMED
    labelled = checks.label(_staged(rows), LAYOUT, _window(), identifier=identifier)
    checked = duckdb_con.create_table("checked", labelled, overwrite=True)
    accepted, bad = checks.split(checked, LAYOUT)
    found = bad.to_pyarrow().to_pydict()
    by_line = dict(zip(found["line"], found["reason"], strict=True))
    kept = set(accepted.to_pyarrow()[LINE].to_pylist())
    issues = checks.issues(checked, LAYOUT).to_pyarrow().to_pydict()
    failures: dict[int, set[str]] = {}
    for line, reason in zip(issues["line"], issues["reason"], strict=True):
        failures.setdefault(line, set()).add(reason)
    events = {2: "e1", 3: "e2", 4: "e3"}
    return {
        events[line]: (None if line in kept else by_line[line], failures.get(line, set()))
        for line in events
    }


def test_nhs_number_sources_check_the_number_and_the_register(duckdb_con):
    # An invalid NHS number is nulled and the event kept (link may still place it).
    assert _reasons(duckdb_con, "nhs_number") == {
        "e1": (None, {"invalid_nhs_number"}),
        "e2": ("date_before_birth", {"date_before_birth"}),
        "e3": ("invalid_date", {"invalid_date"}),
    }


def test_pseudonym_sources_check_neither_and_everything_else(duckdb_con):
    assert _reasons(duckdb_con, "pseudonym") == {
        "e1": (None, set()),
        "e2": (None, set()),
        "e3": ("invalid_date", {"invalid_date"}),
    }


def test_checks_for_drops_only_the_nhs_number_and_register_checks():
    every = checks.checks_for(LAYOUT)
    kept = checks.checks_for(LAYOUT, identifier="pseudonym")
    dropped = [(column, c.check, c.argument) for column, c in every if (column, c) not in kept]
    assert dropped == [
        ("NHS_NUMBER", "nhs_number", ""),
        ("EVENT_DATE", "after_birth", "register"),
        ("EVENT_DATE", "before_death", "register"),
    ]
    assert [p for p in every if p in kept] == kept
