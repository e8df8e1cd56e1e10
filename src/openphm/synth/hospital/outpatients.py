"""Outpatients: HES OP appointments along referral pathways."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.arrays import choose_rows
from openphm.synth.hospital.common import (
    _band_normalise,
    _choice,
    _dates,
    _exposure,
    _frame,
    _in_hospital,
    _interp,
    _pick,
)
from openphm.synth.hospital.keys import _key
from openphm.synth.hospital.people import _demographics
from openphm.synth.hospital.specialties import _condition_tfc, _specialty_weights
from openphm.synth.output import PERSON

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


def _outpatients(ctx, t, P, s, providers, rng) -> pd.DataFrame:
    start, _, stop, begin, exposure, age0 = _exposure(ctx, P)
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
    cond[rows] = choose_rows(rng, active[rows].astype(float))
    weights = _specialty_weights(t.w_outpatient, t, age, P.sex[pos], active)
    tfc = np.where(led, _condition_tfc(t, cond, age), choose_rows(rng, weights))
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
