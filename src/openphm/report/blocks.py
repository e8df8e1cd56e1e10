"""What a report section is made of: tables, figures (a chart and the table behind it), text.

Every table cell knows its kind, so the template can mark published counts
(``class="count"``): a reader sees which figures went through the disclosure
gate, and a test can check that none of them is between 1 and 7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from openphm.report.charts import Chart
from openphm.report.published import SUPPRESSED_MARK, PublishedTable

DEFAULT_ROWS = 40  # rows shown per table; the whole table is in published/


@dataclass(frozen=True)
class Cell:
    text: str
    kind: str = "key"  # key (a label), count (a gated count), value (a rate or other figure)

    @property
    def suppressed(self) -> bool:
        return self.text == SUPPRESSED_MARK


@dataclass(frozen=True)
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    source: str = ""  # the published file it comes from
    note: str = ""

    @property
    def has_suppressed(self) -> bool:
        return any(c.suppressed for row in self.rows for c in row)


@dataclass(frozen=True)
class Figure:
    chart: Chart
    table: Table
    caption: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass
class Section:
    """A rendered section: ``status`` is 'ok', or 'not run' when none of its tables exist."""

    id: str
    title: str
    intro: str
    status: str = "ok"
    blocks: list = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    stage: str = ""


def format_value(text: str) -> str:
    """Rates and other figures to a readable precision; labels and marks unchanged."""
    if text in ("", SUPPRESSED_MARK):
        return text
    try:
        x = float(text)
    except ValueError:
        return text
    if math.isnan(x):
        return ""
    if x.is_integer() and "." not in text:
        return f"{int(x):,}"
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:.2f}"


def table_of(
    pt: PublishedTable,
    frame: pd.DataFrame | None = None,
    *,
    caption: str,
    columns: Sequence[str] | None = None,
    limit: int = DEFAULT_ROWS,
    kinds: dict[str, str] | None = None,
) -> Table:
    """A published table (or some of its rows) as report cells, counts marked as counts."""
    frame = pt.frame if frame is None else frame
    columns = [c for c in (columns or pt.visible_columns) if c in frame.columns]
    counts = set(pt.counts)
    kinds = kinds or {}
    numeric = {c for c in columns if c not in counts and _looks_numeric(frame[c])}

    def cell(column: str, text: str) -> Cell:
        if column in counts:
            return Cell(text, "count")
        if column in numeric:
            return Cell(format_value(text), kinds.get(column, "value"))
        return Cell(text, kinds.get(column, "key"))

    shown = frame.head(limit)
    rows = tuple(
        tuple(cell(c, str(v)) for c, v in zip(columns, r, strict=True))
        for r in shown[columns].itertuples(index=False)
    )
    note = (
        f"First {limit} of {len(frame):,} rows; the whole table is published/{pt.name}.csv."
        if len(frame) > limit
        else ""
    )
    return Table(caption, tuple(columns), rows, source=f"{pt.name}.csv", note=note)


def plain_table(caption: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """A table of facts about the run (not counts of people): every cell is metadata."""
    return Table(
        caption,
        tuple(columns),
        tuple(tuple(Cell("" if v is None else str(v), "meta") for v in r) for r in rows),
    )


def _looks_numeric(column: pd.Series) -> bool:
    values = column[(column != "") & (column != SUPPRESSED_MARK)]
    if values.empty:
        return False
    return bool(pd.to_numeric(values, errors="coerce").notna().all())
