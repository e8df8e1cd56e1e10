"""Ambulance incidents: conveyances to emergency admissions, see and treat, hear and treat."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.community.common import (
    DAYS_PER_YEAR,
    NO_DAY,
    _band,
    _date_text,
    _dates,
    _days,
    _deprivation,
    _linkable,
    _minutes,
    _poisson_days,
    _record_ids,
)
from openphm.synth.community.people import _People
from openphm.synth.output import PERSON

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


def _times(rng, n: int) -> np.ndarray:
    if n == 0:  # NumPy cannot size the text of no numbers
        return np.empty(0, dtype=object)
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
            **_linkable(p, local, removed),
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
