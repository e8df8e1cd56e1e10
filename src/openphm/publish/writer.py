"""The publish writer: the only code that writes to ``published/``.

It accepts nothing but a :class:`~openphm.disclosure.GatedTable`, checks the
gate's promise once more on the rows it is about to write (defence in depth),
withholds any key cell shaped like an identifier (``cells.py``), and writes each
file atomically with a sidecar saying what was suppressed and withheld.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from openphm.disclosure import FLAG_SUFFIX, TOTAL, GatedTable
from openphm.publish import cells
from openphm.workspace import atomic_write_text

SUPPRESSED_MARK = "*"


class DisclosureBreach(RuntimeError):
    """A table reached the writer with a count the gate should have suppressed."""


@dataclass(frozen=True)
class PublishedFile:
    name: str
    path: Path
    rows: int
    decisions: dict


def write_published(directory: Path, gated: GatedTable) -> PublishedFile:
    if not isinstance(gated, GatedTable):
        raise TypeError(
            f"publish accepts only tables that passed disclosure.gate(); got {type(gated).__name__}"
        )
    frame = gated.table.execute()
    if gated.decisions["enabled"]:
        _recheck(gated, frame)
    frame, withheld = _withheld(frame, gated)
    decisions = {**gated.decisions, "invalid_values": withheld}
    frame = _in_reading_order(frame, gated.keys)
    text = _neutralised(_render(frame, gated)).to_csv(index=False, lineterminator="\n")
    path = directory / f"{gated.name}.csv"
    atomic_write_text(path, text)
    sidecar = {"table": gated.name, "rows": len(frame), "disclosure": decisions}
    atomic_write_text(
        directory / f"{gated.name}.disclosure.json", json.dumps(sidecar, indent=2, sort_keys=True)
    )
    return PublishedFile(gated.name, path, len(frame), decisions)


def _recheck(gated: GatedTable, frame: pd.DataFrame) -> None:
    threshold = gated.decisions["suppression_threshold"]
    multiple = gated.decisions["rounding_multiple"]
    for c in gated.counts:
        values = frame[c].dropna()
        bad = values[(values >= 1) & (values <= threshold)]
        if len(bad) or (values % multiple != 0).any():
            # Counts only, never the row: the message may reach a log.
            raise DisclosureBreach(
                f"{gated.name}.{c}: {len(bad)} cell(s) between 1 and "
                f"{threshold} or not rounded reached the writer"
            )


def _natural(value: object) -> tuple:
    """'5-9' before '10-14', and the gate's totals after the cells they total."""
    text = "" if value is None else str(value)
    parts = re.split(r"(\d+)", text)
    return (text == TOTAL, [int(p) if p.isdigit() else p for p in parts])


def _in_reading_order(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Rows sorted by ``_natural`` of each key in turn, ties kept in their order.

    Each key's distinct values are ranked once (equal natural keys share a rank) and the
    rows sorted by the ranks with a stable sort: the order of sorting every row by its
    list of natural keys, without calling ``_natural`` once per cell.
    """
    if not keys or len(frame) < 2:
        return frame.reset_index(drop=True)
    ranks = []
    for k in keys:
        text = ["" if v is None else str(v) for v in frame[k].tolist()]
        distinct = sorted(set(text), key=_natural)
        rank, previous, current = {}, None, -1
        for value in distinct:
            natural = _natural(value)
            if natural != previous:
                current, previous = current + 1, natural
            rank[value] = current
        ranks.append(np.fromiter((rank[t] for t in text), dtype=np.int64, count=len(text)))
    order = np.lexsort(ranks[::-1])  # the last key given to lexsort is the primary one
    return frame.iloc[order].reset_index(drop=True)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
# injection"): a name from a source file such as =HYPERLINK(...) would run when opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with ' so it is text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.match(value):
        return "'" + value
    return value


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    text = [c for c in frame.columns if frame[c].dtype == object or frame[c].dtype == "string"]
    return frame.assign(**{c: frame[c].map(neutralise) for c in text}) if text else frame


def _withheld(frame: pd.DataFrame, gated: GatedTable) -> tuple[pd.DataFrame, dict[str, int]]:
    """Key cells shaped like an identifier replaced by cells.INVALID_VALUE, and how many
    were in each column (counts only: the sidecar and the audit show that values were
    withheld, never which)."""
    text = [k for k in gated.keys if frame[k].dtype == object or frame[k].dtype == "string"]
    replaced, counts = cells.withhold(gated.name, text, {k: frame[k].tolist() for k in text})
    return (frame.assign(**replaced) if replaced else frame), counts


def _render(frame: pd.DataFrame, gated: GatedTable) -> pd.DataFrame:
    """Suppressed counts, and rates built on them, are shown as '*'."""
    out = frame.copy()
    for c in gated.counts:
        flagged = out[f"{c}{FLAG_SUFFIX}"].notna()
        out[c] = out[c].astype("Int64").astype("string").mask(flagged, SUPPRESSED_MARK)
    for rname, rate in gated.rates.items():
        hidden = (
            out[f"{rate.numerator}{FLAG_SUFFIX}"].notna()
            | out[f"{rate.denominator}{FLAG_SUFFIX}"].notna()
        )
        out[rname] = out[rname].round(6).astype("string").mask(hidden, SUPPRESSED_MARK)
    return out
