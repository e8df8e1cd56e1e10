"""The measure stage: population denominators and the indicators (issue 7).

The index date is ``[stages.measure] index_date``, or from the data
(``periods.index_date_from_data``: the end of the last financial year the encounters
cover completely, else of their last complete month). Without dated encounters there
is nothing to measure: the tables are written empty and a note says why.
"""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd

from openphm.measure import indicators
from openphm.measure.periods import index_date_from_data
from openphm.measure.population import population_by_practice, registered_on
from openphm.need.records import end_of_data
from openphm.risk.dates import data_start
from openphm.runner import Stage, StageInput, StageOutput

# Read when the workspace has them: without activity the indicator tables are empty,
# without organisations only practices are known, and segment is issue 5's hook; area
# (populations by LSOA) gives rates a denominator when nobody is registered.
OPTIONAL = (
    "encounter",
    "diagnosis",
    "episode",
    "procedure",
    "organisation",
    "lsoa",
    "area",
    "segment",
)
POPULATION = "registered_population"
POPULATION_SCHEMA = {
    "practice_code": "string",
    "age_band": "string",
    "sex": "string",
    "population": "int64",
}


def build(inp: StageInput) -> StageOutput:
    notes: list[str] = []
    index_date, source = _index_date(inp, notes)
    if index_date is None:
        tables = {
            name: indicators.as_table(name, pd.DataFrame(columns=list(indicators.SCHEMAS[name])))
            for name in indicators.OUTPUTS
        }
        tables[POPULATION] = ibis.memtable(
            pd.DataFrame(columns=list(POPULATION_SCHEMA)), schema=ibis.schema(POPULATION_SCHEMA)
        )
        return StageOutput(tables=tables, counts={"index_date": None}, notes=notes)
    registered = registered_on(inp.tables["person"], inp.tables["registration"], index_date)
    frames = indicators.compute(inp.tables, index_date, inp.workspace.con, notes=notes)
    tables = {name: indicators.as_table(name, frame) for name, frame in frames.items()}
    tables[POPULATION] = population_by_practice(registered)
    counts = {name: len(frame) for name, frame in frames.items()}
    counts["index_date"] = index_date.isoformat()
    counts["index_date_from"] = source
    return StageOutput(tables=tables, counts=counts, notes=notes)


def _index_date(inp: StageInput, notes: list[str]) -> tuple[date | None, str]:
    """The configured index date, else the one the data give (None: no dated encounters)."""
    configured = inp.config.stages.measure.index_date
    if configured is not None:
        return configured, "configuration"
    encounter = inp.tables.get("encounter")
    first = data_start(encounter) if encounter is not None else None
    last = end_of_data(encounter) if encounter is not None else None
    if first is None or last is None:
        notes.append(
            "Nothing was measured: the workspace has no dated encounters to take an index "
            "date from. Load activity sources, or set [stages.measure] index_date."
        )
        return None, "none"
    return index_date_from_data(first, last), "the data"


STAGE = Stage(
    name="measure",
    description=(
        "registered population by practice, age band and sex on the index date; indicators "
        "(emergency admissions, readmissions, ACSC, length of stay, A&E, outpatient DNAs) by "
        "month, year and breakdown, with intervals, DSRs, funnels and SPC"
    ),
    inputs=("person", "registration"),
    outputs=(POPULATION, *indicators.OUTPUTS),
    build=build,
    optional=OPTIONAL,
)
