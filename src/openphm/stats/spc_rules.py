"""The Making Data Count special-cause rules, one small function each.

Each takes per-point vectors for one period (no rebasing inside) and returns one value
per point. They follow NHSRplotthedots' ``ptd_calculate_point_type`` helpers:

- ``shift_ends``: 1 at the last point of a run of ``length`` points on one side of the
  mean (``ptd_seven_point_one_side_mean``);
- ``trend_ends``: +1/-1 at the last point of ``length`` points each higher/lower than
  the one before (``ptd_seven_point_trend``; an equal pair breaks the trend);
- ``part_of_run``: 1 for every point of a run whose end the two above marked
  (``ptd_part_of_seven_trend``);
- ``two_in_three``: 1 for points in a window of three that are all on one side of the
  mean with at least two beyond two sigma (``ptd_two_in_three``).
"""

from __future__ import annotations

import numpy as np

DEFAULT_RUN = 7  # points in a shift or a trend, as NHS England's Making Data Count


def shift_ends(relative_to_mean, length: int = DEFAULT_RUN) -> np.ndarray:
    """1 where this point and the ``length - 1`` before it are all on the same side."""
    side = np.asarray(relative_to_mean, dtype=float)
    ends = np.zeros(len(side))
    for i in range(length - 1, len(side)):
        window = side[i - length + 1 : i + 1]
        ends[i] = float(side[i] != 0 and np.all(window == side[i]))
    return ends


def trend_ends(values, length: int = DEFAULT_RUN) -> np.ndarray:
    """+1 (-1) where this point ends ``length`` points each above (below) the one before."""
    y = np.asarray(values, dtype=float)
    ends = np.zeros(len(y))
    for i in range(length - 1, len(y)):
        steps = np.sign(np.diff(y[i - length + 1 : i + 1]))
        if np.all(steps == 1):
            ends[i] = 1
        elif np.all(steps == -1):
            ends[i] = -1
    return ends


def part_of_run(ends, length: int = DEFAULT_RUN) -> np.ndarray:
    """1 for each point that is this point or one of the ``length - 1`` before a run's end."""
    marked = np.abs(np.asarray(ends, dtype=float)) == 1
    part = np.zeros(len(marked))
    for i in np.flatnonzero(marked):
        part[max(0, i - length + 1) : i + 1] = 1
    return part


def two_in_three(close_to_limits, relative_to_mean) -> np.ndarray:
    """1 for each point in a window of three, all on one side, two or more near the limits."""
    close = np.asarray(close_to_limits, dtype=float)
    side = np.asarray(relative_to_mean, dtype=float)
    flagged = np.zeros(len(close))
    for start in range(len(close) - 2):
        window = slice(start, start + 3)
        if close[window].sum() >= 2 and abs(side[window].sum()) == 3:
            flagged[window] = 1
    return flagged
