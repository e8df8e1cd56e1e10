"""The need stage: each person's clinical need on an index date, from their coded records.

1. The coded records: hospital ICD-10 and SNOMED CT diagnoses dated by their
   encounter, and GP SNOMED CT events (``need.records``).
2. The index date: ``[stages.need] index_date``, or the last day of the data.
3. ``person_need``: one row per person alive that day, with every score and band,
   long-term condition flags with their first-recorded dates and count, maternity,
   recent emergency admissions, the Bridges to Health segment and the Core20PLUS5
   flags (``need.person``).
4. ``segment``: person_id and segment, which the measure stage breaks indicators down by.
5. ``need_summary``: need by place and segment, for the publish stage's gate.
6. The counts: people, and people each definition matched; a definition that matched
   no one in more than ``notes.MIN_PEOPLE`` people gets a note with the likely cause
   (``need.notes``).

The audit record names each definition and rule set with its version and the
fingerprint of its files, so any figure can be traced to the exact lists it used.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from openphm import codelists, engine
from openphm.codelists import Definition
from openphm.config import NeedOptions
from openphm.need import core20plus5, notes, records, segments, summary
from openphm.need.criteria import CriteriaError
from openphm.need.person import TABLE, people_on, person_need
from openphm.need.scores import DEFAULT_SCORES, PERSON, matched_column
from openphm.runner import Stage, StageError, StageInput, StageOutput

__all__ = ["FLAGGED", "SCORED", "STAGE", "build"]

#: Definitions scored (a column per weight set) and flagged (a flag and date per category).
SCORED = (*DEFAULT_SCORES, "ltc")
FLAGGED = ("ltc", "maternity")
SEGMENT_TABLE = "segment"


def build(inp: StageInput) -> StageOutput:
    options = inp.config.stages.need
    t = inp.tables
    gp_event, lsoa = t.get("gp_event"), t.get("lsoa")
    index_date = options.index_date or records.end_of_data(t["encounter"], gp_event)
    if index_date is None:
        raise StageError(
            "the need stage found no dated encounters or GP events to take an index date "
            "from; set [stages.need] index_date in openphm.toml"
        )
    folder = _folder(inp, options)
    try:
        loaded = {name: _definition(name, folder) for name in dict.fromkeys(SCORED + FLAGGED)}
        rules = {name: _rules(name, folder) for name in (segments.RULES, core20plus5.RULES)}
        coded = records.coded_records(t["diagnosis"], t["encounter"], gp_event)
        need = person_need(
            coded,
            people_on(t["person"], lsoa, index_date),
            t["encounter"],
            index_date,
            scored=[loaded[n] for n in SCORED],
            flagged=[loaded[n] for n in FLAGGED],
            segment_rules=segments.load(rules[segments.RULES]),
            core=core20plus5.load(rules[core20plus5.RULES], _plus_groups(options)),
            matched=True,
        )
    except (codelists.CodeListError, CriteriaError) as exc:  # a broken list or rule: say which
        raise StageError(f"need: {exc}") from None
    # Computed once, as a scratch table: the segment table and the summary read it too.
    con = inp.workspace.con if inp.workspace is not None else t["person"]._find_backend()
    scratch = f"_need_{uuid.uuid4().hex[:8]}"
    need = engine.snapshot_table(con, scratch, need)
    definitions = list(loaded.values())
    found = notes.matches(need, definitions)
    counts = {
        "index_date": index_date.isoformat(),
        "index_date_from": "configuration" if options.index_date else "end of the data",
        "people": found["people"],
        "people_matched": found["matched"],
        "definitions": {d.name: _provenance(d) for d in definitions},
        "rules": {name: _provenance(r) for name, r in rules.items()},
    }
    private = {matched_column(d.name) for d in definitions}
    return StageOutput(
        tables={
            TABLE: need.select(*[c for c in need.columns if c not in private]),
            SEGMENT_TABLE: need.select(PERSON, segments.SEGMENT),
            summary.TABLE: summary.by_place_and_segment(need, t["person"], lsoa),
        },
        counts={"need": counts},
        notes=notes.unmatched(found, definitions, coded, index_date),
        cleanup=[lambda: engine.drop_scratch(con, scratch)],
    )


def _folder(inp: StageInput, options: NeedOptions) -> Path | None:
    """The workspace's own code-list folder, if it names one."""
    if options.codelists is None:
        return None
    folder = options.codelists
    if not folder.is_absolute() and inp.workspace is not None:
        folder = inp.workspace.root / folder
    if not folder.is_dir():
        raise StageError(f"[stages.need] codelists: {folder} is not a folder")
    return folder


def _definition(name: str, folder: Path | None) -> Definition:
    """The workspace's own list of that name if it has one, else the shipped one."""
    if folder is not None and name in codelists.available(folder):
        return codelists.load(name, folder)
    return codelists.load(name)


def _rules(name: str, folder: Path | None) -> codelists.RuleSet:
    if folder is not None and name in codelists.available_rules(folder):
        return codelists.load_rules(name, folder)
    return codelists.load_rules(name)


def _plus_groups(options: NeedOptions) -> dict | None:
    if options.plus_groups is None:
        return None
    return {name: group.model_dump() for name, group in options.plus_groups.items()}


def _provenance(item: Definition | codelists.RuleSet) -> dict[str, str]:
    return {"version": item.version, "fingerprint": item.fingerprint}


STAGE = Stage(
    name="need",
    description=(
        "comorbidity and frailty scores, long-term conditions with first-recorded dates, "
        "Bridges to Health segments and Core20PLUS5 flags for each person on the index date"
    ),
    inputs=("person", "encounter", "diagnosis"),
    outputs=(TABLE, SEGMENT_TABLE, summary.TABLE),
    build=build,
    optional=("gp_event", "lsoa"),
)
