"""Hospital provider spells: emergency, elective and day-case stays, and transfers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.arrays import choose_rows
from openphm.synth.hospital.common import (
    _NEVER,
    _band_normalise,
    _choice,
    _days,
    _exposure,
    _interp,
    _map,
    _next_in_group,
    _period,
    _pick,
)
from openphm.synth.hospital.specialties import _condition_tfc, _specialty_weights

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
CHEMOTHERAPY_ICD10 = "Z511"

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


def _spells(ctx, t, P, emergencies, providers, rng) -> dict[str, np.ndarray]:
    """Every provider spell of the chunk, sorted by person, admission and kind; ``parent``
    is the row of the spell that starts its continuous inpatient spell."""
    emerg = _emergency_spells(t, P, emergencies, providers, rng)
    planned = _elective_spells(ctx, t, P, providers, rng)
    s = _merge_planned(emerg, planned, P)
    s = _transfers(s, ctx, t, P, providers, rng)
    s["parent"] = np.where(s["parent"] < 0, np.arange(len(s["parent"])), s["parent"])
    return s


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
    cond[rows] = choose_rows(rng, active[rows] * log_rr[None, :])
    weights = _specialty_weights(t.w_emergency, t, age, P.sex[pos], active)
    tfc = np.where(led, _condition_tfc(t, cond, age), choose_rows(rng, weights))
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
    start, _, stop, begin, exposure, age0 = _exposure(ctx, P)
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
    cond[rows] = choose_rows(rng, active[rows] * pull[None, :])
    weights = _specialty_weights(t.w_elective, t, age, P.sex[pos], active)
    tfc = np.where(led, _condition_tfc(t, cond, age), choose_rows(rng, weights))
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
    _, end = _period(ctx)
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
