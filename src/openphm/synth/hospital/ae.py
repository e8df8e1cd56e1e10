"""A&E: ECDS attendances, admitted (one per spell admitted via A&E) and not, and their truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm import codes
from openphm.synth.arrays import choose_rows
from openphm.synth.hospital.common import _dates, _exposure, _frame, _in_hospital, _interp
from openphm.synth.hospital.keys import _key
from openphm.synth.hospital.people import _demographics
from openphm.synth.output import PERSON

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
COMPLAINT_FOLLOWS_DIAGNOSIS = 0.9

for _code in SCT.values():
    assert codes.is_valid_sctid(_code), _code  # noqa: S101 - a typo here must fail at import

_CLOCK = np.array([f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)])


def _ae(ctx, t, P, s, provspno, prov_code, cc, cc_level, providers, rng):
    start, _, stop, begin, exposure, age0 = _exposure(ctx, P)
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
    diag_i = choose_rows(rng, wd)
    pc = t.ae_comp_p
    wc = np.where(admitted[:, None], t.ae_comp_w * pc, t.ae_comp_w * (1 - pc))
    comp_random = t.ae_comp[choose_rows(rng, wc)]
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
