"""Small lookup tables written out in Python (the listed codes, weights, rules), as Ibis tables.

One shape for all of them: rows of values in the order of a schema, so each lookup
reads as the rows it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

__all__ = ["lookup"]


def lookup(rows: Iterable[Sequence[Any]], schema: Mapping[str, str]) -> ir.Table:
    """A memtable of ``rows``, each holding one value per column of ``schema``, in order."""
    rows = list(rows)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(schema)}
    return ibis.memtable(columns, schema=dict(schema))
