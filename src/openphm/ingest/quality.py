"""The data quality report: completeness, validity and timeliness by source and provider.

Aggregates only (counts of records), built from what ingest read, accepted and
quarantined; the publish stage puts them through the disclosure gate. A provider is
shown only as a code of its kind's shape that passed its checks (``checks.provider_code``).

- ``dq_files``: per source file, rows read, accepted and quarantined (these reconcile).
- ``dq_validity``: per source, provider, column, reason and action (``quarantined``: the row
  was; ``nulled``: the value was, and the row kept), the failures found. Every failure of a
  row counts, not only the first, so a row can count under several columns.
- ``dq_completeness``: per source, provider and required column, accepted rows and those
  with a value.
- ``dq_timeliness``: per source, provider and month of activity, accepted rows: a month
  that falls away at the end of the period is data still to arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from openphm.ingest.checks import (
    UNKNOWN_PROVIDER,
    as_date,
    failed,
    labels,
    provider_code,
)
from openphm.ingest.layouts import Layout

UNKNOWN = UNKNOWN_PROVIDER
# The column dating each layout's activity, for timeliness.
ACTIVITY_DATE = {
    "hes_apc": "ADMIDATE",
    "hes_op": "APPTDATE",
    "hes_ae": "ARRIVALDATE",
    "ecds": "ARRIVAL_DATE",
    "gp_events": "EVENT_DATE",
    "gp_registrations": "REGISTRATION_START",
    "community_contacts": "CONTACT_DATE",
    "mental_health_contacts": "CONTACT_DATE",
    "ambulance_incidents": "INCIDENT_DATE",
    "social_care_services": "START_DATE",
    "costing_feed": "ACTIVITY_DATE",
    "omop_visit_occurrence": "visit_start_date",
    "omop_visit_detail": "visit_detail_start_date",
    "omop_condition_occurrence": "condition_start_date",
    "omop_procedure_occurrence": "procedure_date",
}

SCHEMAS = {
    "dq_files": {
        "source": "string",
        "layout": "string",
        "file": "string",
        "rows_read": "int64",
        "rows_accepted": "int64",
        "rows_quarantined": "int64",
    },
    "dq_validity": {
        "source": "string",
        "provider_code": "string",
        "column": "string",
        "reason": "string",
        "action": "string",
        "rows": "int64",
    },
    "dq_completeness": {
        "source": "string",
        "provider_code": "string",
        "column": "string",
        "rows": "int64",
        "rows_complete": "int64",
    },
    "dq_timeliness": {
        "source": "string",
        "provider_code": "string",
        "month": "string",
        "rows": "int64",
    },
}


def _completeness_columns(layout: Layout) -> list[str]:
    """Required columns; of HES's numbered ones only the first (the primary code)."""
    return [
        c for c in layout.columns if not (c[-3:-2] == "_" and c[-2:].isdigit() and c[-2:] != "01")
    ]


@dataclass(frozen=True)
class FileProfile:
    """What one file's checks came to: counts that reconcile, and its quality tables."""

    accepted: int
    quarantined: int
    nulled: int  # accepted rows with at least one value nulled (or set to "not known")
    completeness: pd.DataFrame  # as dq_completeness
    timeliness: pd.DataFrame  # as dq_timeliness


def profile(checked: ir.Table, layout: Layout, source: str) -> FileProfile:
    """Counts, completeness and timeliness of a checked file (``checks.label``), in one
    query: accepted and quarantined rows and each required column's values, by
    provider and month of activity. A value nulled by its checks is not complete."""
    columns = _completeness_columns(layout)
    date_column = ACTIVITY_DATE.get(layout.name)
    t = checked.mutate(_provider=provider_code(checked, layout))
    month = (
        as_date(t[date_column]).strftime("%Y-%m").fill_null(UNKNOWN)
        if date_column
        else ibis.literal(UNKNOWN)
    )
    nullable = [i for i, label in enumerate(labels(layout)) if not label.quarantines]
    touched = failed(t, nullable)
    t = t.mutate(_month=month, _ok=t._failed == -1, _touched=touched)
    wide = (
        t.group_by(["_provider", "_month"])
        .aggregate(
            _rows=t.count(where=t._ok),
            _bad=t.count(where=~t._ok),
            _nulled=t.count(where=t._ok & t._touched),
            **{f"c{i}": t[c].count(where=t._ok) for i, c in enumerate(columns)},
        )
        .to_pandas()
    )
    accepted = wide[wide["_rows"] > 0]
    by_provider = (
        accepted.drop(columns=["_month", "_bad", "_nulled"])
        .groupby("_provider", as_index=False)
        .sum()
    )
    completeness = [
        pd.DataFrame(
            {
                "source": source,
                "provider_code": by_provider["_provider"],
                "column": column,
                "rows": by_provider["_rows"],
                "rows_complete": by_provider[f"c{i}"],
            }
        )
        for i, column in enumerate(columns)
    ]
    timeliness = pd.DataFrame(
        {
            "source": source,
            "provider_code": accepted["_provider"],
            "month": accepted["_month"],
            "rows": accepted["_rows"],
        }
    )
    return FileProfile(
        accepted=int(wide["_rows"].sum()),
        quarantined=int(wide["_bad"].sum()),
        nulled=int(wide["_nulled"].sum()),
        completeness=pd.concat(completeness, ignore_index=True)
        if completeness
        else _empty("dq_completeness"),
        timeliness=timeliness if date_column else _empty("dq_timeliness"),
    )


def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in SCHEMAS[name]})


def table(name: str, frames: list[pd.DataFrame]) -> ir.Table:
    schema = ibis.schema(SCHEMAS[name])
    frames = [f for f in frames if len(f)]
    frame = pd.concat(frames, ignore_index=True) if frames else _empty(name)
    if name != "dq_files":
        keys = [c for c in schema.names if c not in ("rows", "rows_complete")]
        frame = frame.groupby(keys, as_index=False, dropna=False).sum()
    for column, dtype in schema.items():
        frame[column] = frame[column].astype("int64" if dtype.is_integer() else "object")
    return ibis.memtable(frame[list(schema.names)], schema=schema)
