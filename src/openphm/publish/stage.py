"""The publish stage: every human-facing table passes the disclosure gate here."""

from __future__ import annotations

from openphm.cost import rollup as cost_rollup
from openphm.disclosure import GatedTable, Rate, gate
from openphm.measure import publication
from openphm.need import summary as need_summary
from openphm.risk import publication as risk_publication
from openphm.runner import NOTES_TABLE, Stage, StageInput, StageOutput

# Tables published when the workspace has them, with their cells and counts.
OPTIONAL = {
    "dq_files": dict(
        keys=["source", "layout", "file"], counts=["rows_read", "rows_accepted", "rows_quarantined"]
    ),
    "dq_validity": dict(
        keys=["source", "provider_code", "column", "reason", "action"],
        counts=["rows"],
        margins=["reason"],
    ),
    "dq_completeness": dict(
        keys=["source", "provider_code", "column"],
        counts=["rows", "rows_complete"],
        rates={"percent_complete": Rate("rows_complete", "rows")},
    ),
    "dq_timeliness": dict(
        keys=["source", "provider_code", "month"], counts=["rows"], margins=["month"]
    ),
    "link_summary": dict(
        keys=["source", "setting", "link_method"], counts=["encounters"], margins=["link_method"]
    ),
    need_summary.TABLE: need_summary.GATE,  # need by place and segment (the need stage)
    # The cost stage: reconciliation, match rates per feed, cost by setting, place, IMD
    # quintile and age band (see cost/rollup.py).
    "cost_reconciliation": cost_rollup.RECONCILIATION_GATE,
    "cost_match_rates": cost_rollup.MATCH_RATES_GATE,
    **cost_rollup.GATES,
}


def build(inp: StageInput) -> StageOutput:
    policy = inp.config.disclosure
    published: list[GatedTable] = []
    if "registered_population" in inp.tables:
        published.append(
            gate(
                "registered_population",
                inp.tables["registered_population"],
                keys=["practice_code", "age_band", "sex"],
                counts=["population"],
                margins=["practice_code", "age_band", "sex"],
                policy=policy,
            )
        )
    for name, spec in OPTIONAL.items():
        if name in inp.tables:
            published.append(gate(name, inp.tables[name], policy=policy, **spec))
    # The risk stage's aggregates; their statistics travel as keys (risk/publication.py).
    for name in risk_publication.TABLES:
        if name in inp.tables:
            spec = risk_publication.gate_spec(name, inp.tables[name].columns)
            published.append(gate(name, inp.tables[name], policy=policy, **spec))
    # The indicators: one file each, and their statistics (see measure/publication.py).
    published.extend(publication.gated(inp.tables, policy))
    # What each stage could not do, and why: sentences the code wrote from its own
    # templates (runner.check_note keeps identifiers out), with no counts to protect.
    if NOTES_TABLE in inp.tables:
        notes = inp.tables[NOTES_TABLE]
        published.append(
            gate(NOTES_TABLE, notes, keys=["stage", "position", "note"], counts=[], policy=policy)
        )
    return StageOutput(published=published)


STAGE = Stage(
    name="publish",
    description="disclosure-controlled tables written to published/",
    inputs=(),
    outputs=(),
    build=build,
    publishes=True,
    optional=(
        "registered_population",
        *OPTIONAL,
        *publication.TABLES,
        *risk_publication.TABLES,
        NOTES_TABLE,
    ),
)
