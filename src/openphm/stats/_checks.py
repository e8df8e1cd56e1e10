"""Input checks shared by the statistics: each error names the argument, the value and the fix.

Messages carry aggregate figures only (counts, populations, positions), never a row of
patient data, because the statistics only ever see aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def as_floats(name: str, values) -> np.ndarray:
    """``values`` as a 1-D float array, or a ValueError naming ``name``."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be numbers (a list, numpy array or pandas Series), "
            f"but could not read {values!r} as numbers: {exc}"
        ) from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, but has shape {array.shape}")
    return array


def index_of(*candidates) -> pd.Index:
    """The index of the first pandas input, so results line up with the caller's table."""
    for candidate in candidates:
        if isinstance(candidate, pd.Series | pd.DataFrame):
            return candidate.index
    return pd.RangeIndex(len(np.asarray(candidates[0])))


def _first(name: str, values: np.ndarray, bad: np.ndarray) -> str:
    position = int(np.flatnonzero(bad)[0])
    return f"{name}[{position}] is {float(values[position])!r}"


def same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"inputs must have one value per unit, but {listed}: pass aligned columns")


def not_negative(name: str, values: np.ndarray, what: str = "counts") -> None:
    bad = values < 0
    if bad.any():
        raise ValueError(
            f"{name} must not be negative, but {_first(name, values, bad)}: "
            f"{what} cannot be below zero; correct or drop that row"
        )


def positive(
    name: str,
    values: np.ndarray,
    what: str = "a denominator",
    fix: str = "drop that row, or set it to NaN for a NaN result",
) -> None:
    bad = values <= 0
    if bad.any():
        raise ValueError(
            f"{name} must be greater than zero, but {_first(name, values, bad)}: "
            f"{what} of zero or less gives no rate; {fix}"
        )


def no_missing(name: str, values: np.ndarray) -> None:
    bad = np.isnan(values)
    if bad.any():
        raise ValueError(
            f"{name} must have no missing values, but {_first(name, values, bad)}: "
            "fill the gap or drop the unit"
        )


def numerator_within_denominator(numerator: np.ndarray, denominator: np.ndarray) -> None:
    bad = numerator > denominator
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"numerator must not exceed denominator for a proportion, but numerator[{position}] "
            f"is {float(numerator[position])!r} and denominator[{position}] is "
            f"{float(denominator[position])!r}: use crude_rate for events that can repeat"
        )


def positive_number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number greater than zero, but is {value!r}")
    return float(value)


def one_of(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, but is {value!r}")
    return value


def columns_present(data: pd.DataFrame, **columns: str | None) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, but is a {type(data).__name__}")
    for argument, column in columns.items():
        if column is not None and column not in data.columns:
            raise ValueError(
                f"{argument}={column!r} is not a column of data; "
                f"the columns are {list(data.columns)}"
            )


def no_missing_keys(data: pd.DataFrame, columns: Sequence[str]) -> None:
    """Group keys must be present: pandas would silently drop rows with a missing key."""
    for column in columns:
        missing = data[column].isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{column} must have no missing values, but row {int(np.flatnonzero(missing)[0])} "
                "has none: label the row, or drop it before standardising"
            )
