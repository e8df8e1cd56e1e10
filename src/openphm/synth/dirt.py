"""Dirt: the faults real extracts arrive with, injected on purpose and recorded.

Every change is written to ``truth/dirt`` (file, record key, column, kind, the
value before and after), so ingest's quarantine can be checked against exactly
what was done. Rates are configurable; ``Dirt.none()`` gives clean files.

Kinds:
- ``invalid_nhs_number``: a wrong Modulus 11 check digit;
- ``impossible_date``: a date that does not exist ('2024-02-30');
- ``end_before_start``: an end date moved before its start date;
- ``unknown_code``: a diagnosis or SNOMED code that is well-formed-looking but invalid;
- ``demographic_typo``: a postcode or date-of-birth typo on a record without an NHS number
  (the ambulance and social care generators leave some records without one, as
  real ones arrive);
- ``duplicate_row``: a record delivered twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm import codes


@dataclass(frozen=True)
class Columns:
    """Which columns of an extract each kind of dirt may touch."""

    nhs: str | None = None
    start: str | None = None
    end: str | None = None
    icd10: str | None = None
    snomed: str | None = None
    dob: str | None = None
    postcode: str | None = None


@dataclass(frozen=True)
class Dirt:
    invalid_nhs_number: float = 0.002
    impossible_date: float = 0.0005
    end_before_start: float = 0.0005
    unknown_code: float = 0.001
    demographic_typo: float = 0.05  # of records without an NHS number
    duplicate_row: float = 0.001

    @classmethod
    def none(cls) -> Dirt:
        return cls(0, 0, 0, 0, 0, 0)


def _log(key, frame, rows, column, kind, before, after) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": key,
            "record_key": frame.iloc[rows, 0].astype(str).to_numpy(),
            "column": column,
            "kind": kind,
            "before": pd.Series(before, dtype="string").to_numpy(),
            "after": pd.Series(after, dtype="string").to_numpy(),
        }
    )


def _pick(rng: np.random.Generator, n: int, rate: float, eligible: np.ndarray | None = None):
    chosen = rng.random(n) < rate
    if eligible is not None:
        chosen &= eligible
    return np.flatnonzero(chosen)


def apply(
    key: str, frame: pd.DataFrame, cols: Columns, dirt: Dirt, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Return the dirty frame and the log of what was changed.

    The frame is changed in place: by now the OMOP tables and costing feeds have
    been built from the clean records, and nothing else reads them.
    """
    logs: list[pd.DataFrame] = []
    n = len(frame)

    def change(rows, column, kind, values):
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            # Dirty dates are not dates: hold the column as text, as the file will.
            frame[column] = frame[column].dt.strftime("%Y-%m-%d").fillna("")
        elif frame[column].dtype != object:
            frame[column] = frame[column].astype(object)
        before = frame[column].iloc[rows].astype("string").to_numpy()
        frame.iloc[rows, frame.columns.get_loc(column)] = values
        logs.append(_log(key, frame, rows, column, kind, before, values))

    if cols.nhs:
        present = frame[cols.nhs].fillna("").astype(str).str.len().to_numpy() == 10
        rows = _pick(rng, n, dirt.invalid_nhs_number, present)
        values = [codes.corrupt_nhs_number(v, rng) for v in frame[cols.nhs].iloc[rows]]
        change(rows, cols.nhs, "invalid_nhs_number", values)
        missing = frame[cols.nhs].fillna("").astype(str).str.len().to_numpy() != 10
        for column in (cols.postcode, cols.dob):
            if column:
                rows = _pick(rng, n, dirt.demographic_typo, missing)
                typo = _postcode_typo if column == cols.postcode else _dob_typo
                change(rows, column, "demographic_typo", typo(frame[column].iloc[rows], rng))
    if cols.start:
        rows = _pick(rng, n, dirt.impossible_date)
        change(rows, cols.start, "impossible_date", _impossible_dates(frame[cols.start].iloc[rows]))
    if cols.start and cols.end:
        has_end = (
            pd.to_datetime(frame[cols.end], errors="coerce", format="%Y-%m-%d").notna().to_numpy()
        )
        rows = _pick(rng, n, dirt.end_before_start, has_end)
        start = pd.to_datetime(frame[cols.start].iloc[rows], errors="coerce", format="%Y-%m-%d")
        earlier = (start - pd.Timedelta(days=3)).dt.strftime("%Y-%m-%d").fillna("")
        change(rows, cols.end, "end_before_start", earlier.to_numpy())
    for column, bad in ((cols.icd10, "U99X9"), (cols.snomed, "1234567")):
        if column:
            filled = frame[column].fillna("").astype(str).str.len().to_numpy() > 0
            rows = _pick(rng, n, dirt.unknown_code, filled)
            change(rows, column, "unknown_code", [bad] * len(rows))
    rows = _pick(rng, n, dirt.duplicate_row)
    if len(rows):
        logs.append(_log(key, frame, rows, "", "duplicate_row", [""] * len(rows), [""] * len(rows)))
        frame = pd.concat([frame, frame.iloc[rows]]).sort_index(kind="stable")
    return frame.reset_index(drop=True), logs


def _impossible_dates(values: pd.Series) -> np.ndarray:
    """Keep the year, make the day impossible: the 30th of February."""
    years = (
        pd.to_datetime(values, errors="coerce", format="%Y-%m-%d")
        .dt.year.fillna(2024)
        .astype(int)
        .astype(str)
    )
    return (years + "-02-30").to_numpy()


def _postcode_typo(values: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """Swap the two letters of the unit ('ZZ3 4AB' -> 'ZZ3 4BA') or drop the space."""
    text = values.fillna("").astype(str)
    swapped = text.str[:-2] + text.str[-1] + text.str[-2]
    nospace = text.str.replace(" ", "", regex=False)
    return np.where(rng.random(len(text)) < 0.5, swapped, nospace)


def _dob_typo(values: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """Day and month transposed where that is still a date, else one day out."""
    when = pd.to_datetime(values, errors="coerce", format="%Y-%m-%d")
    swapped = pd.to_datetime(
        when.dt.year.astype("Int64").astype(str)
        + "-"
        + when.dt.day.astype("Int64").astype(str).str.zfill(2)
        + "-"
        + when.dt.month.astype("Int64").astype(str).str.zfill(2),
        errors="coerce",
        format="%Y-%m-%d",
    )
    fallback = when + pd.to_timedelta(rng.choice([-1, 1], size=len(when)), unit="D")
    out = swapped.where(swapped.notna() & (swapped != when), fallback)
    return out.dt.strftime("%Y-%m-%d").fillna("").to_numpy()
