"""Who a rule picks out, as data: criteria over the columns of a table of people.

Segments, and Core20PLUS5's PLUS groups and clinical areas, are each written as
criteria, in a rule file (``codelists/*.rules.toml``) or in ``openphm.toml``::

    any_flag = ["ltc_dementia", "ltc_frailty"]    # any of these flags is true
    at_least = { hfrs = 5 }                       # a column at or above a number
    below = { age = 1 }                           # a column below a number
    one_of = { ethnic_category = ["H", "J"] }     # a column holding one of the values

A person meets the criteria when any one of them holds; a NULL never holds (an
unknown age is not under one). Criteria with none of these match nobody: only a
catch-all, such as the last segment, is written without any.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

__all__ = ["KINDS", "Criteria", "CriteriaError", "holds"]

#: The kinds of criterion, as they are written.
KINDS = ("any_flag", "at_least", "below", "one_of")


class CriteriaError(ValueError):
    """Criteria that cannot be read, or that name a column the people table lacks."""


@dataclasses.dataclass(frozen=True)
class Criteria:
    """What picks a person out, and where it was written (for errors)."""

    where: str
    any_flag: tuple[str, ...] = ()
    at_least: tuple[tuple[str, float], ...] = ()
    below: tuple[tuple[str, float], ...] = ()
    one_of: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str, extra: tuple[str, ...] = ()) -> Criteria:
        """Criteria from a TOML table; keys in ``extra`` (a segment's name...) are ignored."""
        if not isinstance(raw, Mapping):
            raise CriteriaError(f"{where}: must be a table of criteria ({', '.join(KINDS)})")
        if unknown := sorted(set(raw) - set(KINDS) - set(extra)):
            raise CriteriaError(
                f"{where}: unknown keys {unknown}; criteria are {list(KINDS)}"
                + (f" (besides {list(extra)})" if extra else "")
            )
        flags = raw.get("any_flag", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise CriteriaError(f'{where}: any_flag must be a list of columns, e.g. ["ltc_copd"]')
        return cls(
            where=where,
            any_flag=tuple(flags),
            at_least=_bounds(raw, "at_least", where),
            below=_bounds(raw, "below", where),
            one_of=_values(raw, where),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        named = [*self.any_flag, *(c for c, _ in (*self.at_least, *self.below, *self.one_of))]
        return tuple(dict.fromkeys(named))

    @property
    def empty(self) -> bool:
        return not self.columns


def _bounds(raw: Mapping[str, Any], kind: str, where: str) -> tuple[tuple[str, float], ...]:
    table = raw.get(kind, {})
    numeric = all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in dict(table).values()
    )
    if not isinstance(table, Mapping) or not numeric:
        raise CriteriaError(f"{where}: {kind} must map columns to numbers, e.g. {{ age = 65 }}")
    return tuple(table.items())


def _values(raw: Mapping[str, Any], where: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    table = raw.get("one_of", {})
    if not isinstance(table, Mapping) or not all(isinstance(v, list) and v for v in table.values()):
        raise CriteriaError(
            f'{where}: one_of must map columns to lists of values, e.g. {{ sex = ["2"] }}'
        )
    return tuple((column, tuple(values)) for column, values in table.items())


def holds(people: ir.Table, criteria: Criteria) -> ir.BooleanValue:
    """Whether each person meets the criteria (never NULL)."""
    _check_columns(people, criteria)
    tests: list[ir.BooleanValue] = [people[c] for c in criteria.any_flag]
    tests += [people[c] >= bound for c, bound in criteria.at_least]
    tests += [people[c] < bound for c, bound in criteria.below]
    tests += [people[c].isin(list(values)) for c, values in criteria.one_of]
    if not tests:
        return ibis.literal(False)
    return functools.reduce(operator.or_, (t.fill_null(False) for t in tests))


def _check_columns(people: ir.Table, criteria: Criteria) -> None:
    schema = people.schema()
    for column in criteria.columns:
        if column not in schema:
            raise CriteriaError(
                f"{criteria.where}: no column {column!r} among the people's: "
                f"{', '.join(schema.names)}"
            )
    for column in criteria.any_flag:
        if not schema[column].is_boolean():
            raise CriteriaError(
                f"{criteria.where}: any_flag needs true/false columns; {column!r} is "
                f"{schema[column]} (compare it with at_least, below or one_of)"
            )
    for column, _ in (*criteria.at_least, *criteria.below):
        if not schema[column].is_numeric():
            raise CriteriaError(
                f"{criteria.where}: {column!r} is {schema[column]}, not a number to compare"
            )
