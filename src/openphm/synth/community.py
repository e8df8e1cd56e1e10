"""Care outside hospital: GP registrations and records, community, mental health,
ambulance and adult social care, as their extracts arrive at an ICS.

``generate(ctx, cohort, emergencies, rng)`` takes one chunk's cohort (the
``people.COHORT_COLUMNS`` plus ``onset_<condition>`` dates and ``date_of_death``)
and its emergency admissions (``hazard.simulate``: person_index, admission_date)
and returns the frames below, keyed by output path. Everything is drawn from
``rng`` in a fixed order, so the same stream gives identical frames. Record keys
are ``person_index * 10_000 + n`` (n counts the person's records in that file, in
date order), so keys never collide between chunks. In extracts, dates are text
'YYYY-MM-DD' and missing values '' (as delivered; the dirt stage writes impossible
dates such as '2024-02-30' into them, which a datetime column cannot hold); in
truth frames dates are ``datetime64[ns]`` (NaT when missing). "The period" is
``[ctx.start, ctx.end)``; a person is *in care* from ``ctx.start`` (or, if born
during the period, their first registration) to their date of death (inclusive)
or the period's end. Extract frames carry ``_person_index`` (the true person; the
writer moves it to ``truth/record_person``).

Extracts
--------
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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.synth import reference
from openphm.synth.output import PERSON, SynthContext

DAYS_PER_YEAR = 365.25
RECORD_STRIDE = 10_000  # record key = person_index * RECORD_STRIDE + n
NO_DAY = np.iinfo(np.int64).max // 4  # "never", far beyond any real day number

MOVE_RATE = 0.04  # practice moves per person-year
DIAGNOSIS_CODED = 0.93  # times access**0.3: about 90% of conditions coded in primary care
DIAGNOSIS_CODED_MAX = 0.98

# Consultations: relative rates by age band (lower bounds); women 15 to 64 consult
# more; each condition adds a quarter. With access, the product is scaled within
# the chunk so the mean over person-years is CONSULTS_PER_PERSON_YEAR (so the rate
# does not drift when condition prevalence is recalibrated upstream).
CONSULTS_PER_PERSON_YEAR = 5.0
CONSULT_AGE_EDGES = np.array([0, 5, 15, 25, 45, 65, 75, 85])
CONSULT_AGE_RATE = np.array([4.5, 2.2, 2.8, 3.2, 3.9, 4.7, 5.6, 6.6])
CONSULT_FEMALE = 1.35
CONSULT_PER_CONDITION = 0.25
CONSULT_SHAPE = 2.0  # gamma shape of a person's propensity to consult

# Minutes by contact code label fragment and staff group: (staff shares, mean minutes).
STAFF_GROUPS = ("gp", "nurse", "pharmacist", "other_clinical")
_STAFF_BY_CONTACT = {
    "face to face": ((0.55, 0.28, 0.02, 0.15), (11.0, 15.0, 20.0, 15.0)),
    "telephone": ((0.70, 0.15, 0.05, 0.10), (8.0, 9.0, 10.0, 9.0)),
    "home visit": ((0.75, 0.20, 0.0, 0.05), (40.0, 35.0, 30.0, 35.0)),
    "medication review": ((0.45, 0.05, 0.50, 0.0), (12.0, 15.0, 20.0, 15.0)),
}

# Community teams: (name, mean minutes). Rates are built in _community_rates.
COMMUNITY_TEAMS = (
    ("district_nursing", 30.0),
    ("community_matron", 45.0),
    ("physiotherapy", 40.0),
    ("occupational_therapy", 50.0),
    ("podiatry", 30.0),
    ("speech_and_language_therapy", 45.0),
    ("continence", 35.0),
    ("health_visiting", 40.0),
)
COMMUNITY_DNA = 0.06
COMMUNITY_SHAPE = 0.6

# Mental health services: (name, mean minutes).
MH_SERVICES = (
    ("community_mental_health_team", 45.0),
    ("early_intervention_psychosis", 50.0),
    ("crisis_resolution_home_treatment", 60.0),
    ("psychological_therapies", 55.0),
    ("memory_assessment", 75.0),
    ("older_adult_community_mental_health", 50.0),
    ("learning_disability", 50.0),
    ("children_and_young_people", 50.0),
)
MH_DNA = 0.12
MH_REASON_MISSING = 0.25
# Contacts a year while the condition is active, and the service mix.
_MH_BY_CONDITION = {
    "smi": (10.0, {"community_mental_health_team": 0.75, "crisis_resolution_home_treatment": 0.1}),
    "depression": (
        1.5,
        {
            "psychological_therapies": 0.55,
            "community_mental_health_team": 0.38,
            "crisis_resolution_home_treatment": 0.07,
        },
    ),
    "dementia": (
        2.5,
        {"memory_assessment": 0.45, "older_adult_community_mental_health": 0.55},
    ),
    "learning_disability": (1.0, {"learning_disability": 1.0}),
}
MH_BACKGROUND_ADULT = 0.03
MH_BACKGROUND_CHILD = 0.15  # ages 5 to 17
# Reasons for contacts without one of the conditions: anxiety, stress reactions (adults);
# also hyperkinetic, autism spectrum and eating disorders (children).
_MH_ADULT_REASONS = ("F411", "F419", "F432", "F431")
_MH_CHILD_REASONS = ("F900", "F840", "F509", "F419", "F432")

# Ambulance. Share of emergency admissions conveyed by ambulance by age band.
AMB_AGE_EDGES = np.array([0, 15, 65, 75, 85])
AMB_CONVEY_SHARE = np.array([0.22, 0.36, 0.52, 0.60, 0.70])
AMB_SEE_TREAT = np.array([0.012, 0.035, 0.06, 0.13, 0.35])  # per person-year, typical person
AMB_HEAR_TREAT_RATIO = 0.5  # hear-and-treat per see-and-treat
AMB_NHS_MISSING = 0.08
AMB_MINUTES = {"see_and_convey": 115.0, "see_and_treat": 75.0, "hear_and_treat": 18.0}
ACUTE_BY_PLACE = {"X1A": "RZ1", "X2A": "RZ1", "X3A": "RZ2", "X4A": "RZ2"}
ACUTE_OTHER_SHARE = 0.10
# Incidents by hour of day (relative), busiest late morning to evening.
_HOUR_WEIGHTS = np.array(
    [3, 2.5, 2, 1.8, 1.6, 1.8, 2.5, 3.5, 4.5, 5.2, 5.6, 5.8]
    + [5.8, 5.6, 5.5, 5.4, 5.4, 5.4, 5.3, 5.0, 4.6, 4.2, 3.8, 3.4]
)

# Adult social care: long-term support at the period's start, by age band.
ASC_AGE_EDGES = np.array([18, 65, 75, 85])
ASC_PREVALENCE = np.array([0.007, 0.025, 0.06, 0.15])
ASC_CAP = 0.9  # no one's chance of support above this
ASC_NEW_PER_CLIENT = 0.3  # new clients a year per existing client of the same profile
ASC_REABLEMENT_FIRST = 0.5
ASC_TO_CARE_HOME = 0.12  # home care / direct payment -> residential or nursing, per year
ASC_NHS_MISSING = 0.10
ASC_SERVICES = ("home_care", "residential_care", "nursing_care", "reablement", "direct_payment")
# First long-term service by age band: residential, nursing, direct payment (rest: home care).
_ASC_FIRST = np.array(
    [
        [0.12, 0.03, 0.35],
        [0.15, 0.07, 0.08],
        [0.22, 0.10, 0.08],
        [0.30, 0.15, 0.06],
    ]
)

_HOME, _RESIDENTIAL, _NURSING, _REABLEMENT, _DIRECT = range(5)


# --------------------------------------------------------------------------------------
# The chunk's people as arrays
# --------------------------------------------------------------------------------------


def _days(values) -> np.ndarray:
    """Dates as int64 day numbers since 1970-01-01; NaT becomes NO_DAY."""
    array = np.asarray(values, dtype="datetime64[D]")
    out = array.astype(np.int64)
    out[np.isnat(array)] = NO_DAY
    return out


def _date_text(days: np.ndarray) -> np.ndarray:
    """Day numbers as 'YYYY-MM-DD' text (object array); NO_DAY becomes ''."""
    days = np.asarray(days, dtype=np.int64)
    out = np.full(len(days), "", dtype=object)
    known = days < NO_DAY
    if known.any():
        lo, hi = int(days[known].min()), int(days[known].max())
        table = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]"))
        out[known] = table.astype(object)[days[known] - lo]
    return out


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers back to datetime64[ns]; NO_DAY becomes NaT."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days >= NO_DAY] = np.datetime64("NaT")
    return out


@dataclass
class _People:
    pid: np.ndarray  # person_index, int64
    nhs: np.ndarray  # str
    sex: np.ndarray  # '1' / '2'
    female: np.ndarray  # bool
    dob: np.ndarray  # day
    postcode: np.ndarray
    place: np.ndarray
    imd: np.ndarray
    frailty: np.ndarray
    access: np.ndarray
    age: np.ndarray  # years, in the middle of the person's time in care
    start: int  # first day of the period
    end: int  # the day after the period
    reg_from: np.ndarray  # day the first registration starts (never before birth)
    begin: np.ndarray  # first day in care: max(start, reg_from)
    stop: np.ndarray  # day after the last day in care: min(death + 1, end)
    death: np.ndarray  # day of death, NO_DAY if alive at the end
    conditions: list[str]
    onset: np.ndarray  # (n, conditions) day of onset, NO_DAY if none by ``stop``

    @property
    def n(self) -> int:
        return len(self.pid)

    def has(self, condition: str, day) -> np.ndarray:
        """Whether each person has the condition on ``day`` (scalar or per person)."""
        if condition not in self.conditions:
            return np.zeros(self.n, dtype=bool)
        return self.onset[:, self.conditions.index(condition)] <= day

    def onset_of(self, condition: str) -> np.ndarray:
        if condition not in self.conditions:
            return np.full(self.n, NO_DAY, dtype=np.int64)
        return self.onset[:, self.conditions.index(condition)]

    def first_onset(self, conditions) -> np.ndarray:
        out = np.full(self.n, NO_DAY, dtype=np.int64)
        for c in conditions:
            out = np.minimum(out, self.onset_of(c))
        return out

    def condition_count(self, day) -> np.ndarray:
        return (self.onset <= np.asarray(day).reshape(-1, 1)).sum(axis=1)


def _people(ctx: SynthContext, cohort: pd.DataFrame) -> _People:
    start, end = int(_days([ctx.start])[0]), int(_days([ctx.end])[0])
    dob = _days(cohort["date_of_birth"])
    death = _days(cohort["date_of_death"])
    reg_from = np.maximum(_days(cohort["registered_from"]), dob)
    begin = np.maximum(reg_from, start)  # born during the period: in care from registration
    stop = np.maximum(np.minimum(np.where(death < NO_DAY, death + 1, end), end), begin)
    names = [c for c in reference.conditions()["condition"] if f"onset_{c}" in cohort.columns]
    onset = np.full((len(cohort), len(names)), NO_DAY, dtype=np.int64)
    for j, name in enumerate(names):
        day = np.maximum(_days(cohort[f"onset_{name}"]), dob)
        onset[:, j] = np.where(day < stop, day, NO_DAY)  # none after death or the period
    mid = (begin + np.maximum(stop, begin + 1)) / 2
    return _People(
        pid=cohort["person_index"].to_numpy(dtype=np.int64),
        nhs=cohort["nhs_number"].to_numpy().astype(str),
        sex=cohort["sex"].to_numpy().astype(str),
        female=cohort["sex"].to_numpy().astype(str) == "2",
        dob=dob,
        postcode=cohort["postcode"].to_numpy().astype(str),
        place=cohort["place_code"].to_numpy().astype(str),
        imd=cohort["imd_decile"].to_numpy().astype(np.int64),
        frailty=cohort["frailty"].to_numpy(dtype=float),
        access=cohort["access"].to_numpy(dtype=float),
        age=(mid - dob) / DAYS_PER_YEAR,
        start=start,
        end=end,
        reg_from=reg_from,
        begin=begin,
        stop=stop,
        death=death,
        conditions=names,
        onset=onset,
    )


def _deprivation(imd: np.ndarray) -> np.ndarray:
    return (10 - imd) / 9.0


def _band(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 1)


MAX_EVENTS_PER_YEAR = 365.0


def _poisson_days(rng, lo: np.ndarray, hi: np.ndarray, rate: np.ndarray):
    """Events of a Poisson process with ``rate`` a year on days [lo, hi): (unit, day)."""
    span = np.maximum(hi - lo, 0)
    # Products of frailty, conditions and propensity have long tails; nobody gets
    # more than a contact a day from one service, however frail.
    rate = np.minimum(rate, MAX_EVENTS_PER_YEAR)
    count = rng.poisson(rate * span / DAYS_PER_YEAR)
    unit = np.repeat(np.arange(len(lo)), count)
    day = lo[unit] + np.floor(rng.random(len(unit)) * span[unit]).astype(np.int64)
    return unit, day


def _sequence(local: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within runs of equal ``local`` (which must be sorted)."""
    n = len(local)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.r_[0, np.flatnonzero(np.diff(local)) + 1]
    counts = np.diff(np.r_[first, n])
    return np.arange(n, dtype=np.int64) - np.repeat(first, counts)


def _record_ids(p: _People, local: np.ndarray) -> np.ndarray:
    seq = _sequence(local)
    if len(seq) and seq.max() >= RECORD_STRIDE:
        raise ValueError(f"a person has more than {RECORD_STRIDE:,} records in one file")
    return p.pid[local] * RECORD_STRIDE + seq


def _choose(rng, probs: np.ndarray) -> np.ndarray:
    """One category per row of a (rows, k) probability matrix (rows need not sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _minutes(rng, mean: np.ndarray, shape: float = 4.0) -> np.ndarray:
    """Gamma durations around ``mean``, in whole minutes, at least 5."""
    return np.maximum(np.round(rng.gamma(shape, mean / shape)), 5.0)


# --------------------------------------------------------------------------------------
# GP registrations
# --------------------------------------------------------------------------------------


@dataclass
class _Registrations:
    local: np.ndarray  # person row, sorted
    start: np.ndarray  # day
    end: np.ndarray  # day, NO_DAY while ongoing
    practice: np.ndarray  # index into codes
    codes: np.ndarray  # practice codes
    died: np.ndarray  # bool: ended by death
    _keys: np.ndarray  # local * span + start - base, for look-ups
    _base: int
    _span: int

    def practice_at(self, local: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Practice index each (person, day) falls in; days before the first registration
        map to the first one."""
        offset = np.clip(day - self._base, 0, self._span - 1)
        pos = np.searchsorted(self._keys, local * self._span + offset, side="right") - 1
        pos = np.maximum(pos, np.searchsorted(self._keys, local * self._span, side="left"))
        return self.practice[pos]


def _registrations(ctx: SynthContext, p: _People, cohort, rng) -> _Registrations:
    practices = ctx.geography.practices.reset_index(drop=True)
    codes = practices["practice_code"].to_numpy().astype(str)
    first = pd.Index(codes).get_indexer(cohort["practice_code"].astype(str))
    if (first < 0).any():
        raise ValueError("cohort practice_code not in the geography's practices")
    place_codes, place = np.unique(
        practices["place_code"].to_numpy().astype(str), return_inverse=True
    )
    order = np.argsort(place, kind="stable")  # practices grouped by place
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = _sequence(place[order])
    size = np.bincount(place, minlength=len(place_codes))
    offset = np.r_[0, np.cumsum(size)[:-1]]

    reg_from = p.reg_from
    can_move = size[place[first]] > 1
    lo = np.maximum(reg_from, p.start) + 1  # a move never ends a registration on its first day
    hi = np.minimum(p.stop, p.death)  # nor happens on the day of death
    who, day = _poisson_days(rng, lo, hi, MOVE_RATE * can_move)
    order_m = np.lexsort((day, who))
    who, day = who[order_m], day[order_m]
    keep = np.ones(len(who), dtype=bool)
    keep[1:] = (np.diff(who) != 0) | (np.diff(day) != 0)  # one move a day
    who, day = who[keep], day[keep]
    home = place[first[who]]
    step = rng.integers(1, np.maximum(size[home], 2))  # never the current practice
    total = np.cumsum(step)
    group_start = np.r_[0, np.flatnonzero(np.diff(who)) + 1]
    before = np.repeat(np.r_[0, total[group_start[1:] - 1]], np.diff(np.r_[group_start, len(who)]))
    moved_to = order[offset[home] + (rank[first[who]] + total - before) % size[home]]

    local = np.r_[np.arange(p.n), who]
    start = np.r_[reg_from, day]
    practice = np.r_[first, moved_to]
    idx = np.lexsort((start, local))
    local, start, practice = local[idx], start[idx], practice[idx]
    last = np.r_[local[1:] != local[:-1], True]
    end = np.where(last, p.death[local], np.r_[start[1:], 0] - 1)
    died = last & (p.death[local] < NO_DAY)
    base = int(start.min()) if len(start) else 0
    span = int(max(p.end, int(p.stop.max()) if p.n else p.end) - base + 2)
    keys = local * span + (start - base)
    return _Registrations(local, start, end, practice, codes, died, keys, base, span)


def _registration_frames(p: _People, regs: _Registrations) -> dict[str, pd.DataFrame]:
    reg_id = _record_ids(p, regs.local)
    practice = regs.codes[regs.practice]
    start, end = _dates(regs.start), _dates(regs.end)
    extract = pd.DataFrame(
        {
            "REG_ID": reg_id,
            "NHS_NUMBER": p.nhs[regs.local],
            "PRACTICE_CODE": practice,
            "REGISTRATION_START": _date_text(regs.start),
            "REGISTRATION_END": _date_text(regs.end),
            PERSON: p.pid[regs.local],
        }
    )
    reason = np.where(regs.died, "died", np.where(regs.end < NO_DAY, "moved", ""))
    truth = pd.DataFrame(
        {
            "REG_ID": reg_id,
            "person_index": p.pid[regs.local],
            "practice_code": practice,
            "start": start,
            "end": end,
            "end_reason": reason,
        }
    )
    return {"extracts/gp_registrations": extract, "truth/registrations": truth}


# --------------------------------------------------------------------------------------
# GP events
# --------------------------------------------------------------------------------------


class _Vocabulary:
    """Every SNOMED code gp_events can hold, as small integers."""

    def __init__(self, conditions: list[str]):
        gp = reference.gp_codes()
        cond = reference.conditions().set_index("condition")
        self.codes: list[str] = list(gp["snomed_code"])
        self.units: list[str] = list(gp["unit"])
        self.kind: list[str] = list(gp["kind"])
        self.lo = np.r_[gp["value_min"].to_numpy(dtype=float)]
        self.hi = np.r_[gp["value_max"].to_numpy(dtype=float)]
        self.by_label = {label.lower(): i for i, label in enumerate(gp["label"])}
        self.diagnoses: dict[str, np.ndarray] = {}
        for name in conditions:
            ids = []
            for code in reference.codes(cond.loc[name, "snomed_codes"]):
                if code not in self.codes:
                    self.codes.append(code)
                    self.units.append("")
                    self.kind.append("diagnosis")
                ids.append(self.codes.index(code))
            self.diagnoses[name] = np.array(ids, dtype=np.int64)
        pad = len(self.codes) - len(self.lo)
        self.lo = np.r_[self.lo, np.full(pad, np.nan)]
        self.hi = np.r_[self.hi, np.full(pad, np.nan)]

    def find(self, fragment: str) -> int:
        """The gp_codes row whose label contains ``fragment`` (case-insensitive)."""
        hits = [i for label, i in self.by_label.items() if fragment in label]
        if len(hits) != 1:
            raise ValueError(f"gp_codes.csv: expected one label containing {fragment!r}")
        return hits[0]

    def clip(self, code: int, values: np.ndarray) -> np.ndarray:
        return np.clip(values, self.lo[code], self.hi[code])


@dataclass
class _Events:
    """Rows of gp_events under construction (parallel arrays)."""

    local: list
    day: list
    code: list
    value: list

    def add(self, local, day, code, value=None) -> None:
        n = len(local)
        self.local.append(np.asarray(local, dtype=np.int64))
        self.day.append(np.asarray(day, dtype=np.int64))
        self.code.append(np.broadcast_to(np.asarray(code, dtype=np.int64), (n,)))
        self.value.append(
            np.full(n, np.nan) if value is None else np.round(np.asarray(value, float), 1)
        )


def _diagnoses(p: _People, vocab: _Vocabulary, events: _Events, rng) -> None:
    coded_p = np.minimum(DIAGNOSIS_CODED * p.access**0.3, DIAGNOSIS_CODED_MAX)
    u = rng.random((p.n, len(p.conditions)))
    pick = rng.random((p.n, len(p.conditions)))
    for j, name in enumerate(p.conditions):
        who = np.flatnonzero((p.onset[:, j] < NO_DAY) & (u[:, j] < coded_p))
        options = vocab.diagnoses[name]
        code = options[(pick[who, j] * len(options)).astype(np.int64)]
        events.add(who, p.onset[who, j], code)


def _consultations(p: _People, vocab: _Vocabulary, events: _Events, rng):
    """Consultations; returns their (local, day, code, staff, minutes) for the truth."""
    band = _band(p.age, CONSULT_AGE_EDGES)
    rate = CONSULT_AGE_RATE[band]
    rate = rate * np.where(p.female & (p.age >= 15) & (p.age < 65), CONSULT_FEMALE, 1.0)
    mid = (p.begin + p.stop) // 2
    rate = rate * (1 + CONSULT_PER_CONDITION * p.condition_count(mid)) * p.access**0.5
    exposure = (p.stop - p.begin).astype(float)
    if exposure.sum() > 0:
        rate = rate * CONSULTS_PER_PERSON_YEAR * exposure.sum() / (rate * exposure).sum()
    rate = rate * rng.gamma(CONSULT_SHAPE, 1 / CONSULT_SHAPE, size=p.n)
    who, day = _poisson_days(rng, p.begin, p.stop, rate)

    contacts = ["face to face", "telephone", "home visit", "medication review"]
    code_of = np.array([vocab.find(c) for c in contacts])
    housebound = p.has("dementia", mid) | p.has("frailty", mid) | (p.age >= 85)
    multi = p.condition_count(mid) >= 2
    probs = np.column_stack(
        [
            np.full(len(who), 0.58),
            np.full(len(who), 0.36),
            np.where(housebound[who], 0.15, 0.002),
            np.where(multi[who], 0.12, 0.015),
        ]
    )
    kind = _choose(rng, probs)
    shares = np.array([_STAFF_BY_CONTACT[c][0] for c in contacts])
    means = np.array([_STAFF_BY_CONTACT[c][1] for c in contacts])
    staff = _choose(rng, shares[kind])
    minutes = _minutes(rng, means[kind, staff])
    events.add(who, day, code_of[kind])
    return who, day, code_of[kind], staff, minutes


def _monitoring(p: _People, vocab: _Vocabulary, events: _Events, rng) -> None:
    n, start = p.n, p.begin
    adult = p.age >= 18
    bias = p.access**0.5

    def after(conditions) -> np.ndarray:
        return np.maximum(p.first_onset(conditions), p.begin)

    # Person-level values, drawn for everyone so the stream does not depend on who is ill.
    htn_level = rng.normal(0, 1, n)
    dia_noise = rng.normal(0, 1, n)
    hba1c_level = rng.normal(58, 12, n)
    ckd_level = rng.normal(46, 9, n)
    egfr_level = rng.normal(84, 12, n)
    chol_level = rng.normal(4.6, 0.9, n)
    bmi_level = rng.normal(27.5, 5.0, n)
    height = np.where(p.female, rng.normal(162, 6.5, n), rng.normal(176, 7, n))
    smoke_u = rng.random(n)

    # Blood pressure: a background rate for adults, twice a year with a relevant condition.
    sys_code, dia_code = vocab.find("systolic"), vocab.find("diastolic")
    bp_group = ["hypertension", "diabetes", "ckd", "chd", "stroke"]
    w1, d1 = _poisson_days(rng, start, p.stop, 0.3 * adult * bias)
    w2, d2 = _poisson_days(rng, after(bp_group), p.stop, 2.0 * bias)
    who, day = np.r_[w1, w2], np.r_[d1, d2]
    htn = p.onset_of("hypertension")[who] <= day
    level = np.where(htn, 140 + 12 * htn_level[who], 124 + 12 * htn_level[who])
    systolic = vocab.clip(sys_code, level + rng.normal(0, 8, len(who)))
    diastolic = 0.45 * systolic + 22 + 5 * dia_noise[who] + rng.normal(0, 4, len(who))
    events.add(who, day, sys_code, np.round(systolic))
    events.add(who, day, dia_code, np.round(vocab.clip(dia_code, diastolic)))

    # HbA1c with diabetes.
    code = vocab.find("hba1c")
    who, day = _poisson_days(rng, after(["diabetes"]), p.stop, 2.0 * bias)
    events.add(
        who, day, code, np.round(vocab.clip(code, hba1c_level[who] + rng.normal(0, 5, len(who))))
    )

    # eGFR and creatinine: CKD twice a year, diabetes or hypertension yearly.
    egfr_code, creat_code = vocab.find("egfr"), vocab.find("serum creatinine")
    w1, d1 = _poisson_days(rng, after(["ckd"]), p.stop, 2.0 * bias)
    w2, d2 = _poisson_days(rng, after(["diabetes", "hypertension"]), p.stop, 1.0 * bias)
    who, day = np.r_[w1, w2], np.r_[d1, d2]
    ckd = p.onset_of("ckd")[who] <= day
    egfr = np.where(ckd, np.minimum(ckd_level[who], 59), np.maximum(egfr_level[who], 60))
    egfr = vocab.clip(egfr_code, egfr + rng.normal(0, 3, len(who)))
    creatinine = 80 * (75 / egfr) ** 1.1 * np.where(p.female[who], 0.85, 1.0)
    events.add(who, day, egfr_code, np.round(egfr))
    events.add(who, day, creat_code, np.round(vocab.clip(creat_code, creatinine)))

    # Total cholesterol, yearly with CHD, stroke or diabetes.
    code = vocab.find("cholesterol")
    who, day = _poisson_days(rng, after(["chd", "stroke", "diabetes"]), p.stop, 1.0 * bias)
    events.add(who, day, code, vocab.clip(code, chol_level[who] + rng.normal(0, 0.3, len(who))))

    # BMI with weight (and now and then height): adults, yearly with diabetes.
    bmi_code, weight_code, height_code = (
        vocab.find("body mass"),
        vocab.find("weight"),
        vocab.find("height"),
    )
    w1, d1 = _poisson_days(rng, start, p.stop, 0.3 * adult * bias)
    w2, d2 = _poisson_days(rng, after(["diabetes"]), p.stop, 0.8 * bias)
    who, day = np.r_[w1, w2], np.r_[d1, d2]
    bmi = vocab.clip(bmi_code, bmi_level[who] + rng.normal(0, 0.6, len(who)))
    metres = height[who] / 100
    events.add(who, day, bmi_code, bmi)
    events.add(who, day, weight_code, vocab.clip(weight_code, bmi * metres**2))
    tall = rng.random(len(who)) < 0.2
    events.add(
        who[tall], day[tall], height_code, np.round(vocab.clip(height_code, height[who[tall]]))
    )

    # Smoking status (fixed per person): adults, yearly with COPD or a cardiovascular condition.
    dep = _deprivation(p.imd)
    copd = p.onset_of("copd") < NO_DAY
    current = np.where(copd, 0.40, 0.09 + 0.13 * dep)
    ex = np.where(copd, 0.45, 0.22)
    status = np.where(smoke_u < current, 0, np.where(smoke_u < current + ex, 1, 2))
    status_code = np.array(
        [vocab.find("current smoker"), vocab.find("ex-smoker"), vocab.find("never")]
    )
    w1, d1 = _poisson_days(rng, start, p.stop, 0.25 * (p.age >= 16) * bias)
    w2, d2 = _poisson_days(rng, after(["copd", "chd", "stroke", "diabetes"]), p.stop, 0.7 * bias)
    who, day = np.r_[w1, w2], np.r_[d1, d2]
    events.add(who, day, status_code[status[who]])


def _gp_events(p: _People, regs: _Registrations, rng) -> dict[str, pd.DataFrame]:
    vocab = _Vocabulary(p.conditions)
    events = _Events([], [], [], [])
    _diagnoses(p, vocab, events, rng)
    n_before = sum(len(x) for x in events.local)
    c_local, c_day, c_code, c_staff, c_minutes = _consultations(p, vocab, events, rng)
    _monitoring(p, vocab, events, rng)

    local = np.concatenate(events.local)
    day = np.concatenate(events.day)
    code = np.concatenate(events.code)
    value = np.concatenate(events.value)
    # Remember which rows are consultations to carry their truth through the sort.
    consult_row = np.full(len(local), -1, dtype=np.int64)
    consult_row[n_before : n_before + len(c_local)] = np.arange(len(c_local))
    order = np.lexsort((code, day, local))
    local, day, code, value, consult_row = (
        local[order],
        day[order],
        code[order],
        value[order],
        consult_row[order],
    )
    event_id = _record_ids(p, local)
    practice = regs.codes[regs.practice_at(local, day)]
    codes = np.array(vocab.codes, dtype=object)
    units = np.array(vocab.units, dtype=object)
    extract = pd.DataFrame(
        {
            "EVENT_ID": event_id,
            "NHS_NUMBER": p.nhs[local],
            "PRACTICE_CODE": practice,
            "EVENT_DATE": _date_text(day),
            "SNOMED_CODE": codes[code],
            "VALUE": value,
            "UNIT": units[code],
            PERSON: p.pid[local],
        }
    )
    rows = np.flatnonzero(consult_row >= 0)
    src = consult_row[rows]
    minutes = pd.DataFrame(
        {
            "file": "extracts/gp_events",
            "record_id": event_id[rows],
            "person_index": p.pid[local[rows]],
            "activity_date": _dates(day[rows]),
            "staff_group": np.array(STAFF_GROUPS, dtype=object)[c_staff[src]],
            "minutes": c_minutes[src],
            "attended": True,
        }
    )
    return {"extracts/gp_events": extract, "truth/care_minutes": minutes}


# --------------------------------------------------------------------------------------
# Community and mental health contacts
# --------------------------------------------------------------------------------------


def _community_rates(p: _People) -> np.ndarray:
    """Expected contacts a year with each of COMMUNITY_TEAMS, before propensity: (n, teams)."""
    age, mid = p.age, (p.begin + p.stop) // 2
    frail = np.exp(0.7 * p.frailty)
    conditions = p.condition_count(mid)
    burden = (1 + 0.3 * conditions) * frail
    coded_frail = p.has("frailty", mid)
    older = np.interp(age, [0, 50, 65, 75, 85, 95], [0.02, 0.05, 0.25, 1.0, 3.0, 5.0])
    rates = np.column_stack(
        [
            1.6 * older * burden * np.where(coded_frail, 2.0, 1.0),  # district nursing
            np.where((conditions >= 3) | coded_frail, 0.5 * older * frail, 0.0),  # matron
            np.where(age >= 18, 0.12 + 0.25 * older, 0.03) * (1 + 0.2 * conditions),  # physio
            np.where(age >= 18, 0.12 * older * frail, 0.0),  # occupational therapy
            0.12 * older + np.where(p.has("diabetes", mid), 1.2, 0.0),  # podiatry
            np.where((age >= 1) & (age < 11), 0.15, 0.0)
            + np.where(p.has("stroke", mid), 1.2, 0.0)
            + np.where(p.has("dementia", mid), 0.3, 0.0),  # speech and language
            0.08 * older * frail,  # continence
            np.where(age < 1.5, 6.0, np.where(age < 5, 0.8, 0.0)),  # health visiting
        ]
    )
    return rates * p.access[:, None] ** 0.5


def _contacts(p: _People, rates: np.ndarray, rng):
    """Poisson contacts for an (n, k) rate matrix over each person's time in care."""
    n, k = rates.shape
    lo = np.repeat(p.begin, k)
    hi = np.repeat(p.stop, k)
    unit, day = _poisson_days(rng, lo, hi, rates.reshape(-1))
    return unit // k, unit % k, day


def _contact_frame(p, rng, local, kind, day, names, means, dna, columns, extra=None):
    order = np.lexsort((kind, day, local))
    local, kind, day = local[order], kind[order], day[order]
    if extra is not None:
        extra = extra[order]
    attended = rng.random(len(local)) >= dna * (1 + 0.5 * _deprivation(p.imd[local]))
    minutes = _minutes(rng, means[kind])
    record_id = _record_ids(p, local)
    names = np.array(names, dtype=object)
    key, provider, duration_col, type_col = columns
    frame = {
        key: record_id,
        "NHS_NUMBER": p.nhs[local],
        "PROVIDER_CODE": provider,
        "CONTACT_DATE": _date_text(day),
        duration_col: pd.array(np.where(attended, minutes, np.nan), dtype="Int64"),
        type_col: names[kind],
    }
    if extra is not None:
        frame["PRIMARY_REASON"] = extra
    frame["ATTENDED"] = np.where(attended, "Y", "N").astype(object)
    frame[PERSON] = p.pid[local]
    truth = pd.DataFrame(
        {
            "file": "",
            "record_id": record_id,
            "person_index": p.pid[local],
            "activity_date": _dates(day),
            "staff_group": names[kind],
            "minutes": minutes,
            "attended": attended,
        }
    )
    return pd.DataFrame(frame), truth


def _community(ctx, p: _People, rng) -> dict[str, pd.DataFrame]:
    rates = _community_rates(p) * rng.gamma(COMMUNITY_SHAPE, 1 / COMMUNITY_SHAPE, p.n)[:, None]
    local, team, day = _contacts(p, rates, rng)
    names = [t for t, _ in COMMUNITY_TEAMS]
    means = np.array([m for _, m in COMMUNITY_TEAMS])
    provider = ctx.geography.provider("community")[0]
    cols = ("CONTACT_ID", provider, "CARE_CONTACT_DURATION", "TEAM_TYPE")
    extract, truth = _contact_frame(p, rng, local, team, day, names, means, COMMUNITY_DNA, cols)
    truth["file"] = "extracts/community_contacts"
    return {"extracts/community_contacts": extract, "truth/care_minutes": truth}


def _mental_health(ctx, p: _People, rng) -> dict[str, pd.DataFrame]:
    names = [s for s, _ in MH_SERVICES]
    means = np.array([m for _, m in MH_SERVICES])
    cond = reference.conditions().set_index("condition")
    propensity = rng.gamma(1.0, 1.0, p.n)
    locals_, kinds, days, reasons = [], [], [], []
    for condition, (rate, mix) in _MH_BY_CONDITION.items():
        lo = np.maximum(p.onset_of(condition), p.begin)
        who, day = _poisson_days(rng, lo, p.stop, rate * propensity)
        probs = np.zeros((len(who), len(names)))
        for service, share in mix.items():
            probs[:, names.index(service)] = share
        if condition == "smi":  # early intervention for the young, instead of the CMHT
            young = p.age[who] < 35
            probs[young, names.index("early_intervention_psychosis")] = 0.6
            probs[young, names.index("community_mental_health_team")] = 0.3
        locals_.append(who)
        kinds.append(_choose(rng, probs))
        days.append(day)
        icd = reference.codes(cond.loc[condition, "icd10_codes"]) or [""]
        reason = np.array(icd, dtype=object)[rng.integers(0, len(icd), len(who))]
        reasons.append(np.where(rng.random(len(who)) < MH_REASON_MISSING, "", reason))
    child = (p.age >= 5) & (p.age < 18)
    rate = np.where(child, MH_BACKGROUND_CHILD, np.where(p.age >= 18, MH_BACKGROUND_ADULT, 0.0))
    who, day = _poisson_days(rng, p.begin, p.stop, rate * propensity)
    kind = np.where(
        child[who],
        names.index("children_and_young_people"),
        names.index("community_mental_health_team"),
    )
    adult_reason = np.array(_MH_ADULT_REASONS, dtype=object)
    child_reason = np.array(_MH_CHILD_REASONS, dtype=object)
    pick = rng.random(len(who))
    reason = np.where(
        child[who],
        child_reason[(pick * len(child_reason)).astype(np.int64)],
        adult_reason[(pick * len(adult_reason)).astype(np.int64)],
    )
    locals_.append(who)
    kinds.append(kind)
    days.append(day)
    reasons.append(np.where(rng.random(len(who)) < 2 * MH_REASON_MISSING, "", reason))

    provider = ctx.geography.provider("mental_health")[0]
    cols = ("CONTACT_ID", provider, "CONTACT_DURATION", "SERVICE_TYPE")
    extract, truth = _contact_frame(
        p,
        rng,
        np.concatenate(locals_),
        np.concatenate(kinds),
        np.concatenate(days),
        names,
        means,
        MH_DNA,
        cols,
        extra=np.concatenate(reasons).astype(object),
    )
    truth["file"] = "extracts/mental_health_contacts"
    return {"extracts/mental_health_contacts": extract, "truth/care_minutes": truth}


# --------------------------------------------------------------------------------------
# Ambulance
# --------------------------------------------------------------------------------------


def _times(rng, n: int) -> np.ndarray:
    hour = rng.choice(24, size=n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    hh = np.char.zfill((seconds // 3600).astype(str), 2)
    mm = np.char.zfill((seconds // 60 % 60).astype(str), 2)
    ss = np.char.zfill((seconds % 60).astype(str), 2)
    return np.char.add(np.char.add(np.char.add(hh, ":"), np.char.add(mm, ":")), ss).astype(object)


def _ambulance(ctx, p: _People, emergencies: pd.DataFrame, rng) -> dict[str, pd.DataFrame]:
    index = pd.Index(p.pid)
    adm_local = index.get_indexer(emergencies["person_index"].to_numpy())
    if (adm_local < 0).any():
        raise ValueError("emergencies holds people who are not in the cohort")
    adm_day = _days(emergencies["admission_date"])
    adm_age = (adm_day - p.dob[adm_local]) / DAYS_PER_YEAR
    conveyed = rng.random(len(adm_local)) < AMB_CONVEY_SHARE[_band(adm_age, AMB_AGE_EDGES)]
    c_local, c_day = adm_local[conveyed], adm_day[conveyed]

    band = _band(p.age, AMB_AGE_EDGES)
    rel = np.exp(0.5 * p.frailty) * (1 + 0.8 * _deprivation(p.imd)) / (np.exp(0.125) * 1.4)
    st_rate = AMB_SEE_TREAT[band] * rel
    s_local, s_day = _poisson_days(rng, p.begin, p.stop, st_rate)
    h_local, h_day = _poisson_days(rng, p.begin, p.stop, AMB_HEAR_TREAT_RATIO * st_rate)
    outcomes = np.array(["see_and_convey", "see_and_treat", "hear_and_treat"], dtype=object)
    local = np.r_[c_local, s_local, h_local]
    day = np.r_[c_day, s_day, h_day]
    outcome = np.r_[
        np.zeros(len(c_local), np.int64), np.ones(len(s_local), np.int64), np.full(len(h_local), 2)
    ]
    linked = np.r_[c_day, np.full(len(s_local) + len(h_local), NO_DAY)]
    times = _times(rng, len(local))
    order = np.lexsort((times, outcome, day, local))
    local, day, outcome, linked, times = (
        local[order],
        day[order],
        outcome[order],
        linked[order],
        times[order],
    )

    acute = ctx.geography.provider("acute")
    own = pd.Series(p.place[local]).map(ACUTE_BY_PLACE).fillna(acute[0]).to_numpy(dtype=object)
    other = np.where(own == acute[0], acute[-1], acute[0])
    to = np.where(rng.random(len(local)) < ACUTE_OTHER_SHARE, other, own)
    to = np.where(outcome == 0, to, "").astype(object)
    removed = rng.random(len(local)) < AMB_NHS_MISSING
    job = _minutes(rng, np.array([AMB_MINUTES[o] for o in outcomes])[outcome])

    incident_id = _record_ids(p, local)
    extract = pd.DataFrame(
        {
            "INCIDENT_ID": incident_id,
            "NHS_NUMBER": np.where(removed, "", p.nhs[local]).astype(object),
            "DATE_OF_BIRTH": _date_text(p.dob[local]),
            "SEX": p.sex[local],
            "POSTCODE": p.postcode[local],
            "PROVIDER_CODE": ctx.geography.provider("ambulance")[0],
            "INCIDENT_DATE": _date_text(day),
            "INCIDENT_TIME": times,
            "OUTCOME": outcomes[outcome],
            "CONVEYED_TO": to,
            PERSON: p.pid[local],
        }
    )
    truth = pd.DataFrame(
        {
            "INCIDENT_ID": incident_id,
            "person_index": p.pid[local],
            "outcome": outcomes[outcome],
            "admission_date": _dates(linked),
            "nhs_number_removed": removed,
        }
    )
    minutes = pd.DataFrame(
        {
            "file": "extracts/ambulance_incidents",
            "record_id": incident_id,
            "person_index": p.pid[local],
            "activity_date": _dates(day),
            "staff_group": np.where(outcome == 2, "clinical_hub", "ambulance_crew").astype(object),
            "minutes": job,
            "attended": True,
        }
    )
    return {
        "extracts/ambulance_incidents": extract,
        "truth/ambulance_incidents": truth,
        "truth/care_minutes": minutes,
    }


# --------------------------------------------------------------------------------------
# Adult social care
# --------------------------------------------------------------------------------------


def _social_care(ctx, p: _People, rng) -> dict[str, pd.DataFrame]:
    n, start = p.n, p.start
    age0 = (start - p.dob) / DAYS_PER_YEAR
    adult = age0 >= 18
    band = _band(age0, ASC_AGE_EDGES)
    rel = (
        np.exp(0.7 * p.frailty)
        * np.where(p.has("dementia", start), 3.0, 1.0)
        * np.where(p.has("learning_disability", start), 4.0, 1.0)
        * (1 + 0.3 * p.condition_count(start))
    )
    scale = np.zeros(len(ASC_AGE_EDGES))
    for b in range(len(ASC_AGE_EDGES)):  # so each band's mean, after capping, is its target
        members = rel[adult & (band == b)]
        if len(members):
            scale[b] = ASC_PREVALENCE[b] / members.mean()
            for _ in range(8):
                scale[b] *= ASC_PREVALENCE[b] / np.minimum(scale[b] * members, ASC_CAP).mean()
    prob = np.minimum(scale[band] * rel, ASC_CAP) * adult
    alive_at_start = p.stop > start
    prevalent = (rng.random(n) < prob) & alive_at_start
    years = (p.stop - start) / DAYS_PER_YEAR
    new = ~prevalent & (rng.random(n) < 1 - np.exp(-ASC_NEW_PER_CLIENT * prob * years))
    new_day = start + np.floor(rng.random(n) * np.maximum(p.stop - start, 0)).astype(np.int64)
    adult_day = p.dob + np.ceil(18 * DAYS_PER_YEAR).astype(np.int64)
    past = start - np.floor(rng.exponential(2.5, n) * DAYS_PER_YEAR).astype(np.int64)
    support_from = np.where(prevalent, np.maximum(past, adult_day), new_day)
    reablement = new & (rng.random(n) < ASC_REABLEMENT_FIRST)
    reab_days = rng.integers(21, 57, n)
    first_type = _choose(rng, np.column_stack([_ASC_FIRST[band], 1 - _ASC_FIRST[band].sum(1)]))
    first_type = np.array([_RESIDENTIAL, _NURSING, _DIRECT, _HOME])[first_type]
    first_type = np.where(
        p.has("dementia", start) & (first_type == _HOME) & (rng.random(n) < 0.2),
        _RESIDENTIAL,
        first_type,
    )
    to_home = rng.random(n) < 0.65
    transfer = np.floor(rng.exponential(1 / ASC_TO_CARE_HOME, n) * DAYS_PER_YEAR).astype(np.int64)
    hours = np.maximum(np.round(rng.gamma(2.0, 6.5, n) * 2) / 2, 1.0)
    end_of_life = np.where(p.death < NO_DAY, p.death, NO_DAY)

    supported = np.flatnonzero(prevalent | new)
    rows_local, rows_type, rows_start, rows_end = [], [], [], []
    # Reablement spells first.
    r = supported[reablement[supported]]
    r_end = np.minimum(support_from[r] + reab_days[r] - 1, end_of_life[r])
    rows_local.append(r)
    rows_type.append(np.full(len(r), _REABLEMENT))
    rows_start.append(support_from[r])
    rows_end.append(r_end)
    # The first long-term service.
    lt_start = np.where(reablement, support_from + reab_days, support_from)
    s = supported[lt_start[supported] < p.stop[supported]]
    community = np.isin(first_type[s], [_HOME, _DIRECT])
    move_day = np.maximum(lt_start[s], start) + transfer[s]
    moves = community & (move_day < p.stop[s])
    first_end = np.where(moves, move_day - 1, end_of_life[s])
    rows_local.append(s)
    rows_type.append(first_type[s])
    rows_start.append(lt_start[s])
    rows_end.append(first_end)
    # Into a care home.
    m = s[moves]
    rows_local.append(m)
    rows_type.append(np.where(to_home[m], _RESIDENTIAL, _NURSING))
    rows_start.append(move_day[moves])
    rows_end.append(end_of_life[m])

    local = np.concatenate(rows_local)
    kind = np.concatenate(rows_type)
    s_day = np.concatenate(rows_start)
    e_day = np.concatenate(rows_end)
    e_day = np.where(e_day >= p.end, NO_DAY, e_day)  # still running at the period's end
    order = np.lexsort((kind, s_day, local))
    local, kind, s_day, e_day = local[order], kind[order], s_day[order], e_day[order]
    removed = rng.random(len(local)) < ASC_NHS_MISSING
    service_id = _record_ids(p, local)
    extract = pd.DataFrame(
        {
            "SERVICE_ID": service_id,
            "NHS_NUMBER": np.where(removed, "", p.nhs[local]).astype(object),
            "DATE_OF_BIRTH": _date_text(p.dob[local]),
            "SEX": p.sex[local],
            "POSTCODE": p.postcode[local],
            "LA_CODE": ctx.geography.provider("council")[0],
            "SERVICE_TYPE": np.array(ASC_SERVICES, dtype=object)[kind],
            "START_DATE": _date_text(s_day),
            "END_DATE": _date_text(e_day),
            "PLANNED_HOURS_PER_WEEK": np.where(kind == _HOME, hours[local], np.nan),
            PERSON: p.pid[local],
        }
    )
    return {"extracts/social_care_services": extract}


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def generate(
    ctx: SynthContext, cohort: pd.DataFrame, emergencies: pd.DataFrame, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """The community stage's frames for one chunk (see the module docstring)."""
    p = _people(ctx, cohort)
    regs = _registrations(ctx, p, cohort, rng)
    parts = [
        _registration_frames(p, regs),
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
