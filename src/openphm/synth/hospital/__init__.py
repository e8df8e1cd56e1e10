"""Hospital care of the synthetic ICS: admitted patient care, outpatients and A&E.

One entry point, :func:`generate`, turns a chunk's cohort and its emergency admissions
(drawn by :mod:`openphm.synth.hazard`, whose number and dates are kept) into the
extracts an ICS receives from its two acute trusts (``ctx.geography.provider("acute")``,
RZ1 and RZ2), and the truth the costing stage and the tests need. Everything is
vectorised (no loop over people or records) and deterministic for a random stream.

Who goes where
    Each person has a main acute trust, by their place (the first half of the places
    use the first trust); 85% of emergency care, 75% of planned care goes there.
    People aged 80+ with dementia or frailty at the period's start live in a care home
    with probability 0.35 (0.04 at 85+ otherwise): they are admitted from it and go
    back to it (ADMISORC/DISDEST 54, 65 or 85).

Emergency spells
    One per row of ``emergencies``. Some are *condition-led* (the share attributable
    to the person's active conditions, ``1 - 1/prod(emergency_rr)``, at most 0.8):
    the primary diagnosis is one of that condition's ICD-10 codes and the specialty
    the condition's (``CONDITION_SPECIALTY``; paediatrics under 16). The others draw a
    specialty from ``specialties.csv`` (emergency_weight, adjusted for age and sex) and
    a primary diagnosis from its emergency_icd10_codes, leaving out codes that belong
    to a long-term condition (and neoplasms), so a condition's codes appear only on
    people who really have it. Length of stay is zero-inflated gamma, its mean rising
    with age (``EMERGENCY_LOS``) and, within an age band, with conditions and frailty.
    A stay is cut short by the person's next admission; a person who dies during, or
    within 7 days after, their last stay dies in hospital (DISMETH 4, DISDEST 79).
    About 3% of emergency spells end in a transfer to the other trust (DISDEST 51),
    where a second provider spell starts that day or the next (ADMIMETH 81, ADMISORC
    51): the two form one continuous inpatient (CIP) spell, ``cip_id`` in the truth.

Elective and day-case spells
    Poisson, at ``ELECTIVE_PER_YEAR`` by age, times a condition multiplier normalised
    within age band (cancer most), times the cohort's ``access``. Condition-led ones
    (cancer: chemotherapy day cases, primary Z511) go to the condition's specialty.
    Day cases (CLASSPAT 2) are about 75%. A planned spell that would start inside
    another spell of the person is not generated; one that would overlap the next is
    cut short.

Episodes
    A spell of L days has ``1 + Poisson(EPISODES_PER_DAY * L)`` consultant episodes
    (at most 8), contiguous (an episode ends the day the next starts); later episodes
    of emergency spells often move to general or geriatric medicine.

Outpatients
    Referral pathways (Poisson by age, conditions and ``access``), each a first
    appointment and a geometric number of follow-ups 4 to 20 weeks apart, about 1.8
    appointments a person-year. Did not attend is 4% in the least deprived decile, 9%
    in the most, higher at 16-34. An appointment on a day the person is in hospital is
    cancelled by the patient (ATTENDED 2).

A&E
    Every emergency spell admitted via A&E (ADMIMETH 21) has a type 1 attendance at
    the same trust on the admission date (or the evening before). Non-admitted type 1
    attendances are drawn so that ``TYPE1_ADMITTED_SHARE`` of type 1 attendances are
    admitted, spread over people by age, deprivation (twice the rate in the most
    deprived decile as in the least, before frailty) and frailty; type 3 (urgent
    treatment centre) attendances come on top, never admitted. The non-admitted volume
    is set per chunk from its admitted attendances, so every chunk hits the share.
    Nobody attends A&E unadmitted while in hospital.

Keys
    EPIKEY, ATTENDKEY and EC_IDENT are 12-digit integers, PROVSPNOPS 12-digit strings:
    a fixed scramble (a bijection of 0 .. 10**12-1, the same for every seed) of a
    counter ``person_index * 1000 + n`` (``* 10000`` for outpatients), where n numbers
    the person's records in date order (more than 999, or 9,999, raises ValueError).
    Keys are unique across chunks and runs of any size, and do not reveal the person.

Dates are ``datetime64[ns]``; the HES null date is 1800-01-01 (``NULL_DATE``); unused
code positions are empty strings. All codes are strings. Not generated here: births and
deliveries (ADMIMETH 31/32/82), regular day/night attenders (CLASSPAT 3/4), HRGs.

Frames returned
---------------
``extracts/hes_apc`` (one row per consultant episode, ordered by person, spell, episode):
    EPIKEY (int, unique), PROCODE3 (trust), PROVSPNOPS (provider spell number, unique),
    NEWNHSNO, DOB (date), SEX ('1'/'2'), ETHNOS, LSOA21, HOMEADD (postcode), GPPRAC,
    ADMIDATE (date, same on every episode of the spell), ADMIMETH ('11' '12' '13' elective;
    '21' A&E, '22' GP, '23' bed bureau, '24' consultant clinic, '28' other; '81' transfer
    in), ADMISORC ('19' home, '51' other trust (transfers), '53' mental health ward,
    '54'/'65'/'85' care home), CLASSPAT ('1' ordinary, '2' day case), EPISTART, EPIEND
    (dates; EPIEND 1800-01-01 on an episode unfinished at the period's end), EPIORDER
    ('01', '02', ...), EPISTAT ('3' finished, '1' unfinished), EPITYPE ('1'), STARTAGE
    (int years at EPISTART; 7001-7007 under one year, as HES), MAINSPEF, TRETSPEF
    (treatment function codes, '300' ...), DISDATE (date on the last episode of a finished
    spell, else 1800-01-01), DISMETH ('1' clinical advice, '2' self, '4' died; '8' not
    applicable: non-final episode or still in hospital), DISDEST ('19', '51', '54'/'65'/'85',
    '79' died; '98' not applicable), DIAG_4_01 .. DIAG_4_20 (HES 4-character ICD-10: 'I10X',
    'E119'; the same on every episode of a spell), OPERTN_4_01 .. OPERTN_4_24 (OPCS-4
    without dot, 'W371'; '-' in OPERTN_4_01 when the episode has no procedure),
    OPDATE_01 .. OPDATE_24 (date of each procedure, NaT when unused), _person_index.
``extracts/hes_op`` (one row per appointment, including missed and cancelled ones):
    ATTENDKEY (int, unique), PROCODE3, NEWNHSNO, DOB, SEX, ETHNOS, LSOA21, HOMEADD, GPPRAC,
    APPTDATE, ATTENDED ('5' seen, '6' late but seen, '7' late not seen, '3' did not attend,
    '2' cancelled by patient, '4' cancelled by hospital), FIRSTATT ('1' first, '2'
    follow-up, '3'/'4' the same by telephone or video), STAFFTYP ('01' consultant, '03'
    registrar, '04' staff grade, '08' nurse), MAINSPEF, TRETSPEF, DIAG_4_01 .. DIAG_4_12
    (mostly empty; 'R69X' or a condition code on some attended ones), OPERTN_4_01 ..
    OPERTN_4_24 ('-' for an attendance without a procedure, empty when not seen), _person_index.
``extracts/ecds`` (one row per A&E attendance):
    EC_IDENT (int, unique), DER_PROVIDER_CODE, NHS_NUMBER, DATE_OF_BIRTH, STATED_GENDER,
    ETHNIC_CATEGORY, LSOA, POSTCODE, GP_PRACTICE, ARRIVAL_DATE, ARRIVAL_TIME ('HH:MM'),
    DEPARTMENT_TYPE ('01' type 1, '03' UTC), ARRIVAL_MODE_SNOMED, CHIEF_COMPLAINT_SNOMED,
    DIAGNOSIS_SNOMED (from ae_codes.csv), DISCHARGE_STATUS ('182992009' treatment
    completed; '10663x1000000x' left before completion), DISCHARGE_DESTINATION_SNOMED
    ('306706006' ward, ICU/HDU/CCU codes, '306689006' home, ...), ADMITTED ('Y'/'N'),
    LINKED_SPELL (PROVSPNOPS of the spell when admitted, else empty), _person_index.
    All SNOMED CT ids pass ``openphm.codes.is_valid_sctid``.
``truth/apc_spells`` (one row per provider spell):
    person_index, PROCODE3, PROVSPNOPS, cip_id (PROVSPNOPS of the CIP's first spell),
    admission_date, discharge_date (the real one, also when after the period),
    finished (discharged before ``ctx.end``), admimeth, is_emergency (ADMIMETH 2x),
    classpat, tretspef (first episode), primary_diagnosis, los_days, n_episodes
    (episodes in the extract), died_in_hospital, condition_led (condition name or '').
``truth/procedures`` (one row per coded procedure, for costing theatres and labs):
    person_index, EPIKEY, PROCODE3, PROVSPNOPS, procedure_date, opcs4, position (1 ..),
    tretspef, is_emergency, classpat, setting ('theatre', 'endoscopy', 'cath_lab',
    'imaging', 'chemotherapy', 'radiotherapy', 'delivery_suite' or 'ward'), minutes
    (in-room time; laterality codes Z94x have 0: they qualify the procedure before).
    Ordered by EPIKEY, position; position 1 is OPERTN_4_01 of that episode.
``truth/critical_care`` (one row per critical care period):
    person_index, EPIKEY (episode it starts in), PROCODE3, PROVSPNOPS, start_date,
    end_date, days, level (2 HDU, 3 ICU).
``truth/ae_attendances`` (one row per ECDS record):
    EC_IDENT, person_index, DER_PROVIDER_CODE, arrival_date, department_type, admitted,
    ambulance (arrived by ambulance), minutes_in_department.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.hospital.ae import SCT, _ae
from openphm.synth.hospital.apc import LATERALITY_OPCS, _apc
from openphm.synth.hospital.common import NULL_DATE
from openphm.synth.hospital.keys import _scramble as _scramble  # re-exported for the tests
from openphm.synth.hospital.outpatients import _outpatients
from openphm.synth.hospital.people import _people
from openphm.synth.hospital.tables import _tables
from openphm.synth.output import SynthContext

__all__ = ["ACUTE_FALLBACK", "LATERALITY_OPCS", "NULL_DATE", "SCT", "generate"]

ACUTE_FALLBACK = ("RZ1", "RZ2")


def generate(
    ctx: SynthContext,
    cohort: pd.DataFrame,
    emergencies: pd.DataFrame,
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """Hospital extracts and truth for one chunk of people (see the module docstring)."""
    t = _tables()
    acute = getattr(ctx.geography, "provider", None)
    providers = tuple(acute("acute")) if callable(acute) else ACUTE_FALLBACK
    providers = providers or ACUTE_FALLBACK
    cohort = cohort.reset_index(drop=True)
    P = _people(ctx, cohort, t, providers, rng)
    s, provspno, prov_code, cc, cc_level, apc, spells, procedures, critical = _apc(
        ctx, t, P, emergencies, providers, rng
    )
    op = _outpatients(ctx, t, P, s, providers, rng)
    ecds, ae_truth = _ae(ctx, t, P, s, provspno, prov_code, cc, cc_level, providers, rng)
    return {
        "extracts/hes_apc": apc,
        "extracts/hes_op": op,
        "extracts/ecds": ecds,
        "truth/apc_spells": spells,
        "truth/procedures": procedures,
        "truth/critical_care": critical,
        "truth/ae_attendances": ae_truth,
    }
