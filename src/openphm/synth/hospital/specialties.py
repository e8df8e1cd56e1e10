"""Which specialty an admission or a referral goes to."""

from __future__ import annotations

import numpy as np

from openphm.synth.hospital.tables import _Tables

# Specialties nobody is sent to without the condition.
SPECIALTY_REQUIRES = {"800": "cancer"}


def _specialty_weights(base: np.ndarray, t: _Tables, age, sex, active) -> np.ndarray:
    """Specialty weights per row: children to paediatrics, pregnancy to women, and so on."""
    tfc = t.tfc
    w = np.broadcast_to(base, (len(age), len(tfc))).copy()
    child = (age < 16)[:, None]
    adult_only = np.isin(tfc, ["430", "501", "502", "800", "361", "710", "320", "101"])[None, :]
    w = np.where(child & adult_only, 0.0, w)
    col = {c: i for i, c in enumerate(tfc)}
    if "420" in col:
        w[:, col["420"]] = np.where(age < 16, base[col["420"]] * 8 + 0.05, 0.0)
    if "430" in col:
        w[:, col["430"]] *= np.where(age >= 75, 2.5, np.where(age >= 65, 0.6, 0.0))
    female = sex == "2"
    if "501" in col:
        w[:, col["501"]] *= np.where(female & (age >= 15) & (age < 50), 4.0, 0.0)
    if "502" in col:
        w[:, col["502"]] *= np.where(female & (age >= 15), 2.0, 0.0)
    cidx = {c: j for j, c in enumerate(t.conditions)}
    for spec, cond in SPECIALTY_REQUIRES.items():
        if spec in col:
            has = active[:, cidx[cond]] if cond in cidx else np.zeros(len(age), dtype=bool)
            w[:, col[spec]] *= has
    w[w.sum(axis=1) == 0, col.get("300", 0)] = 1.0
    return w


def _condition_tfc(t: _Tables, cond: np.ndarray, age: np.ndarray) -> np.ndarray:
    paeds = np.flatnonzero(t.tfc == "420")
    tfc = t.cond_tfc[np.maximum(cond, 0)]
    if len(paeds):
        tfc = np.where(age < 16, paeds[0], tfc)
    return tfc
