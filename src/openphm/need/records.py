"""The coded records need is measured from, taken from the canonical tables.

- Diagnoses on encounters (``diagnosis``), dated by their encounter's start (a spell's
  admission date: HFRS counts the index admission):

  - ICD-10 from admitted patient care and outpatients. ICD-10 on mental health and
    community contacts is a reason for referral, not a diagnosis a register would
    take, so it does not count.
  - SNOMED CT from every setting: emergency care (ECDS codes its diagnoses in SNOMED CT
    only), OMOP conditions on visits, community and mental health. SNOMED CT is the
    code system the NHS records clinical findings in, and the lists match only the
    concepts they hold, so a SNOMED CT diagnosis counts wherever it was made.
- GP events (``gp_event``) coded in SNOMED CT, dated as recorded.

The result is the long table ``need.scores`` takes: person_id, code_system, code,
diagnosis_date.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from openphm.need.scores import CODE, DATE, PERSON, window_start

__all__ = [
    "ANY_SETTING_CODE_SYSTEM",
    "EMERGENCY_ADMISSIONS",
    "EMERGENCY_MONTHS",
    "HOSPITAL_SETTINGS",
    "coded_records",
    "emergency_admissions",
    "end_of_data",
]

#: Settings whose ICD-10 diagnoses count: admitted patient care and outpatients.
HOSPITAL_SETTINGS = ("apc", "op")
#: Diagnoses in this code system count from an encounter in any setting.
ANY_SETTING_CODE_SYSTEM = "snomed"
#: GP events count in these code systems (the code lists hold no Read or CTV3 codes).
GP_CODE_SYSTEMS = ("snomed",)
#: Emergency admissions are counted over this many months up to the index date.
EMERGENCY_MONTHS = 12
EMERGENCY_ADMISSIONS = f"emergency_admissions_{EMERGENCY_MONTHS}m"


def coded_records(
    diagnosis: ir.Table, encounter: ir.Table, gp_event: ir.Table | None = None
) -> ir.Table:
    """person_id, code_system, code, diagnosis_date: hospital ICD-10, SNOMED CT on any
    encounter, and GP SNOMED CT."""
    dated = encounter.select(
        _encounter=encounter.encounter_id, _date=encounter.start_date, _setting=encounter.setting
    )
    dx = diagnosis.filter(diagnosis.code_system.isin(("icd10", ANY_SETTING_CODE_SYSTEM)))
    # One join for both systems: the setting decides only for ICD-10.
    dx = dx.join(dated, dx.encounter_id == dated._encounter)
    dx = dx.filter(
        (dx.code_system == ANY_SETTING_CODE_SYSTEM) | dx._setting.isin(HOSPITAL_SETTINGS)
    )
    parts = [
        dx.select(
            **{PERSON: dx.person_id, "code_system": dx.code_system, CODE: dx.code, DATE: dx._date}
        )
    ]
    if gp_event is not None:
        gp = gp_event.filter(gp_event.code_system.isin(GP_CODE_SYSTEMS))
        parts.append(
            gp.select(
                **{
                    PERSON: gp.person_id,
                    "code_system": gp.code_system,
                    CODE: gp.code,
                    DATE: gp.event_date,
                }
            )
        )
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def emergency_admissions(encounter: ir.Table, index_date: dt.date) -> ir.Table:
    """person_id and their emergency admissions in the ``EMERGENCY_MONTHS`` to the index date."""
    start = window_start(index_date, EMERGENCY_MONTHS)
    spells = encounter.filter(
        (encounter.setting == "apc")
        & encounter.is_emergency
        & (encounter.start_date >= start)
        & (encounter.start_date <= index_date)
    )
    return spells.group_by(PERSON).aggregate(**{EMERGENCY_ADMISSIONS: spells.count()})


def end_of_data(encounter: ir.Table, gp_event: ir.Table | None = None) -> dt.date | None:
    """The last day anything happened: the latest encounter start or GP event (None if none)."""
    latest = [encounter.start_date.max().execute()]
    if gp_event is not None:
        latest.append(gp_event.event_date.max().execute())
    days = [pd.Timestamp(d).date() for d in latest if not pd.isna(d)]
    return max(days) if days else None
