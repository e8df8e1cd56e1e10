"""GP events: coded diagnoses, consultations and monitoring observations in primary care."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.synth import reference
from openphm.synth.arrays import choose_rows
from openphm.synth.community.common import (
    NO_DAY,
    _band,
    _date_text,
    _dates,
    _deprivation,
    _minutes,
    _poisson_days,
    _record_ids,
)
from openphm.synth.community.people import _People
from openphm.synth.community.registrations import _Registrations
from openphm.synth.output import PERSON

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
    kind = choose_rows(rng, probs)
    shares = np.array([_STAFF_BY_CONTACT[c][0] for c in contacts])
    means = np.array([_STAFF_BY_CONTACT[c][1] for c in contacts])
    staff = choose_rows(rng, shares[kind])
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
