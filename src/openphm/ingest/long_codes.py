"""Diagnoses and procedures delivered long (one row per code) find their encounter.

A long diagnosis or procedure file (``hes_diagnoses_long``, ``hes_procedures_long``)
names the record a code belongs to by its key alone: an APC episode (EPIKEY), or an
OP or A&E attendance (ATTENDKEY, AEKEY). Its mapper cannot know the encounter: an
admitted episode's encounter is its provider spell, which exists only once the APC
file is grouped. So the mapper stages the key in ``episode_id`` with no
``encounter_id``, and once every file is staged ``resolve`` looks the key up:

1. among the staged episodes: the code takes the episode's spell, and keeps the
   episode id (a diagnosis "on episode E of spell S");
2. else among the other staged encounters' record keys (outpatient and A&E
   attendances, whose encounter is the attendance itself): the code takes that
   encounter, and no episode id.

An episode key is tried first: HES keys are unique within a dataset, not across
them, and a file of long codes is most often APC's. A code whose record was never
delivered cannot be placed: it is counted, left out, and the count goes in the
stage's notes (never silently dropped).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

LONG_LAYOUTS = ("hes_diagnoses_long", "hes_procedures_long")


def resolve(codes: ir.Table, episode: ir.Table, encounter: ir.Table) -> tuple[ir.Table, ir.Table]:
    """(codes with every long row placed on its encounter, the long rows placed nowhere).

    Rows that arrived with an encounter (the wide HES mappers') pass unchanged.
    """
    placed = codes.filter(codes.encounter_id.notnull())
    long = codes.filter(codes.encounter_id.isnull()).mutate(_key=ibis._.episode_id)
    episodes = episode.select(_ekey=episode.episode_id, _spell=episode.encounter_id).distinct()
    attendances = encounter.filter(encounter.setting != "apc")
    attendances = attendances.select(
        _akey=attendances.record_key, _attendance=attendances.encounter_id
    ).distinct()
    found = long.left_join(episodes, long._key == episodes._ekey)
    found = found.left_join(attendances, found._key == attendances._akey)
    found = found.mutate(
        encounter_id=ibis.coalesce(found._spell, found._attendance),
        # An attendance has no episodes; a code placed nowhere keeps the key it named.
        episode_id=ibis.cases(
            (found._spell.isnull() & found._attendance.notnull(), ibis.null("string")),
            else_=found.episode_id,
        ),
    )
    columns = codes.columns
    resolved = found.filter(found.encounter_id.notnull()).select(*columns)
    lost = found.filter(found.encounter_id.isnull()).select(*columns)
    return ibis.union(placed, resolved), lost


def place(restricted: dict[str, ir.Table], layouts: set[str]) -> list[str]:
    """Resolve the staged diagnoses and procedures in place, when any source is long;
    return the notes that say how many codes had no delivered record."""
    if not layouts & set(LONG_LAYOUTS):
        return []
    notes = []
    for name, what in (("staged_diagnosis", "diagnoses"), ("staged_procedure", "procedures")):
        codes, lost = resolve(
            restricted[name], restricted["staged_episode"], restricted["staged_encounter"]
        )
        restricted[name] = codes
        n = lost.count().to_pyarrow().as_py()
        if n:
            notes.append(
                f"{n:,} {what} delivered one row per code name an episode or attendance "
                "that no source delivered; they are left out (add the APC, OP or A&E "
                "file they belong to)."
            )
    return notes
