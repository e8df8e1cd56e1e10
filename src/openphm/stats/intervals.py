"""Confidence limits for counts and proportions: Byar, exact Poisson and Wilson.

These are the building blocks of every interval in ``openphm.stats``; each takes arrays
and one confidence level and returns arrays, with no checks beyond what the formula
needs (the public functions check their inputs first).

- Byar's approximation to the Poisson limits of an observed count (Breslow and Day
  1987), as PHEindicatormethods' ``byars_lower``/``byars_upper``: a lower limit that
  the approximation makes negative is NaN.
- Exact Poisson limits from the chi-squared distribution (Armitage and Berry 2002).
- ``poisson_limits`` chooses between them as Fingertips does: exact below
  ``BYAR_MIN_EVENTS`` (10) events, Byar from there on.
- Wilson score limits for a proportion (Wilson 1927; Newcombe and Altman 2000).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from openphm.stats.levels import z_value

BYAR_MIN_EVENTS = 10  # below this Byar's approximation is poor, so limits are exact


def byar_lower(observed, confidence: float = 0.95) -> np.ndarray:
    """Byar's lower limit of a Poisson count; NaN where the approximation goes negative."""
    x = np.asarray(observed, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = x * (1 - 1 / (9 * x) - z / (3 * np.sqrt(x))) ** 3
    return np.where(lower < 0, np.nan, lower)


def byar_upper(observed, confidence: float = 0.95) -> np.ndarray:
    """Byar's upper limit of a Poisson count."""
    x = np.asarray(observed, dtype=float) + 1
    z = z_value(confidence)
    return x * (1 - 1 / (9 * x) + z / (3 * np.sqrt(x))) ** 3


def exact_poisson_lower(observed, confidence: float = 0.95) -> np.ndarray:
    """Exact lower limit of a Poisson count (0 when nothing was observed)."""
    x = np.asarray(observed, dtype=float)
    with np.errstate(invalid="ignore"):
        lower = chi2.ppf((1 - confidence) / 2, 2 * x) / 2
    return np.where(x == 0, 0.0, lower)


def exact_poisson_upper(observed, confidence: float = 0.95) -> np.ndarray:
    """Exact upper limit of a Poisson count."""
    x = np.asarray(observed, dtype=float)
    return chi2.ppf(1 - (1 - confidence) / 2, 2 * x + 2) / 2


def poisson_limits(observed, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Limits of a Poisson count: exact below ``BYAR_MIN_EVENTS`` events, Byar above."""
    x = np.asarray(observed, dtype=float)
    exact = x < BYAR_MIN_EVENTS
    lower = np.where(exact, exact_poisson_lower(x, confidence), byar_lower(x, confidence))
    upper = np.where(exact, exact_poisson_upper(x, confidence), byar_upper(x, confidence))
    return lower, upper


def poisson_method(observed) -> np.ndarray:
    """Which method ``poisson_limits`` used for each count: "exact", "byar" or None (missing)."""
    x = np.asarray(observed, dtype=float)
    return np.where(np.isnan(x), None, np.where(x < BYAR_MIN_EVENTS, "exact", "byar"))


def _wilson(numerator, denominator, confidence: float, sign: int) -> np.ndarray:
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    z = z_value(confidence)
    spread = z * np.sqrt(z**2 + 4 * x * (1 - x / n))
    return (2 * x + z**2 + sign * spread) / 2 / (n + z**2)


def wilson_lower(numerator, denominator, confidence: float = 0.95) -> np.ndarray:
    """Wilson score lower limit of the proportion numerator / denominator."""
    return _wilson(numerator, denominator, confidence, -1)


def wilson_upper(numerator, denominator, confidence: float = 0.95) -> np.ndarray:
    """Wilson score upper limit of the proportion numerator / denominator."""
    return _wilson(numerator, denominator, confidence, +1)
