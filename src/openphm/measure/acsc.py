"""Ambulatory care sensitive conditions: emergency admissions flagged by primary diagnosis.

A code list row (``definitions/acsc_*.csv``) matches an admission when the primary
diagnosis of its first provider spell starts with the row's code, and, where the row
says so, the spell also has (``with_secondary``: COPD's J20 with a J41-J44 or J47) or
has not (``without_secondary``: pneumonia with sickle-cell disease, D57) a secondary
diagnosis starting with one of the listed codes, and has no procedure (OPCS-4, any
position) starting with one of ``without_procedure`` (angina with an operation, heart
failure and hypertension with a cardiac procedure: the patient needed the hospital).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from openphm.measure.admissions import primary_diagnoses, secondary_diagnoses
from openphm.measure.codematch import split, starts_with_any
from openphm.measure.definitions import CodeList

OPCS4 = "opcs4"


def flag(
    admissions: ir.Table,
    diagnosis: ir.Table,
    episode: ir.Table,
    codelist: CodeList,
    name: str,
    procedure: ir.Table | None = None,
) -> ir.Table:
    """``admissions`` with a boolean column ``name``: its primary diagnosis is in the list.

    Without ``procedure``, no admission is excluded for its procedures.
    """
    return flags(admissions, diagnosis, episode, {name: codelist}, procedure)


def flags(
    admissions: ir.Table,
    diagnosis: ir.Table,
    episode: ir.Table,
    codelists: Mapping[str, CodeList],
    procedure: ir.Table | None = None,
) -> ir.Table:
    """``admissions`` with a boolean column per code list (name -> list), in one pass.

    The primary diagnoses and the secondary-diagnosis tests are joined once for every
    list: on Spark, which plans a table once per use, a join per list is a pass per list.
    """
    primary = primary_diagnoses(diagnosis, episode).rename(_primary="code", _enc="encounter_id")
    out = admissions.left_join(primary, admissions.first_encounter_id == primary._enc)
    rules: dict[str, dict[tuple[str, str, str], list[str]]] = {}
    secondary_flags: dict[str, str] = {}
    procedure_flags: dict[str, str] = {}
    for name, codelist in codelists.items():
        rules[name] = defaultdict(list)
        for row in codelist.rows:
            rule = (row["with_secondary"], row["without_secondary"], row["without_procedure"])
            rules[name][rule].append(row["code"])
        for with_codes, without_codes, without_procedures in rules[name]:
            for cell in (with_codes, without_codes):
                if cell and cell not in secondary_flags:
                    secondary_flags[cell] = f"_has_{len(secondary_flags)}"
            if without_procedures and without_procedures not in procedure_flags:
                procedure_flags[without_procedures] = f"_op_{len(procedure_flags)}"
    if secondary_flags:
        has = _secondary_flags(diagnosis, secondary_flags)
        out = out.left_join(has, out.first_encounter_id == has._s_enc)
    if procedure_flags and procedure is not None:
        ops = _procedure_flags(procedure, procedure_flags)
        out = out.left_join(ops, out.first_encounter_id == ops._p_enc)
    columns = {}
    for name, by_rule in rules.items():
        matched = []
        for (with_codes, without_codes, without_procedures), codes in by_rule.items():
            match = starts_with_any(out._primary, codes)
            if with_codes:
                match &= out[secondary_flags[with_codes]].fill_null(False)
            if without_codes:
                match &= ~out[secondary_flags[without_codes]].fill_null(False)
            if without_procedures and procedure is not None:
                match &= ~out[procedure_flags[without_procedures]].fill_null(False)
            matched.append(match)
        columns[name] = ibis.or_(*matched) if matched else ibis.literal(False)
    out = out.mutate(**columns)
    return out.select(*admissions.columns, *columns)


def _secondary_flags(diagnosis: ir.Table, cells: dict[str, str]) -> ir.Table:
    """Per encounter, whether any secondary diagnosis starts with each cell's codes."""
    secondary = secondary_diagnoses(diagnosis)
    return secondary.group_by(_s_enc=secondary.encounter_id).aggregate(
        **{
            column: starts_with_any(secondary.code, split(cell)).cast("int8").max() == 1
            for cell, column in cells.items()
        }
    )


def _procedure_flags(procedure: ir.Table, cells: dict[str, str]) -> ir.Table:
    """Per encounter, whether any procedure starts with each cell's OPCS-4 codes."""
    procedure = procedure.filter(procedure.code_system == OPCS4)
    return procedure.group_by(_p_enc=procedure.encounter_id).aggregate(
        **{
            column: starts_with_any(procedure.code, split(cell)).cast("int8").max() == 1
            for cell, column in cells.items()
        }
    )
