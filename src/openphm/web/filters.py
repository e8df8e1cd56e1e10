"""Filters over published tables: place, practice, period and group, checked with clear errors.

Published tables come in two shapes. Some name their organisation in a column
(``practice_code``, ``place_code``); the indicator tables have a ``breakdown`` (practice,
pcn, place, ics, imd_quintile, ...) and a ``group_code``. A filter means:

- ``place=X``: rows of place X (``place_code == X``, or breakdown place and group X);
- ``practice=X``: rows of practice X, likewise;
- ``period=P``: rows of period P (``period`` or ``month``);
- ``group=G``: rows of breakdown G (e.g. imd_quintile), or segment G in need tables.

A filter a table cannot take, or a value the table does not hold, is a ``FilterError``
whose message says what was wrong and what would work (the dashboard answers 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from openphm.report.published import PublishedTable

FILTERS = ("place", "practice", "period", "group")
MAX_LIMIT = 1000
_VALUE = re.compile(r"^[A-Za-z0-9 _./-]{1,40}$")
_LISTED = 12  # values named in an error message


class FilterError(ValueError):
    """A filter the table cannot take; the message says what was wrong."""


@dataclass(frozen=True)
class Filters:
    place: str | None = None
    practice: str | None = None
    period: str | None = None
    group: str | None = None

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def check_value(name: str, value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not _VALUE.fullmatch(value):
        raise FilterError(
            f"{name} must be 1 to 40 letters, digits, spaces or . _ / - (a code such as "
            f"X1A or 2024/25); the value given has other characters or is too long"
        )
    return value


def _column_for(pt: PublishedTable, name: str) -> tuple[str, str | None] | None:
    """(column, breakdown) a filter applies to in this table, or None."""
    cols = set(pt.frame.columns)
    direct = {
        "place": ["place_code", "place"],
        "practice": ["practice_code", "practice"],
        "period": ["period", "month", "financial_year", "year"],
        "group": ["breakdown", "segment", "group"],
    }[name]
    for c in direct:
        if c in cols:
            return c, None
    if name in ("place", "practice") and {"breakdown", "group_code"} <= cols:
        return "group_code", name
    return None


def _known(values: pd.Series) -> str:
    distinct = sorted(set(values.unique().tolist()) - {""})
    shown = ", ".join(distinct[:_LISTED])
    return shown + (f" and {len(distinct) - _LISTED} more" if len(distinct) > _LISTED else "")


def apply(pt: PublishedTable, filters: Filters) -> pd.DataFrame:
    """The table's rows that pass the filters (the table as published when none is given)."""
    frame = pt.frame
    given = filters.given()
    if "place" in given and "practice" in given and "breakdown" in frame.columns:
        raise FilterError(
            f"{pt.name} has one breakdown per row: filter by place or by practice, not both"
        )
    for name, value in given.items():
        target = _column_for(pt, name)
        if target is None:
            raise FilterError(
                f"{pt.name} cannot be filtered by {name}: it has none of the columns that "
                f"filter uses; its columns are {', '.join(pt.visible_columns)}"
            )
        column, breakdown = target
        if breakdown is not None:
            frame = frame[frame["breakdown"] == breakdown]
        if not (frame[column] == value).any():
            raise FilterError(
                f"{name} {value!r} is not in {pt.name}; it has: {_known(frame[column])}"
            )
        frame = frame[frame[column] == value]
    return frame


def options(pt: PublishedTable, name: str) -> list[str]:
    """The values a filter can take in this table ([] when it cannot be filtered so)."""
    target = _column_for(pt, name)
    if target is None:
        return []
    column, breakdown = target
    frame = pt.frame
    if breakdown is not None:
        frame = frame[frame["breakdown"] == breakdown]
    return sorted(set(frame[column].unique().tolist()) - {""})
