"""Matching stored codes against a code list's prefixes.

Code lists give ICD-10 and OPCS-4 codes as prefixes in the stored spelling (no dots,
no HES 'X' filler): 'E10' takes in E10.0 to E10.9, 'K250' only K25.0, 'C' the whole of
chapter II's malignant neoplasms (C00-C97). A code matches when it starts with one.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir


def starts_with_any(code: ir.StringValue, prefixes: Iterable[str]) -> ir.BooleanValue:
    """Whether ``code`` starts with one of ``prefixes`` (never NULL: a missing code is no)."""
    prefixes = sorted(set(prefixes))
    if not prefixes:
        return ibis.literal(False)
    return ibis.or_(*[code.startswith(p) for p in prefixes]).fill_null(False)


def split(cell: str) -> list[str]:
    """A code list cell holding several prefixes, 'J41|J42'; an empty cell holds none."""
    return [p for p in cell.split("|") if p]
