"""The chunk's people as arrays, and where they live and are treated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.synth.hospital.common import _NEVER, _choice, _dates, _days, _period
from openphm.synth.hospital.tables import _Tables
from openphm.synth.output import SynthContext

_CARE_HOME_CODES = ("54", "65", "85")
_CARE_HOME_P = (0.1, 0.3, 0.6)


@dataclass
class _People:
    pidx: np.ndarray
    dob: np.ndarray
    death: np.ndarray
    sex: np.ndarray
    imd: np.ndarray
    frailty: np.ndarray
    access: np.ndarray
    onset: np.ndarray  # (N, C) days, _NEVER where not affected
    code_idx: np.ndarray  # (N, C) which of a condition's codes this person's records use
    main: np.ndarray  # index of the main acute trust
    care_home: np.ndarray  # '' or the care home ADMISORC/DISDEST code
    demographics: list[np.ndarray]  # NHS number, ethnic category, LSOA, postcode, practice


def _people(ctx: SynthContext, cohort: pd.DataFrame, t: _Tables, providers, rng) -> _People:
    n = len(cohort)
    onset = np.full((n, len(t.conditions)), _NEVER, dtype=np.int64)
    for j, c in enumerate(t.conditions):
        if f"onset_{c}" in cohort.columns:
            onset[:, j] = _days(cohort[f"onset_{c}"].to_numpy())
    code_idx = np.floor(rng.random(onset.shape) * t.cond_ncodes[None, :]).astype(np.int64)

    places = np.sort(pd.unique(np.asarray(ctx.geography.lsoa["place_code"], dtype=str)))
    rank = np.clip(np.searchsorted(places, cohort["place_code"].to_numpy().astype(str)), 0, None)
    main = np.minimum(rank * len(providers) // max(len(places), 1), len(providers) - 1)

    dob = _days(cohort["date_of_birth"].to_numpy())
    start, _ = _period(ctx)
    age0 = (start - dob) / 365.25
    idx = {c: j for j, c in enumerate(t.conditions)}
    frail = np.zeros(n, dtype=bool)
    for c in ("dementia", "frailty"):
        if c in idx:
            frail |= onset[:, idx[c]] <= start
    p_home = np.where((age0 >= 80) & frail, 0.35, np.where(age0 >= 85, 0.04, 0.0))
    home = rng.random(n) < p_home
    home_code = _choice(rng, n, tuple(zip(_CARE_HOME_CODES, _CARE_HOME_P, strict=True)))
    return _People(
        pidx=cohort["person_index"].to_numpy().astype(np.int64),
        dob=dob,
        death=_days(cohort["date_of_death"].to_numpy()),
        sex=cohort["sex"].to_numpy().astype("<U1"),
        imd=cohort["imd_decile"].to_numpy().astype(np.int64),
        frailty=cohort["frailty"].to_numpy(dtype=float),
        access=cohort["access"].to_numpy(dtype=float),
        onset=onset,
        code_idx=code_idx,
        main=main.astype(np.int64),
        care_home=np.where(home, home_code, "").astype("<U2"),
        demographics=[
            cohort[c].to_numpy().astype(str)
            for c in ("nhs_number", "ethnic_category", "lsoa_code", "postcode", "practice_code")
        ],
    )


def _demographics(P: _People, rows: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    values = [P.demographics[0][rows], _dates(P.dob[rows]), P.sex[rows]]
    values += [column[rows] for column in P.demographics[1:]]
    names = {
        "apc": ("NEWNHSNO", "DOB", "SEX", "ETHNOS", "LSOA21", "HOMEADD", "GPPRAC"),
        "ecds": (
            "NHS_NUMBER",
            "DATE_OF_BIRTH",
            "STATED_GENDER",
            "ETHNIC_CATEGORY",
            "LSOA",
            "POSTCODE",
            "GP_PRACTICE",
        ),
    }[kind]
    return dict(zip(names, values, strict=True))
