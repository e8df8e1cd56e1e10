"""Ambulatory care sensitive conditions: emergency admissions flagged by primary diagnosis.

A code list row (``definitions/acsc_*.csv``) matches an admission when the primary
diagnosis of its first provider spell starts with the row's code, and, where the row
says so, the spell also has (``with_secondary``: COPD's J20 with a J41-J44 or J47) or
has not (``without_secondary``: pneumonia with sickle-cell disease, D57) a secondary
diagnosis starting with one of the listed codes.
"""

from __future__ import annotations

from collections import defaultdict

import ibis
import ibis.expr.types as ir

from openphm.measure.admissions import primary_diagnoses, secondary_diagnoses
from openphm.measure.codematch import split, starts_with_any
from openphm.measure.definitions import CodeList


def flag(
    admissions: ir.Table,
    diagnosis: ir.Table,
    episode: ir.Table,
    codelist: CodeList,
    name: str,
) -> ir.Table:
    """``admissions`` with a boolean column ``name``: its primary diagnosis is in the list."""
    primary = primary_diagnoses(diagnosis, episode).rename(_primary="code", _enc="encounter_id")
    out = admissions.left_join(primary, admissions.first_encounter_id == primary._enc)
    rules: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in codelist.rows:
        rules[(row["with_secondary"], row["without_secondary"])].append(row["code"])
    secondary_flags = {}
    for with_codes, without_codes in rules:
        for cell in (with_codes, without_codes):
            if cell and cell not in secondary_flags:
                secondary_flags[cell] = f"_has_{len(secondary_flags)}"
    if secondary_flags:
        flags = _secondary_flags(diagnosis, secondary_flags)
        out = out.left_join(flags, out.first_encounter_id == flags._s_enc)
    matched = []
    for (with_codes, without_codes), codes in rules.items():
        match = starts_with_any(out._primary, codes)
        if with_codes:
            match &= out[secondary_flags[with_codes]].fill_null(False)
        if without_codes:
            match &= ~out[secondary_flags[without_codes]].fill_null(False)
        matched.append(match)
    out = out.mutate(**{name: ibis.or_(*matched)})
    return out.select(*admissions.columns, name)


def _secondary_flags(diagnosis: ir.Table, cells: dict[str, str]) -> ir.Table:
    """Per encounter, whether any secondary diagnosis starts with each cell's codes."""
    secondary = secondary_diagnoses(diagnosis)
    return secondary.group_by(_s_enc=secondary.encounter_id).aggregate(
        **{
            column: starts_with_any(secondary.code, split(cell)).cast("int8").max() == 1
            for cell, column in cells.items()
        }
    )
