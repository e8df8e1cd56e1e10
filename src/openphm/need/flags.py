"""Condition flags, one row per person: whether each category is recorded, and since when.

From ``need.first_recorded`` (person, definition, category, first date), a column pair
per category of each flagged definition: ``<definition>_<category>`` (true or false)
and ``<definition>_<category>_first`` (the first record's date, NULL without one). So
the long-term conditions give ``ltc_diabetes`` and ``ltc_diabetes_first``; maternity
gives ``maternity_pregnancy``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis.expr.types as ir

from openphm.codelists import CodeListError, Definition
from openphm.need.scores import FIRST, PERSON, DefinitionsArg, first_recorded, resolve

__all__ = ["FIRST_SUFFIX", "condition_flags", "flag_column", "flag_columns", "wide"]

#: What ``condition_flags`` flags unless told.
DEFAULT_FLAGS = ("ltc",)

FIRST_SUFFIX = "_first"


def flag_column(definition: Definition, category: str) -> str:
    return f"{definition.name}_{category}"


def flag_columns(definitions: Sequence[Definition]) -> tuple[str, ...]:
    """Every column ``wide`` makes, in order: each flag, then its first date."""
    return tuple(
        column
        for d in definitions
        for c in d.categories
        for column in (flag_column(d, c), flag_column(d, c) + FIRST_SUFFIX)
    )


def condition_flags(
    diagnoses: ir.Table,
    *,
    definitions: DefinitionsArg = DEFAULT_FLAGS,
    index_date: dt.date | None = None,
    people: ir.Table | None = None,
) -> ir.Table:
    """One row per person: each category's flag and first-recorded date.

    ``diagnoses`` as ``need.scores`` takes it, with a ``diagnosis_date``; everyone in
    ``people`` (else everyone with a diagnosis) gets a row, their columns kept.
    """
    chosen = resolve(definitions)
    first = first_recorded(diagnoses, definitions=chosen, index_date=index_date)
    population = diagnoses.select(PERSON).distinct() if people is None else people
    return wide(first, chosen, population)


def wide(first: ir.Table, definitions: Sequence[Definition], people: ir.Table) -> ir.Table:
    """One row per person of ``people`` (their columns kept) plus each flag and first date."""
    made = flag_columns(definitions)
    if clash := sorted(set(made) & set(people.columns)):
        raise CodeListError(f"flag columns {clash} would overwrite the people's columns")
    dates = first.group_by(PERSON).aggregate(
        **{
            flag_column(d, c) + FIRST_SUFFIX: first[FIRST].min(
                where=(first.definition == d.name) & (first.category == c)
            )
            for d in definitions
            for c in d.categories
        }
    )
    joined = people.left_join(dates, PERSON)
    columns = {c: joined[c] for c in people.columns}
    for d in definitions:
        for c in d.categories:
            first_date = joined[flag_column(d, c) + FIRST_SUFFIX]
            columns[flag_column(d, c)] = first_date.notnull()
            columns[flag_column(d, c) + FIRST_SUFFIX] = first_date
    return joined.select(**columns)
