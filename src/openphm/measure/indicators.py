"""Every indicator, from the canonical tables to the measure stage's output tables.

The heavy work is Ibis, in the engine: unit sets (``units``), their breakdown columns
(``attribution``), and counts by period and breakdown (``aggregate``). Only the counts
come back to Python, a few thousand rows per indicator, where ``statistics`` adds the
intervals, standardised rates, funnels and SPC with ``openphm.stats``.

Output tables (``OUTPUTS``), each long, keyed by indicator, period_type ("year" or
"month"), period ("2024/25", "2024-04"), org_basis ("current", "at_time", or
"not_applicable" for breakdowns that are not organisations), breakdown (practice, pcn,
place, ics, provider, imd_quintile, age_band, sex, ethnic_group, and segment once issue
5 provides it) and group_code:

- ``indicator_values``: numerator, denominator, value and 95%/99.8% limits;
- ``indicator_dsr``: standardised rates (years): directly age-sex standardised rates per
  population, and indirectly standardised proportions (readmissions); ``method`` says which;
- ``indicator_funnel``: funnel plot points, limits and flags (years);
- ``indicator_spc``: XmR charts of the monthly series;
- ``indicator_definitions``: each indicator's title, kind, multiplier and source.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from openphm import engine
from openphm.measure import aggregate, attribution, statistics, units
from openphm.measure import definitions as D
from openphm.measure import periods as P
from openphm.measure.attribution import AGE_BAND, SEX
from openphm.model import table_spec

VALUES = "indicator_values"
DSR = "indicator_dsr"
FUNNEL = "indicator_funnel"
SPC = "indicator_spc"
DEFINITIONS = "indicator_definitions"
OUTPUTS = (VALUES, DSR, FUNNEL, SPC, DEFINITIONS)
ACTIVITY_TABLES = ("encounter", "diagnosis", "episode", "procedure")
ETHNIC_GROUPS = "ethnic_groups"
# Where per-population rates take their people from.
REGISTERED = "registered"  # people registered with a practice on each census day
AREA = "area"  # nobody registered: the lsoas source's area populations
NO_DENOMINATOR = "none"  # neither: numerators only, rates left empty
_DENOMINATOR_NOTES = {
    AREA: (
        "No one was registered with a practice on any census day, so rates per population "
        "use the area populations from the lsoas source (one set of estimates for every "
        "year), by IMD quintile, age band and sex only; other breakdowns have no rate."
    ),
    NO_DENOMINATOR: (
        "No one was registered with a practice on any census day and the lsoas source "
        "gives no area populations, so rates per population have no denominator: their "
        "numerators are counted and their rates left empty. Load GP registrations, or "
        "population columns in the lsoas source."
    ),
}

_KEY_TYPES = {k: "string" for k in aggregate.KEYS}
_FLOAT_COLUMNS = ("value", *statistics.LIMITS)
SCHEMAS = {
    VALUES: {
        **_KEY_TYPES,
        "numerator": "int64",
        "denominator": "int64",
        "numerator_squares": "int64",
        **dict.fromkeys(_FLOAT_COLUMNS, "float64"),
        "method": "string",
    },
    DSR: {
        **_KEY_TYPES,
        "total_count": "int64",
        "total_pop": "int64",
        "events_not_standardised": "int64",
        **dict.fromkeys(_FLOAT_COLUMNS, "float64"),
        "method": "string",
        "suppression_reason": "string",
    },
    FUNNEL: {
        **_KEY_TYPES,
        "comparison": "string",
        "observed": "int64",
        "expected": "float64",
        "value": "float64",
        "z": "float64",
        **dict.fromkeys(statistics.FUNNEL_LIMITS, "float64"),
        **dict.fromkeys(statistics.FUNNEL_FLAGS, "int64"),
        "target": "float64",
        "adjustment": "string",
        "phi": "float64",
        "tau2": "float64",
    },
    SPC: {
        **_KEY_TYPES,
        "numerator": "int64",
        "denominator": "int64",
        "value": "float64",
        "mean": "float64",
        "lower_limit": "float64",
        "upper_limit": "float64",
        "rule": "string",
        "point_type": "string",
    },
    DEFINITIONS: {
        "indicator": "string",
        "title": "string",
        "kind": "string",
        "per": "float64",
        "units": "string",
        "numerator_where": "string",
        "value_summed": "string",
        "denominator": "string",
        "standardised": "boolean",
        "improvement": "string",
        "source": "string",
    },
}


class Scratch:
    """Intermediate tables kept by the engine while the indicators are computed.

    Several roll-ups read the same units and people; keeping them once (a temporary
    table on DuckDB, a local checkpoint on Spark, through ``engine.snapshot_table``)
    saves computing them again for every breakdown. On Spark a cached view is not
    enough: every reader re-analyses the view's whole query before finding the cache,
    and the measure stage's tables are built by chains of windows and joins.
    ``drop`` releases them.
    """

    def __init__(self, con: BaseBackend):
        self.con = con
        self.names: list[str] = []

    def __call__(self, table: ir.Table) -> ir.Table:
        name = f"_measure_{len(self.names)}_{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        return engine.snapshot_table(self.con, name, table)

    def drop(self) -> None:
        for name in self.names:
            engine.drop_scratch(self.con, name)
        self.names.clear()


def counts(
    tables: Mapping[str, ir.Table],
    index_date: date,
    definitions: D.Definitions,
    keep: Scratch,
) -> tuple[ir.Table, ir.Table]:
    """The long count table and the standardisation cells, as Ibis expressions.

    ``keep`` holds the intermediate tables every breakdown reads; drop it once the two
    tables have been executed.
    """
    units.validate(definitions)
    reported = P.measurement_periods(index_date, definitions.years)
    first_day, last_day = P.window(reported)
    activity = units.Activity(*(_table(tables, name) for name in ACTIVITY_TABLES))
    builders = units.unit_sets(activity, definitions, index_date, keep)
    # Materialised once: attribution reads the units twice (their days, then the units).
    stacked = keep(units.stack(definitions, builders, first_day, last_day))
    segment = tables.get("segment")
    organisation = tables.get("organisation")
    lookups = None
    if organisation is not None:
        lookups = attribution.organisation_lookups(
            organisation, first_day, last_day, index_date, keep
        )
        lookups = {name: keep(table) for name, table in lookups.items()}
    context = dict(
        person=tables["person"],
        registration=tables["registration"],
        lsoa=tables.get("lsoa"),
        lookups=lookups,
        ethnic_groups=definitions.codelists[ETHNIC_GROUPS],
        segment=segment,
    )
    columns = aggregate.breakdowns(segment is not None)
    attributed = aggregate.attribute_units(stacked, **context)
    unit_columns = sorted({c for _, _, c in columns} | {AGE_BAND, SEX})
    # Materialised once: every breakdown's roll-up reads these small tables.
    base = keep(aggregate.unit_base(attributed, unit_columns))
    calendar = P.calendar(reported)
    people_columns = aggregate.breakdowns(segment is not None, providers=False)
    population = keep(
        aggregate.population_base(
            **context,
            reported=reported,
            columns=sorted({c for _, _, c in people_columns} | {AGE_BAND, SEX}),
        )
    )
    denominator = REGISTERED
    if population.count().execute() == 0:  # nobody registered on any census day
        area = tables.get("area")
        if area is not None and area.count().execute() > 0:
            people_columns = [c for c in people_columns if c[0] in aggregate.AREA_BREAKDOWNS]
            population = keep(
                aggregate.area_population_base(
                    area, reported, sorted({c for _, _, c in people_columns})
                )
            )
            denominator = AREA
        else:
            denominator = NO_DENOMINATOR
    count_table = aggregate.with_population(
        aggregate.unit_counts(base, calendar, columns),
        aggregate.population_counts(population, calendar, people_columns),
        definitions.indicators,
    )
    cells = aggregate.with_population_cells(
        aggregate.unit_cells(base, calendar, columns),
        aggregate.population_cells(population, people_columns),
        definitions.indicators,
    )
    return count_table, cells, denominator


def compute(
    tables: Mapping[str, ir.Table],
    index_date: date,
    con: BaseBackend,
    definitions: D.Definitions | None = None,
    notes: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Every output table as a DataFrame (empty, with its columns, without activity data).

    ``notes`` receives what could not be measured and why (rates without a registered
    population: per head of the area populations, or no rate at all).
    """
    definitions = definitions or D.load()
    frames = {name: pd.DataFrame(columns=list(SCHEMAS[name])) for name in OUTPUTS}
    if "encounter" not in tables:  # nothing to measure: every table empty
        if notes is not None:
            notes.append(
                "No indicators were measured: the workspace has no encounter table. Load "
                "activity sources (hes_apc, hes_op, ecds and the like)."
            )
        return frames
    frames[DEFINITIONS] = _definitions(definitions)
    keep = Scratch(con)
    try:
        count_table, cells, denominator = counts(tables, index_date, definitions, keep)
        count_frame = count_table.execute()
        cell_frame = cells.execute()
    finally:
        keep.drop()
    frames[VALUES] = statistics.values(count_frame, definitions)
    frames[DSR] = statistics.standardised(cell_frame, definitions)
    frames[FUNNEL] = statistics.funnels(count_frame, cell_frame, definitions)
    frames[SPC] = statistics.spc(frames[VALUES], definitions)
    if notes is not None and denominator != REGISTERED:
        notes.append(_DENOMINATOR_NOTES[denominator])
    if notes is not None:
        note = _outside_note(tables["encounter"], index_date, definitions.years)
        notes.extend([note] if note else [])
    return frames


def _outside_note(encounter: ir.Table, index_date: date, years: int) -> str | None:
    """A note when no encounter falls in the years reported: every count is nought."""
    reported = [p for p in P.measurement_periods(index_date, years) if p.kind == P.YEAR]
    first_day, last_day = P.window(tuple(reported))
    span = encounter.aggregate(
        first=encounter.start_date.min(),
        last=encounter.start_date.max(),
        inside=encounter.start_date.between(first_day, last_day).sum(),
    )
    first, last, inside = span.execute().iloc[0]
    if pd.isna(first) or inside:
        return None
    return (
        f"Every indicator counts nought: no encounter falls in the years reported "
        f"({', '.join(p.label for p in reported)}, up to the index date {index_date}); the "
        f"encounters run from {first:%Y-%m-%d} to {last:%Y-%m-%d}. Set [stages.measure] "
        "index_date to the end of a year the data cover."
    )


def as_table(name: str, frame: pd.DataFrame) -> ir.Table:
    """A DataFrame as an Ibis table of output ``name``; missing numbers are NULL, not NaN."""
    schema = ibis.schema(SCHEMAS[name])
    frame = frame.reindex(columns=list(schema.names)).copy()
    for column, dtype in schema.items():
        if dtype.is_floating():
            frame[column] = frame[column].astype(float).replace([np.inf, -np.inf], np.nan)
            frame[column] = frame[column].astype("Float64")
        elif dtype.is_integer():
            frame[column] = frame[column].astype("Int64")
        elif dtype.is_boolean():
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return ibis.memtable(frame, schema=schema)


def _definitions(definitions: D.Definitions) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "indicator": ind.id,
                "title": ind.title,
                "kind": ind.kind,
                "per": ind.per,
                "units": ind.units,
                "numerator_where": ind.where,
                "value_summed": ind.value,
                "denominator": ind.denominator,
                "standardised": ind.standardise,
                "improvement": ind.improvement,
                "source": " ".join(ind.source.split()),
            }
            for ind in definitions.indicators
        ],
        columns=list(SCHEMAS[DEFINITIONS]),
    )


def _table(tables: Mapping[str, ir.Table], name: str) -> ir.Table:
    """A canonical table, or an empty one of its schema when the workspace lacks it."""
    if name in tables:
        return tables[name]
    schema = table_spec(name).schema()
    return ibis.memtable(pd.DataFrame(columns=list(schema.names)), schema=schema)
