"""The report's "What could not be done" section: each stage's notes, in words.

A stage that could do nothing, or only part, says what and why (``StageOutput.notes``);
the runner keeps each stage's latest notes (``stage_notes``) and the publish stage
publishes them through the gate. The section stands near the top of the report, so an
empty table is never read without its reason.
"""

from __future__ import annotations

from openphm.report import blocks as b
from openphm.report.published import Published
from openphm.runner import NOTES_TABLE

SECTION_ID = "not-done"
TITLE = "What could not be done"
# The run order (openphm.stages.STAGES, not imported: the report needs no stage's code).
_ORDER = {
    name: i
    for i, name in enumerate(("ingest", "link", "need", "cost", "risk", "measure", "publish"))
}


def notes_section(pub: Published) -> b.Section | None:
    """The section, or None when no stage left a note (or none were published)."""
    if NOTES_TABLE not in pub:
        return None
    frame = pub[NOTES_TABLE].frame
    if frame.empty:
        return None
    frame = frame.assign(
        _order=frame.stage.map(_ORDER).fillna(len(_ORDER)),
        _position=frame.position.astype(int),
    ).sort_values(["_order", "stage", "_position"])
    blocks = [b.Text(f"{row.stage.capitalize()}: {row.note}") for row in frame.itertuples()]
    return b.Section(
        SECTION_ID,
        TITLE,
        "What the stages could not do with these data, or did only in part, and why. "
        "Tables these notes describe are empty or partial.",
        blocks=blocks,
        stage="all",
    )
