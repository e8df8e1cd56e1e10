"""The published tables, read back as the report and the dashboard see them.

Only ``published/`` is read: every file there passed the disclosure gate, and the
``X.disclosure.json`` beside each ``X.csv`` says what the gate decided. A count
column is recognised by its ``<count>_flag`` companion (the gate adds one per
count), so the report can mark count cells and tests can scan them, whatever
stage published the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from openphm.disclosure import FLAG_SUFFIX, TOTAL
from openphm.publish.writer import SUPPRESSED_MARK

READ_ATTEMPTS = 3  # a set switched and removed mid-read is read again

__all__ = ["SUPPRESSED_MARK", "TOTAL", "Published", "PublishedTable", "read_published"]


@dataclass(frozen=True)
class PublishedTable:
    """One published file: its cells as text (as written), its counts and the gate's decisions."""

    name: str
    frame: pd.DataFrame  # every column as str; "" is empty, "*" is suppressed
    decisions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> tuple[str, ...]:
        return tuple(c for c in self.frame.columns if f"{c}{FLAG_SUFFIX}" in self.frame.columns)

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(f"{c}{FLAG_SUFFIX}" for c in self.counts)

    @property
    def visible_columns(self) -> list[str]:
        """The columns a reader needs: the flags are shown as '*' in the counts already."""
        return [c for c in self.frame.columns if c not in self.flags]

    def numeric(self, column: str) -> pd.Series:
        """A column as numbers: suppressed ('*') and empty cells become NaN."""
        return pd.to_numeric(self.frame[column].where(self.frame[column] != ""), errors="coerce")

    def where(self, **equals: str) -> PublishedTable:
        """The rows whose columns equal the given values (columns it lacks are ignored)."""
        mask = pd.Series(True, index=self.frame.index)
        for column, value in equals.items():
            if column in self.frame.columns:
                mask &= self.frame[column] == value
        return PublishedTable(self.name, self.frame[mask].reset_index(drop=True), self.decisions)

    @property
    def suppressed_cells(self) -> dict[str, int]:
        """Suppressed cells per count column, from the gate's sidecar."""
        tallies = self.decisions.get("suppressed", {}) if self.decisions else {}
        return {k: int(v) for k, v in tallies.items()}


class Published(Mapping[str, PublishedTable]):
    """The published folder as a mapping of table name to ``PublishedTable``."""

    def __init__(self, tables: Mapping[str, PublishedTable], directory: Path | None = None):
        self._tables = dict(tables)
        self.directory = directory

    def __getitem__(self, name: str) -> PublishedTable:
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._tables))

    def __len__(self) -> int:
        return len(self._tables)

    def has(self, *names: str) -> bool:
        return all(n in self._tables for n in names)


def read_table(csv: Path) -> PublishedTable:
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False, na_filter=False)
    sidecar = csv.with_name(f"{csv.stem}.disclosure.json")
    decisions: dict[str, Any] = {}
    if sidecar.exists():
        decisions = json.loads(sidecar.read_text(encoding="utf-8")).get("disclosure", {})
    return PublishedTable(csv.stem, frame, decisions)


def read_published(directory: Path) -> Published:
    """Every ``published/*.csv`` with its disclosure sidecar, all from one published set.

    ``published`` is a link to the live set (publish/sets.py): it is resolved once, so a
    run that switches sets part way through the read cannot mix two; if the set read was
    removed by that switch, the read starts again on the new one.
    """
    directory = Path(directory)
    for attempt in range(READ_ATTEMPTS):
        folder = directory.resolve()
        try:
            tables = {p.stem: read_table(p) for p in sorted(folder.glob("*.csv"))}
        except FileNotFoundError:
            if attempt == READ_ATTEMPTS - 1:
                raise
            continue
        return Published(tables, directory)
    raise AssertionError("unreachable")
