"""Hospital admissions counted as the indicators count them: by continuous inpatient spell.

An admitted stay reaches the canonical model as provider spells (``encounter`` rows,
setting apc); ingest has already chained transfers between providers into continuous
inpatient (CIP) spells (``cip_spell_id``). Counting by CIP spell means a patient moved
from one trust to another is one admission and one length of stay, never a discharge
and a readmission. A CIP spell takes its admission (date, method, provider) from its
first provider spell and its discharge (date, destination, provider) from its last.

An *emergency admission* is a CIP spell whose first provider spell has an emergency
admission method (NHS Data Dictionary ADMISSION METHOD 2x), excluding transfers: a
spell admitted as a transfer from another provider (2B, 81) whose earlier spell is not
in the data is not a new admission either.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm import engine
from openphm.ingest.spells import TRANSFER_ADMISSION_METHODS

ADMITTED_CARE = "apc"
VIA_EMERGENCY_DEPARTMENT = "21"  # ADMISSION METHOD: via this provider's emergency department
DIED = "79"  # DISCHARGE DESTINATION: not applicable, the patient died
ICD10 = "icd10"
PRIMARY_POSITION = 1


def cip_spells(encounter: ir.Table) -> ir.Table:
    """One row per continuous inpatient spell.

    Columns: cip_spell_id, person_id, start_date, end_date (NULL while any part is
    unfinished), provider_code (admitting), discharging_provider, admission_method,
    is_emergency, discharge_destination, first_encounter_id, length_of_stay (days,
    NULL when unfinished). A spell without a CIP id (a source with no chaining) is its
    own CIP spell.
    """
    apc = encounter.filter(encounter.setting == ADMITTED_CARE)
    apc = apc.mutate(_cip=apc.cip_spell_id.fill_null(apc.encounter_id))
    apc = apc.mutate(
        _first=engine.row_number([apc._cip], engine.sort_keys(apc.start_date), [apc.encounter_id]),
        _last=engine.row_number(
            [apc._cip], engine.sort_keys(apc.start_date, descending=True), [apc.encounter_id]
        ),
        _open=apc.end_date.isnull().cast("int8").max().over(group_by=apc._cip),
    )
    first = apc.filter(apc._first == 1).select(
        cip_spell_id=apc._cip,
        person_id=apc.person_id,
        start_date=apc.start_date,
        provider_code=apc.provider_code,
        admission_method=apc.admission_method,
        is_emergency=apc.is_emergency,
        first_encounter_id=apc.encounter_id,
    )
    last = apc.filter(apc._last == 1).select(
        _cip=apc._cip,
        end_date=ibis.ifelse(apc._open == 1, ibis.null("date"), apc.end_date),
        discharging_provider=apc.provider_code,
        discharge_destination=apc.discharge_destination,
    )
    spells = first.join(last, first.cip_spell_id == last._cip).drop("_cip")
    return spells.mutate(
        length_of_stay=engine.epoch_days(spells.end_date) - engine.epoch_days(spells.start_date)
    )


def is_emergency_admission(spells: ir.Table) -> ir.BooleanValue:
    """An emergency admission method on the first provider spell, and not a transfer in."""
    transfer = spells.admission_method.isin(list(TRANSFER_ADMISSION_METHODS)).fill_null(False)
    return spells.is_emergency.fill_null(False) & ~transfer


def emergency_admissions(spells: ir.Table) -> ir.Table:
    """Emergency admissions, one per CIP spell, dated by admission, with their flags.

    Adds ``zero_length_of_stay`` (admitted and discharged the same day) and
    ``via_emergency_department`` (admission method 21).
    """
    admitted = spells.filter(is_emergency_admission(spells))
    return admitted.mutate(
        event_date=admitted.start_date,
        zero_length_of_stay=(admitted.length_of_stay == 0).fill_null(False),
        via_emergency_department=(admitted.admission_method == VIA_EMERGENCY_DEPARTMENT).fill_null(
            False
        ),
    )


def emergency_discharges(spells: ir.Table) -> ir.Table:
    """Emergency admissions that have ended, dated by discharge, with their length of stay."""
    return discharged(emergency_admissions(spells))


def discharged(admitted: ir.Table) -> ir.Table:
    """Admissions (``emergency_admissions``) that have ended, dated by discharge."""
    ended = admitted.filter(admitted.end_date.notnull())
    return ended.mutate(event_date=ended.end_date, provider_code=ended.discharging_provider)


def primary_diagnoses(diagnosis: ir.Table, episode: ir.Table) -> ir.Table:
    """Each encounter's primary diagnosis: ICD-10 position 1 of its first episode.

    HES repeats or revises the primary diagnosis episode by episode; the indicators
    take the first episode's, as NHS Digital's admission-based indicators do. A
    diagnosis without an episode (a source without episodes) counts as the first.
    """
    first = diagnosis.filter(
        (diagnosis.position == PRIMARY_POSITION) & (diagnosis.code_system == ICD10)
    )
    orders = episode.select(_episode_id=episode.episode_id, _order=episode.episode_order)
    first = first.left_join(orders, first.episode_id == orders._episode_id)
    first = first.mutate(
        _rank=engine.row_number(
            [first.encounter_id], engine.sort_keys(first._order), [first.episode_id, first.code]
        )
    )
    return first.filter(first._rank == 1).select("encounter_id", "code")


def secondary_diagnoses(diagnosis: ir.Table) -> ir.Table:
    """Every ICD-10 diagnosis of an encounter other than in the primary position."""
    rows = diagnosis.filter(
        (diagnosis.position > PRIMARY_POSITION) & (diagnosis.code_system == ICD10)
    )
    return rows.select("encounter_id", "code")
