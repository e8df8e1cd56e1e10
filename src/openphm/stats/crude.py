"""Crude rates and proportions with their confidence limits.

- ``crude_rate``: events per population (per 100,000 by default), with Byar's limits,
  or exact Poisson limits below 10 events, as PHEindicatormethods' ``phe_rate``.
- ``proportion``: numerator over denominator (a fraction by default; multiplier=100 for
  a percentage), with Wilson score limits, as PHEindicatormethods' ``phe_proportion``.

Both take array-likes, one value per unit, and return one row per unit on the index of
the first pandas input. A missing (NaN) numerator or denominator gives NaN results for
that unit; negative counts and zero denominators are errors.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from openphm.stats import _checks
from openphm.stats.intervals import poisson_limits, poisson_method, wilson_lower, wilson_upper
from openphm.stats.levels import DEFAULT_CONFIDENCE, confidence_levels, limit_columns

PER_100000 = 100_000


def crude_rate(
    numerator,
    denominator,
    *,
    multiplier: float = PER_100000,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Crude rate numerator / denominator * multiplier with Byar or exact limits.

    Columns: ``numerator``, ``denominator``, ``value``, a ``lower..cl``/``upper..cl`` pair
    per confidence level, and ``method`` ("byar", or "exact" below 10 events; None
    when the numerator is missing).
    """
    x, n, levels, multiplier = _checked(numerator, denominator, confidence, multiplier)
    table = pd.DataFrame(
        {"numerator": x, "denominator": n, "value": x / n * multiplier},
        index=_checks.index_of(numerator, denominator),
    )
    for level in levels:
        lower, upper = poisson_limits(x, level)
        lower_name, upper_name = limit_columns(level)
        table[lower_name] = lower / n * multiplier
        table[upper_name] = upper / n * multiplier
    table["method"] = pd.Series(poisson_method(x), index=table.index, dtype=object)
    return table


def proportion(
    numerator,
    denominator,
    *,
    multiplier: float = 1,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Proportion numerator / denominator * multiplier with Wilson score limits.

    Columns: ``numerator``, ``denominator``, ``value``, a ``lower..cl``/``upper..cl`` pair
    per confidence level, and ``method`` ("wilson").
    """
    x, n, levels, multiplier = _checked(numerator, denominator, confidence, multiplier)
    _checks.numerator_within_denominator(x, n)
    table = pd.DataFrame(
        {"numerator": x, "denominator": n, "value": x / n * multiplier},
        index=_checks.index_of(numerator, denominator),
    )
    for level in levels:
        lower_name, upper_name = limit_columns(level)
        table[lower_name] = wilson_lower(x, n, level) * multiplier
        table[upper_name] = wilson_upper(x, n, level) * multiplier
    table["method"] = "wilson"
    return table


def _checked(numerator, denominator, confidence, multiplier):
    x = _checks.as_floats("numerator", numerator)
    n = _checks.as_floats("denominator", denominator)
    _checks.same_length(numerator=x, denominator=n)
    _checks.not_negative("numerator", x)
    _checks.positive("denominator", n)
    return x, n, confidence_levels(confidence), _checks.positive_number("multiplier", multiplier)
