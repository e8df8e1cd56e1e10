"""The data quality figures of one checked file: counts that reconcile, completeness
of each required column and timeliness by month, per provider, from accepted rows."""

from datetime import date

import ibis
import pandas as pd

from openphm.ingest import checks, quality
from openphm.ingest.layouts import LAYOUTS

GP_EVENTS = LAYOUTS["gp_events"]
WINDOW = checks.Window(date(1900, 1, 1), date(2026, 11, 22))


def _checked(rows: list[dict]) -> ibis.Table:
    columns = [*GP_EVENTS.all_columns, "_line"]
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    schema = {c: "string" for c in GP_EVENTS.all_columns} | {"_line": "int64"}
    return checks.label(ibis.memtable(frame, schema=schema), GP_EVENTS, WINDOW)


def test_profile_counts_completeness_and_timeliness_from_accepted_rows_only():
    def row(line, practice, day, value):
        return {
            "EVENT_ID": f"e{line}",
            "NHS_NUMBER": "9990000018",
            "PRACTICE_CODE": practice,
            "EVENT_DATE": day,
            "SNOMED_CODE": "38341003",
            "VALUE": value,
            "_line": line,
        }

    checked = _checked(
        [
            row(2, "A81001", "2024-01-05", "7.1"),
            row(3, "A81001", "2024-01-20", None),
            row(4, "A81001", "2024-02-01", "6.0"),
            row(5, "B82002", "2024-02-03", "high"),  # not a number: nulled, so not complete
            row(6, "B82002", "not a date", "1"),  # quarantined: counted, not profiled
            row(7, None, "2024-03-01", "2"),
            row(8, "9990000018", "2024-03-02", "2"),  # not a practice code: never shown
        ]
    )
    got = quality.profile(checked, GP_EVENTS, "gp")
    assert (got.accepted, got.quarantined) == (6, 1)

    value = got.completeness[got.completeness.column == "VALUE"]
    assert sorted(zip(value.provider_code, value.rows, value.rows_complete, strict=True)) == [
        ("A81001", 3, 2),
        ("B82002", 1, 0),
        (checks.INVALID_PROVIDER, 1, 1),
        (quality.UNKNOWN, 1, 1),
    ]
    assert set(got.completeness.column) == set(GP_EVENTS.columns)
    assert (got.completeness.source == "gp").all()

    months = sorted(got.timeliness[["provider_code", "month", "rows"]].itertuples(index=False))
    assert months == [
        ("A81001", "2024-01", 2),
        ("A81001", "2024-02", 1),
        ("B82002", "2024-02", 1),
        (checks.INVALID_PROVIDER, "2024-03", 1),
        (quality.UNKNOWN, "2024-03", 1),
    ]
