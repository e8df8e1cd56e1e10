"""Spec tests: small input tables in, the expected table out, on every engine.

Tables are written as text so a spec reads as documentation::

    person_id | year_of_birth | sex
    p1        | 1950          | 2

An empty cell is NULL. Input columns a canonical table has but the spec leaves
out are NULL too (they must be nullable). Rows compare as sets: order is never
part of a transform's contract unless the spec sorts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from openphm import engine
from openphm.model import TABLES

_names = itertools.count()


def parse_rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    header = [c.strip() for c in lines[0].split("|")]
    rows = [[c.strip() for c in ln.split("|")] for ln in lines[1:]]
    for n, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"spec table line {n}: {len(row)} cells, header has {len(header)}")
    return header, rows


def _value(cell: str, dtype: dt.DataType) -> Any:
    if cell == "":
        return None
    if dtype.is_integer():
        return int(cell)
    if dtype.is_floating():
        return float(cell)
    if dtype.is_boolean():
        return {"T": True, "F": False, "true": True, "false": False}[cell]
    if dtype.is_date():
        return date.fromisoformat(cell)
    return cell


def table_from_text(text: str, schema: ibis.Schema) -> pd.DataFrame:
    header, rows = parse_rows(text)
    unknown = set(header) - set(schema.names)
    if unknown:
        raise ValueError(f"spec columns {sorted(unknown)} are not in the schema {schema.names}")
    data = {
        name: [_value(r[header.index(name)], typ) if name in header else None for r in rows]
        for name, typ in schema.items()
    }
    frame = pd.DataFrame(data, columns=list(schema.names))
    # Nullable integers must stay integers on the way into Spark, not become NaN.
    ints = [name for name, typ in schema.items() if typ.is_integer()]
    return frame.astype({name: "Int64" for name in ints})


def load(con, name: str, text: str, schema: Mapping[str, str] | None = None) -> ir.Table:
    """A spec input as a real (temporary) table in the engine under test."""
    sch = ibis.schema(schema) if schema else TABLES[name].schema()
    if not schema:  # canonical tables: columns the spec omits are NULL, so relax nullability
        sch = ibis.schema({n: t.copy(nullable=True) for n, t in sch.items()})
    frame = table_from_text(text, sch)
    return engine.scratch_table(
        con, f"spec_{name}_{next(_names)}", ibis.memtable(frame, schema=sch)
    )


def _normal(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return round(value, 9)
    return value


def rows_of(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    rows = [tuple(_normal(v) for v in rec) for rec in frame[columns].itertuples(index=False)]
    return sorted(rows, key=repr)


def assert_spec(result: ir.Table, expected: str) -> None:
    """The result holds exactly the expected rows (in the expected columns)."""
    header, _ = parse_rows(expected)
    missing = set(header) - set(result.columns)
    assert not missing, f"result lacks columns {sorted(missing)}; it has {result.columns}"
    schema = result.schema()
    want = table_from_text(expected, ibis.schema({c: schema[c] for c in header}))
    got = result.select(*header).execute()
    got_rows, want_rows = rows_of(got, header), rows_of(want, header)
    assert got_rows == want_rows, (
        f"columns {header}\nonly in result:   {sorted(set(got_rows) - set(want_rows), key=repr)}"
        f"\nonly in expected: {sorted(set(want_rows) - set(got_rows), key=repr)}"
    )


def assert_transform(
    con,
    transform: Callable[..., ir.Table],
    inputs: Mapping[str, str],
    expected: str,
    schemas: Mapping[str, Mapping[str, str]] | None = None,
    **kwargs: Any,
) -> None:
    """Load the inputs, apply the transform (inputs passed by name), compare."""
    schemas = schemas or {}
    tables = {name: load(con, name, text, schemas.get(name)) for name, text in inputs.items()}
    assert_spec(transform(**tables, **kwargs), expected)
