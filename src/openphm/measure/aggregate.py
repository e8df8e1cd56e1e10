"""Counting units and registered people into every period and breakdown, in the engine.

The result is long: one row per indicator, period (a month or a financial year),
organisation basis, breakdown and group, with the numerator and denominator as
integers (``COUNT_COLUMNS``). Units are first summed at the finest grain (month and
every breakdown column at once), so each breakdown is then a small roll-up.

Denominators of rates per registered population are the people registered on each
period's census day (``periods``), counted into the same breakdowns; a group with
people but no events has a numerator of 0, which is a finding, not a gap.

Standardisation needs numerators and populations by age band and sex within each
group too: ``unit_cells`` and ``population_cells``, for years and the breakdowns a
population can be standardised in (not provider, not age band). A standardised
proportion (readmissions) is standardised in its units, not its people: its cells hold
the units (discharges) as the population, within each unit's ``stratum`` too (the
admission method group); per-population rates have the one stratum ``ALL_UNITS``.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from openphm.measure import periods as P
from openphm.measure.attribution import (
    AGE_BAND,
    IMD_QUINTILE,
    ORG_BREAKDOWNS,
    PERSON_BREAKDOWNS,
    SEGMENT,
    SEX,
    UNKNOWN,
    demographics,
    org_column,
    registered_on_days,
    registered_practice,
    with_organisations,
    with_segment,
)
from openphm.measure.definitions import CodeList, Indicator
from openphm.measure.organisations import BASES, PROVIDER
from openphm.measure.units import ALL_UNITS, STRATUM

NOT_APPLICABLE = "not_applicable"  # org_basis of a breakdown that is not an organisation
KEYS = ("indicator", "period_type", "period", "org_basis", "breakdown", "group_code")
COUNT_COLUMNS = ("numerator", "denominator", "numerator_squares")
CELL_KEYS = (*KEYS, AGE_BAND, SEX, STRATUM)
NOT_STANDARDISED = (PROVIDER, AGE_BAND)  # breakdowns a population cannot be standardised in
UNIT_STANDARDISED = (PROVIDER,)  # ...that units (discharges) can: a provider's own patients


def breakdowns(segment: bool, providers: bool = True) -> list[tuple[str, str, str]]:
    """(breakdown, org_basis, column) for every breakdown reported."""
    out = [
        (name, basis, org_column(name, basis))
        for name in ORG_BREAKDOWNS
        if providers or name != PROVIDER
        for basis in BASES
    ]
    people = [*PERSON_BREAKDOWNS, *([SEGMENT] if segment else [])]
    return out + [(name, NOT_APPLICABLE, name) for name in people]


def attribute_units(
    stacked: ir.Table,
    *,
    person: ir.Table,
    registration: ir.Table,
    lsoa: ir.Table | None,
    lookups: dict[str, ir.Table] | None,
    ethnic_groups: CodeList,
    segment: ir.Table | None,
) -> ir.Table:
    """The stacked units with every breakdown column, each on the unit's own date."""
    pairs = stacked.select(stacked.person_id, on=stacked.event_date).distinct()
    pairs = demographics(registered_practice(pairs, registration), person, lsoa, ethnic_groups)
    pairs = pairs.rename(_person="person_id")
    described = stacked.join(
        pairs, (stacked.person_id == pairs._person) & (stacked.event_date == pairs.on)
    ).drop("_person")
    described = with_organisations(described, lookups)
    return with_segment(described, segment)


def unit_base(attributed: ir.Table, columns: Sequence[str]) -> ir.Table:
    """Numerators and denominators summed by indicator, month and every breakdown column."""
    t = attributed.mutate(month_start=P.month_start(attributed.event_date))
    return t.group_by(["indicator", "month_start", STRATUM, *columns]).aggregate(
        **{c: t[c].sum() for c in COUNT_COLUMNS}
    )


def unit_counts(
    base: ir.Table, calendar: ir.Table, columns: Sequence[tuple[str, str, str]]
) -> ir.Table:
    """The long table of numerators and denominators (``KEYS`` + ``COUNT_COLUMNS``)."""
    dated = base.join(calendar, "month_start")
    parts = []
    for period_type in (P.MONTH, P.YEAR):
        for name, basis, column in columns:
            part = dated.group_by(
                indicator=dated.indicator, period=dated[period_type], group_code=dated[column]
            ).aggregate(**{c: dated[c].sum() for c in COUNT_COLUMNS})
            parts.append(_label(part, period_type, basis, name))
    return ibis.union(*parts).select(*KEYS, *COUNT_COLUMNS)


def unit_cells(
    base: ir.Table, calendar: ir.Table, columns: Sequence[tuple[str, str, str]]
) -> ir.Table:
    """Yearly numerators and denominators by age band, sex and stratum (``CELL_KEYS``)."""
    dated = base.join(calendar, "month_start")
    parts = []
    for name, basis, column in columns:
        if name in NOT_STANDARDISED and name not in UNIT_STANDARDISED:
            continue
        part = dated.group_by(
            indicator=dated.indicator,
            period=dated[P.YEAR],
            group_code=dated[column],
            **{AGE_BAND: dated[AGE_BAND], SEX: dated[SEX], STRATUM: dated[STRATUM]},
        ).aggregate(numerator=dated.numerator.sum(), denominator=dated.denominator.sum())
        parts.append(_label(part, P.YEAR, basis, name))
    return ibis.union(*parts).select(*CELL_KEYS, "numerator", "denominator")


def population_base(
    *,
    person: ir.Table,
    registration: ir.Table,
    lsoa: ir.Table | None,
    lookups: dict[str, ir.Table] | None,
    ethnic_groups: CodeList,
    segment: ir.Table | None,
    reported: Sequence[P.Period],
    columns: Sequence[str],
) -> ir.Table:
    """People registered on each period's census day, by every breakdown column."""
    years = [p for p in reported if p.kind == P.YEAR]  # months share their year's census
    census = ibis.memtable(
        {"period": [p.label for p in years], "on": [p.census for p in years]},
        schema=ibis.schema({"period": "string", "on": "date"}),
    )
    people = registered_on_days(person, registration, census)
    people = demographics(people, person, lsoa, ethnic_groups)
    people = with_organisations(people, lookups, providers=False)
    people = with_segment(people, segment)
    return people.group_by(["period", *columns]).aggregate(population=ibis._.count())


#: The breakdowns an area population (people by LSOA, age band and sex) describes: a
#: resident's practice, PCN, ethnic group and segment are not in the estimates.
AREA_BREAKDOWNS = (IMD_QUINTILE, AGE_BAND, SEX)


def area_population_base(
    area: ir.Table, reported: Sequence[P.Period], columns: Sequence[str]
) -> ir.Table:
    """People in the area populations (``area``: LSOA, age band, sex) for every year.

    The fallback denominator when nobody is registered: one set of estimates (ONS LSOA
    mid-year estimates, as the ``lsoas`` source gives them) stands for every period, as
    ``population_base`` does but by ``AREA_BREAKDOWNS`` only (``columns`` among them).
    """
    unknown = set(columns) - set(AREA_BREAKDOWNS)
    if unknown:
        raise ValueError(f"an area population has no {sorted(unknown)}")
    years = [p.label for p in reported if p.kind == P.YEAR]
    periods = ibis.memtable({"period": years}, schema=ibis.schema({"period": "string"}))
    quintile = ((area.imd_decile.cast("int64") + 1) // 2).cast("string")
    people = area.select(
        **{
            AGE_BAND: area.age_band.fill_null(UNKNOWN),
            SEX: area.sex.fill_null(UNKNOWN),
            IMD_QUINTILE: quintile.fill_null(UNKNOWN),
        },
        population=area.population.fill_null(0).cast("int64"),
    ).cross_join(periods)
    return people.group_by(["period", *columns]).aggregate(population=people.population.sum())


def population_counts(
    base: ir.Table, calendar: ir.Table, columns: Sequence[tuple[str, str, str]]
) -> ir.Table:
    """Registered people per period, basis, breakdown and group (no indicator).

    A month's population is its financial year's census (``periods``).
    """
    parts = []
    for name, basis, column in columns:
        if name == PROVIDER:
            continue
        part = base.group_by(period=base.period, group_code=base[column]).aggregate(
            population=base.population.sum()
        )
        parts.append(part.mutate(org_basis=ibis.literal(basis), breakdown=ibis.literal(name)))
    years = ibis.union(*parts)
    months = calendar.select(_month=calendar.month, _year=calendar.year)
    months = years.join(months, years.period == months._year).select(
        period_type=ibis.literal(P.MONTH),
        period=months._month,
        org_basis=years.org_basis,
        breakdown=years.breakdown,
        group_code=years.group_code,
        population=years.population,
    )
    return ibis.union(years.mutate(period_type=ibis.literal(P.YEAR)), months)


def population_cells(base: ir.Table, columns: Sequence[tuple[str, str, str]]) -> ir.Table:
    """Yearly registered people by age band and sex in each standardisable group."""
    parts = []
    for name, basis, column in columns:
        if name in NOT_STANDARDISED:
            continue
        part = base.group_by(
            period=base.period,
            group_code=base[column],
            **{AGE_BAND: base[AGE_BAND], SEX: base[SEX]},
        ).aggregate(population=base.population.sum())
        parts.append(_label(part, P.YEAR, basis, name).mutate(**{STRATUM: ibis.literal(ALL_UNITS)}))
    return ibis.union(*parts)


_GROUP = ("indicator", "period_type", "period", "org_basis", "breakdown", "group_code")


def _per_indicator(population: ir.Table, ids: list[str]) -> ir.Table:
    """The population rows once for each indicator id: one scan, joined to the ids."""
    wanted = ibis.memtable({"indicator": ids}, schema={"indicator": "string"})
    return population.cross_join(wanted)


def with_population(
    counts: ir.Table, population: ir.Table, indicators: Sequence[Indicator]
) -> ir.Table:
    """Counts with registered people as the denominator of every per-population indicator.

    Groups with people and no events get a numerator of 0; groups with events and no
    people (an unregistered patient's admission, a provider) keep a denominator of 0.
    """
    parts = [counts]
    ids = [ind.id for ind in indicators if ind.per_population]
    if ids:
        people = _per_indicator(population, ids)
        parts.append(
            people.select(
                *_GROUP,
                numerator=ibis.literal(0, type="int64"),
                denominator=people.population.cast("int64"),
                numerator_squares=ibis.literal(0, type="int64"),
            )
        )
    stacked = ibis.union(*parts)
    return stacked.group_by(list(KEYS)).aggregate(
        **{c: stacked[c].sum().cast("int64") for c in COUNT_COLUMNS}
    )


def with_population_cells(
    cells: ir.Table, population: ir.Table, indicators: Sequence[Indicator]
) -> ir.Table:
    """Standardisation cells: numerator and population by age band, sex and stratum.

    The population of a per-population rate is its registered people; that of a
    standardised proportion, its units (the cells' denominators).
    """
    ids = [ind.id for ind in indicators if ind.standardise]
    in_units = [ind.id for ind in indicators if ind.standardise and not ind.per_population]
    of_units = cells.indicator.isin(in_units) if in_units else ibis.literal(False)
    parts = [
        cells.select(
            *CELL_KEYS,
            "numerator",
            population=ibis.ifelse(of_units, cells.denominator, 0).cast("int64"),
        )
    ]
    per_population = [ind.id for ind in indicators if ind.standardise and ind.per_population]
    if per_population:
        people = _per_indicator(population, per_population)
        parts.append(
            people.select(
                *_GROUP,
                AGE_BAND,
                SEX,
                STRATUM,
                numerator=ibis.literal(0, type="int64"),
                population=people.population.cast("int64"),
            )
        )
    stacked = ibis.union(*parts)
    if ids:
        wanted = stacked.indicator.isin(ids)
        # A population has no provider: only proportions standardised in their units do.
        people_only = stacked.breakdown.isin(list(NOT_STANDARDISED))
        in_own_units = stacked.indicator.isin(in_units) if in_units else ibis.literal(False)
        stacked = stacked.filter(wanted & (~people_only | in_own_units))
    else:
        stacked = stacked.limit(0)
    return stacked.group_by(list(CELL_KEYS)).aggregate(
        numerator=stacked.numerator.sum().cast("int64"),
        population=stacked.population.sum().cast("int64"),
    )


def _label(t: ir.Table, period_type: str, basis: str, name: str) -> ir.Table:
    return t.mutate(
        period_type=ibis.literal(period_type),
        org_basis=ibis.literal(basis),
        breakdown=ibis.literal(name),
    )
