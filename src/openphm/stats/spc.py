"""Statistical process control as NHS England's Making Data Count uses it: XmR charts.

``xmr`` takes one value per period (in time order) and returns, per point, the
period's mean and process limits, the special-cause rule that flagged the point, and
whether that is improvement or concern, following NHSRplotthedots (``ptd_spc``):

- Limits: mean +/- 2.66 x mean moving range (3 sigma), and +/- 2/3 of that (2 sigma).
  With ``screen_outliers`` (the default), moving ranges of 3.267 x their mean or more
  are left out of the mean moving range, so one spike does not widen the limits.
- ``rebase``: the index labels (or positions, for plain arrays) where a new period
  starts, after a change to the process; each period has its own mean, limits and
  runs. ``fix_after`` computes each period's limits from its first n points only.
- Rules, in precedence order (a point matched by several takes the first):
  1. a point above the upper or below the lower limit;
  2. a trend of ``trend_length`` (7) points each higher, or each lower, than the last;
  3. two out of three points beyond two sigma, all three on one side of the mean;
  4. a shift of ``shift_length`` (7) points on one side of the mean.
- ``point_type``: "common_cause", or the rule's direction (above the mean or an
  increasing trend is up) against ``improvement``: "special_cause_improvement",
  "special_cause_concern", or for "neutral" indicators "special_cause_neutral_high"/
  "special_cause_neutral_low". A falling trend is concern for an indicator where
  higher is better even while it is above the mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.stats import _checks
from openphm.stats.spc_rules import DEFAULT_RUN, part_of_run, shift_ends, trend_ends, two_in_three

LIMIT_FACTOR = 2.66  # 3 / d2, d2 = 1.128 for moving ranges of two points
NEAR_LIMIT_FACTOR = 2 * LIMIT_FACTOR / 3  # two sigma
SCREEN_FACTOR = 3.267  # D4: a moving range this many times the mean is screened out
IMPROVEMENT = {"increase": 1, "decrease": -1, "neutral": 0}

ABOVE_LIMIT = "above_upper_limit"
BELOW_LIMIT = "below_lower_limit"
TREND_UP = "trend_increasing"
TREND_DOWN = "trend_decreasing"
TWO_IN_THREE_ABOVE = "two_in_three_above"
TWO_IN_THREE_BELOW = "two_in_three_below"
SHIFT_ABOVE = "shift_above"
SHIFT_BELOW = "shift_below"
_UP = {ABOVE_LIMIT, TREND_UP, TWO_IN_THREE_ABOVE, SHIFT_ABOVE}


def xmr(
    values,
    *,
    improvement: str = "increase",
    rebase=(),
    fix_after: int | None = None,
    screen_outliers: bool = True,
    trend_length: int = DEFAULT_RUN,
    shift_length: int = DEFAULT_RUN,
) -> pd.DataFrame:
    """An XmR chart of ``values`` (one per period, in time order), classified point by point.

    Columns, on the index of ``values``: ``value``, ``period`` (0, then +1 at each rebase),
    ``moving_range``, ``mean``, ``lower_limit``, ``upper_limit``, ``lower_2sigma``,
    ``upper_2sigma``, ``rule`` (None for common cause) and ``point_type``.
    """
    y = _checks.as_floats("values", values)
    _checks.no_missing("values", y)
    direction = IMPROVEMENT[_checks.one_of("improvement", improvement, list(IMPROVEMENT))]
    for name, length in (("trend_length", trend_length), ("shift_length", shift_length)):
        if isinstance(length, bool) or not isinstance(length, int) or length < 2:
            raise ValueError(f"{name} must be a whole number of points, 2 or more, not {length!r}")
    if fix_after is not None and (not isinstance(fix_after, int) or fix_after < 2):
        raise ValueError(
            f"fix_after must be a whole number of points, 2 or more, not {fix_after!r}"
        )
    index = _checks.index_of(values)
    period = _periods(index, rebase)

    table = pd.DataFrame({"value": y, "period": period}, index=index)
    columns = ["moving_range", "mean", "lower_limit", "upper_limit", "lower_2sigma", "upper_2sigma"]
    for column in columns:
        table[column] = np.nan
    rules = np.full(len(y), None, dtype=object)
    for number in np.unique(period):
        rows = np.flatnonzero(period == number)
        limits = _limits(y[rows], fix_after, screen_outliers, number)
        for column in columns:
            table.iloc[rows, table.columns.get_loc(column)] = limits[column]
        rules[rows] = _rules(y[rows], limits, trend_length, shift_length)
    table["rule"] = pd.Series(rules, index=index, dtype=object)
    table["point_type"] = [_point_type(rule, direction) for rule in rules]
    return table


def _periods(index: pd.Index, rebase) -> np.ndarray:
    """Period number of each point: 0, then one more at each rebase label."""
    starts = np.zeros(len(index), dtype=int)
    for label in rebase:
        if label not in index:
            raise ValueError(
                f"rebase label {label!r} is not in the index of values; rebase takes the "
                "index labels (or positions, for a plain array) where new periods start"
            )
        starts[index.get_loc(label)] = 1
    starts[0] = 0  # rebasing at the first point changes nothing
    return np.cumsum(starts)


def _limits(y: np.ndarray, fix_after, screen_outliers, number) -> dict[str, np.ndarray | float]:
    if len(y) < 2:
        raise ValueError(
            f"period {number} has {len(y)} point: a moving range needs at least two, so "
            "move the rebase later"
        )
    moving_range = np.concatenate([[np.nan], np.abs(np.diff(y))])
    basis = y[:fix_after] if fix_after else y
    ranges = np.abs(np.diff(basis))
    mean_range = ranges.mean()
    if screen_outliers:
        ranges = ranges[ranges < SCREEN_FACTOR * mean_range]
        mean_range = ranges.mean()
    mean = basis.mean()
    return {
        "moving_range": moving_range,
        "mean": mean,
        "lower_limit": mean - LIMIT_FACTOR * mean_range,
        "upper_limit": mean + LIMIT_FACTOR * mean_range,
        "lower_2sigma": mean - NEAR_LIMIT_FACTOR * mean_range,
        "upper_2sigma": mean + NEAR_LIMIT_FACTOR * mean_range,
    }


def _rules(y: np.ndarray, limits: dict, trend_length: int, shift_length: int) -> np.ndarray:
    """The first rule, in precedence order, that flags each point of one period."""
    outside = (y > limits["upper_limit"]) | (y < limits["lower_limit"])
    side = np.sign(y - limits["mean"])
    near = ~outside & ((y < limits["lower_2sigma"]) | (y > limits["upper_2sigma"]))
    in_trend = part_of_run(trend_ends(y, trend_length), trend_length) == 1
    in_two_of_three = (two_in_three(near, side) == 1) & near
    in_shift = part_of_run(shift_ends(side, shift_length), shift_length) == 1
    rising = _trend_direction(y, in_trend) == 1
    above = side > 0
    return np.select(
        [outside, in_trend, in_two_of_three, in_shift],
        [
            np.where(side == 1, ABOVE_LIMIT, BELOW_LIMIT),
            np.where(rising, TREND_UP, TREND_DOWN),
            np.where(above, TWO_IN_THREE_ABOVE, TWO_IN_THREE_BELOW),
            np.where(above, SHIFT_ABOVE, SHIFT_BELOW),
        ],
        default=None,
    ).astype(object)


def _trend_direction(y: np.ndarray, in_trend: np.ndarray) -> np.ndarray:
    """Each point's step direction: the step after it if the next point is in the trend too,
    otherwise the step into it (so a trend's last point takes its trend's direction)."""
    steps = np.sign(np.diff(y))
    after = np.concatenate([steps, steps[-1:]])
    before = np.concatenate([[0.0], steps])
    next_in_trend = np.concatenate([in_trend[1:], [False]])
    return np.where(next_in_trend & in_trend, after, before)


def _point_type(rule: str | None, direction: int) -> str:
    if rule is None:
        return "common_cause"
    up = rule in _UP
    if direction == 0:
        return "special_cause_neutral_high" if up else "special_cause_neutral_low"
    return "special_cause_improvement" if up == (direction > 0) else "special_cause_concern"
