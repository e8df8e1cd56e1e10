"""Day numbers, record keys and the small helpers every community extract shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from openphm.synth.arrays import sequence

if TYPE_CHECKING:
    from openphm.synth.community.people import _People

DAYS_PER_YEAR = 365.25
RECORD_STRIDE = 10_000  # record key = person_index * RECORD_STRIDE + n
NO_DAY = np.iinfo(np.int64).max // 4  # "never", far beyond any real day number
MAX_EVENTS_PER_YEAR = 365.0


def _days(values) -> np.ndarray:
    """Dates as int64 day numbers since 1970-01-01; NaT becomes NO_DAY."""
    array = np.asarray(values, dtype="datetime64[D]")
    out = array.astype(np.int64)
    out[np.isnat(array)] = NO_DAY
    return out


def _date_text(days: np.ndarray) -> np.ndarray:
    """Day numbers as 'YYYY-MM-DD' text (object array); NO_DAY becomes ''."""
    days = np.asarray(days, dtype=np.int64)
    out = np.full(len(days), "", dtype=object)
    known = days < NO_DAY
    if known.any():
        lo, hi = int(days[known].min()), int(days[known].max())
        table = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]"))
        out[known] = table.astype(object)[days[known] - lo]
    return out


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers back to datetime64[ns]; NO_DAY becomes NaT."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days >= NO_DAY] = np.datetime64("NaT")
    return out


def _deprivation(imd: np.ndarray) -> np.ndarray:
    return (10 - imd) / 9.0


def _band(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 1)


def _poisson_days(rng, lo: np.ndarray, hi: np.ndarray, rate: np.ndarray):
    """Events of a Poisson process with ``rate`` a year on days [lo, hi): (unit, day)."""
    span = np.maximum(hi - lo, 0)
    # Products of frailty, conditions and propensity have long tails; nobody gets
    # more than a contact a day from one service, however frail.
    rate = np.minimum(rate, MAX_EVENTS_PER_YEAR)
    count = rng.poisson(rate * span / DAYS_PER_YEAR)
    unit = np.repeat(np.arange(len(lo)), count)
    day = lo[unit] + np.floor(rng.random(len(unit)) * span[unit]).astype(np.int64)
    return unit, day


def _record_ids(p: _People, local: np.ndarray) -> np.ndarray:
    seq = sequence(local)
    if len(seq) and seq.max() >= RECORD_STRIDE:
        raise ValueError(f"a person has more than {RECORD_STRIDE:,} records in one file")
    return p.pid[local] * RECORD_STRIDE + seq


def _minutes(rng, mean: np.ndarray, shape: float = 4.0) -> np.ndarray:
    """Gamma durations around ``mean``, in whole minutes, at least 5."""
    return np.maximum(np.round(rng.gamma(shape, mean / shape)), 5.0)


def _linkable(p: _People, local: np.ndarray, removed: np.ndarray) -> dict[str, np.ndarray]:
    """The columns that let a record be linked without its NHS number (blanked where
    ``removed``): NHS number, date of birth, sex and postcode."""
    return {
        "NHS_NUMBER": np.where(removed, "", p.nhs[local]).astype(object),
        "DATE_OF_BIRTH": _date_text(p.dob[local]),
        "SEX": p.sex[local],
        "POSTCODE": p.postcode[local],
    }
