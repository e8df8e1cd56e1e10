"""Community and mental health contacts: Poisson contacts with teams or services, as
CSDS- and MHSDS-like extracts, and the staff minutes behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth import reference
from openphm.synth.arrays import choose_rows
from openphm.synth.community.common import (
    _date_text,
    _dates,
    _deprivation,
    _minutes,
    _poisson_days,
    _record_ids,
)
from openphm.synth.community.people import _People
from openphm.synth.output import PERSON

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
        kinds.append(choose_rows(rng, probs))
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
