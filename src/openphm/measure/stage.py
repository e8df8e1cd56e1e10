"""The measure stage: population denominators (indicators arrive with issue 7)."""

from __future__ import annotations

from openphm.measure.population import population_by_practice, registered_on
from openphm.runner import Stage, StageInput, StageOutput


def build(inp: StageInput) -> StageOutput:
    index_date = inp.config.stages.measure.index_date
    registered = registered_on(inp.tables["person"], inp.tables["registration"], index_date)
    return StageOutput(tables={"registered_population": population_by_practice(registered)})


STAGE = Stage(
    name="measure",
    description="registered population by practice, ESP 2013 age band and sex on the index date",
    inputs=("person", "registration"),
    outputs=("registered_population",),
    build=build,
)
