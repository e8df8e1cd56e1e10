"""Care outside hospital: the GP patient register, GP registrations and records,
community, mental health, ambulance and adult social care, as their extracts arrive
at an ICS.

``generate(ctx, cohort, emergencies, rng)`` takes one chunk's cohort (the
``people.COHORT_COLUMNS`` plus ``onset_<condition>`` dates and ``date_of_death``)
and its emergency admissions (``hazard.simulate``: person_index, admission_date)
and returns the frames below, keyed by output path. Everything is drawn from
``rng`` in a fixed order, so the same stream gives identical frames. Record keys
are ``person_index * 10_000 + n`` (n counts the person's records in that file, in
date order), so keys never collide between chunks; the patient register's
``PATIENT_ID`` is that counter scrambled. In extracts, dates are text
'YYYY-MM-DD' and missing values '' (as delivered; the dirt stage writes impossible
dates such as '2024-02-30' into them, which a datetime column cannot hold); in
truth frames dates are ``datetime64[ns]`` (NaT when missing). "The period" is
``[ctx.start, ctx.end)``; a person is *in care* from ``ctx.start`` (or, if born
during the period, their first registration) to their date of death (inclusive)
or the period's end. Extract frames carry ``_person_index`` (the true person; the
writer moves it to ``truth/record_person``).

Extracts
--------
``extracts/gp_patients``: the GP patient register, as the demographic part of a GP
extract (or a PDS trace) gives it: one row per person in the cohort (everyone is
registered, including people who die during the period), in person order. It is
the only extract holding people with no recorded care.

- ``PATIENT_ID`` (int64): record key, ``person_index * 10_000`` scrambled (the
  hospital keys' bijection of 0 .. 10**12-1, salt ``PATIENT_KEY_SALT``), so it
  does not reveal the person.
- ``NHS_NUMBER`` (str).
- ``DATE_OF_BIRTH`` (date), ``SEX`` ('1' male, '2' female), ``ETHNIC_CATEGORY``
  (NHS ethnic category code), ``POSTCODE``, ``LSOA`` (2021 LSOA code): the
  cohort's.
- ``PRACTICE_CODE`` (str): the practice of the last registration, that is at
  death or at the period's end.
- ``DATE_OF_DEATH`` (date; empty if alive at the period's end): the cohort's.

``extracts/gp_registrations``: one row per registration period, as a GP system
extract gives them.

- ``REG_ID`` (int64): record key.
- ``NHS_NUMBER`` (str), ``PRACTICE_CODE`` (str, a ``Geography.practices`` code).
- ``REGISTRATION_START`` (date): the cohort's ``registered_from`` for the first
  period (never before birth), the move date for later ones.
- ``REGISTRATION_END`` (date): the day before the next registration starts, the
  date of death, or empty while ongoing at the period's end.

Each person starts at their cohort ``practice_code``; during the period they
move, at ``MOVE_RATE`` a year, to another practice of the same place (chosen
uniformly; nobody moves in a place with one practice). No moves are drawn before
the period: ``registered_from`` is already the start of the current registration.

``extracts/gp_events``: coded primary-care records, SNOMED CT concept ids only.

- ``EVENT_ID`` (int64): record key.
- ``NHS_NUMBER``, ``PRACTICE_CODE`` (the practice registered with on the date;
  for a diagnosis dated before the first registration, the first practice).
- ``EVENT_DATE`` (date), ``SNOMED_CODE`` (str).
- ``VALUE`` (float, NaN when the code carries no value), ``UNIT`` (str, '' if none).

Three kinds of record:

1. Diagnoses: each condition the person has by the end of their time in care
   (onset before the period's end and not after death), dated at its onset, so
   long before the period for prevalent conditions (GP records hold history),
   never before birth. A condition is coded with probability
   ``DIAGNOSIS_CODED * access**0.3`` (at most 0.98: about 90% overall, fewer
   where access to planned care is poor); the rest are the hospital-only cases
   that linkage finds. The code is one of the condition's ``snomed_codes``
   (``conditions.csv``), uniformly.
2. Consultations (the ``contact`` codes of ``gp_codes.csv``: face to face,
   telephone, home visit, medication review), while in care, at 5 a person-year
   on average (``CONSULTS_PER_PERSON_YEAR``; the chunk's rates are scaled to it):
   an age and sex curve, times ``1 + 0.25`` per condition, times ``access**0.5``
   (access bias), times a person's gamma(2) propensity. Home
   visits go mostly to people with dementia, coded frailty or aged 85+;
   medication reviews mostly to people with two or more conditions.
3. Monitoring observations (``observation`` codes of ``gp_codes.csv``), while in
   care, at rates times ``access**0.5``: blood pressure (systolic and diastolic on
   the same day; twice a year with hypertension, diabetes, CKD, CHD or stroke,
   every few years otherwise for adults), HbA1c (diabetes, twice a year), eGFR
   and serum creatinine (CKD twice a year; yearly for diabetes or hypertension),
   total cholesterol (CHD, stroke, diabetes; yearly), BMI with body weight (and
   sometimes height) and smoking status (one of current, ex, never; fixed per
   person) for many adults. Values are a person's level plus visit noise,
   clipped to the code's ``value_min``/``value_max``; systolic ~ N(140, 15) with
   hypertension. Units are the code's ``unit``.

``extracts/community_contacts`` (CSDS-like), community trust ``RZ4``:

- ``CONTACT_ID`` (int64), ``NHS_NUMBER``, ``PROVIDER_CODE``, ``CONTACT_DATE``.
- ``CARE_CONTACT_DURATION`` (Int64 minutes; NA when not attended).
- ``TEAM_TYPE`` (str, one of ``COMMUNITY_TEAMS``).
- ``ATTENDED`` ('Y' or 'N').

Rates per team rise steeply with age, latent frailty and conditions (district
nursing, community matrons, therapies for the old and frail; podiatry for
diabetes; speech and language therapy after stroke; health visiting under 5),
times ``access**0.5`` and a person's gamma(0.6) propensity.

``extracts/mental_health_contacts`` (MHSDS-like), mental health trust ``RZ3``:

- ``CONTACT_ID`` (int64), ``NHS_NUMBER``, ``PROVIDER_CODE``, ``CONTACT_DATE``.
- ``CONTACT_DURATION`` (Int64 minutes; NA when not attended).
- ``SERVICE_TYPE`` (str, see ``MH_SERVICES``).
- ``PRIMARY_REASON`` (str ICD-10 as in ``conditions.csv``, e.g. 'F209'; '' when
  not recorded, about a quarter of contacts).
- ``ATTENDED`` ('Y' or 'N').

Mostly people with serious mental illness (while it is active), depression or
dementia, plus a low background rate (children's services for 5 to 17).

``extracts/ambulance_incidents``, ambulance trust ``RZ5``:

- ``INCIDENT_ID`` (int64), ``NHS_NUMBER`` ('' on about 8% of rows).
- ``DATE_OF_BIRTH`` (date), ``SEX`` ('1'/'2'), ``POSTCODE``: to link rows without
  an NHS number.
- ``PROVIDER_CODE``, ``INCIDENT_DATE`` (date), ``INCIDENT_TIME`` ('HH:MM:SS').
- ``OUTCOME``: 'see_and_convey', 'see_and_treat' or 'hear_and_treat'.
- ``CONVEYED_TO``: acute provider ('RZ1' or 'RZ2') when conveyed, else ''.

About 45% of emergency admissions (more for the old) have a see-and-convey
incident on the admission date; the receiving trust follows the person's place
(``ACUTE_BY_PLACE``, 10% to the other trust). See-and-treat and hear-and-treat
incidents arise at rates rising with age, frailty and deprivation. Conveyances
without an admission are not generated here.

``extracts/social_care_services`` (adult social care client level data-like),
council ``E06999001``:

- ``SERVICE_ID`` (int64), ``NHS_NUMBER`` ('' on about 10% of rows).
- ``DATE_OF_BIRTH``, ``SEX``, ``POSTCODE``, ``LA_CODE``.
- ``SERVICE_TYPE``: 'home_care', 'residential_care', 'nursing_care',
  'reablement' or 'direct_payment'.
- ``START_DATE`` (date; before the period for services already running),
  ``END_DATE`` (date; empty if still running at the period's end).
- ``PLANNED_HOURS_PER_WEEK`` (float; home care only, else NaN).

Adults only. Long-term support at the period's start goes to about 5% of the
65+ and 15% of the 85+ (fewer under 65), more often the frail, people with
dementia or a learning disability; new clients start during the period, half of
them after a reablement spell (3 to 8 weeks). Home care and direct payments can
turn into residential or nursing care; services end at death.

Truth (Parquet)
---------------
``truth/registrations``: ``REG_ID``, ``person_index``, ``practice_code``,
``start``, ``end`` (NaT: ongoing), ``end_reason`` ('moved', 'died', '').

``truth/care_minutes``: staff time behind each contact, for costing. One row per
GP consultation, community contact, mental health contact and ambulance
incident: ``file`` (the extract's key, e.g. 'extracts/gp_events'),
``record_id`` (int64: the record's key; ``truth/record_person`` holds the same
key as text), ``person_index``, ``activity_date``, ``staff_group`` (GP
consultations: 'gp', 'nurse', 'pharmacist', 'other_clinical'; community: the
team type; mental health: the service type; ambulance: 'ambulance_crew' or
'clinical_hub'), ``minutes`` (float: the time booked or spent, including a
missed appointment's slot and an ambulance job's whole cycle) and ``attended``
(bool).

``truth/ambulance_incidents``: ``INCIDENT_ID``, ``person_index``, ``outcome``,
``admission_date`` (the linked emergency admission for conveyances, else NaT),
``nhs_number_removed`` (bool).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.community.ambulance import _ambulance
from openphm.synth.community.common import RECORD_STRIDE
from openphm.synth.community.contacts import _community, _mental_health
from openphm.synth.community.gp import _gp_events
from openphm.synth.community.patients import _patients
from openphm.synth.community.people import _people
from openphm.synth.community.registrations import _registration_frames, _registrations
from openphm.synth.community.social_care import _social_care
from openphm.synth.output import SynthContext

__all__ = ["RECORD_STRIDE", "generate"]


def generate(
    ctx: SynthContext, cohort: pd.DataFrame, emergencies: pd.DataFrame, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """The community stage's frames for one chunk (see the module docstring)."""
    p = _people(ctx, cohort)
    regs = _registrations(ctx, p, cohort, rng)
    parts = [
        _registration_frames(p, regs),
        _patients(p, regs),
        _gp_events(p, regs, rng),
        _community(ctx, p, rng),
        _mental_health(ctx, p, rng),
        _ambulance(ctx, p, emergencies, rng),
        _social_care(ctx, p, rng),
    ]
    frames: dict[str, pd.DataFrame] = {}
    minutes = []
    for part in parts:
        for key, frame in part.items():
            if key == "truth/care_minutes":
                minutes.append(frame)
            else:
                frames[key] = frame
    frames["truth/care_minutes"] = pd.concat(minutes, ignore_index=True)
    return frames
