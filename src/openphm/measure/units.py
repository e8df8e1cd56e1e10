"""The counting units indicators are made of, and one long table of them for every indicator.

A *unit set* is a table of events, one row per thing counted, each with the person,
the date that places it in a period, the provider, and the flags and values
indicators select and sum:

- ``emergency_admissions``: one row per emergency CIP spell, dated by admission; flags
  ``zero_length_of_stay``, ``via_emergency_department`` and any ``codelist:NAME``;
- ``emergency_discharges``: finished emergency CIP spells, dated by discharge; value
  ``length_of_stay``;
- ``index_discharges``: finished CIP spells outside the readmission exclusions, dated
  by discharge; flag ``readmitted``; standardised within ``method_group`` (``STRATA``);
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

# The stratum each unit is standardised in, besides age band and sex: a column of the
# unit set, or ALL_UNITS for unit sets standardised by age and sex alone.
STRATUM = "stratum"
ALL_UNITS = "all"
STRATA = {INDEX_DISCHARGES: "method_group"}

STACK_SCHEMA = ibis.schema(
    {
        "indicator": "string",
        "person_id": "string",
        "event_date": "date",
        "provider_code": "string",
        STRATUM: "string",
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


def codelist_flag(name: str) -> str:
    """The column of a unit set flagging the units a code list selects."""
    return f"_in_{name}"


def _as_is(table: ir.Table) -> ir.Table:
    return table


def unit_sets(
    activity_tables: Activity,
    definitions: Definitions,
    index_date: date,
    keep: Callable[[ir.Table], ir.Table] = _as_is,
) -> dict[str, Callable[[], ir.Table]]:
    """Each unit set as a function building it (so only those indicators use are built).

    ``keep`` materialises the tables several unit sets and indicators read (the CIP
    spells; the emergency admissions with every code list's flag): Spark plans a table
    again at every use, and a chain of windows and joins planned ten times is slow.
    Emergency admissions carry a ``codelist_flag(NAME)`` column for each code list an
    indicator selects them by.
    """
    a = activity_tables
    spells = keep(admissions.cip_spells(a.encounter))
    lists = {
        codelist_flag(ind.codelist): definitions.codelists[ind.codelist]
        for ind in definitions.indicators
        if ind.codelist is not None and ind.units == EMERGENCY_ADMISSIONS
    }
    cache: dict[str, ir.Table] = {}

    def emergency() -> ir.Table:
        if EMERGENCY_ADMISSIONS not in cache:
            admitted = admissions.emergency_admissions(spells)
            if lists:
                admitted = acsc.flags(admitted, a.diagnosis, a.episode, lists, a.procedure)
            cache[EMERGENCY_ADMISSIONS] = keep(admitted)
        return cache[EMERGENCY_ADMISSIONS]

    def discharges() -> ir.Table:
        # Kept: the pairing of each spell with the next reads the spells twice.
        excluded = readmissions.excluded_spells(
            a.encounter,
            a.diagnosis,
            a.procedure,
            a.episode,
            definitions.codelists[READMISSION_EXCLUSIONS],
        )
        return readmissions.index_discharges(
            spells, keep(excluded), definitions.readmission_window_days, index_date
        )

    return {
        EMERGENCY_ADMISSIONS: emergency,
        EMERGENCY_DISCHARGES: lambda: admissions.discharged(emergency()),
        INDEX_DISCHARGES: discharges,
        AE_ATTENDANCES: lambda: activity.ae_attendances(a.encounter),
        OUTPATIENT_APPOINTMENTS: lambda: activity.outpatient_appointments(a.encounter),
    }


def stack(
    definitions: Definitions,
    builders: Mapping[str, Callable[[], ir.Table]],
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
            selected = rows[codelist_flag(ind.codelist)]
        else:
            selected = rows[ind.where] if ind.where else ibis.literal(True)
        value = rows[ind.value].cast("int64") if ind.value else ibis.literal(1, type="int64")
        numerator = ibis.ifelse(selected, value, 0).fill_null(0)
        denominator = 1 if ind.denominator == SAME_UNITS else 0
        parts.append(_rows(ind, rows, numerator, denominator, ind.units))
        if ind.denominator not in (SAME_UNITS, POPULATION):
            other = unit_set(ind.denominator)
            parts.append(_rows(ind, other, ibis.literal(0, type="int64"), 1, ind.denominator))
    if not parts:
        return ibis.memtable([], schema=STACK_SCHEMA)
    stacked = ibis.union(*parts)
    in_window = stacked.event_date.between(
        ibis.literal(first_day, type="date"), ibis.literal(last_day, type="date")
    )
    return stacked.filter(in_window & ((stacked.numerator != 0) | (stacked.denominator != 0)))


def _rows(
    ind: Indicator, rows: ir.Table, numerator: ir.Value, denominator: int, unit_set: str
) -> ir.Table:
    # Sums of squares make the limits of a mean (length of stay); counts need none.
    squares = numerator * numerator if ind.value else ibis.literal(0, type="int64")
    stratum = rows[STRATA[unit_set]] if unit_set in STRATA else ibis.literal(ALL_UNITS)
    return rows.select(
        indicator=ibis.literal(ind.id, type="string"),
        person_id=rows.person_id,
        event_date=rows.event_date,
        provider_code=rows.provider_code,
        **{STRATUM: stratum.cast("string")},
        numerator=numerator.cast("int64"),
        denominator=ibis.literal(denominator, type="int64"),
        numerator_squares=squares.cast("int64"),
    )
