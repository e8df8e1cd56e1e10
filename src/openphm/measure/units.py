"""The counting units indicators are made of, and one long table of them for every indicator.

A *unit set* is a table of events, one row per thing counted, each with the person,
the date that places it in a period, the provider, and the flags and values
indicators select and sum:

- ``emergency_admissions``: one row per emergency CIP spell, dated by admission; flags
  ``zero_length_of_stay``, ``via_emergency_department`` and any ``codelist:NAME``;
- ``emergency_discharges``: finished emergency CIP spells, dated by discharge; value
  ``length_of_stay``;
- ``index_discharges``: finished CIP spells outside the readmission exclusions, dated
  by discharge; flag ``readmitted``;
- ``ae_attendances``: emergency care attendances, dated by arrival;
- ``outpatient_appointments``: appointments with a known outcome; flag ``did_not_attend``.

``stack`` turns every indicator into rows of one long table (``STACK_SCHEMA``): the
numerator and denominator each unit adds, so one aggregation counts them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from openphm.measure import acsc, activity, admissions, readmissions
from openphm.measure.definitions import (
    POPULATION,
    SAME_UNITS,
    DefinitionError,
    Definitions,
    Indicator,
)

EMERGENCY_ADMISSIONS = "emergency_admissions"
EMERGENCY_DISCHARGES = "emergency_discharges"
INDEX_DISCHARGES = "index_discharges"
AE_ATTENDANCES = "ae_attendances"
OUTPATIENT_APPOINTMENTS = "outpatient_appointments"

FLAGS = {
    EMERGENCY_ADMISSIONS: ("zero_length_of_stay", "via_emergency_department"),
    EMERGENCY_DISCHARGES: (),
    INDEX_DISCHARGES: ("readmitted",),
    AE_ATTENDANCES: (),
    OUTPATIENT_APPOINTMENTS: ("did_not_attend",),
}
VALUES = {EMERGENCY_DISCHARGES: ("length_of_stay",)}
CODELIST_UNITS = (EMERGENCY_ADMISSIONS,)  # unit sets a code list can select from
READMISSION_EXCLUSIONS = "readmission_exclusions"

STACK_SCHEMA = ibis.schema(
    {
        "indicator": "string",
        "person_id": "string",
        "event_date": "date",
        "provider_code": "string",
        "numerator": "int64",
        "denominator": "int64",
        "numerator_squares": "int64",
    }
)


@dataclass(frozen=True)
class Activity:
    """The canonical tables the unit sets are built from."""

    encounter: ir.Table
    diagnosis: ir.Table
    episode: ir.Table
    procedure: ir.Table


def validate(definitions: Definitions) -> None:
    """Every indicator names unit sets, flags and values that exist."""
    for ind in definitions.indicators:
        where = f"indicator {ind.id!r}"
        if ind.units not in FLAGS:
            raise DefinitionError(f"{where}: units {ind.units!r} is not one of {sorted(FLAGS)}")
        if ind.codelist is not None:
            if ind.units not in CODELIST_UNITS:
                raise DefinitionError(f"{where}: a code list can select only {CODELIST_UNITS}")
        elif ind.where is not None and ind.where not in FLAGS[ind.units]:
            raise DefinitionError(
                f"{where}: where = {ind.where!r} is not a flag of {ind.units} "
                f"({list(FLAGS[ind.units])} or codelist:NAME)"
            )
        if ind.value is not None and ind.value not in VALUES.get(ind.units, ()):
            raise DefinitionError(
                f"{where}: value = {ind.value!r} is not a value of {ind.units} "
                f"({list(VALUES.get(ind.units, ()))})"
            )
        if ind.denominator not in (POPULATION, SAME_UNITS, *FLAGS):
            raise DefinitionError(
                f"{where}: denominator {ind.denominator!r} is not {POPULATION!r}, "
                f"{SAME_UNITS!r} or a unit set ({sorted(FLAGS)})"
            )
    if READMISSION_EXCLUSIONS not in definitions.codelists and any(
        ind.units == INDEX_DISCHARGES for ind in definitions.indicators
    ):
        raise DefinitionError(f"readmissions need the {READMISSION_EXCLUSIONS!r} code list")


def unit_sets(
    activity_tables: Activity, definitions: Definitions, index_date: date
) -> dict[str, Callable[[], ir.Table]]:
    """Each unit set as a function building it (so only those indicators use are built)."""
    a = activity_tables
    spells = admissions.cip_spells(a.encounter)

    def discharges() -> ir.Table:
        excluded = readmissions.excluded_spells(
            a.encounter,
            a.diagnosis,
            a.procedure,
            a.episode,
            definitions.codelists[READMISSION_EXCLUSIONS],
        )
        return readmissions.index_discharges(
            spells, excluded, definitions.readmission_window_days, index_date
        )

    return {
        EMERGENCY_ADMISSIONS: lambda: admissions.emergency_admissions(spells),
        EMERGENCY_DISCHARGES: lambda: admissions.emergency_discharges(spells),
        INDEX_DISCHARGES: discharges,
        AE_ATTENDANCES: lambda: activity.ae_attendances(a.encounter),
        OUTPATIENT_APPOINTMENTS: lambda: activity.outpatient_appointments(a.encounter),
    }


def stack(
    definitions: Definitions,
    builders: Mapping[str, Callable[[], ir.Table]],
    activity_tables: Activity,
    first_day: date,
    last_day: date,
) -> ir.Table:
    """Every indicator's numerator and denominator contributions, one row per unit.

    Rows are dated inside [first_day, last_day]. A unit outside an indicator's
    numerator and denominator adds nothing and is left out.
    """
    built: dict[str, ir.Table] = {}

    def unit_set(name: str) -> ir.Table:
        if name not in built:
            built[name] = builders[name]()
        return built[name]

    parts = []
    for ind in definitions.indicators:
        rows = unit_set(ind.units)
        if ind.codelist is not None:
            flag = f"_in_{ind.codelist}"
            rows = acsc.flag(
                rows,
                activity_tables.diagnosis,
                activity_tables.episode,
                definitions.codelists[ind.codelist],
                flag,
            )
            selected = rows[flag]
        else:
            selected = rows[ind.where] if ind.where else ibis.literal(True)
        value = rows[ind.value].cast("int64") if ind.value else ibis.literal(1, type="int64")
        numerator = ibis.ifelse(selected, value, 0).fill_null(0)
        denominator = 1 if ind.denominator == SAME_UNITS else 0
        parts.append(_rows(ind, rows, numerator, denominator))
        if ind.denominator not in (SAME_UNITS, POPULATION):
            other = unit_set(ind.denominator)
            parts.append(_rows(ind, other, ibis.literal(0, type="int64"), 1))
    if not parts:
        return ibis.memtable([], schema=STACK_SCHEMA)
    stacked = ibis.union(*parts)
    in_window = stacked.event_date.between(
        ibis.literal(first_day, type="date"), ibis.literal(last_day, type="date")
    )
    return stacked.filter(in_window & ((stacked.numerator != 0) | (stacked.denominator != 0)))


def _rows(ind: Indicator, rows: ir.Table, numerator: ir.Value, denominator: int) -> ir.Table:
    # Sums of squares make the limits of a mean (length of stay); counts need none.
    squares = numerator * numerator if ind.value else ibis.literal(0, type="int64")
    return rows.select(
        indicator=ibis.literal(ind.id, type="string"),
        person_id=rows.person_id,
        event_date=rows.event_date,
        provider_code=rows.provider_code,
        numerator=numerator.cast("int64"),
        denominator=ibis.literal(denominator, type="int64"),
        numerator_squares=squares.cast("int64"),
    )
