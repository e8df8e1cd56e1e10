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

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from openphm import codes
from openphm.synth import reference
from openphm.synth.output import PERSON, SynthContext

NULL_DATE = np.datetime64("1800-01-01", "D")
_NEVER = np.int64(10**8)  # a day number after any real date: no onset, no death
ACUTE_FALLBACK = ("RZ1", "RZ2")

# ---- emergency admissions -------------------------------------------------------------
EMERGENCY_ADMIMETH = (("21", 0.70), ("22", 0.15), ("23", 0.01), ("24", 0.04), ("28", 0.10))
# Mean length of stay (days) by age, before the condition and frailty effects (which are
# normalised within age band, so these stay the band means).
EMERGENCY_LOS = ((0, 2.2), (15, 4.2), (40, 7.0), (65, 10.5), (75, 12.3), (85, 14.3), (95, 15.0))
ZERO_DAY_SHARE = ((0, 0.45), (16, 0.38), (40, 0.32), (65, 0.25), (80, 0.19), (90, 0.16))
LOS_SHAPE = 0.9  # gamma shape of the days beyond the first: right-skewed
LOS_CONDITION_EFFECT = 0.08  # log LOS per active condition
LOS_FRAILTY_EFFECT = 0.12  # log LOS per SD of latent frailty
DEATH_WINDOW_DAYS = 7  # a death this soon after the last stay happens in hospital
TRANSFER_SHARE = 0.03  # emergency spells continued at the other trust
SELF_DISCHARGE = 0.015
# Long-term condition -> the specialty an admission or referral for it goes to.
CONDITION_SPECIALTY = {
    "hypertension": "300",
    "diabetes": "300",
    "copd": "340",
    "asthma": "340",
    "chd": "320",
    "heart_failure": "320",
    "atrial_fibrillation": "320",
    "ckd": "361",
    "stroke": "400",
    "cancer": "800",
    "dementia": "430",
    "depression": "710",
    "smi": "710",
    "learning_disability": "300",
    "frailty": "430",
    "painful_condition": "110",
    "hearing_loss": "120",
    "thyroid_disorder": "300",
    "anxiety": "710",
    "visual_impairment": "130",
    "prostate_disorder": "101",
    "constipation": "301",
}
# Specialties nobody is sent to without the condition.
SPECIALTY_REQUIRES = {"800": "cancer"}
SECONDARY_CODING = 0.7  # chance an active condition is coded on an admission
# Common secondary codes: hyperlipidaemia, penicillin allergy, GORD, arthrosis,
# hypothyroidism, anaemia, tobacco use. Any that is a long-term condition's code in
# conditions.csv is dropped when the tables load (as are such codes in the lists below).
INCIDENTAL_ICD10 = ("E785", "Z880", "K219", "M199", "E039", "D649", "F171")
INCIDENTAL_PER_SPELL = 0.7  # expected incidental codes on a spell at 70 (scaled by age)

# ---- planned care -----------------------------------------------------------------------
ELECTIVE_PER_YEAR = ((0, 0.06), (16, 0.07), (30, 0.09), (50, 0.12), (65, 0.23), (75, 0.37))
# Elective rate multipliers per active condition (others: DEFAULT_ELECTIVE_RR).
ELECTIVE_RR = {
    "cancer": 4.0,
    "ckd": 1.4,
    "chd": 1.4,
    "atrial_fibrillation": 1.3,
    "painful_condition": 1.4,
    "visual_impairment": 1.4,
    "prostate_disorder": 1.3,
}
DEFAULT_ELECTIVE_RR = 1.15
# Pull of each condition towards a condition-led elective (others: DEFAULT_ELECTIVE_PULL).
ELECTIVE_PULL = {
    "cancer": 1.5,
    "chd": 0.3,
    "atrial_fibrillation": 0.2,
    "heart_failure": 0.2,
    "ckd": 0.3,
    "copd": 0.15,
    "painful_condition": 0.3,
    "visual_impairment": 0.3,
    "prostate_disorder": 0.3,
    "hearing_loss": 0.05,
}
DEFAULT_ELECTIVE_PULL = 0.03
DAY_CASE_SHARE = {
    "130": 0.95,
    "301": 0.92,
    "800": 0.97,
    "110": 0.5,
    "100": 0.62,
    "120": 0.55,
    "101": 0.8,
    "502": 0.75,
    "320": 0.7,
    "501": 0.2,
    "420": 0.7,
    "361": 0.85,
}
DEFAULT_DAY_CASE = 0.7
ELECTIVE_ADMIMETH = (("11", 0.62), ("12", 0.18), ("13", 0.20))
ELECTIVE_WITH_PROCEDURE = 0.92
# Elective primary diagnoses by specialty, for spells not led by a condition.
ELECTIVE_ICD10 = {
    "100": ("K409", "K429", "K802", "L059", "K602", "K648"),
    "101": ("N40", "N201", "N433", "R31"),
    "110": ("M171", "M161", "M233", "M751", "G560", "M201"),
    "120": ("J350", "J342", "H652", "J320"),
    "130": ("H251", "H269", "H353", "H401"),
    "300": ("D509", "M069"),
    "301": ("K573", "K219", "Z121", "K296", "D126"),
    "320": ("R072", "I471", "R002", "I350"),
    "340": ("R05", "R91", "G473"),
    "361": ("N200", "N049", "R80"),
    "400": ("G439", "G35", "G409", "G20"),
    "420": ("J350", "K409", "Q531", "N47"),
    "430": ("M819", "R55"),
    "501": ("O342", "O800", "O48"),
    "502": ("N920", "D259", "N813", "N832", "N979"),
    "710": ("F419", "F102", "F431"),
    "800": ("Z511", "Z510"),
}
CHEMOTHERAPY_ICD10 = "Z511"
LATERALITY_OPCS = ("Z942", "Z943")  # right, left
LATERAL_SPECIALTIES = {"110": 0.8, "130": 0.95}
EMERGENCY_WITH_PROCEDURE = {
    "100": 0.55,
    "101": 0.45,
    "110": 0.65,
    "120": 0.35,
    "130": 0.4,
    "501": 0.6,
    "502": 0.45,
}
DEFAULT_EMERGENCY_PROCEDURE = 0.2
EPISODES_PER_DAY = 0.037  # extra episodes per day of stay
MAX_EPISODES = 8
CRITICAL_CARE = 0.05  # of emergency spells of a day or more (died in hospital: 0.25)

# ---- outpatients ------------------------------------------------------------------------
OP_PATHWAYS_PER_YEAR = (
    (0, 0.64),
    (16, 0.46),
    (30, 0.6),
    (50, 0.8),
    (65, 1.18),
    (75, 1.42),
    (85, 1.39),
)
OP_CONDITION_EFFECT = 0.3  # rate multiplier per active condition (normalised within band)
OP_FOLLOW_UPS = 2.0  # mean follow-ups planned per pathway
OP_GAP_DAYS = (28, 140)  # follow-up gaps, uniform
DNA_LEAST, DNA_MOST = 0.04, 0.09
OP_OTHER_ATTENDED = (("2", 0.03), ("4", 0.04), ("6", 0.03), ("7", 0.003))
OP_REMOTE = (0.08, 0.18)  # first, follow-up appointments by telephone or video
STAFFTYP = (("01", 0.6), ("03", 0.2), ("04", 0.08), ("08", 0.12))
OP_PROCEDURE = 0.1  # attended appointments with a procedure, where the specialty has one

# ---- A&E --------------------------------------------------------------------------------
TYPE1_ADMITTED_SHARE = 0.275
TYPE3_PER_TYPE1 = 0.35  # UTC attendances per non-admitted type 1 attendance
AE_DEPRIVATION_EFFECT = 1.0  # most vs least deprived: (1 + this) times the rate
AE_FRAILTY_EFFECT = 0.15
AE_BY_AGE = (
    (0, 0.55),
    (5, 0.3),
    (15, 0.3),
    (20, 0.45),
    (30, 0.38),
    (45, 0.3),
    (65, 0.32),
    (75, 0.45),
    (85, 0.7),
    (95, 0.8),
)
ARRIVED_DAY_BEFORE = 0.15
# Relative arrivals by hour of the day: 00:00 to 07:00, then 08:00 to 23:00.
ARRIVAL_HOUR_WEIGHTS = (2, 1.5, 1.2, 1, 1, 1, 1.5, 2.5) + (
    (4, 5.5, 6, 6, 6, 6, 6, 6, 6, 6, 5.5, 5, 4.5, 4, 3.5, 2.5)
)
SCT = {
    "ambulance": "1048031000000100",
    "ambulance_escort": "1048041000000109",
    "non_emergency_ambulance": "1048021000000102",
    "own_transport": "1048071000000103",
    "public_transport": "1048061000000105",
    "police": "1048001000000106",
    "treatment_completed": "182992009",
    "left_before_assessment": "1066301000000103",
    "left_after_assessment": "1066311000000101",
    "left_before_completed": "1066321000000107",
    "ward": "306706006",
    "icu": "1066391000000105",
    "hdu": "1066361000000104",
    "ccu": "1066371000000106",
    "home": "306689006",
    "residential_home": "306691003",
    "nursing_home": "306694006",
    "transfer": "19712007",
    "police_custody": "306705005",
    "ambulatory_care": "1066341000000100",
}
# ECDS diagnosis -> the chief complaint it usually arrives with (when that diagnosis is
# not itself a chief complaint in ae_codes.csv).
DIAGNOSIS_COMPLAINT = {
    "22298006": "29857009",
    "230690007": "40917007",
    "59282003": "267036007",
    "49436004": "29857009",
    "84114007": "267036007",
    "233604007": "267036007",
    "195951007": "267036007",
    "195967001": "267036007",
    "54150009": "49727002",
    "65363002": "386661006",
    "68566005": "21522001",
    "91302008": "386661006",
    "128045006": "271807003",
    "2776000": "40917007",
    "84757009": "91175000",
    "302866003": "271594007",
    "80394007": "422400008",
    "5913000": "1912002",
    "71620000": "1912002",
    "125605004": "1912002",
    "62315008": "62315008",
}
COMPLAINT_FOLLOWS_DIAGNOSIS = 0.9

_KEY_SALT = {"epikey": 11, "spell": 23, "op": 37, "ecds": 53}
_AGE_BANDS = np.array([0, 15, 45, 65, 75, 85])
_CARE_HOME_CODES = ("54", "65", "85")
_CARE_HOME_P = (0.1, 0.3, 0.6)

for _code in SCT.values():
    assert codes.is_valid_sctid(_code), _code  # noqa: S101 - a typo here must fail at import


# ======================================================================================
# Reference tables, prepared once
# ======================================================================================


@dataclass(frozen=True)
class _Tables:
    conditions: tuple[str, ...]
    cond_rr: np.ndarray  # emergency_rr
    cond_codes: np.ndarray  # (C, K) HES 4-char codes, padded with ''
    cond_ncodes: np.ndarray
    cond_tfc: np.ndarray  # specialty index of each condition
    tfc: np.ndarray  # treatment function codes
    w_elective: np.ndarray
    w_emergency: np.ndarray
    w_outpatient: np.ndarray
    opcs: np.ndarray  # (T, K) OPCS-4 codes by specialty
    n_opcs: np.ndarray
    op_opcs: np.ndarray  # the non-theatre ones, for outpatient procedures
    n_op_opcs: np.ndarray
    emerg_dx: np.ndarray  # (T, K) emergency primary diagnoses, condition codes left out
    n_emerg_dx: np.ndarray
    elect_dx: np.ndarray
    n_elect_dx: np.ndarray
    ae_diag: np.ndarray  # SNOMED ids
    ae_diag_w: np.ndarray
    ae_diag_p: np.ndarray  # admission propensity
    ae_diag_complaint: np.ndarray  # mapped chief complaint or ''
    ae_comp: np.ndarray
    ae_comp_w: np.ndarray
    ae_comp_p: np.ndarray
    incidental: np.ndarray  # INCIDENTAL_ICD10 less any long-term condition's codes


def _pad(lists: list[list[str]], width: int = 5) -> tuple[np.ndarray, np.ndarray]:
    k = max([len(x) for x in lists] + [1])
    out = np.full((len(lists), k), "", dtype=f"<U{width}")
    for i, values in enumerate(lists):
        out[i, : len(values)] = values
    return out, np.array([len(x) for x in lists], dtype=np.int64)


def _is_condition_code(code: str, exact: set[str], categories: set[str]) -> bool:
    normal = codes.normalise_icd10(code)
    return normal in exact or normal[:3] in categories or normal.startswith("C")


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    cond = reference.conditions()
    spec = reference.specialties()
    tfc = spec["tfc"].to_numpy().astype("<U3")
    tfc_index = {t: i for i, t in enumerate(tfc)}
    cond_lists = [reference.codes(v) for v in cond["icd10_codes"]]
    exact = {codes.normalise_icd10(c) for lst in cond_lists for c in lst}
    categories = {c for c in exact if len(c) == 3}
    cond_codes, cond_n = _pad([[codes.hes_icd10(c) for c in lst] for lst in cond_lists])
    general = tfc_index.get("300", 0)
    cond_tfc = np.array(
        [tfc_index.get(CONDITION_SPECIALTY.get(c, "300"), general) for c in cond["condition"]]
    )

    opcs = [[codes.normalise_opcs4(c) for c in reference.codes(v)] for v in spec["opcs4_codes"]]
    op_opcs = [[c for c in lst if _setting(c) in ("imaging", "endoscopy", "ward")] for lst in opcs]

    def usable(values) -> list[str]:
        """HES codes of ``values`` that are no long-term condition's code."""
        return [codes.hes_icd10(c) for c in values if not _is_condition_code(c, exact, categories)]

    emerg = [usable(reference.codes(v)) for v in spec["emergency_icd10_codes"]]
    elect = [usable(ELECTIVE_ICD10.get(t, ())) or emerg[i] for i, t in enumerate(tfc)]
    incidental = np.array(usable(INCIDENTAL_ICD10), dtype="<U5")
    for lst in opcs + elect + emerg:
        for c in lst:
            assert codes.is_valid_opcs4(c) or codes.is_valid_icd10(c), c  # noqa: S101

    ae = reference.ae_codes()
    ae = ae[ae["snomed_code"].map(codes.is_valid_sctid)]
    diag = ae[ae["role"] == "diagnosis"]
    comp = ae[ae["role"] == "chief_complaint"]
    comp_ids = set(comp["snomed_code"])
    mapped = [c if c in comp_ids else DIAGNOSIS_COMPLAINT.get(c, "") for c in diag["snomed_code"]]
    mapped = [m if m in comp_ids else "" for m in mapped]

    def prop(frame):
        return frame["admission_propensity"].fillna(0.1).clip(0.0, 1.0).to_numpy()

    return _Tables(
        conditions=tuple(cond["condition"]),
        cond_rr=cond["emergency_rr"].to_numpy(dtype=float),
        cond_codes=cond_codes,
        cond_ncodes=cond_n,
        cond_tfc=cond_tfc,
        tfc=tfc,
        w_elective=spec["elective_weight"].to_numpy(dtype=float),
        w_emergency=spec["emergency_weight"].to_numpy(dtype=float),
        w_outpatient=spec["outpatient_weight"].to_numpy(dtype=float),
        opcs=_pad(opcs)[0],
        n_opcs=_pad(opcs)[1],
        op_opcs=_pad(op_opcs)[0],
        n_op_opcs=_pad(op_opcs)[1],
        emerg_dx=_pad(emerg)[0],
        n_emerg_dx=_pad(emerg)[1],
        elect_dx=_pad(elect)[0],
        n_elect_dx=_pad(elect)[1],
        ae_diag=diag["snomed_code"].to_numpy().astype("<U18"),
        ae_diag_w=diag["weight"].to_numpy(dtype=float),
        ae_diag_p=prop(diag),
        ae_diag_complaint=np.array(mapped, dtype="<U18"),
        ae_comp=comp["snomed_code"].to_numpy().astype("<U18"),
        ae_comp_w=comp["weight"].to_numpy(dtype=float),
        ae_comp_p=prop(comp),
        incidental=incidental,
    )


# Where a procedure is done, by OPCS-4 prefix (longest prefix wins); the rest of
# chapters A-T and W are theatre, U imaging, X/Y/Z other.
_SETTING_PREFIX = {
    "G45": "endoscopy",
    "G16": "endoscopy",
    "H20": "endoscopy",
    "H22": "endoscopy",
    "H25": "endoscopy",
    "E48": "endoscopy",
    "E49": "endoscopy",
    "M45": "endoscopy",
    "K63": "cath_lab",
    "K65": "cath_lab",
    "K75": "cath_lab",
    "K60": "cath_lab",
    "K57": "cath_lab",
    "E85": "ward",
    "X40": "ward",
    "A55": "ward",
    "M47": "ward",
    "X29": "ward",
    "X35": "chemotherapy",
    "X70": "chemotherapy",
    "X65": "radiotherapy",
    "R24": "delivery_suite",
    "R17": "theatre",
    "R18": "theatre",
    "U": "imaging",
    "Y": "ward",
    "Z": "ward",
    "X": "ward",
}
_THEATRE_MINUTES = {"110": 110, "100": 85, "101": 50, "120": 55, "130": 30, "502": 60, "501": 55}
_SETTING_MINUTES = {
    "endoscopy": 30,
    "cath_lab": 70,
    "imaging": 20,
    "chemotherapy": 180,
    "radiotherapy": 20,
    "delivery_suite": 240,
    "ward": 30,
}


def _setting(opcs: str) -> str:
    for n in (3, 1):
        hit = _SETTING_PREFIX.get(opcs[:n])
        if hit:
            return hit
    return "theatre"


# ======================================================================================
# Small vectorised helpers
# ======================================================================================


def _days(values) -> np.ndarray:
    """datetime-like -> int64 days since 1970-01-01; NaT -> _NEVER."""
    a = np.asarray(values).astype("datetime64[D]")
    out = a.astype(np.int64)
    out[np.isnat(a)] = _NEVER
    return out


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    if valid is not None:
        out = np.where(valid, out, np.datetime64("NaT", "D"))
    return out.astype("datetime64[ns]")


def _map(values: np.ndarray, fn) -> np.ndarray:
    """``fn`` of each value, computed once per distinct value rather than per record."""
    distinct, inverse = np.unique(np.asarray(values), return_inverse=True)
    return np.asarray([fn(v) for v in distinct.tolist()] or [0])[inverse.reshape(-1)]


def _interp(age: np.ndarray, table) -> np.ndarray:
    x, y = zip(*table, strict=True)
    return np.interp(age, x, y)


def _choice(rng, n: int, table) -> np.ndarray:
    values, p = zip(*table, strict=True)
    p = np.asarray(p, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=n, p=p / p.sum())]


def _choose_rows(rng, weights: np.ndarray) -> np.ndarray:
    """One column index per row, with probability proportional to the row's weights."""
    if len(weights) == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _pick(rng, matrix: np.ndarray, counts: np.ndarray, group: np.ndarray) -> np.ndarray:
    """A random code from row ``group`` of a padded code matrix ('' where the row is empty)."""
    n = counts[group]
    k = np.floor(rng.random(len(group)) * np.maximum(n, 1)).astype(np.int64)
    return np.where(n > 0, matrix[group, k], "")


def _band_normalise(mult: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Divide by the mean within age band, so multipliers move risk, not the band's rate."""
    band = np.searchsorted(_AGE_BANDS, age, side="right") - 1
    sums = np.bincount(band, mult, minlength=len(_AGE_BANDS))
    counts = np.bincount(band, minlength=len(_AGE_BANDS))
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)
    return mult / mean[band]


def _scramble(counter: np.ndarray, salt: int) -> np.ndarray:
    """A fixed bijection of 0 .. 10**12 - 1: a four-round Feistel network on two halves
    of six digits, whose round function mixes every bit (so no digit of the key follows
    a digit of the counter)."""
    m, mask = 10**6, 0xFFFFFFFF
    hi, lo = np.divmod(np.asarray(counter, dtype=np.int64), m)
    for r in range(4):
        x = ((hi + salt * 1_000_003 + r * 7_919) * 2_654_435_761) & mask
        x ^= x >> 13
        x = (x * 40_503) & mask
        x ^= x >> 16
        hi, lo = (lo + x) % m, hi
    return hi * m + lo


def _key(person_index: np.ndarray, kind: str, per_person: int = 1000) -> np.ndarray:
    """Record keys from ``person_index * per_person + n`` (n numbers a person's records,
    which must come sorted by person), scrambled: unique across chunks and runs."""
    seq = _sequence(person_index)
    if len(seq) and seq.max() >= per_person:
        raise ValueError(f"a person has more than {per_person} {kind} records")
    return _scramble(person_index * per_person + seq, _KEY_SALT[kind])


def _zfill(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded strings of ``width`` digits."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return np.zeros(0, dtype=f"<U{width}")
    return np.strings.zfill(values.astype(f"<U{width}"), width)


_CLOCK = np.array([f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)])


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A DataFrame from NumPy columns; empty code columns share one string array, which
    makes a frame of mostly unused code positions cheap to build."""
    empty = None
    out = {}
    for name, values in columns.items():
        if values.dtype.kind == "U" and len(values) and not (values != "").any():
            if empty is None:
                empty = pd.array(np.full(len(values), "", dtype="<U1"), dtype="str")
            out[name] = empty
        else:
            out[name] = values
    return pd.DataFrame(out)


def _sequence(group: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within runs of equal values of a sorted array."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, group[1:] != group[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def _next_in_group(group: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    out = np.full(len(values), fill, dtype=values.dtype)
    if len(values) > 1:
        same = group[1:] == group[:-1]
        out[:-1] = np.where(same, values[1:], fill)
    return out


def _completed_years(dob: np.ndarray, on: np.ndarray) -> np.ndarray:
    d, o = dob.astype("datetime64[D]"), on.astype("datetime64[D]")

    def parts(x):
        y = x.astype("datetime64[Y]").astype(np.int64)
        m = x.astype("datetime64[M]").astype(np.int64) % 12
        day = (x - x.astype("datetime64[M]")).astype(np.int64)
        return y, m * 32 + day

    yd, kd = parts(d)
    yo, ko = parts(o)
    return yo - yd - (ko < kd)


def _hes_startage(dob: np.ndarray, on: np.ndarray) -> np.ndarray:
    years = _completed_years(dob, on)
    days = on - dob
    infant = np.select(
        [days < 1, days < 7, days < 29, days < 91, days < 182, days < 273],
        [7001, 7002, 7003, 7004, 7005, 7006],
        7007,
    )
    return np.where(years < 1, infant, years).astype(np.int64)


# ======================================================================================
# People
# ======================================================================================


@dataclass
class _People:
    pidx: np.ndarray
    dob: np.ndarray
    death: np.ndarray
    sex: np.ndarray
    imd: np.ndarray
    frailty: np.ndarray
    access: np.ndarray
    onset: np.ndarray  # (N, C) days, _NEVER where not affected
    code_idx: np.ndarray  # (N, C) which of a condition's codes this person's records use
    main: np.ndarray  # index of the main acute trust
    care_home: np.ndarray  # '' or the care home ADMISORC/DISDEST code
    demographics: list[np.ndarray]  # NHS number, ethnic category, LSOA, postcode, practice


def _people(ctx: SynthContext, cohort: pd.DataFrame, t: _Tables, providers, rng) -> _People:
    n = len(cohort)
    onset = np.full((n, len(t.conditions)), _NEVER, dtype=np.int64)
    for j, c in enumerate(t.conditions):
        if f"onset_{c}" in cohort.columns:
            onset[:, j] = _days(cohort[f"onset_{c}"].to_numpy())
    code_idx = np.floor(rng.random(onset.shape) * t.cond_ncodes[None, :]).astype(np.int64)

    places = np.sort(pd.unique(np.asarray(ctx.geography.lsoa["place_code"], dtype=str)))
    rank = np.clip(np.searchsorted(places, cohort["place_code"].to_numpy().astype(str)), 0, None)
    main = np.minimum(rank * len(providers) // max(len(places), 1), len(providers) - 1)

    dob = _days(cohort["date_of_birth"].to_numpy())
    start = _days(np.array([ctx.start.to_datetime64()]))[0]
    age0 = (start - dob) / 365.25
    idx = {c: j for j, c in enumerate(t.conditions)}
    frail = np.zeros(n, dtype=bool)
    for c in ("dementia", "frailty"):
        if c in idx:
            frail |= onset[:, idx[c]] <= start
    p_home = np.where((age0 >= 80) & frail, 0.35, np.where(age0 >= 85, 0.04, 0.0))
    home = rng.random(n) < p_home
    home_code = _choice(rng, n, tuple(zip(_CARE_HOME_CODES, _CARE_HOME_P, strict=True)))
    return _People(
        pidx=cohort["person_index"].to_numpy().astype(np.int64),
        dob=dob,
        death=_days(cohort["date_of_death"].to_numpy()),
        sex=cohort["sex"].to_numpy().astype("<U1"),
        imd=cohort["imd_decile"].to_numpy().astype(np.int64),
        frailty=cohort["frailty"].to_numpy(dtype=float),
        access=cohort["access"].to_numpy(dtype=float),
        onset=onset,
        code_idx=code_idx,
        main=main.astype(np.int64),
        care_home=np.where(home, home_code, "").astype("<U2"),
        demographics=[
            cohort[c].to_numpy().astype(str)
            for c in ("nhs_number", "ethnic_category", "lsoa_code", "postcode", "practice_code")
        ],
    )


def _specialty_weights(base: np.ndarray, t: _Tables, age, sex, active) -> np.ndarray:
    """Specialty weights per row: children to paediatrics, pregnancy to women, and so on."""
    tfc = t.tfc
    w = np.broadcast_to(base, (len(age), len(tfc))).copy()
    child = (age < 16)[:, None]
    adult_only = np.isin(tfc, ["430", "501", "502", "800", "361", "710", "320", "101"])[None, :]
    w = np.where(child & adult_only, 0.0, w)
    col = {c: i for i, c in enumerate(tfc)}
    if "420" in col:
        w[:, col["420"]] = np.where(age < 16, base[col["420"]] * 8 + 0.05, 0.0)
    if "430" in col:
        w[:, col["430"]] *= np.where(age >= 75, 2.5, np.where(age >= 65, 0.6, 0.0))
    female = sex == "2"
    if "501" in col:
        w[:, col["501"]] *= np.where(female & (age >= 15) & (age < 50), 4.0, 0.0)
    if "502" in col:
        w[:, col["502"]] *= np.where(female & (age >= 15), 2.0, 0.0)
    cidx = {c: j for j, c in enumerate(t.conditions)}
    for spec, cond in SPECIALTY_REQUIRES.items():
        if spec in col:
            has = active[:, cidx[cond]] if cond in cidx else np.zeros(len(age), dtype=bool)
            w[:, col[spec]] *= has
    w[w.sum(axis=1) == 0, col.get("300", 0)] = 1.0
    return w


def _condition_tfc(t: _Tables, cond: np.ndarray, age: np.ndarray) -> np.ndarray:
    paeds = np.flatnonzero(t.tfc == "420")
    tfc = t.cond_tfc[np.maximum(cond, 0)]
    if len(paeds):
        tfc = np.where(age < 16, paeds[0], tfc)
    return tfc


# ======================================================================================
# Admitted patient care
# ======================================================================================

_SPELL_FIELDS = (
    "pos",
    "adm",
    "dis",
    "admimeth",
    "admisorc",
    "classpat",
    "tfc",
    "prov",
    "kind",
    "died",
    "dismeth",
    "disdest",
    "cond",
    "primary",
    "force_cond",
    "proc",
    "proc_day",
    "parent",
)
_EMERGENCY, _ELECTIVE, _TRANSFER = 0, 1, 2


def _emergency_spells(t, P, emergencies, providers, rng) -> dict[str, np.ndarray]:
    pos = pd.Index(P.pidx).get_indexer(emergencies["person_index"].to_numpy())
    if (pos < 0).any():
        raise ValueError("emergencies name people who are not in the cohort")
    adm = _days(emergencies["admission_date"].to_numpy())
    order = np.lexsort((adm, pos))
    pos, adm = pos[order], adm[order]
    n = len(pos)
    age = (adm - P.dob[pos]) / 365.25
    active = P.onset[pos] <= adm[:, None]

    # Condition-led: the share of the person's admission risk their conditions add.
    log_rr = np.log(np.maximum(t.cond_rr, 1.0))
    load = active @ log_rr
    led = rng.random(n) < np.minimum(1.0 - np.exp(-load), 0.8)
    cond = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(led)
    cond[rows] = _choose_rows(rng, active[rows] * log_rr[None, :])
    weights = _specialty_weights(t.w_emergency, t, age, P.sex[pos], active)
    tfc = np.where(led, _condition_tfc(t, cond, age), _choose_rows(rng, weights))
    primary = np.where(
        led,
        t.cond_codes[np.maximum(cond, 0), P.code_idx[pos, np.maximum(cond, 0)]],
        _pick(rng, t.emerg_dx, t.n_emerg_dx, tfc),
    )
    primary = np.where(primary == "", "R69X", primary)

    admimeth = _choice(rng, n, EMERGENCY_ADMIMETH)
    home = P.care_home[pos]
    admisorc = np.where(home != "", home, "19")
    admisorc = np.where((t.tfc[tfc] == "710") & (rng.random(n) < 0.15), "53", admisorc)
    prov = np.where(rng.random(n) < 0.85, P.main[pos], 1 - P.main[pos]) % len(providers)

    # Length of stay: zero-inflated gamma around an age-band mean.
    mult = np.exp(LOS_CONDITION_EFFECT * active.sum(axis=1) + LOS_FRAILTY_EFFECT * P.frailty[pos])
    mean = _interp(age, EMERGENCY_LOS) * _band_normalise(mult, age)
    p0 = _interp(age, ZERO_DAY_SHARE)
    beyond = np.maximum(mean / (1 - p0) - 0.5, 0.05)
    stay = 1 + np.floor(rng.gamma(LOS_SHAPE, beyond / LOS_SHAPE))
    los = np.where(rng.random(n) < p0, 0, np.minimum(stay, 365)).astype(np.int64)

    dis = adm + los
    next_adm = _next_in_group(pos, adm, _NEVER)
    death = P.death[pos]
    died = (next_adm == _NEVER) & (death >= adm) & (death <= dis + DEATH_WINDOW_DAYS)
    dis = np.where(died, death, np.minimum(dis, next_adm))

    # Procedures: surgical specialties often operate; medicine sometimes scans or scopes.
    p_proc = np.array([EMERGENCY_WITH_PROCEDURE.get(c, DEFAULT_EMERGENCY_PROCEDURE) for c in t.tfc])
    proc = np.where(rng.random(n) < p_proc[tfc], _pick(rng, t.opcs, t.n_opcs, tfc), "")
    proc_day = adm + np.minimum(rng.geometric(0.6, size=n) - 1, dis - adm)

    dismeth = np.where(died, "4", np.where(rng.random(n) < SELF_DISCHARGE, "2", "1"))
    disdest = np.where(died, "79", np.where(home != "", home, "19"))
    return {
        "pos": pos,
        "adm": adm,
        "dis": dis,
        "admimeth": admimeth.astype("<U2"),
        "admisorc": admisorc.astype("<U2"),
        "classpat": np.full(n, "1", dtype="<U1"),
        "tfc": tfc.astype(np.int64),
        "prov": prov.astype(np.int64),
        "kind": np.full(n, _EMERGENCY, dtype=np.int64),
        "died": died,
        "dismeth": dismeth.astype("<U1"),
        "disdest": disdest.astype("<U2"),
        "cond": cond,
        "primary": primary.astype("<U4"),
        "force_cond": np.zeros(n, dtype=bool),
        "proc": proc.astype("<U4"),
        "proc_day": np.where(proc != "", proc_day, -1),
        "parent": np.full(n, -1, dtype=np.int64),
    }


def _elective_spells(ctx, t, P, providers, rng) -> dict[str, np.ndarray]:
    start = _days(np.array([ctx.start.to_datetime64()]))[0]
    end = _days(np.array([ctx.end.to_datetime64()]))[0]
    stop = np.minimum(end, P.death + 1)
    begin = np.maximum(start, P.dob)
    exposure = np.maximum(stop - begin, 0)
    age0 = np.maximum(start - P.dob, 0) / 365.25
    active0 = P.onset <= start
    rr = np.array([ELECTIVE_RR.get(c, DEFAULT_ELECTIVE_RR) for c in t.conditions])
    mult = np.exp(active0 @ np.log(rr))
    rate = _interp(age0, ELECTIVE_PER_YEAR) * _band_normalise(mult, age0) * P.access
    count = rng.poisson(rate * exposure / 365.25)
    pos = np.repeat(np.arange(len(P.pidx)), count)
    adm = begin[pos] + np.floor(rng.random(len(pos)) * exposure[pos]).astype(np.int64)
    order = np.lexsort((adm, pos))
    pos, adm = pos[order], adm[order]
    n = len(pos)
    age = (adm - P.dob[pos]) / 365.25
    active = P.onset[pos] <= adm[:, None]

    pull = np.array([ELECTIVE_PULL.get(c, DEFAULT_ELECTIVE_PULL) for c in t.conditions])
    load = active @ pull
    led = rng.random(n) < 1.0 - np.exp(-load)
    cond = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(led)
    cond[rows] = _choose_rows(rng, active[rows] * pull[None, :])
    weights = _specialty_weights(t.w_elective, t, age, P.sex[pos], active)
    tfc = np.where(led, _condition_tfc(t, cond, age), _choose_rows(rng, weights))
    cond_code = t.cond_codes[np.maximum(cond, 0), P.code_idx[pos, np.maximum(cond, 0)]]
    chemo = led & (t.tfc[tfc] == "800")
    primary = np.where(led, cond_code, _pick(rng, t.elect_dx, t.n_elect_dx, tfc))
    primary = np.where(chemo, CHEMOTHERAPY_ICD10, primary)
    primary = np.where(primary == "", "R69X", primary)

    spec = t.tfc[tfc]
    day_case = rng.random(n) < _map(spec, lambda c: DAY_CASE_SHARE.get(c, DEFAULT_DAY_CASE))
    ordinary_los = 1 + np.floor(rng.gamma(1.3, (3.0 + age / 40) / 1.3))
    zero = rng.random(n) < 0.12
    los = np.where(day_case | zero, 0, np.minimum(ordinary_los, 120)).astype(np.int64)
    admimeth = np.where(chemo, "13", _choice(rng, n, ELECTIVE_ADMIMETH))
    prov = np.where(rng.random(n) < 0.75, P.main[pos], 1 - P.main[pos]) % len(providers)
    proc = np.where(rng.random(n) < ELECTIVE_WITH_PROCEDURE, _pick(rng, t.opcs, t.n_opcs, tfc), "")
    proc_day = adm + np.where((los > 0) & (rng.random(n) < 0.3), 1, 0)
    home = P.care_home[pos]
    return {
        "pos": pos,
        "adm": adm,
        "dis": adm + los,
        "admimeth": admimeth.astype("<U2"),
        "admisorc": np.where(home != "", home, "19").astype("<U2"),
        "classpat": np.where(day_case, "2", "1").astype("<U1"),
        "tfc": tfc.astype(np.int64),
        "prov": prov.astype(np.int64),
        "kind": np.full(n, _ELECTIVE, dtype=np.int64),
        "died": np.zeros(n, dtype=bool),
        "dismeth": np.where(rng.random(n) < 0.003, "2", "1").astype("<U1"),
        "disdest": np.where(home != "", home, "19").astype("<U2"),
        "cond": cond,
        "primary": primary.astype("<U4"),
        "force_cond": chemo,
        "proc": proc.astype("<U4"),
        "proc_day": np.where(proc != "", proc_day, -1),
        "parent": np.full(n, -1, dtype=np.int64),
    }


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in _SPELL_FIELDS}


def _take(s: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in s.items()}


def _sort_spells(s):
    order = np.lexsort((s["kind"], s["adm"], s["pos"]))
    return _take(s, order)


def _merge_planned(emerg, planned, P):
    """Drop planned spells starting inside another; cut stays at the next admission."""
    s = _sort_spells(_concat([emerg, planned]))
    pos, adm, dis = s["pos"], s["adm"], s["dis"]
    cummax = pd.Series(dis).groupby(pos).cummax().to_numpy()
    prev = np.full(len(pos), -_NEVER, dtype=np.int64)
    if len(pos) > 1:
        prev[1:] = np.where(pos[1:] == pos[:-1], cummax[:-1], -_NEVER)
    keep = (s["kind"] != _ELECTIVE) | (adm > prev)
    s = _take(s, keep)
    pos, adm = s["pos"], s["adm"]
    next_adm = _next_in_group(pos, adm, _NEVER)
    s["dis"] = np.minimum(s["dis"], next_adm)
    death = P.death[pos]
    died_planned = (s["kind"] == _ELECTIVE) & (death >= adm) & (death <= s["dis"])
    s["dis"] = np.where(died_planned, death, s["dis"])
    s["died"] = s["died"] | died_planned
    s["dismeth"] = np.where(died_planned, "4", s["dismeth"])
    s["disdest"] = np.where(died_planned, "79", s["disdest"])
    s["proc_day"] = np.where(s["proc_day"] >= 0, np.minimum(s["proc_day"], s["dis"]), -1)
    return s


def _transfers(s, ctx, t, P, providers, rng):
    """Continue some emergency spells at the other trust: a CIP of two provider spells."""
    end = _days(np.array([ctx.end.to_datetime64()]))[0]
    pos, adm, dis = s["pos"], s["adm"], s["dis"]
    next_adm = _next_in_group(pos, adm, _NEVER)
    emergency = s["kind"] == _EMERGENCY
    eligible = emergency & ~s["died"] & (dis > adm) & (dis < end - 1) & (next_adm > dis + 1)
    if len(providers) < 2 or not eligible.any():
        return s
    p = min(TRANSFER_SHARE * emergency.sum() / eligible.sum(), 1.0)
    src = np.flatnonzero(eligible & (rng.random(len(pos)) < p))
    m = len(src)
    new = _take(s, src)
    new["adm"] = dis[src] + (rng.random(m) < 0.3)
    stay = 1 + np.floor(rng.gamma(1.0, 5.0, size=m)).astype(np.int64)
    new_dis = np.minimum(new["adm"] + stay, next_adm[src])
    death = P.death[new["pos"]]
    died = (death >= new["adm"]) & (death <= new_dis)
    new["dis"] = np.where(died, death, new_dis)
    new["died"] = died
    new["admimeth"] = np.full(m, "81", dtype="<U2")
    new["admisorc"] = np.full(m, "51", dtype="<U2")
    new["prov"] = 1 - new["prov"]
    new["kind"] = np.full(m, _TRANSFER, dtype=np.int64)
    new["dismeth"] = np.where(died, "4", "1").astype("<U1")
    home = P.care_home[new["pos"]]
    new["disdest"] = np.where(died, "79", np.where(home != "", home, "19")).astype("<U2")
    has_proc = rng.random(m) < 0.3
    new["proc"] = np.where(has_proc, _pick(rng, t.opcs, t.n_opcs, new["tfc"]), "").astype("<U4")
    new["proc_day"] = np.where(new["proc"] != "", new["adm"] + (new["dis"] > new["adm"]), -1)
    s = {k: v.copy() for k, v in s.items()}
    s["disdest"][src] = "51"
    s["dismeth"][src] = "1"
    s["parent"] = np.arange(len(pos))  # a spell's CIP starts at itself ...
    new["parent"] = src  # ... or at the spell it was transferred from
    both = _concat([s, new])
    order = np.lexsort((both["kind"], both["adm"], both["pos"]))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    both = _take(both, order)
    both["parent"] = inverse[both["parent"]]
    return both


def _diagnoses(t, P, s, rng) -> np.ndarray:
    """(spells, 20) HES diagnosis codes: primary, then conditions and incidental codes."""
    n, c = len(s["pos"]), len(t.conditions)
    pos, adm = s["pos"], s["adm"]
    active = P.onset[pos] <= adm[:, None]
    cond_codes = t.cond_codes[np.arange(c)[None, :], P.code_idx[pos]]
    include = active & (rng.random((n, c)) < SECONDARY_CODING)
    led = s["cond"] >= 0
    rows = np.flatnonzero(led)
    include[rows, s["cond"][rows]] = s["force_cond"][rows]
    age = (adm - P.dob[pos]) / 365.25
    k = len(t.incidental)
    q = np.clip(INCIDENTAL_PER_SPELL * (0.3 + age / 100) / max(k, 1), 0, 1)
    incidental = rng.random((n, k)) < q[:, None]
    allc = np.concatenate([cond_codes, np.broadcast_to(t.incidental, (n, k))], 1)
    inc = np.concatenate([include, incidental], axis=1) & (allc != s["primary"][:, None])
    key = rng.random(inc.shape) + np.r_[np.zeros(c), np.ones(k)][None, :]
    if len(rows):
        forced = np.zeros((n, c + k), dtype=bool)
        forced[rows, s["cond"][rows]] = s["force_cond"][rows]
        key = np.where(forced, -1.0, key)
    key = np.where(inc, key, 9.0)
    order = np.argsort(key, axis=1, kind="stable")[:, :19]
    secondary = np.where(
        np.take_along_axis(inc, order, axis=1), np.take_along_axis(allc, order, axis=1), ""
    )
    out = np.full((n, 20), "", dtype="<U4")
    out[:, 0] = s["primary"]
    out[:, 1 : 1 + secondary.shape[1]] = secondary
    return out


def _episodes(s, end: int, rng):
    """Split each spell into contiguous consultant episodes; drop ones not yet begun."""
    los = s["dis"] - s["adm"]
    k = np.minimum(1 + rng.poisson(EPISODES_PER_DAY * los), MAX_EPISODES)
    spell = np.repeat(np.arange(len(los)), k)
    first = np.r_[0, np.cumsum(k)[:-1]]
    order_in = np.arange(len(spell)) - np.repeat(first, k)
    # k - 1 cut days per spell, sorted within the spell.
    cut_spell = np.repeat(np.arange(len(los)), k - 1)
    cut = s["adm"][cut_spell] + np.floor(rng.random(len(cut_spell)) * (los[cut_spell] + 1))
    cut = np.r_[cut.astype(np.int64)[np.lexsort((cut, cut_spell))], 0]  # 0: never read
    cut_first = np.r_[0, np.cumsum(k - 1)[:-1]]
    # Episode j of a spell starts at cut j-1 (or admission) and ends at cut j (or discharge).
    start_idx = np.repeat(cut_first, k) + order_in - 1
    epistart = np.where(order_in == 0, s["adm"][spell], cut[np.clip(start_idx, 0, None)])
    is_last = order_in == k[spell] - 1
    epiend = np.where(is_last, s["dis"][spell], cut[np.clip(start_idx + 1, 0, len(cut) - 1)])
    keep = epistart < end
    return spell[keep], order_in[keep], epistart[keep], epiend[keep], is_last[keep]


def _episode_of(spell, epistart, which, day):
    """For spells ``which`` and a day in each, the episode row holding that day.

    Returns the spells whose day falls in an episode of the extract, and those rows.
    """
    if len(spell) == 0 or len(which) == 0:
        return which[:0], which[:0]
    ep_key = spell * 2**20 + (epistart - epistart.min())
    key = which * 2**20 + (day - epistart.min())
    row = np.clip(np.searchsorted(ep_key, key, side="right") - 1, 0, None)
    ok = spell[row] == which
    return which[ok], row[ok]


def _in_hospital(s, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether each (person row, day) falls inside a stay: after admission, before discharge."""
    if len(s["pos"]) == 0 or len(pos) == 0:
        return np.zeros(len(pos), dtype=bool)
    big = np.int64(2**24)  # day numbers are far below this
    key = s["pos"] * big + s["adm"]
    order = np.argsort(key, kind="stable")
    row = np.searchsorted(key[order], pos * big + day, side="right") - 1
    spell = order[np.clip(row, 0, None)]
    return (row >= 0) & (s["pos"][spell] == pos) & (s["adm"][spell] < day) & (day < s["dis"][spell])


def _apc(ctx, t, P, emergencies, providers, rng):
    end = _days(np.array([ctx.end.to_datetime64()]))[0]
    emerg = _emergency_spells(t, P, emergencies, providers, rng)
    planned = _elective_spells(ctx, t, P, providers, rng)
    s = _merge_planned(emerg, planned, P)
    s = _transfers(s, ctx, t, P, providers, rng)
    s["parent"] = np.where(s["parent"] < 0, np.arange(len(s["parent"])), s["parent"])
    n = len(s["pos"])
    pos = s["pos"]
    pidx = P.pidx[pos]
    provspno = _zfill(_key(pidx, "spell"), 12)
    diag = _diagnoses(t, P, s, rng)

    spell, epiorder, epistart, epiend, last = _episodes(s, end, rng)
    m = len(spell)
    finished_spell = s["dis"] < end
    ep_finished = epiend < end
    # Later episodes of emergency stays move to general or geriatric medicine.
    age_ep = (epistart - P.dob[pos[spell]]) / 365.25
    col = {c: i for i, c in enumerate(t.tfc)}
    moved = (epiorder > 0) & (s["kind"][spell] != _ELECTIVE) & (age_ep >= 16)
    u = rng.random(m)
    to = np.where(age_ep >= 75, col.get("430", 0), col.get("300", 0))
    tfc_ep = np.where(moved & (u < 0.45), to, s["tfc"][spell])
    tret = t.tfc[tfc_ep]
    main_is_gim = np.isin(tret, ["301", "320", "340", "361", "400", "430"]) & (rng.random(m) < 0.1)
    mainspef = np.where(main_is_gim, "300", tret)

    disdate_ok = last & finished_spell[spell]
    epikey = _key(P.pidx[pos[spell]], "epikey")
    prov_code = np.asarray(providers)[s["prov"]]

    # Procedures: on the episode whose days hold the procedure date.
    proc_spell = np.flatnonzero((s["proc"] != "") & (s["proc_day"] < end))
    proc_spell, proc_ep = _episode_of(spell, epistart, proc_spell, s["proc_day"][proc_spell])
    lateral = np.array([LATERAL_SPECIALTIES.get(c, 0.0) for c in t.tfc])[s["tfc"][proc_spell]]
    with_side = rng.random(len(proc_spell)) < lateral
    side = np.where(rng.random(len(proc_spell)) < 0.5, LATERALITY_OPCS[0], LATERALITY_OPCS[1])

    opertn = np.full((m, 24), "", dtype="<U4")
    opertn[:, 0] = "-"
    opdate = np.full((m, 24), _NEVER, dtype=np.int64)
    opertn[proc_ep, 0] = s["proc"][proc_spell]
    opdate[proc_ep, 0] = s["proc_day"][proc_spell]
    opertn[proc_ep[with_side], 1] = side[with_side]
    opdate[proc_ep[with_side], 1] = s["proc_day"][proc_spell[with_side]]

    dem = _demographics(P, pos[spell], "apc")
    frame = {"EPIKEY": epikey, "PROCODE3": prov_code[spell], "PROVSPNOPS": provspno[spell]}
    frame.update(dem)
    frame.update(
        {
            "ADMIDATE": _dates(s["adm"][spell]),
            "ADMIMETH": s["admimeth"][spell],
            "ADMISORC": s["admisorc"][spell],
            "CLASSPAT": s["classpat"][spell],
            "EPISTART": _dates(epistart),
            "EPIEND": np.where(ep_finished, _dates(epiend), NULL_DATE.astype("datetime64[ns]")),
            "EPIORDER": _zfill(epiorder + 1, 2),
            "EPISTAT": np.where(ep_finished, "3", "1"),
            "EPITYPE": np.full(m, "1"),
            "STARTAGE": _hes_startage(P.dob[pos[spell]], epistart),
            "MAINSPEF": mainspef,
            "TRETSPEF": tret,
            "DISDATE": np.where(
                disdate_ok, _dates(s["dis"][spell]), NULL_DATE.astype("datetime64[ns]")
            ),
            "DISMETH": np.where(disdate_ok, s["dismeth"][spell], "8"),
            "DISDEST": np.where(disdate_ok, s["disdest"][spell], "98"),
        }
    )
    dg = diag[spell]
    for i in range(20):
        frame[f"DIAG_4_{i + 1:02d}"] = dg[:, i]
    for i in range(24):
        frame[f"OPERTN_4_{i + 1:02d}"] = opertn[:, i]
    for i in range(24):
        frame[f"OPDATE_{i + 1:02d}"] = _dates(opdate[:, i], opdate[:, i] != _NEVER)
    frame[PERSON] = P.pidx[pos[spell]]
    apc = _frame(frame)

    n_ep = np.bincount(spell, minlength=n)
    spell_tret = t.tfc[s["tfc"]]
    first_rows = np.flatnonzero(epiorder == 0)
    spell_tret[spell[first_rows]] = tret[first_rows]
    cond_name = np.array(list(t.conditions) + [""])[np.where(s["cond"] >= 0, s["cond"], -1)]
    truth = pd.DataFrame(
        {
            "person_index": pidx,
            "PROCODE3": prov_code,
            "PROVSPNOPS": provspno,
            "cip_id": provspno[s["parent"]],
            "admission_date": _dates(s["adm"]),
            "discharge_date": _dates(s["dis"]),
            "finished": finished_spell,
            "admimeth": s["admimeth"],
            "is_emergency": np.char.startswith(s["admimeth"], "2"),
            "classpat": s["classpat"],
            "tretspef": spell_tret,
            "primary_diagnosis": s["primary"],
            "los_days": (s["dis"] - s["adm"]).astype(np.int64),
            "n_episodes": n_ep.astype(np.int64),
            "died_in_hospital": s["died"],
            "condition_led": cond_name,
        }
    )

    # Procedures (truth), for costing theatres and procedure rooms.
    pr_ep = np.concatenate([proc_ep, proc_ep[with_side]])
    pr_pos = np.concatenate([np.ones(len(proc_ep), int), np.full(with_side.sum(), 2)])
    pr_code = np.concatenate([s["proc"][proc_spell], side[with_side]])
    pr_day = np.concatenate([s["proc_day"][proc_spell], s["proc_day"][proc_spell[with_side]]])
    pr_setting = _map(pr_code, _setting).astype("<U14")
    base = np.where(
        pr_setting == "theatre",
        _map(tret[pr_ep], lambda c: _THEATRE_MINUTES.get(c, 60)),
        _map(pr_setting, lambda x: _SETTING_MINUTES.get(x, 30)),
    )
    day_case = s["classpat"][spell[pr_ep]] == "2"
    minutes = base * np.where(day_case & (pr_setting == "theatre"), 0.7, 1.0)
    minutes = np.round(minutes * rng.lognormal(0.0, 0.3, size=len(pr_ep)))
    minutes = np.where(pr_pos == 2, 0, np.maximum(minutes, 5)).astype(np.int64)
    procedures = pd.DataFrame(
        {
            "person_index": P.pidx[pos[spell[pr_ep]]],
            "EPIKEY": epikey[pr_ep],
            "PROCODE3": prov_code[spell[pr_ep]],
            "PROVSPNOPS": provspno[spell[pr_ep]],
            "procedure_date": _dates(pr_day),
            "opcs4": pr_code,
            "position": pr_pos.astype(np.int64),
            "tretspef": tret[pr_ep],
            "is_emergency": np.char.startswith(s["admimeth"][spell[pr_ep]], "2"),
            "classpat": s["classpat"][spell[pr_ep]],
            "setting": pr_setting,
            "minutes": minutes,
        }
    ).sort_values(["EPIKEY", "position"], kind="stable", ignore_index=True)

    cc, cc_level = _critical_care(s, end, rng)
    cc_spell = np.flatnonzero(cc[:, 1] > 0)
    cc_spell, cc_ep = _episode_of(spell, epistart, cc_spell, cc[cc_spell, 0])
    critical = pd.DataFrame(
        {
            "person_index": P.pidx[pos[cc_spell]],
            "EPIKEY": epikey[cc_ep],
            "PROCODE3": prov_code[cc_spell],
            "PROVSPNOPS": provspno[cc_spell],
            "start_date": _dates(cc[cc_spell, 0]),
            "end_date": _dates(cc[cc_spell, 0] + cc[cc_spell, 1]),
            "days": cc[cc_spell, 1],
            "level": cc_level[cc_spell],
        }
    )
    return s, provspno, prov_code, cc, cc_level, apc, truth, procedures, critical


def _critical_care(s, end, rng):
    """(spells, 2) critical care start day and days (0: none), and level 2 or 3."""
    n = len(s["pos"])
    los = s["dis"] - s["adm"]
    p = np.where(s["died"], 0.25, CRITICAL_CARE)
    p = np.where(s["kind"] == _ELECTIVE, np.where(s["classpat"] == "1", 0.02, 0.0), p)
    has = (los >= 1) & (rng.random(n) < p)
    offset = np.where(rng.random(n) < 0.6, 0, np.floor(rng.random(n) * np.minimum(los, 3)))
    start = s["adm"] + offset.astype(np.int64)
    days = np.minimum(s["dis"] - start, rng.geometric(0.3, size=n))
    days = np.where(has & (start < end), np.maximum(days, 1), 0)
    level = np.where(rng.random(n) < 0.4, 3, 2).astype(np.int64)
    return np.stack([start, days], axis=1).astype(np.int64), level


def _demographics(P: _People, rows: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    values = [P.demographics[0][rows], _dates(P.dob[rows]), P.sex[rows]]
    values += [column[rows] for column in P.demographics[1:]]
    names = {
        "apc": ("NEWNHSNO", "DOB", "SEX", "ETHNOS", "LSOA21", "HOMEADD", "GPPRAC"),
        "ecds": (
            "NHS_NUMBER",
            "DATE_OF_BIRTH",
            "STATED_GENDER",
            "ETHNIC_CATEGORY",
            "LSOA",
            "POSTCODE",
            "GP_PRACTICE",
        ),
    }[kind]
    return dict(zip(names, values, strict=True))


# ======================================================================================
# Outpatients
# ======================================================================================


def _outpatients(ctx, t, P, s, providers, rng) -> pd.DataFrame:
    start = _days(np.array([ctx.start.to_datetime64()]))[0]
    end = _days(np.array([ctx.end.to_datetime64()]))[0]
    stop = np.minimum(end, P.death + 1)
    begin = np.maximum(start, P.dob)
    exposure = np.maximum(stop - begin, 0)
    age0 = np.maximum(start - P.dob, 0) / 365.25
    active0 = P.onset <= start
    mult = _band_normalise(1 + OP_CONDITION_EFFECT * active0.sum(axis=1), age0)
    rate = _interp(age0, OP_PATHWAYS_PER_YEAR) * mult * P.access
    count = rng.poisson(rate * exposure / 365.25)
    pos = np.repeat(np.arange(len(P.pidx)), count)
    n = len(pos)
    first = begin[pos] + np.floor(rng.random(n) * exposure[pos]).astype(np.int64)
    age = (first - P.dob[pos]) / 365.25
    active = P.onset[pos] <= first[:, None]
    n_active = active.sum(axis=1)
    led = rng.random(n) < np.minimum(0.15 * n_active, 0.6)
    cond = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(led)
    cond[rows] = _choose_rows(rng, active[rows].astype(float))
    weights = _specialty_weights(t.w_outpatient, t, age, P.sex[pos], active)
    tfc = np.where(led, _condition_tfc(t, cond, age), _choose_rows(rng, weights))
    prov = np.where(rng.random(n) < 0.75, P.main[pos], 1 - P.main[pos]) % len(providers)

    # Each pathway: a first appointment, then follow-ups 4-20 weeks apart.
    follow = rng.geometric(1.0 / (1.0 + OP_FOLLOW_UPS), size=n) - 1
    size = 1 + follow
    path = np.repeat(np.arange(n), size)
    offset = np.arange(len(path)) - np.repeat(np.r_[0, np.cumsum(size)[:-1]], size)
    gap = np.where(offset > 0, rng.integers(OP_GAP_DAYS[0], OP_GAP_DAYS[1], size=len(path)), 0)
    gap_cum = np.cumsum(gap)
    base = np.repeat(gap_cum[np.r_[0, np.cumsum(size)[:-1]]] if n else gap_cum[:0], size)
    day = first[path] + gap_cum - base
    keep = day < stop[pos[path]]
    path, offset, day = path[keep], offset[keep], day[keep]
    ppos = pos[path]
    order = np.lexsort((offset, path, day, ppos))
    path, offset, day, ppos = path[order], offset[order], day[order], ppos[order]
    m = len(path)

    dep = (10 - P.imd[ppos]) / 9.0
    a = (day - P.dob[ppos]) / 365.25
    p_dna = (DNA_LEAST + (DNA_MOST - DNA_LEAST) * dep) * np.where(
        (a >= 16) & (a < 35), 1.35, np.where(a >= 65, 0.8, 1.0)
    )
    u = rng.random(m)
    attended = np.full(m, "5", dtype="<U1")
    attended = np.where(u < p_dna, "3", attended)
    edge = p_dna.copy()
    for code, p in OP_OTHER_ATTENDED:
        attended = np.where((u >= edge) & (u < edge + p), code, attended)
        edge = edge + p
    attended = np.where(_in_hospital(s, ppos, day), "2", attended)  # in hospital that day
    remote = rng.random(m) < np.where(offset == 0, OP_REMOTE[0], OP_REMOTE[1])
    firstatt = np.where(offset == 0, np.where(remote, "3", "1"), np.where(remote, "4", "2"))
    seen = np.isin(attended, ["5", "6"])
    tret = t.tfc[tfc[path]]
    mainspef = np.where(
        np.isin(tret, ["301", "320", "340", "361", "400", "430"]) & (rng.random(m) < 0.08),
        "300",
        tret,
    )
    diag = np.full((m, 12), "", dtype="<U4")
    coded = seen & (rng.random(m) < 0.1)
    cond_p = cond[path]
    cond_code = t.cond_codes[np.maximum(cond_p, 0), P.code_idx[ppos, np.maximum(cond_p, 0)]]
    diag[:, 0] = np.where(
        coded, np.where((cond_p >= 0) & (rng.random(m) < 0.6), cond_code, "R69X"), ""
    )  # noqa: E501
    op_code = _pick(rng, t.op_opcs, t.n_op_opcs, tfc[path])
    with_proc = seen & (op_code != "") & (rng.random(m) < OP_PROCEDURE)
    opertn1 = np.where(seen, np.where(with_proc, op_code, "-"), "")

    frame = {
        "ATTENDKEY": _key(P.pidx[ppos], "op", per_person=10_000),
        "PROCODE3": np.asarray(providers)[prov[path]],
    }
    frame.update(_demographics(P, ppos, "apc"))
    frame.update(
        {
            "APPTDATE": _dates(day),
            "ATTENDED": attended,
            "FIRSTATT": firstatt,
            "STAFFTYP": _choice(rng, m, STAFFTYP),
            "MAINSPEF": mainspef,
            "TRETSPEF": tret,
        }
    )
    for i in range(12):
        frame[f"DIAG_4_{i + 1:02d}"] = diag[:, i]
    empty = np.full(m, "", dtype="<U1")
    frame["OPERTN_4_01"] = opertn1
    for i in range(1, 24):
        frame[f"OPERTN_4_{i + 1:02d}"] = empty
    frame[PERSON] = P.pidx[ppos]
    return _frame(frame)


# ======================================================================================
# A&E
# ======================================================================================


def _ae(ctx, t, P, s, provspno, prov_code, cc, cc_level, providers, rng):
    start = _days(np.array([ctx.start.to_datetime64()]))[0]
    end = _days(np.array([ctx.end.to_datetime64()]))[0]
    # Admitted: every spell admitted through A&E.
    adm_rows = np.flatnonzero(s["admimeth"] == "21")
    a_pos = s["pos"][adm_rows]
    na = len(adm_rows)
    earliest = np.maximum(start, P.dob[a_pos])
    before = (rng.random(na) < ARRIVED_DAY_BEFORE) & (s["adm"][adm_rows] - 1 >= earliest)
    a_day = s["adm"][adm_rows] - before
    hours = np.arange(24)
    w_hours = np.asarray(ARRIVAL_HOUR_WEIGHTS, dtype=float)
    late = np.where(hours >= 18, w_hours, 0.0)
    a_hour = np.where(
        before,
        rng.choice(hours, size=na, p=late / late.sum()),
        rng.choice(hours, size=na, p=w_hours / w_hours.sum()),
    )

    # Non-admitted type 1, so that the admitted share of type 1 is TYPE1_ADMITTED_SHARE;
    # spread over people by age, deprivation and frailty. Type 3 on top.
    stop = np.minimum(end, P.death + 1)
    begin = np.maximum(start, P.dob)
    exposure = np.maximum(stop - begin, 0)
    age0 = np.maximum(start - P.dob, 0) / 365.25
    dep = (10 - P.imd) / 9.0
    w = _interp(age0, AE_BY_AGE) * (1 + AE_DEPRIVATION_EFFECT * dep)
    w = w * np.exp(AE_FRAILTY_EFFECT * P.frailty) * exposure
    target = na * (1 / TYPE1_ADMITTED_SHARE - 1)
    lam = w * (target / w.sum()) if w.sum() > 0 else w
    n1 = rng.poisson(lam)
    n3 = rng.poisson(lam * TYPE3_PER_TYPE1)
    counts = n1 + n3
    b_pos = np.repeat(np.arange(len(P.pidx)), counts)
    is3 = np.arange(len(b_pos)) - np.repeat(np.r_[0, np.cumsum(counts)[:-1]], counts)
    is3 = is3 >= np.repeat(n1, counts)
    nb = len(b_pos)
    b_day = begin[b_pos] + np.floor(rng.random(nb) * exposure[b_pos]).astype(np.int64)
    b_hour = rng.choice(hours, size=nb, p=w_hours / w_hours.sum())
    b_prov = np.where(rng.random(nb) < 0.88, P.main[b_pos], 1 - P.main[b_pos]) % len(providers)
    out = ~_in_hospital(s, b_pos, b_day)  # nobody walks into A&E from a ward
    b_pos, is3, b_day, b_hour, b_prov = b_pos[out], is3[out], b_day[out], b_hour[out], b_prov[out]
    nb = len(b_pos)

    pos = np.r_[a_pos, b_pos]
    day = np.r_[a_day, b_day]
    hour = np.r_[a_hour, b_hour]
    minute = rng.integers(0, 60, size=len(pos))
    admitted = np.r_[np.ones(na, dtype=bool), np.zeros(nb, dtype=bool)]
    type3 = np.r_[np.zeros(na, dtype=bool), is3]
    prov = np.r_[prov_code[adm_rows], np.asarray(providers)[b_prov]]
    linked = np.r_[provspno[adm_rows], np.full(nb, "", dtype="<U12")]
    n = len(pos)

    # Diagnosis by admission propensity; the chief complaint usually follows it.
    p = t.ae_diag_p
    wd = np.where(admitted[:, None], t.ae_diag_w * p, t.ae_diag_w * (1 - p))
    wd = np.where(type3[:, None] & (p[None, :] >= 0.3), 0.0, wd)
    diag_i = _choose_rows(rng, wd)
    pc = t.ae_comp_p
    wc = np.where(admitted[:, None], t.ae_comp_w * pc, t.ae_comp_w * (1 - pc))
    comp_random = t.ae_comp[_choose_rows(rng, wc)]
    mapped = t.ae_diag_complaint[diag_i]
    follow = (mapped != "") & (rng.random(n) < COMPLAINT_FOLLOWS_DIAGNOSIS)
    complaint = np.where(follow, mapped, comp_random)

    # Arrival mode.
    u = rng.random(n)
    amb_share = np.where(admitted, 0.55, np.where(type3, 0.0, 0.15))
    mode = np.where(u < amb_share, SCT["ambulance"], SCT["own_transport"])
    mode = np.where((u >= amb_share) & (u < amb_share + 0.02), SCT["ambulance_escort"], mode)
    v = rng.random(n)
    mode = np.where((mode == SCT["own_transport"]) & (v < 0.08), SCT["public_transport"], mode)
    mode = np.where((mode == SCT["own_transport"]) & (v > 0.995), SCT["police"], mode)
    ambulance = np.isin(mode, [SCT["ambulance"], SCT["ambulance_escort"]])

    # Discharge status and destination.
    u = rng.random(n)
    status = np.full(n, SCT["treatment_completed"], dtype="<U18")
    left = ~admitted
    status = np.where(left & (u < 0.02), SCT["left_before_assessment"], status)
    status = np.where(left & (u >= 0.02) & (u < 0.05), SCT["left_before_completed"], status)
    status = np.where(left & (u >= 0.05) & (u < 0.06), SCT["left_after_assessment"], status)
    cc_rows = cc[adm_rows]
    icu_now = (cc_rows[:, 1] > 0) & (cc_rows[:, 0] == s["adm"][adm_rows])
    dest_adm = np.where(
        icu_now,
        np.where(cc_level[adm_rows] == 3, SCT["icu"], SCT["hdu"]),
        np.where(
            (t.tfc[s["tfc"][adm_rows]] == "320") & (rng.random(na) < 0.3), SCT["ccu"], SCT["ward"]
        ),
    )
    home = P.care_home[b_pos]
    v = rng.random(nb)
    dest_b = np.where(
        home == "", SCT["home"], np.where(v < 0.5, SCT["nursing_home"], SCT["residential_home"])
    )  # noqa: E501
    dest_b = np.where(v < 0.01, SCT["transfer"], dest_b)
    dest_b = np.where((v >= 0.01) & (v < 0.025) & ~is3, SCT["ambulatory_care"], dest_b)
    dest_b = np.where((v >= 0.025) & (v < 0.028), SCT["police_custody"], dest_b)
    destination = np.r_[dest_adm, dest_b]

    minutes = np.where(admitted, 330, np.where(type3, 95, 190)) * rng.lognormal(0, 0.45, n)
    order = np.lexsort((hour * 60 + minute, day, pos))
    sp = pos[order]
    key = _key(P.pidx[sp], "ecds")
    time_text = _CLOCK[hour * 60 + minute]

    frame = {"EC_IDENT": key, "DER_PROVIDER_CODE": prov[order]}
    frame.update(_demographics(P, sp, "ecds"))
    frame.update(
        {
            "ARRIVAL_DATE": _dates(day[order]),
            "ARRIVAL_TIME": time_text[order],
            "DEPARTMENT_TYPE": np.where(type3[order], "03", "01"),
            "ARRIVAL_MODE_SNOMED": mode[order],
            "CHIEF_COMPLAINT_SNOMED": complaint[order],
            "DIAGNOSIS_SNOMED": t.ae_diag[diag_i][order],
            "DISCHARGE_STATUS": status[order],
            "DISCHARGE_DESTINATION_SNOMED": destination[order],
            "ADMITTED": np.where(admitted[order], "Y", "N"),
            "LINKED_SPELL": linked[order],
            PERSON: P.pidx[sp],
        }
    )
    ecds = _frame(frame)
    truth = pd.DataFrame(
        {
            "EC_IDENT": key,
            "person_index": P.pidx[sp],
            "DER_PROVIDER_CODE": prov[order],
            "arrival_date": _dates(day[order]),
            "department_type": np.where(type3[order], "03", "01"),
            "admitted": admitted[order],
            "ambulance": ambulance[order],
            "minutes_in_department": np.maximum(np.round(minutes[order]), 10).astype(np.int64),
        }
    )
    return ecds, truth


# ======================================================================================
# Entry point
# ======================================================================================


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
