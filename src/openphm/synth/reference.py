"""The reference data ``openphm synth`` is built on: small CSV files in ``synth/data``.

Each file's source and licence is in ``synth/data/README.md``. The files hold codes and
our own short labels only, never SNOMED CT or WHO ICD-10 description text.

Every column is read as text first, so codes keep their exact spelling (a SNOMED CT id
stays a str, never an int or a float; '0-4' stays an age band). Only the columns named
in ``_NUMERIC`` are then converted, each to its stated dtype. Frames are read once and
cached; each call returns a copy, so a caller that changes one changes nobody else's.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import pandas as pd

_DATA = ("synth", "data")  # inside the regular package ``openphm``, so installs find it

# The non-text columns of each file and their dtypes; every other column is a str.
_NUMERIC: dict[str, dict[str, str]] = {
    "england_age_sex": {"population": "int64"},
    "ethnicity_by_imd": {"imd_quintile": "int64", "share": "float64"},
    "conditions": {
        "qof_prevalence": "float64",
        "qof_age_min": "int64",
        "qof_prevalence_all_ages": "float64",
        "onset_age_mean": "float64",
        "onset_age_sd": "float64",
        "imd_gradient": "float64",
        "frailty_loading": "float64",
        "emergency_rr": "float64",
    },
    "calibration_targets": {"target": "float64", "tolerance": "float64"},
    "specialties": {
        "elective_weight": "float64",
        "emergency_weight": "float64",
        "outpatient_weight": "float64",
    },
    "ae_codes": {"weight": "float64", "admission_propensity": "float64"},
    "gp_codes": {"value_min": "float64", "value_max": "float64"},
}

CODE_SEPARATOR = "|"


def _data_dir():
    return resources.files("openphm").joinpath(*_DATA)


def names() -> list[str]:
    """The reference files shipped, by name (without '.csv'), sorted."""
    return sorted(
        entry.name.removesuffix(".csv")
        for entry in _data_dir().iterdir()
        if entry.name.endswith(".csv")
    )


@lru_cache(maxsize=32)
def _read(name: str) -> pd.DataFrame:
    available = names()
    if name not in available:
        raise KeyError(f"no reference file {name!r}; the files are: {', '.join(available)}")
    with _data_dir().joinpath(f"{name}.csv").open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh, dtype=str, keep_default_na=False, na_filter=False)
    for column, dtype in _NUMERIC.get(name, {}).items():
        if column not in frame.columns:
            raise ValueError(f"reference file {name}.csv has no column {column!r}")
        values = pd.to_numeric(frame[column].replace("", float("nan")), errors="raise")
        frame[column] = values.astype(dtype)
    return frame


def load(name: str) -> pd.DataFrame:
    """The reference file ``name`` ('conditions' or 'conditions.csv') as a typed frame.

    Raises KeyError, naming the files there are, for a name that is not one of them.
    """
    return _read(name.removesuffix(".csv")).copy()


def age_sex() -> pd.DataFrame:
    """England's population by ESP 2013 age band and sex ('1' male, '2' female), mid-2022.

    Columns: age_band (str, '0-4' .. '85-89', '90+'), sex (str), population (int64).
    """
    return load("england_age_sex")


def ethnicity_by_imd() -> pd.DataFrame:
    """Share of each NHS ethnic category within each IMD quintile (1 = most deprived).

    Columns: imd_quintile (int64), ethnic_category (str), label (str), share (float64);
    the shares of a quintile add up to 1.
    """
    return load("ethnicity_by_imd")


def conditions() -> pd.DataFrame:
    """The long-term conditions the synthetic ICS generates, one row each.

    ``qof_prevalence`` is as QOF publishes it, on patients aged ``qof_age_min`` and over;
    ``qof_prevalence_all_ages`` is the same register as a share of all patients.
    """
    return load("conditions")


def calibration_targets() -> pd.DataFrame:
    """What the synthetic ICS must match: metric, group, target, tolerance (relative), unit."""
    return load("calibration_targets")


def specialties() -> pd.DataFrame:
    """Treatment functions with their share of each setting and typical codes."""
    return load("specialties")


def ae_codes() -> pd.DataFrame:
    """ECDS chief complaints and diagnoses (SNOMED CT) with weights and admission propensity."""
    return load("ae_codes")


def gp_codes() -> pd.DataFrame:
    """SNOMED CT codes for GP observations, contacts and prescriptions, with value ranges."""
    return load("gp_codes")


def codes(values: str | Iterable[str]) -> list[str]:
    """The codes in one pipe-separated string or a column of them, in order, each once.

    Empty strings and missing values hold no codes: ``codes(['I10|I11', '', 'I10'])`` is
    ``['I10', 'I11']``.
    """
    if isinstance(values, str):
        values = [values]
    out: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
                continue
            raise TypeError(f"codes: expected str values, got {type(value).__name__}")
        for code in value.split(CODE_SEPARATOR):
            code = code.strip()
            if code:
                out[code] = None
    return list(out)
