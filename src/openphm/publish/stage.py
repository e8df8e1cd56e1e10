"""The publish stage: every human-facing table passes the disclosure gate here."""

from __future__ import annotations

from openphm.disclosure import gate
from openphm.runner import Stage, StageInput, StageOutput


def build(inp: StageInput) -> StageOutput:
    policy = inp.config.disclosure
    population = gate(
        "registered_population",
        inp.tables["registered_population"],
        keys=["practice_code", "age_band", "sex"],
        counts=["population"],
        margins=["practice_code", "age_band", "sex"],
        policy=policy,
    )
    return StageOutput(published=[population])


STAGE = Stage(
    name="publish",
    description="disclosure-controlled tables written to published/",
    inputs=("registered_population",),
    outputs=(),
    build=build,
    publishes=True,
)
