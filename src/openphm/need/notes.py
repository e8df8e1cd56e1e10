"""How many people each definition matched, and why one that matched no one did not.

A definition that matches no one scores everyone 0 (or flags no one), which looks like
a healthy population. In a population of more than ``MIN_PEOPLE`` that is far likelier
to be the data's shape than the population's health, so the stage says so, with the
likely cause read from what the coded records hold (``why``), in this order:

1. there are no coded records at all;
2. none is in a code system the definition uses (Charlson is ICD-10 only; ECDS and OMOP
   diagnoses are often SNOMED CT only);
3. no one is old enough for it (HFRS scores people aged 75 and over);
4. none of its code systems' records falls in its window: its lookback before the
   index date, or on or before the index date (an index date outside the data);
5. otherwise the records in its window hold no code on its list (for a rare
   condition, or maternity among older people, that may be the truth).

The evidence is two aggregates in the engine: people and matches per definition over
``person_need`` (always: the summary's counts), and records by code system with their
dates and counts per window (only when a note is due). Notes give counts, names and
dates, never a row's values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import ibis.expr.types as ir
import pandas as pd

from openphm.codelists import Definition
from openphm.model import DIAGNOSIS_CODE_SYSTEMS, GP_EVENT_CODE_SYSTEMS
from openphm.need.scores import AGE, DATE, matched_column, window_start

__all__ = ["MIN_PEOPLE", "matches", "unmatched"]

#: A definition matching no one in more people than this gets a note; in fewer, no
#: match can be chance (a rare condition in a small practice).
MIN_PEOPLE = 100


def matches(need: ir.Table, definitions: Sequence[Definition]) -> dict:
    """people, people per definition with any match, and people old enough per min_age.

    ``need`` is ``person_need(matched=True)``: one aggregate over it.
    """
    ages = sorted({d.min_age for d in definitions if d.min_age is not None})
    row = (
        need.aggregate(
            people=need.count(),
            **{
                f"_m_{d.name}": need[matched_column(d.name)].cast("int64").sum()
                for d in definitions
            },
            **{f"_a_{age}": (need[AGE] >= age).cast("int64").sum() for age in ages},
        )
        .execute()
        .iloc[0]
    )
    return {
        "people": _int(row["people"]),
        "matched": {d.name: _int(row[f"_m_{d.name}"]) for d in definitions},
        "aged": {age: _int(row[f"_a_{age}"]) for age in ages},
    }


def unmatched(
    counts: Mapping,
    definitions: Sequence[Definition],
    records: ir.Table,
    index_date: dt.date,
) -> list[str]:
    """A note for each definition that matched no one in more than ``MIN_PEOPLE`` people."""
    people = counts["people"]
    empty = [d for d in definitions if counts["matched"][d.name] == 0]
    if people <= MIN_PEOPLE or not empty:
        return []
    held = _held(records, empty, index_date)
    return [
        f"The {d.name} definition matched 0 of {people:,} people: "
        f"{why(d, held, counts['aged'], index_date)}."
        for d in empty
    ]


def why(d: Definition, held: pd.DataFrame, aged: Mapping[int, int], index_date: dt.date) -> str:
    """The likely cause, from ``held`` (one row per code system: rows, first, last and
    ``in_<name>``, the rows in each definition's window) and the people per min_age."""
    if held.empty or held["rows"].sum() == 0:
        return (
            "there are no coded records (no hospital diagnoses and no GP events) "
            "to match its codes against"
        )
    needs = _names(d.code_systems)
    own = held[held["code_system"].isin(d.code_systems)]
    if own.empty:
        have = " and ".join(
            f"{_name(r.code_system)} ({r.rows:,})" for r in held.itertuples(index=False)
        )
        return f"it needs {needs} codes and the coded records are {have}"
    if d.min_age is not None and aged.get(d.min_age, 0) == 0:
        return f"it scores people aged {d.min_age} and over, and none is"
    first, last = _day(own["first"].min()), _day(own["last"].max())
    if own[f"in_{d.name}"].sum() == 0:
        span = f"(its {needs} records run from {first} to {last})"
        if d.lookback_months is not None:
            return (
                f"no {needs} record falls in its {d.lookback_months}-month lookback "
                f"before the index date {index_date} {span}"
            )
        return f"no {needs} record is dated on or before the index date {index_date} {span}"
    inside = int(own[f"in_{d.name}"].sum())
    return f"none of the {inside:,} {needs} records in its window is a code on its list"


def _held(records: ir.Table, empty: Sequence[Definition], index_date: dt.date) -> pd.DataFrame:
    """Records by code system: rows, first and last date, and rows in each window."""
    date = records[DATE]
    windows = {}
    for d in empty:
        inside = date <= index_date
        if d.lookback_months is not None:
            inside &= date >= window_start(index_date, d.lookback_months)
        windows[f"in_{d.name}"] = inside.cast("int64").sum()
    return (
        records.group_by("code_system")
        .aggregate(rows=records.count(), first=date.min(), last=date.max(), **windows)
        .execute()
        .sort_values("code_system")
        .fillna({f"in_{d.name}": 0 for d in empty})
    )


def _name(system: str) -> str:
    """'icd10' -> 'ICD-10', 'snomed' -> 'SNOMED CT' (the model's names, short)."""
    full = DIAGNOSIS_CODE_SYSTEMS.get(system) or GP_EVENT_CODE_SYSTEMS.get(system) or system
    return full.split(" (")[0]


def _names(systems: Sequence[str]) -> str:
    return " or ".join(_name(s) for s in systems)


def _day(value) -> str:
    return "an unknown date" if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _int(value) -> int:
    return 0 if pd.isna(value) else int(value)
