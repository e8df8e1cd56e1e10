"""Confidence levels: which ones are allowed, their z values and their column names.

A level is a fraction (0.95 for 95%). Every interval function takes one level or a
sequence of them and writes one ``lower..cl``/``upper..cl`` pair per level, named from
the percentage with the decimal point as an underscore, as PHEindicatormethods does:
0.95 -> ``lower95_0cl``/``upper95_0cl``, 0.998 -> ``lower99_8cl``/``upper99_8cl``.
"""

from __future__ import annotations

from collections.abc import Iterable

from scipy.stats import norm

DEFAULT_CONFIDENCE = (0.95, 0.998)  # the two levels Fingertips publishes
MIN_CONFIDENCE = 0.9  # below this the Byar and Wilson approximations are not what PHE publish
MAX_CONFIDENCE = 1.0  # exclusive: a 100% interval is unbounded


def confidence_levels(confidence: float | Iterable[float]) -> tuple[float, ...]:
    """``confidence`` as a tuple of checked fractions."""
    levels = (confidence,) if isinstance(confidence, int | float) else tuple(confidence)
    if not levels:
        raise ValueError("confidence must name at least one level, for example 0.95")
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int | float):
            raise ValueError(f"confidence level {level!r} is not a number; write 0.95 for 95%")
        if not MIN_CONFIDENCE <= level < MAX_CONFIDENCE:
            hint = f"; write {level / 100:g} for {level:g}%" if 90 <= level < 100 else ""
            raise ValueError(
                f"confidence level {level!r} is not a fraction from {MIN_CONFIDENCE} "
                f"up to (not including) {MAX_CONFIDENCE}{hint}"
            )
    return tuple(float(level) for level in levels)


def z_value(level: float) -> float:
    """The two-sided standard normal quantile for ``level`` (1.959964 for 0.95)."""
    return float(norm.ppf(1 - (1 - level) / 2))


def level_suffix(level: float) -> str:
    """``95_0`` for 0.95, ``99_8`` for 0.998, ``99_95`` for 0.9995."""
    percent = round(level * 100, 8)
    text = f"{percent:.1f}" if round(percent, 1) == percent else f"{percent:g}"
    return text.replace(".", "_")


def limit_columns(level: float, suffix: str = "cl") -> tuple[str, str]:
    """The lower and upper column names for ``level``."""
    tag = level_suffix(level)
    return f"lower{tag}{suffix}", f"upper{tag}{suffix}"
