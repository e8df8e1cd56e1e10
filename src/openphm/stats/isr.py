"""Indirectly standardised ratios and rates, with Byar or exact limits.

Indirect standardisation compares a group's observed events with the events it would
have had at a reference population's age-specific rates:

    expected = sum(reference_count_i / reference_population_i * population_i)
    ratio    = observed / expected * reference_value     (an SMR when reference_value=100)
    rate     = observed / expected * reference_rate      (reference_rate = sum of reference
               counts / sum of reference populations * multiplier)

The limits are the observed count's Poisson limits over the expected count: exact
below 10 events, Byar's from there on, as PHEindicatormethods' ``calculate_ISRatio``
and ``calculate_ISRate``. ``standardised_ratio`` takes observed and expected counts
directly, for expected counts from elsewhere (a risk model, as SHMI's are).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from openphm.stats import _checks
from openphm.stats.intervals import poisson_limits, poisson_method
from openphm.stats.levels import DEFAULT_CONFIDENCE, confidence_levels, limit_columns

PER_100000 = 100_000
_ALL = "__all__"  # the one group when no `by` is given


def standardised_ratio(
    observed,
    expected,
    *,
    reference_value: float = 1,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Observed / expected * reference_value with Byar or exact Poisson limits.

    Columns: ``observed``, ``expected``, ``value``, a ``lower..cl``/``upper..cl`` pair per
    confidence level, and ``method`` ("byar", or "exact" below 10 events).
    """
    o = _checks.as_floats("observed", observed)
    e = _checks.as_floats("expected", expected)
    _checks.same_length(observed=o, expected=e)
    _checks.not_negative("observed", o)
    _checks.positive("expected", e, what="an expected count", fix="drop that unit")
    reference_value = _checks.positive_number("reference_value", reference_value)
    table = pd.DataFrame(
        {"observed": o, "expected": e, "value": o / e * reference_value},
        index=_checks.index_of(observed, expected),
    )
    for level in confidence_levels(confidence):
        lower, upper = poisson_limits(o, level)
        lower_name, upper_name = limit_columns(level)
        table[lower_name] = lower / e * reference_value
        table[upper_name] = upper / e * reference_value
    table["method"] = pd.Series(poisson_method(o), index=table.index, dtype=object)
    return table


def indirectly_standardised_ratio(
    data: pd.DataFrame,
    *,
    count: str,
    population: str,
    reference_count: Sequence[float] | str,
    reference_population: Sequence[float] | str,
    by: str | Sequence[str] | None = None,
    reference_value: float = 1,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Indirectly standardised ratio for each group of ``data`` (one row per age band).

    ``reference_count`` and ``reference_population`` are column names of ``data`` or
    sequences with one value per age band, matched by position within each group.
    Missing counts and populations count as zero, as in PHEindicatormethods.

    Columns: the ``by`` columns, ``observed``, ``expected``, ``value``, the limits and
    ``method``.
    """
    totals = _observed_and_expected(
        data, count, population, reference_count, reference_population, by
    )
    keys = [column for column in totals.columns if column not in _TOTALS]
    ratio = standardised_ratio(
        totals.observed, totals.expected, reference_value=reference_value, confidence=confidence
    )
    return pd.concat([totals[keys], ratio], axis=1)


def indirectly_standardised_rate(
    data: pd.DataFrame,
    *,
    count: str,
    population: str,
    reference_count: Sequence[float] | str,
    reference_population: Sequence[float] | str,
    by: str | Sequence[str] | None = None,
    multiplier: float = PER_100000,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Indirectly standardised rate: the ratio times the reference population's crude rate.

    Arguments as ``indirectly_standardised_ratio``. Columns: the ``by`` columns,
    ``observed``, ``expected``, ``reference_rate`` (per ``multiplier``), ``value``, the
    limits and ``method``.
    """
    multiplier = _checks.positive_number("multiplier", multiplier)
    totals = _observed_and_expected(
        data, count, population, reference_count, reference_population, by
    )
    keys = [column for column in totals.columns if column not in _TOTALS]
    reference_rate = totals.reference_rate.to_numpy() * multiplier
    rate = standardised_ratio(totals.observed, totals.expected, confidence=confidence)
    scaled = ["value", *(column for column in rate.columns if column.endswith("cl"))]
    rate[scaled] = rate[scaled].mul(reference_rate, axis=0)
    rate.insert(2, "reference_rate", reference_rate)
    return pd.concat([totals[keys], rate], axis=1)


_TOTALS = ("observed", "expected", "reference_rate")


def _observed_and_expected(
    data, count, population, reference_count, reference_population, by
) -> pd.DataFrame:
    """Per group: observed events, expected events and the reference crude rate."""
    keys = [by] if isinstance(by, str) else list(by or [])
    _checks.columns_present(data, count=count, population=population)
    for key in keys:
        _checks.columns_present(data, by=key)
    _checks.no_missing_keys(data, keys)
    counts = np.nan_to_num(_checks.as_floats(count, data[count]))
    _checks.not_negative(count, counts)
    populations = np.nan_to_num(_checks.as_floats(population, data[population]))
    _checks.not_negative(population, populations, what="populations")

    group = keys or [_ALL]
    rows = pd.DataFrame(
        {key: data[key].to_numpy() if key != _ALL else 0 for key in group},
        index=pd.RangeIndex(len(data)),
    )
    position = rows.groupby(group, sort=False).cumcount().to_numpy()
    sizes = rows.groupby(group, sort=False).size()
    ref_count = _reference(data, "reference_count", reference_count, position, sizes)
    ref_pop = _reference(data, "reference_population", reference_population, position, sizes)
    _checks.not_negative("reference_count", ref_count)
    _checks.positive(
        "reference_population", ref_pop, what="a reference population", fix="check the bands"
    )
    rows["observed"] = counts
    rows["expected"] = ref_count / ref_pop * populations
    rows["ref_count"] = ref_count
    rows["ref_pop"] = ref_pop
    totals = rows.groupby(group, sort=False).sum().reset_index()
    totals["reference_rate"] = totals.ref_count / totals.ref_pop
    totals = totals.drop(columns=["ref_count", "ref_pop"])
    return totals.drop(columns=_ALL) if not keys else totals


def _reference(data, name, reference, position, sizes) -> np.ndarray:
    if isinstance(reference, str):
        _checks.columns_present(data, **{name: reference})
        return np.nan_to_num(_checks.as_floats(reference, data[reference]))
    values = np.nan_to_num(_checks.as_floats(name, reference))
    wrong = sizes[sizes != len(values)]
    if len(wrong):
        raise ValueError(
            f"{name} has {len(values)} values, one per age band, but a group of data has "
            f"{int(wrong.iloc[0])} rows: give every group the same age bands, in the same "
            f"order as {name}"
        )
    return values[position]
