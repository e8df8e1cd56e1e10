"""Recorded codes into the categories of code lists: each distinct code cleaned and matched once.

Codes arrive in many spellings (``'e11.9'``, ``' E119 '``, ``'I10X'``, ``'J44-'``); code
lists hold one (``'E119'``, ``'I10'``, ``'J44'``). A population has millions of
diagnosis rows but only thousands of distinct codes, so the cleaning and the
prefix matching run on the distinct codes, and the result joins back to the rows
on the code as recorded: one equi-join, however many lists are scored.

A listed code matches a cleaned recorded code that equals it (``exact``) or that
starts with it (``prefix``). Prefix matching is an equi-join too: each cleaned code
is cut to every length the lists use and joined on the cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from openphm.codelists import Definition
from openphm.need.lookup import lookup

__all__ = ["CATEGORY_LENGTH", "clean_icd10", "clean_snomed", "code_categories", "rules"]

#: An ICD-10 category is 3 characters (a letter and two digits); filler never cuts below it.
CATEGORY_LENGTH = 3


def clean_icd10(code: ir.StringValue) -> ir.StringValue:
    """``' e11.9 '`` -> ``'E119'``; HES ``'I10X'`` -> ``'I10'``; ``'J44-'`` -> ``'J44'``.

    Upper case, without spaces or dots, and without trailing filler (``X`` or ``-``)
    down to the 3-character category: ``openphm.codes.normalise_icd10``, in the engine.
    """
    base = code.upper().re_replace(r"[\s.]+", "")
    stripped = base.re_replace(r"[X\-]+$", "")
    # Filler is a suffix, so where stripping cuts below a category, the category is base[:3].
    return ibis.ifelse(
        stripped.length() >= CATEGORY_LENGTH, stripped, base.substr(0, CATEGORY_LENGTH)
    )


def clean_snomed(code: ir.StringValue) -> ir.StringValue:
    """SNOMED CT concept ids are digits: only surrounding spaces need removing."""
    return code.strip()


CLEANERS: dict[str, Callable[[ir.StringValue], ir.StringValue]] = {
    "icd10": clean_icd10,
    "snomed": clean_snomed,
}


def rules(definitions: Sequence[Definition]) -> ir.Table:
    """Every listed code: code_system, definition, category, code, match, length."""
    rows = [
        (r.code_system, d.name, r.category, r.code, r.match, len(r.code))
        for d in definitions
        for r in d.codes
    ]
    return lookup(rows, _RULES)


_RULES = {
    "code_system": "string",
    "definition": "string",
    "category": "string",
    "code": "string",
    "match": "string",
    "length": "int64",
}


def code_categories(codes: ir.Table, definitions: Sequence[Definition]) -> ir.Table:
    """Each recorded code with every (definition, category) it falls in.

    ``codes`` has a ``code`` column (and optionally ``code_system``, which must then
    agree with the list's); its distinct values are matched. The result has one row per
    (code[, code_system], definition, category), codes exactly as recorded.

    Every code system in one join, so the distinct codes are read once (Spark plans a
    table once per use: a union of one part per system would read them once per system).
    """
    has_system = "code_system" in codes.columns
    keys = ["code", "code_system"] if has_system else ["code"]
    distinct = codes.select(*keys).filter(codes.code.notnull()).distinct()
    systems = sorted({s for d in definitions for s in d.code_systems})
    cleaned = distinct.mutate(**{_clean(s): CLEANERS[s](distinct.code) for s in systems})
    # Each code beside each (system, match, length) the lists use: a handful of rows.
    cuts = _cuts(definitions)
    if has_system:
        pairs = cleaned.join(cuts, cleaned.code_system == cuts.system)
    else:
        pairs = cleaned.cross_join(cuts)
    clean = pairs[_clean(systems[-1])]
    for system in systems[:-1]:
        clean = ibis.ifelse(pairs.system == system, pairs[_clean(system)], clean)
    # The cut as a column, so the join below is an equi-join on it (as an expression
    # in the condition, DuckDB crosses every code with every listed code instead).
    pairs = pairs.mutate(
        key=ibis.ifelse(pairs.how == "exact", clean, clean.substr(0, pairs.length))
    )
    listed = rules(definitions)
    joined = pairs.join(
        listed,
        [
            pairs.key == listed.code,
            pairs.system == listed.code_system,
            pairs.how == listed.match,
            pairs.length == listed.length,
        ],
    )
    return joined.select(
        **{k: pairs[k] for k in keys}, definition=listed.definition, category=listed.category
    ).distinct()


def _clean(system: str) -> str:
    return f"_clean_{system}"


def _cuts(definitions: Sequence[Definition]) -> ir.Table:
    """The (system, match, length) triples the lists use: a cleaned code is cut to each.

    Nothing filters on the cleaned code: a filter on it would be pushed below the
    DISTINCT and clean every row of the table rather than every distinct code.
    """
    shapes = {(r.code_system, r.match, len(r.code)) for d in definitions for r in d.codes}
    return lookup(sorted(shapes), {"system": "string", "how": "string", "length": "int64"})
