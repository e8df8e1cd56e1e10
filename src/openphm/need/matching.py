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
    """
    has_system = "code_system" in codes.columns
    keys = ["code", "code_system"] if has_system else ["code"]
    distinct = codes.select(*keys).filter(codes.code.notnull()).distinct()
    listed = rules(definitions)
    parts = []
    for system in sorted({s for d in definitions for s in d.code_systems}):
        mine = distinct.filter(distinct.code_system == system) if has_system else distinct
        mine = mine.mutate(clean=CLEANERS[system](mine.code))
        # Each code beside each (match, length) the lists use: a handful of rows.
        pairs = mine.cross_join(_cuts(definitions, system))
        key = ibis.ifelse(pairs.how == "exact", pairs.clean, pairs.clean.substr(0, pairs.length))
        wanted = listed.filter(listed.code_system == system)
        joined = pairs.join(
            wanted,
            [key == wanted.code, pairs.how == wanted.match, pairs.length == wanted.length],
        )
        parts.append(
            joined.select(
                **{k: pairs[k] for k in keys},
                definition=wanted.definition,
                category=wanted.category,
            )
        )
    return ibis.union(*parts).distinct() if len(parts) > 1 else parts[0].distinct()


def _cuts(definitions: Sequence[Definition], system: str) -> ir.Table:
    """The (match, length) pairs a system's lists use: a cleaned code is cut to each length.

    Nothing filters on the cleaned code: a filter on it would be pushed below the
    DISTINCT and clean every row of the table rather than every distinct code.
    """
    shapes = {
        (r.match, len(r.code)) for d in definitions for r in d.codes if r.code_system == system
    }
    return lookup(sorted(shapes), {"how": "string", "length": "int64"})
