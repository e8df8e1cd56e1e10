"""Funnel plots (Spiegelhalter 2005) for ratios, rates and proportions.

A funnel plot compares units (practices, places, providers) with a target, with
control limits that narrow as the units' denominators grow. ``funnel`` takes one
numerator and denominator per unit (or per record, with ``group`` to sum them) and
returns a ``Funnel``: each unit's value, z-scores, limits at its own denominator and
flags, plus the target, phi and tau^2. ``funnel_limits`` draws the lines for a plot.

Kinds of data:

- ``"ratio"``: observed / expected counts (an SMR, SHMI), target 1;
- ``"rate"``: events / population, target the pooled rate; treated as observed over
  expected = target * population, so it takes the same methods as a ratio;
- ``"proportion"``: numerator / denominator, target the pooled proportion.

Limits without over-dispersion are exact: for ratios and rates the Poisson limits in
FunnelPlotR's chi-squared form (continuous in the expected count); for proportions the
binomial quantiles with Spiegelhalter's (2005, appendix A.1.1) interpolation between
the discrete steps. Over-dispersion (see ``overdispersion``) is measured from
winsorised or truncated z-scores; ``adjustment`` chooses how the limits widen:

- ``"additive"`` (default; FunnelPlotR, SHMI): a random-effects variance tau^2 is added
  on the transformed scale, limits target +/- z * sqrt(s^2 + tau^2), used when tau^2 > 0;
- ``"multiplicative"``: the variance is scaled by phi, target +/- z * sqrt(phi) * s,
  used when phi > 1;
- ``"none"``: the exact limits only.

Ratios and rates take ``method="shmi"`` (log scale, 10% truncation; default) or
``"cqc"`` (square-root scale, winsorised); proportions use the arcsine-root scale,
winsorised. On the log scale a unit with no events has z = -inf (it is truncated away
when it ranks in the bottom tenth). The limits at a unit's denominator are columns
``lower95_0``/``upper95_0`` (exact) and ``od_lower95_0``/``od_upper95_0`` (adjusted,
when applied); ``flag95_0`` is +1 above, -1 below, 0 within (limits inclusive) the
limits in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom, chi2

from openphm.stats import _checks
from openphm.stats.levels import DEFAULT_CONFIDENCE, confidence_levels, limit_columns, z_value
from openphm.stats.overdispersion import (
    CQC,
    DEFAULT_TRIM,
    RATIO_METHODS,
    SHMI,
    ZScores,
    between_unit_variance,
    dispersion_ratio,
    proportion_z_scores,
    ratio_z_scores,
    truncate,
    winsorise,
)

RATIO = "ratio"
RATE = "rate"
PROPORTION = "proportion"
KINDS = (RATIO, RATE, PROPORTION)
ADDITIVE = "additive"
MULTIPLICATIVE = "multiplicative"
NONE = "none"
ADJUSTMENTS = (ADDITIVE, MULTIPLICATIVE, NONE)


@dataclass(frozen=True)
class Funnel:
    """A fitted funnel: one row per unit in ``points``, and what the limits were built from.

    ``target`` is on the unscaled value scale (1 for a ratio; the pooled rate per unit
    of denominator; the pooled proportion); the centre line is ``target * multiplier``.
    ``adjusted`` says whether the over-dispersion limits are in force.
    """

    points: pd.DataFrame
    kind: str
    method: str | None
    target: float
    phi: float
    tau2: float
    adjustment: str
    adjusted: bool
    multiplier: float
    confidence: tuple[float, ...]

    def limits(self, denominator) -> pd.DataFrame:
        """The funnel's limit lines at the given denominators, for drawing the plot."""
        return funnel_limits(
            denominator,
            kind=self.kind,
            target=self.target,
            method=self.method,
            phi=self.phi,
            tau2=self.tau2,
            adjustment=self.adjustment if self.adjusted else NONE,
            multiplier=self.multiplier,
            confidence=self.confidence,
        )


def funnel(
    numerator,
    denominator,
    *,
    kind: str = RATIO,
    group=None,
    method: str | None = None,
    trim: float = DEFAULT_TRIM,
    adjustment: str = ADDITIVE,
    multiplier: float = 1,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
) -> Funnel:
    """Fit a funnel plot to one numerator and denominator per unit (or per record + group).

    Columns of ``points``: ``group`` (when given), ``numerator``, ``denominator``,
    ``value`` (numerator / denominator * multiplier), ``z`` (unadjusted, transformed
    scale), ``z_trimmed`` (winsorised, or NaN where truncated), ``z_adjusted``, the exact
    limits, the adjusted limits when in force, and a ``flag..`` per confidence level.
    """
    kind = _checks.one_of("kind", kind, KINDS)
    method = _method(kind, method)
    adjustment = _checks.one_of("adjustment", adjustment, ADJUSTMENTS)
    if not 0 < trim < 0.5:
        raise ValueError(f"trim must be a fraction above 0 and below 0.5, but is {trim!r}")
    multiplier = _checks.positive_number("multiplier", multiplier)
    levels = confidence_levels(confidence)
    points = _units(numerator, denominator, group, kind)
    o, n = points.numerator.to_numpy(), points.denominator.to_numpy()

    target = 1.0 if kind == RATIO else float(o.sum() / n.sum())
    scores = _z_scores(kind, method, o, n, target)
    z = scores.z
    trimmed = truncate(z, trim) if method == SHMI else winsorise(z, trim)
    phi = dispersion_ratio(trimmed)
    tau2 = between_unit_variance(phi, scores.s[~np.isnan(trimmed)])
    adjusted = (adjustment == ADDITIVE and tau2 > 0) or (adjustment == MULTIPLICATIVE and phi > 1)

    points["value"] = o / n * multiplier
    points["z"] = z
    points["z_trimmed"] = trimmed
    points["z_adjusted"] = _adjusted_z(scores, adjustment if adjusted else NONE, phi, tau2)
    limits = funnel_limits(
        n,
        kind=kind,
        target=target,
        method=method,
        phi=phi,
        tau2=tau2,
        adjustment=adjustment if adjusted else NONE,
        multiplier=multiplier,
        confidence=levels,
    )
    points = pd.concat([points, limits.drop(columns="denominator").set_index(points.index)], axis=1)
    for level in levels:
        lower, upper = limit_columns(level, suffix="")
        prefix = "od_" if adjusted else ""
        flag = outlier_flags(points.value, points[prefix + lower], points[prefix + upper])
        points[f"flag{lower.removeprefix('lower')}"] = flag
    return Funnel(
        points=points,
        kind=kind,
        method=method,
        target=target,
        phi=phi,
        tau2=tau2,
        adjustment=adjustment,
        adjusted=adjusted,
        multiplier=multiplier,
        confidence=levels,
    )


def funnel_limits(
    denominator,
    *,
    kind: str = RATIO,
    target: float = 1.0,
    method: str | None = None,
    phi: float = 1.0,
    tau2: float = 0.0,
    adjustment: str = NONE,
    multiplier: float = 1,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Funnel limits at each denominator (expected count, population or sample size).

    ``target`` is unscaled (1 for ratios; a rate per unit of denominator; a proportion).
    Columns: ``denominator``, exact ``lower95_0``/``upper95_0``-style limits per level,
    and ``od_``-prefixed adjusted ones unless ``adjustment`` is "none".
    """
    kind = _checks.one_of("kind", kind, KINDS)
    method = _method(kind, method)
    adjustment = _checks.one_of("adjustment", adjustment, ADJUSTMENTS)
    n = _checks.as_floats("denominator", denominator)
    _checks.positive("denominator", n)
    target = _checks.positive_number("target", target)
    if kind == PROPORTION and target >= 1:
        raise ValueError(f"target must be below 1 for a proportion, but is {target!r}")
    multiplier = _checks.positive_number("multiplier", multiplier)
    table = pd.DataFrame({"denominator": n})
    for level in confidence_levels(confidence):
        lower_name, upper_name = limit_columns(level, suffix="")
        lower, upper = _exact_limits(kind, n, target, level)
        table[lower_name] = lower * multiplier
        table[upper_name] = upper * multiplier
        if adjustment != NONE:
            spread = _spread(kind, method, n, target, adjustment, phi, tau2)
            lower, upper = _adjusted_limits(kind, method, target, z_value(level) * spread)
            table["od_" + lower_name] = lower * multiplier
            table["od_" + upper_name] = upper * multiplier
    return table


def outlier_flags(value, lower, upper) -> np.ndarray:
    """+1 where value is above upper, -1 where below lower, 0 within (limits inclusive)."""
    value, lower, upper = (np.asarray(a, dtype=float) for a in (value, lower, upper))
    return np.where(value > upper, 1, np.where(value < lower, -1, 0))


def _method(kind: str, method: str | None) -> str | None:
    if kind == PROPORTION:
        if method is not None:
            raise ValueError(
                f"method={method!r} applies to ratios and rates only; proportions always "
                "use the arcsine-root scale, so leave method out"
            )
        return None
    return _checks.one_of("method", SHMI if method is None else method, RATIO_METHODS)


def _units(numerator, denominator, group, kind) -> pd.DataFrame:
    o = _checks.as_floats("numerator", numerator)
    n = _checks.as_floats("denominator", denominator)
    _checks.same_length(numerator=o, denominator=n)
    for name, values in (("numerator", o), ("denominator", n)):
        _checks.no_missing(name, values)
    _checks.not_negative("numerator", o)
    _checks.positive("denominator", n)
    if group is None:
        units = pd.DataFrame({"numerator": o, "denominator": n}, index=_checks.index_of(numerator))
    else:
        labels = np.asarray(group)
        _checks.same_length(numerator=o, group=labels)
        records = pd.DataFrame({"group": labels, "numerator": o, "denominator": n})
        units = records.groupby("group", sort=True).sum().reset_index()
    if len(units) < 2:
        raise ValueError(f"a funnel compares units, but there is {len(units)}: pass at least two")
    if kind == PROPORTION:
        _checks.numerator_within_denominator(o, n)
        fractional = units.denominator % 1 != 0
        if fractional.any():
            raise ValueError(
                "denominator must be whole numbers for a proportion's exact binomial limits, "
                f"but one is {units.denominator[fractional].iloc[0]!r}"
            )
    return units


def _z_scores(kind, method, o, n, target) -> ZScores:
    if kind == PROPORTION:
        return proportion_z_scores(o, n, target)
    return ratio_z_scores(o, target * n, method)  # a rate is observed over expected events


def _adjusted_z(scores: ZScores, adjustment: str, phi: float, tau2: float) -> np.ndarray:
    if adjustment == ADDITIVE:
        return (scores.y - scores.target) / np.sqrt(scores.s**2 + tau2)
    if adjustment == MULTIPLICATIVE:
        return scores.z / np.sqrt(phi)
    return scores.z


def _exact_limits(kind, n, target, level) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - level) / 2
    if kind == PROPORTION:
        return _binomial_limit(n, target, tail), _binomial_limit(n, target, 1 - tail)
    expected = target * n
    lower = chi2.ppf(tail, 2 * expected) / 2 / expected
    upper = chi2.ppf(1 - tail, 2 * (expected + 1)) / 2 / expected
    return target * lower, target * upper


def _binomial_limit(n, target, p) -> np.ndarray:
    """The interpolated p-quantile of Binomial(n, target) / n (Spiegelhalter 2005, A.1.1)."""
    r = binom.ppf(p, n, target)
    at_r = binom.cdf(r, n, target)
    below_r = binom.cdf(r - 1, n, target)
    alpha = (at_r - p) / (at_r - below_r)
    return np.clip((r - alpha) / n, 0, 1)


def _spread(kind, method, n, target, adjustment, phi, tau2) -> np.ndarray:
    """The standard deviation on the transformed scale, widened for over-dispersion."""
    if kind == PROPORTION or method == CQC:
        size = n if kind != RATE else target * n
        s = 1 / (2 * np.sqrt(size))
    else:
        s = 1 / np.sqrt(n if kind == RATIO else target * n)
    if adjustment == ADDITIVE:
        return np.sqrt(s**2 + tau2)
    return np.sqrt(phi) * s


def _adjusted_limits(kind, method, target, half_width) -> tuple[np.ndarray, np.ndarray]:
    """Back-transform target +/- half_width from the transformed scale to values."""
    if kind == PROPORTION:
        centre = np.arcsin(np.sqrt(target))
        # clamp the angle to [0, pi/2] so limits stop at 0 and 1 instead of folding back
        low = np.sin(np.clip(centre - half_width, 0, np.pi / 2)) ** 2
        high = np.sin(np.clip(centre + half_width, 0, np.pi / 2)) ** 2
        return low, high
    if method == SHMI:
        return target * np.exp(-half_width), target * np.exp(half_width)
    # square-root scale: a lower limit below zero stops at zero rather than squaring back up
    return target * np.clip(1 - half_width, 0, None) ** 2, target * (1 + half_width) ** 2
