"""Day numbers, small vectorised helpers and the look-ups every hospital extract shares."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

NULL_DATE = np.datetime64("1800-01-01", "D")
_NEVER = np.int64(10**8)  # a day number after any real date: no onset, no death
_AGE_BANDS = np.array([0, 15, 45, 65, 75, 85])


class _Exposure(NamedTuple):
    """The period as day numbers, and each person's time in it."""

    start: np.int64  # first day of the period
    end: np.int64  # the day after the period
    stop: np.ndarray  # the day after each person's last day: death + 1 or the period's end
    begin: np.ndarray  # each person's first day: the period's start or birth
    exposure: np.ndarray  # days in the period
    age0: np.ndarray  # years at the period's start (0 if born later)


def _period(ctx) -> tuple[np.int64, np.int64]:
    """The period ``[ctx.start, ctx.end)`` as day numbers."""
    start = _days(np.array([ctx.start.to_datetime64()]))[0]
    end = _days(np.array([ctx.end.to_datetime64()]))[0]
    return start, end


def _exposure(ctx, P) -> _Exposure:
    """The period and the time people ``P`` spend in it."""
    start, end = _period(ctx)
    stop = np.minimum(end, P.death + 1)
    begin = np.maximum(start, P.dob)
    exposure = np.maximum(stop - begin, 0)
    age0 = np.maximum(start - P.dob, 0) / 365.25
    return _Exposure(start, end, stop, begin, exposure, age0)


def _days(values) -> np.ndarray:
    """datetime-like -> int64 days since 1970-01-01; NaT -> _NEVER."""
    a = np.asarray(values).astype("datetime64[D]")
    out = a.astype(np.int64)
    out[np.isnat(a)] = _NEVER
    return out


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    if valid is not None:
        out = np.where(valid, out, np.datetime64("NaT", "D"))
    return out.astype("datetime64[ns]")


def _map(values: np.ndarray, fn) -> np.ndarray:
    """``fn`` of each value, computed once per distinct value rather than per record."""
    distinct, inverse = np.unique(np.asarray(values), return_inverse=True)
    return np.asarray([fn(v) for v in distinct.tolist()] or [0])[inverse.reshape(-1)]


def _interp(age: np.ndarray, table) -> np.ndarray:
    x, y = zip(*table, strict=True)
    return np.interp(age, x, y)


def _choice(rng, n: int, table) -> np.ndarray:
    values, p = zip(*table, strict=True)
    p = np.asarray(p, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=n, p=p / p.sum())]


def _pick(rng, matrix: np.ndarray, counts: np.ndarray, group: np.ndarray) -> np.ndarray:
    """A random code from row ``group`` of a padded code matrix ('' where the row is empty)."""
    n = counts[group]
    k = np.floor(rng.random(len(group)) * np.maximum(n, 1)).astype(np.int64)
    return np.where(n > 0, matrix[group, k], "")


def _band_normalise(mult: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Divide by the mean within age band, so multipliers move risk, not the band's rate."""
    band = np.searchsorted(_AGE_BANDS, age, side="right") - 1
    sums = np.bincount(band, mult, minlength=len(_AGE_BANDS))
    counts = np.bincount(band, minlength=len(_AGE_BANDS))
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)
    return mult / mean[band]


def _zfill(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded strings of ``width`` digits."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return np.zeros(0, dtype=f"<U{width}")
    return np.strings.zfill(values.astype(f"<U{width}"), width)


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A DataFrame from NumPy columns; empty code columns share one string array, which
    makes a frame of mostly unused code positions cheap to build."""
    empty = None
    out = {}
    for name, values in columns.items():
        if values.dtype.kind == "U" and len(values) and not (values != "").any():
            if empty is None:
                empty = pd.array(np.full(len(values), "", dtype="<U1"), dtype="str")
            out[name] = empty
        else:
            out[name] = values
    return pd.DataFrame(out)


def _next_in_group(group: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    out = np.full(len(values), fill, dtype=values.dtype)
    if len(values) > 1:
        same = group[1:] == group[:-1]
        out[:-1] = np.where(same, values[1:], fill)
    return out


def _in_hospital(s, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether each (person row, day) falls inside a stay: after admission, before discharge."""
    if len(s["pos"]) == 0 or len(pos) == 0:
        return np.zeros(len(pos), dtype=bool)
    big = np.int64(2**24)  # day numbers are far below this
    key = s["pos"] * big + s["adm"]
    order = np.argsort(key, kind="stable")
    row = np.searchsorted(key[order], pos * big + day, side="right") - 1
    spell = order[np.clip(row, 0, None)]
    return (row >= 0) & (s["pos"][spell] == pos) & (s["adm"][spell] < day) & (day < s["dis"][spell])
