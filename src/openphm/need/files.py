"""Scores for an analyst's own file of diagnoses, without a workspace.

A long CSV or Parquet file, one diagnosis per row: a person id and an ICD-10 code,
and optionally a date and an age column, named as the file names them. The result
is one row per person with every score, written as CSV or Parquet (by the output
file's suffix), sorted by person id. Backs ``openphm need score DIAGNOSES --out FILE``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from openphm import engine
from openphm.need.scores import AGE, CODE, DATE, PERSON, DefinitionsArg, resolve, scores

__all__ = ["FileScores", "read_diagnoses", "score_file"]

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
# CSV columns are read as text, so ids keep leading zeros and codes stay codes.
_CSV_AS_TEXT = {"duckdb": {"all_varchar": True}, "spark": {"inferSchema": False}}


@dataclasses.dataclass(frozen=True)
class FileScores:
    """What ``score_file`` did: rows read, people written, scores, where, how long."""

    rows: int
    people: int
    columns: tuple[str, ...]
    out: Path
    seconds: float


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES) or path.is_dir():
        return "parquet"
    raise ValueError(
        f"{path}: cannot tell the file type from its name; use one of "
        f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}"
    )


def read_diagnoses(
    con: BaseBackend,
    path: Path | str,
    *,
    person: str = PERSON,
    code: str = CODE,
    date: str | None = None,
    age: str | None = None,
) -> ir.Table:
    """A diagnosis file as the table ``scores`` takes: person_id, code[, diagnosis_date, age].

    Every row needs a person id; dates must be ISO (YYYY-MM-DD) and ages whole numbers.
    Any that are not are counted, and one bad date or age is shown in the error (a
    person id never is).
    """
    return _read(con, Path(path), person=person, code=code, date=date, age=age)[0]


def _read(
    con: BaseBackend, path: Path, *, person: str, code: str, date: str | None, age: str | None
) -> tuple[ir.Table, int, int]:
    """The table, its rows and its people, all checks made in one scan of the file."""
    if not path.exists():
        raise FileNotFoundError(f"diagnosis file {path} does not exist")
    if _kind(path) == "csv":
        raw = con.read_csv(str(path), **_CSV_AS_TEXT.get(engine.engine_name(con), {}))
    else:
        raw = engine.read_parquet(con, path)
    names = {PERSON: person, CODE: code, DATE: date, AGE: age}
    names = {ours: theirs for ours, theirs in names.items() if theirs is not None}
    if missing := [theirs for theirs in names.values() if theirs not in raw.columns]:
        raise ValueError(
            f"{path.name} has no column {missing[0]!r}; its columns are {list(raw.columns)} "
            "(say which columns hold the person, code, date and age)"
        )
    table = raw.select(**{ours: raw[theirs] for ours, theirs in names.items()})
    fields: dict[str, ir.Value] = {
        PERSON: table[PERSON].cast("string"),
        CODE: table[CODE].cast("string"),
    }
    survey: dict[str, ir.Value] = {
        "rows": table.count(),
        "people": table[PERSON].nunique(),
        "unowned": table[PERSON].isnull().sum(),
    }
    wanted = {DATE: ("date", "a date (YYYY-MM-DD)"), AGE: ("int64", "a whole number of years")}
    for column in (c for c in (DATE, AGE) if c in names):
        fields[column], bad = _converted(table[column], wanted[column][0])
        if bad is not None:
            survey[f"{column}_bad"] = bad.sum()
            survey[f"{column}_example"] = table[column].min(where=bad)
    found = table.aggregate(**survey).execute().iloc[0]
    if int(found.unowned or 0):
        raise ValueError(f"{path.name}, column {person!r}: {int(found.unowned)} rows have no id")
    for column in (c for c in (DATE, AGE) if f"{c}_bad" in survey):
        if int(found[f"{column}_bad"] or 0):
            raise ValueError(
                f"{path.name}, column {names[column]!r}: {int(found[f'{column}_bad'])} values "
                f"are not {wanted[column][1]}, e.g. {found[f'{column}_example']!r}"
            )
    return table.select(**fields), int(found.rows), int(found.people)


def _converted(value: ir.Value, to: str) -> tuple[ir.Value, ir.BooleanValue | None]:
    """A column as a type and, for text, which values (not empty) would not convert."""
    if value.type().is_timestamp() and to == "date":
        return value.date(), None
    if not value.type().is_string():
        return value.cast(to), None
    text = value.strip().nullif("")
    return text.try_cast(to), text.notnull() & text.try_cast(to).isnull()


def score_file(
    diagnoses: Path | str,
    out: Path | str,
    *,
    person: str = PERSON,
    code: str = CODE,
    date: str | None = None,
    age: str | None = None,
    index_date: dt.date | None = None,
    definitions: DefinitionsArg = None,
    con: BaseBackend | None = None,
) -> FileScores:
    """Score a long diagnosis file and write one row per person with every score.

    ``person``, ``code``, ``date`` and ``age`` name the file's columns. A ``date``
    column needs an ``index_date`` (the day the scores are measured on), which sets
    each definition's lookback window; without one every row counts. Runs on an
    in-memory DuckDB unless given another engine.
    """
    started = time.perf_counter()
    diagnoses, out = Path(diagnoses), Path(out)
    if date is not None and index_date is None:
        raise ValueError(
            f"date={date!r} names a date column but no index date was given: give "
            "index_date (the day the scores are measured on), or leave date out to count "
            "every row"
        )
    if index_date is not None and date is None:
        raise ValueError("index_date needs date= (the file's column of diagnosis dates)")
    out_kind = _kind(out)
    chosen = resolve(definitions)
    own = con is None
    con = engine.connect() if own else con
    try:
        table, rows, people = _read(con, diagnoses, person=person, code=code, date=date, age=age)
        result = scores(table, definitions=chosen, index_date=index_date).order_by(PERSON)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out_kind == "csv":
            partial = out.with_name(out.name + ".partial")
            con.to_csv(result, str(partial))
            partial.replace(out)
        else:
            engine.write_parquet(con, result, out)
    finally:
        if own:
            engine.close(con)
    return FileScores(
        rows=rows,
        people=people,
        columns=tuple(result.columns),
        out=out,
        seconds=round(time.perf_counter() - started, 3),
    )
