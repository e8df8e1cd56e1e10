"""Admitted patient care: HES APC episodes, and the spell, procedure and critical care truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.hospital.common import _NEVER, NULL_DATE, _dates, _frame, _map, _period, _zfill
from openphm.synth.hospital.keys import _key
from openphm.synth.hospital.people import _demographics
from openphm.synth.hospital.spells import _ELECTIVE, _spells
from openphm.synth.hospital.tables import _setting
from openphm.synth.output import PERSON

SECONDARY_CODING = 0.7  # chance an active condition is coded on an admission
INCIDENTAL_PER_SPELL = 0.7  # expected incidental codes on a spell at 70 (scaled by age)
LATERALITY_OPCS = ("Z942", "Z943")  # right, left
LATERAL_SPECIALTIES = {"110": 0.8, "130": 0.95}
EPISODES_PER_DAY = 0.037  # extra episodes per day of stay
MAX_EPISODES = 8
CRITICAL_CARE = 0.05  # of emergency spells of a day or more (died in hospital: 0.25)
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


def _apc(ctx, t, P, emergencies, providers, rng):
    _, end = _period(ctx)
    s = _spells(ctx, t, P, emergencies, providers, rng)
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
