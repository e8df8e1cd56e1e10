"""Adult social care: long-term support and reablement services, as client level data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.arrays import choose_rows
from openphm.synth.community.common import (
    DAYS_PER_YEAR,
    NO_DAY,
    _band,
    _date_text,
    _linkable,
    _record_ids,
)
from openphm.synth.community.people import _People
from openphm.synth.output import PERSON

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
    first_type = choose_rows(rng, np.column_stack([_ASC_FIRST[band], 1 - _ASC_FIRST[band].sum(1)]))
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
            **_linkable(p, local, removed),
            "LA_CODE": ctx.geography.provider("council")[0],
            "SERVICE_TYPE": np.array(ASC_SERVICES, dtype=object)[kind],
            "START_DATE": _date_text(s_day),
            "END_DATE": _date_text(e_day),
            "PLANNED_HOURS_PER_WEEK": np.where(kind == _HOME, hours[local], np.nan),
            PERSON: p.pid[local],
        }
    )
    return {"extracts/social_care_services": extract}
