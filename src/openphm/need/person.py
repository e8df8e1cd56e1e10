"""Each person's need on an index date: the ``person_need`` table, one row per person.

Everyone born and alive on the index date gets a row (no records means no conditions,
scores of 0, and a segment all the same), with, in this order:

- ``person_id``, ``index_date``, ``age`` (completed years) and ``imd_decile`` (of their
  LSOA; NULL if not known);
- every score and band of the scored definitions (``charlson`` ... ``hfrs_band``,
  ``ltc_count``), NULL where a person is too young for it (HFRS under 75);
- each flagged definition's flags and first-recorded dates (``ltc_diabetes``,
  ``ltc_diabetes_first``, ..., ``maternity_pregnancy``);
- ``emergency_admissions_12m``;
- ``segment`` and ``segment_number`` (Bridges to Health, ``need.segments``);
- ``core20``, ``plus_<group>`` and ``clinical_<area>`` (``need.core20plus5``).

The schema is declared here (``spec``), from the definitions and rules it is built with.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from openphm import dates
from openphm.codelists import Definition
from openphm.model import Column, TableSpec
from openphm.need import core20plus5, flags, segments
from openphm.need.core20plus5 import CORE20, IMD_DECILE, Core20Plus5
from openphm.need.records import EMERGENCY_ADMISSIONS, EMERGENCY_MONTHS, emergency_admissions
from openphm.need.scores import AGE, PERSON, first_recorded, matched_column, scores
from openphm.need.segments import SEGMENT, SEGMENT_NUMBER, Segment

__all__ = ["INDEX_DATE", "TABLE", "people_on", "person_need", "spec"]

TABLE = "person_need"
INDEX_DATE = "index_date"


def people_on(person: ir.Table, lsoa: ir.Table | None, index_date: dt.date) -> ir.Table:
    """Everyone born and alive on the index date: person_id, age, imd_decile, and the sex
    and ethnic_category rules may use (person_need does not keep them: person has them)."""
    on = ibis.literal(index_date)
    alive = person.filter(
        (person.date_of_death.isnull() | (person.date_of_death > on))
        & (dates.age_on(person.year_of_birth, person.month_of_birth, on) >= 0)
    )
    t = alive.mutate(_age=dates.age_on(alive.year_of_birth, alive.month_of_birth, on))
    if lsoa is not None:
        areas = lsoa.select(_lsoa=lsoa.lsoa_code, _decile=lsoa.imd_decile)
        t = t.left_join(areas, t.lsoa_code == areas._lsoa)
        decile = t._decile.cast("int8")
    else:
        decile = ibis.null("int8")
    return t.select(
        **{PERSON: t.person_id, AGE: t._age, IMD_DECILE: decile},
        sex=t.sex,
        ethnic_category=t.ethnic_category,
    )


def person_need(
    records: ir.Table,
    people: ir.Table,
    encounter: ir.Table,
    index_date: dt.date,
    *,
    scored: Sequence[Definition],
    flagged: Sequence[Definition],
    segment_rules: Sequence[Segment],
    core: Core20Plus5,
    matched: bool = False,
) -> ir.Table:
    """The person_need table for ``people`` (from ``people_on``) and their coded records.

    With ``matched``, also ``matched_column(name)`` for each definition, scored or
    flagged: whether the person holds any of its categories (the stage counts them, and
    keeps only the declared columns).
    """
    table_spec = spec(scored, flagged, segment_rules, core)
    found = scores(
        records, definitions=scored, index_date=index_date, people=people, matched=matched
    )
    first = first_recorded(records, definitions=flagged, index_date=index_date)
    frame = flags.wide(first, flagged, people)
    frame = frame.join(found, PERSON)
    emergencies = emergency_admissions(encounter, index_date)
    frame = frame.left_join(emergencies, PERSON)
    frame = frame.mutate(
        **{EMERGENCY_ADMISSIONS: frame[EMERGENCY_ADMISSIONS].fill_null(0)},
        **{INDEX_DATE: ibis.literal(index_date)},
    )
    frame = core20plus5.flag(segments.assign(frame, tuple(segment_rules)), core)
    columns = {c.name: frame[c.name].cast(c.dtype) for c in table_spec.columns}
    if matched:
        columns |= {matched_column(d.name): frame[matched_column(d.name)] for d in scored}
        for d in flagged:  # flagged only: any of its flags
            if matched_column(d.name) not in columns:
                flagged_any = [frame[flags.flag_column(d, c)] for c in d.categories]
                columns[matched_column(d.name)] = functools.reduce(operator.or_, flagged_any)
    return frame.select(**columns)


def spec(
    scored: Sequence[Definition],
    flagged: Sequence[Definition],
    segment_rules: Sequence[Segment],
    core: Core20Plus5,
) -> TableSpec:
    """The declaration of person_need for these definitions and rules."""
    columns = [
        Column(PERSON, "string", "Pseudonymised person identifier assigned at linkage"),
        Column(INDEX_DATE, "date", "The day need is measured on"),
        Column(AGE, "int64", "Age in completed years on the index date"),
        Column(IMD_DECILE, "int8", "IMD decile of the LSOA; 1 = most deprived", nullable=True),
    ]
    for d in scored:
        for ws in d.weight_sets:
            kind = "float64" if ws.scale != 1 else "int64"
            what = f"{d.title}, {ws.name} weights" + (
                f"; null below age {d.min_age}" if d.min_age is not None else ""
            )
            columns.append(Column(ws.name, kind, what, nullable=True))
            if ws.band_column:
                columns.append(
                    Column(ws.band_column, "string", f"Band of {ws.name}", nullable=True)
                )
    for d in flagged:
        for c in d.categories:
            name, label = flags.flag_column(d, c), d.labels.get(c, c)
            columns.append(Column(name, "boolean", f"{label}: recorded by the index date"))
            columns.append(
                Column(
                    name + flags.FIRST_SUFFIX,
                    "date",
                    f"{label}: first recorded (within the definition's lookback)",
                    nullable=True,
                )
            )
    columns += [
        Column(EMERGENCY_ADMISSIONS, "int64", f"Emergency admissions in {EMERGENCY_MONTHS} months"),
        Column(SEGMENT, "string", "Bridges to Health segment (the first that applies)"),
        Column(SEGMENT_NUMBER, "int8", f"Lynn 2007 segment number, {_numbers(segment_rules)}"),
        Column(CORE20, "boolean", "In the most deprived 20% (IMD); null if unknown", nullable=True),
    ]
    for name in core.columns[1:]:
        columns.append(Column(name, "boolean", f"Core20PLUS5: {name.replace('_', ' ', 1)}"))
    return TableSpec(TABLE, "person alive on the index date", "Each person's need.", tuple(columns))


def _numbers(segment_rules: Sequence[Segment]) -> str:
    return ", ".join(f"{s.number} {s.name}" for s in segment_rules)
