"""The chunk's people as arrays: dates of birth and death, time in care, condition onsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.synth import reference
from openphm.synth.community.common import DAYS_PER_YEAR, NO_DAY, _days
from openphm.synth.output import SynthContext


@dataclass
class _People:
    pid: np.ndarray  # person_index, int64
    nhs: np.ndarray  # str
    sex: np.ndarray  # '1' / '2'
    female: np.ndarray  # bool
    dob: np.ndarray  # day
    ethnic: np.ndarray  # NHS ethnic category code
    lsoa: np.ndarray  # LSOA of residence (2021 code)
    postcode: np.ndarray
    place: np.ndarray
    imd: np.ndarray
    frailty: np.ndarray
    access: np.ndarray
    age: np.ndarray  # years, in the middle of the person's time in care
    start: int  # first day of the period
    end: int  # the day after the period
    reg_from: np.ndarray  # day the first registration starts (never before birth)
    begin: np.ndarray  # first day in care: max(start, reg_from)
    stop: np.ndarray  # day after the last day in care: min(death + 1, end)
    death: np.ndarray  # day of death, NO_DAY if alive at the end
    conditions: list[str]
    onset: np.ndarray  # (n, conditions) day of onset, NO_DAY if none by ``stop``

    @property
    def n(self) -> int:
        return len(self.pid)

    def has(self, condition: str, day) -> np.ndarray:
        """Whether each person has the condition on ``day`` (scalar or per person)."""
        if condition not in self.conditions:
            return np.zeros(self.n, dtype=bool)
        return self.onset[:, self.conditions.index(condition)] <= day

    def onset_of(self, condition: str) -> np.ndarray:
        if condition not in self.conditions:
            return np.full(self.n, NO_DAY, dtype=np.int64)
        return self.onset[:, self.conditions.index(condition)]

    def first_onset(self, conditions) -> np.ndarray:
        out = np.full(self.n, NO_DAY, dtype=np.int64)
        for c in conditions:
            out = np.minimum(out, self.onset_of(c))
        return out

    def condition_count(self, day) -> np.ndarray:
        return (self.onset <= np.asarray(day).reshape(-1, 1)).sum(axis=1)


def _people(ctx: SynthContext, cohort: pd.DataFrame) -> _People:
    start, end = int(_days([ctx.start])[0]), int(_days([ctx.end])[0])
    dob = _days(cohort["date_of_birth"])
    death = _days(cohort["date_of_death"])
    reg_from = np.maximum(_days(cohort["registered_from"]), dob)
    begin = np.maximum(reg_from, start)  # born during the period: in care from registration
    stop = np.maximum(np.minimum(np.where(death < NO_DAY, death + 1, end), end), begin)
    names = [c for c in reference.conditions()["condition"] if f"onset_{c}" in cohort.columns]
    onset = np.full((len(cohort), len(names)), NO_DAY, dtype=np.int64)
    for j, name in enumerate(names):
        day = np.maximum(_days(cohort[f"onset_{name}"]), dob)
        onset[:, j] = np.where(day < stop, day, NO_DAY)  # none after death or the period
    mid = (begin + np.maximum(stop, begin + 1)) / 2
    return _People(
        pid=cohort["person_index"].to_numpy(dtype=np.int64),
        nhs=cohort["nhs_number"].to_numpy().astype(str),
        sex=cohort["sex"].to_numpy().astype(str),
        female=cohort["sex"].to_numpy().astype(str) == "2",
        dob=dob,
        ethnic=cohort["ethnic_category"].to_numpy().astype(str),
        lsoa=cohort["lsoa_code"].to_numpy().astype(str),
        postcode=cohort["postcode"].to_numpy().astype(str),
        place=cohort["place_code"].to_numpy().astype(str),
        imd=cohort["imd_decile"].to_numpy().astype(np.int64),
        frailty=cohort["frailty"].to_numpy(dtype=float),
        access=cohort["access"].to_numpy(dtype=float),
        age=(mid - dob) / DAYS_PER_YEAR,
        start=start,
        end=end,
        reg_from=reg_from,
        begin=begin,
        stop=stop,
        death=death,
        conditions=names,
        onset=onset,
    )
