"""The measure stage: population denominators and the indicators (issue 7)."""

from __future__ import annotations

from openphm.measure import indicators
from openphm.measure.population import population_by_practice, registered_on
from openphm.runner import Stage, StageInput, StageOutput

# Read when the workspace has them: without activity the indicator tables are empty,
# without organisations only practices are known, and segment is issue 5's hook.
OPTIONAL = ("encounter", "diagnosis", "episode", "procedure", "organisation", "lsoa", "segment")


def build(inp: StageInput) -> StageOutput:
    index_date = inp.config.stages.measure.index_date
    registered = registered_on(inp.tables["person"], inp.tables["registration"], index_date)
    frames = indicators.compute(inp.tables, index_date, inp.workspace.con)
    tables = {name: indicators.as_table(name, frame) for name, frame in frames.items()}
    tables["registered_population"] = population_by_practice(registered)
    counts = {name: len(frame) for name, frame in frames.items()}
    return StageOutput(tables=tables, counts=counts)


STAGE = Stage(
    name="measure",
    description=(
        "registered population by practice, age band and sex on the index date; indicators "
        "(emergency admissions, readmissions, ACSC, length of stay, A&E, outpatient DNAs) by "
        "month, year and breakdown, with intervals, DSRs, funnels and SPC"
    ),
    inputs=("person", "registration"),
    outputs=("registered_population", *indicators.OUTPUTS),
    build=build,
    optional=OPTIONAL,
)
