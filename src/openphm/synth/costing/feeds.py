"""Activity feeds: each chunk's hospital and community records as costed activity rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.costing.centres import CENTRES, WARD_ACUITY
from openphm.synth.costing.clinical_support import _imaging, _pathology, _pharmacy
from openphm.synth.costing.common import (
    _BIG,
    AMBULANCE,
    APC,
    COMMUNITY,
    ECDS,
    FEEDS,
    MH,
    OP,
    SOURCES,
    _clock,
    _day,
    _days,
    _np,
)
from openphm.synth.costing.rows import _concat, _enc, _raw
from openphm.synth.output import PERSON, SynthContext

_WARD_BY_TFC = dict.fromkeys(("100", "101", "110", "120", "130", "502"), "W04 Surgical ward")
_WARD_BY_TFC |= {"320": "W05 Cardiology ward", "420": "W06 Children's ward"}
_WARD_BY_TFC |= {"800": "W07 Oncology ward", "501": "W08 Maternity ward", "430": "W03 Elderly care"}
_THEATRE = {"theatre": "TH01 Theatres", "endoscopy": "TH02 Endoscopy"}
_THEATRE["cath_lab"] = "TH03 Cardiac catheter laboratory"
_COMMUNITY = dict.fromkeys(("district_nursing", "community_matron", "continence"), "CM01")
_COMMUNITY["health_visiting"] = "CM03"
_MH = {"crisis_resolution_home_treatment": ("MH02", "crisis_resolution_minute")}
_MH["psychological_therapies"] = ("MH03", "psychological_therapies_minute")
_OP_STAFF = {"01": "consultant", "03": "registrar", "04": "staff_grade", "08": "nurse"}
_OP_MINUTES = {"1": 30.0, "2": 17.0, "3": 20.0, "4": 12.0}  # mean by FIRSTATT


def _build(frames: dict, ctx: SynthContext, rng) -> dict[str, dict]:
    """Every feed's rows before matching, drawn in a fixed order."""
    parts: dict[str, list] = {feed: [_raw(APC, [], 0, "", "", 0, 0, "", "", 0)] for feed in FEEDS}
    if "extracts/hes_apc" in frames:
        ep = _episodes(frames, ctx, rng)
        extra = np.array([WARD_ACUITY[c] for c in ep["centre"]])
        parts["ward_stay"].append(
            _enc(
                ep,
                slice(None),
                0,
                ep["day0"],
                ep["centre"],
                "general_and_acute_bed_minute",
                ep["end"] - ep["start"],
                extra=extra,
                start=ep["start"],
                end=ep["end"],
            )
        )
        proc = _procedures(frames, ep)
        parts["theatre"].append(_theatre(proc, rng))
        parts["critical_care"].append(_critical_care(frames["truth/critical_care"], ep, rng))
        enc = _hospital_encounters(frames, ep)
        parts["pathology"].append(_pathology(enc, rng))
        parts["imaging"] += [_imaging(enc, rng), _interventional(proc)]
        parts["pharmacy"].append(_pharmacy(enc, ep, proc, rng))
        parts["contacts"].append(_hospital_contacts(frames, proc, rng))
    if "extracts/community_contacts" in frames:
        parts["contacts"] += _community_contacts(frames)
    return {feed: _concat(found) for feed, found in parts.items()}


def _episodes(frames: dict, ctx: SynthContext, rng) -> dict:
    """APC episodes with ward-stay times, contiguous and strictly increasing in a spell."""
    apc, spells = frames["extracts/hes_apc"], frames["truth/apc_spells"].set_index("PROVSPNOPS")
    code = pd.factorize(apc["PROVSPNOPS"])[0]
    order = np.lexsort((apc["EPIORDER"].astype(int).to_numpy(), code))
    ep, s, n = apc.iloc[order], code[order], len(apc)
    first, last = np.r_[True, s[1:] != s[:-1]][:n], np.r_[s[1:] != s[:-1], True][:n]
    rank = np.cumsum(first) - 1
    leave_day = _days(spells["discharge_date"].reindex(ep["PROVSPNOPS"]))
    meth = ep["ADMIMETH"].to_numpy(dtype=str)
    planned, emergency = np.char.startswith(meth, "1"), np.char.startswith(meth, "2")
    arrive = np.round(600 + rng.normal(0, 300, n)).astype(np.int64) % 1440
    arrive = np.where(planned, rng.integers(420, 600, n), arrive)
    arrive = np.where(meth == "81", rng.integers(600, 1080, n), arrive)
    point = _days(ep["EPISTART"]) * 1440 + np.where(first, arrive, rng.integers(480, 1080, n))
    daycase = ep["CLASSPAT"].to_numpy(dtype=str) == "2"
    stay = np.where(daycase, rng.integers(180, 480, n), rng.integers(120, 600, n))
    same_day = leave_day == _days(ep["ADMIDATE"])
    leave = np.minimum(point[np.flatnonzero(first)[rank]] + stay, leave_day * 1440 + 1439)
    leave = np.where(same_day, leave, leave_day * 1440 + rng.integers(600, 1140, n))
    pos, size = np.arange(n) + rank, n + int(first.sum())
    vals, group = np.empty(size, np.int64), np.empty(size, np.int64)
    vals[pos], group[pos] = point, rank
    vals[pos[last] + 1], group[pos[last] + 1] = leave[last], rank[last]
    vals = vals[np.lexsort((vals, group))]
    j = np.arange(size) - pos[first][group]
    vals = np.maximum.accumulate(group * _BIG + vals - j) - group * _BIG + j
    tfc = ep["TRETSPEF"].astype(str)
    centre = tfc.map(_WARD_BY_TFC).fillna("W02 General medicine").to_numpy(dtype=object)
    centre[emergency & first & (centre == "W02 General medicine")] = "W01 Acute medical unit"
    centre[daycase] = "W09 Day case unit"
    out = {"src": np.full(n, APC), "key": ep["EPIKEY"].to_numpy(np.int64)}
    out |= {"provider": _np(ep["PROCODE3"], object), "nhs": _np(ep["NEWNHSNO"], object)}
    out |= {"person": ep[PERSON].to_numpy(np.int64), "start": vals[pos], "end": vals[pos + 1]}
    out |= {"day0": vals[pos] // 1440, "day1": np.minimum(vals[pos + 1] // 1440, _day(ctx.end) - 1)}
    out["profile"] = np.select([daycase, first & emergency, first], [3, 0, 1], 2)
    finished = spells["finished"].reindex(ep["PROVSPNOPS"]).to_numpy(bool)
    return out | {"centre": centre, "last": last, "finished": finished}


def _procedures(frames: dict, ep: dict) -> dict:
    p = frames["truth/procedures"]
    key = p["EPIKEY"].to_numpy(np.int64)
    nhs = pd.Series(ep["nhs"], index=ep["key"]).reindex(key).to_numpy(dtype=object)
    out = {"src": np.full(len(p), APC), "key": key, "sub": p["position"].to_numpy(np.int64)}
    out |= {
        "provider": _np(p["PROCODE3"], object),
        "nhs": nhs,
        "person": _np(p["person_index"], np.int64),
    }
    out |= {"day": _days(p["procedure_date"]), "setting": _np(p["setting"], object)}
    return out | {"minutes": p["minutes"].to_numpy(np.int64)}


def _theatre(proc: dict, rng) -> dict:
    i = np.flatnonzero(np.isin(proc["setting"], list(_THEATRE)) & (proc["minutes"] > 0))
    setting, minutes = proc["setting"][i], proc["minutes"][i]
    start = proc["day"][i] * 1440 + rng.integers(480, 1020, i.size)
    return _enc(
        proc,
        i,
        proc["sub"][i],
        proc["day"][i],
        [_THEATRE[s] for s in setting],
        setting + "_minute",
        minutes,
        start=start,
        end=start + minutes,
    )


def _interventional(proc: dict) -> dict:
    i = np.flatnonzero(proc["setting"] == "imaging")
    return _enc(
        proc, i, proc["sub"][i], proc["day"][i], "IM01 Imaging", "interventional_radiology", 1
    )


def _critical_care(cc: pd.DataFrame, ep: dict, rng) -> dict:
    day, days = _days(cc["start_date"]), cc["days"].to_numpy(np.int64)
    start = day * 1440 + rng.integers(0, 1440, len(cc))
    key = cc["EPIKEY"].to_numpy(np.int64)
    nhs = pd.Series(ep["nhs"], index=ep["key"]).reindex(key)
    item = "level_" + cc["level"].astype(str) + "_bed_day"
    return _raw(
        APC,
        key,
        cc.groupby("EPIKEY").cumcount(),
        cc["PROCODE3"],
        nhs,
        cc["person_index"],
        day,
        "CC01 Critical care",
        item,
        days,
        start=start,
        end=start + days * 1440,
    )


def _hospital_encounters(frames: dict, ep: dict) -> dict:
    """Episodes, seen outpatient appointments and A&E attendances, for tests and issues."""
    parts = [
        {k: ep[k] for k in ("src", "key", "provider", "nhs", "person", "day0", "day1", "profile")}
    ]
    op = frames["extracts/hes_op"]
    op = op[op["ATTENDED"].isin(["5", "6"])]
    ae = frames["extracts/ecds"]
    for src, f, cols, profile in (
        (OP, op, ("ATTENDKEY", "PROCODE3", "NEWNHSNO", "APPTDATE"), 4),
        (
            ECDS,
            ae,
            ("EC_IDENT", "DER_PROVIDER_CODE", "NHS_NUMBER", "ARRIVAL_DATE"),
            np.where(ae["DEPARTMENT_TYPE"] == "01", 5, 6),
        ),
    ):
        day = _days(f[cols[3]])
        part = {"src": np.full(len(f), src), "key": f[cols[0]].to_numpy(np.int64)}
        part |= {"provider": _np(f[cols[1]], object), "nhs": _np(f[cols[2]], object)}
        part |= {"person": f[PERSON].to_numpy(np.int64), "day0": day, "day1": day}
        parts.append(part | {"profile": np.broadcast_to(profile, day.shape)})
    return _concat(parts)


def _hospital_contacts(frames: dict, proc: dict, rng) -> dict:
    """Outpatient minutes, A&E minutes in department, radiotherapy minutes."""
    op = frames["extracts/hes_op"]
    op = op[op["ATTENDED"].isin(["5", "6"])]
    mean = op["FIRSTATT"].map(_OP_MINUTES).to_numpy(float)
    minutes = np.maximum(5, np.round(rng.gamma(6.0, mean / 6.0)))
    item = "outpatient_" + op["STAFFTYP"].map(_OP_STAFF) + "_minute"
    rows = [
        _raw(
            OP,
            op["ATTENDKEY"],
            0,
            op["PROCODE3"],
            op["NEWNHSNO"],
            op[PERSON],
            _days(op["APPTDATE"]),
            "OP01 Outpatients",
            item,
            minutes,
        )
    ]
    ae = frames["extracts/ecds"]
    stay = frames["truth/ae_attendances"].set_index("EC_IDENT")["minutes_in_department"]
    minutes = stay.reindex(ae["EC_IDENT"]).to_numpy(np.int64)
    type1 = (ae["DEPARTMENT_TYPE"] == "01").to_numpy()
    centre = np.where(type1, "AE01 Emergency department", "AE02 Urgent treatment centre")
    item = np.where(type1, "ae_type1_minute", "ae_type3_minute")
    columns = ("EC_IDENT", "DER_PROVIDER_CODE", "NHS_NUMBER", "ARRIVAL_DATE", "ARRIVAL_TIME")
    rows.append(_timed(ECDS, ae, columns, centre, item, minutes))
    i = np.flatnonzero((proc["setting"] == "radiotherapy") & (proc["minutes"] > 0))
    rows.append(
        _enc(
            proc,
            i,
            proc["sub"][i],
            proc["day"][i],
            "RT01 Radiotherapy",
            "radiotherapy_minute",
            proc["minutes"][i],
        )
    )
    return _concat(rows)


def _community_contacts(frames: dict) -> list[dict]:
    """Attended community and mental health contacts, and every ambulance incident."""
    rows, names = [], {c[:4]: c for c in CENTRES}
    for src, minutes, team in (
        (COMMUNITY, "CARE_CONTACT_DURATION", "TEAM_TYPE"),
        (MH, "CONTACT_DURATION", "SERVICE_TYPE"),
    ):
        f = frames[SOURCES[src][0]]
        f = f[f["ATTENDED"] == "Y"]
        team = f[team].to_numpy(dtype=object)
        if src == COMMUNITY:
            centre = [names[_COMMUNITY.get(t, "CM02")] for t in team]
            item = team + "_minute"
        else:
            centre = [names[_MH.get(t, ("MH01",))[0]] for t in team]
            item = [_MH.get(t, ("", "mental_health_minute"))[1] for t in team]
        rows.append(
            _raw(
                src,
                f["CONTACT_ID"],
                0,
                f["PROVIDER_CODE"],
                f["NHS_NUMBER"],
                f[PERSON],
                _days(f["CONTACT_DATE"]),
                centre,
                item,
                f[minutes],
            )
        )
    amb, cm = frames["extracts/ambulance_incidents"], frames["truth/care_minutes"]
    cm = cm[cm["file"] == "extracts/ambulance_incidents"].set_index("record_id")["minutes"]
    minutes = np.maximum(1, np.round(cm.reindex(amb["INCIDENT_ID"]).to_numpy())).astype(np.int64)
    hub = (amb["OUTCOME"] == "hear_and_treat").to_numpy()
    centre = np.where(hub, "AM02 Clinical hub", "AM01 Ambulance operations")
    columns = ("INCIDENT_ID", "PROVIDER_CODE", "NHS_NUMBER", "INCIDENT_DATE", "INCIDENT_TIME")
    rows.append(_timed(AMBULANCE, amb, columns, centre, amb["OUTCOME"] + "_minute", minutes))
    return rows


def _timed(src: int, f, columns, centre, item, minutes) -> dict:
    """Feed rows of contacts that start at a stated date and time and last ``minutes``;
    ``columns`` name ``f``'s key, provider, NHS number, date and time."""
    key, provider, nhs, date, time = columns
    day = _days(f[date])
    start = day * 1440 + _clock(f[time])
    return _raw(
        src,
        f[key],
        0,
        f[provider],
        f[nhs],
        f[PERSON],
        day,
        centre,
        item,
        minutes,
        start=start,
        end=start + minutes,
    )
