"""openphm.stats XmR charts and Making Data Count rules against NHSRplotthedots.

Numbers are copied from nhs-r-community/NHSRplotthedots @ 050b07d (vignettes/deviations.Rmd,
tests/testthat/_snaps/ptd_spc_standard.md, tests/testthat/test-ptd_calculate_point_type.R)
and nhs-pycom/nhspy-plotthedots @ bfdefe4 : tests/unittests/test_limits_calculations.py.
"""

# ruff: noqa: E501 (reference tables keep one source row per line)

from __future__ import annotations

import numpy as np
import pytest

from openphm.stats import xmr
from openphm.stats.spc_rules import part_of_run, shift_ends, trend_ends, two_in_three

LIMITS = ["mean", "lower_limit", "upper_limit"]

# R: set.seed(123); rnorm(20), as printed in the snapshot
RNORM_20 = [-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499,
            0.46091621, -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383,
            0.40077145, 0.11068272, -0.55584113, 1.78691314, 0.49785048, -1.96661716,
            0.70135590, -0.47279141]  # fmt: skip
RNORM_20_Y15_IS_10 = RNORM_20[:14] + [10] + RNORM_20[15:]


@pytest.mark.parametrize(
    ("values", "screen", "expected"),
    [
        # NHSRplotthedots @ 050b07d : tests/testthat/_snaps/ptd_spc_standard.md (7 s.f.)
        (RNORM_20, True, [0.1416238, -3.01138, 3.294627]),
        (RNORM_20_Y15_IS_10, True, [0.6694159, -2.383666, 3.722497]),
        (RNORM_20_Y15_IS_10, False, [0.6694159, -4.596625, 5.935457]),
    ],
)
def test_xmr_limits_match_the_snapshots(values, screen, expected):
    chart = xmr(values, screen_outliers=screen)
    np.testing.assert_allclose(chart[LIMITS].iloc[0], expected, rtol=5e-7)


SPIKE = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]


@pytest.mark.parametrize(
    ("screen", "expected"),
    [(True, [1.94, -0.72, 4.6]), (False, [1.94, -3.06, 6.95])],
)
def test_screening_moving_ranges_keeps_one_spike_from_widening_the_limits(screen, expected):
    # NHSRplotthedots @ 050b07d : vignettes/deviations.Rmd (its captions round to 2 dp);
    # unscreened is what NHS England's Excel tool shows
    chart = xmr(SPIKE, screen_outliers=screen)
    np.testing.assert_allclose(chart[LIMITS].iloc[0], expected, atol=0.005)


# nhspy-plotthedots @ bfdefe4 : tests/unittests/test_limits_calculations.py
# (values, mean, lower limit, upper limit, lower two-sigma line, upper two-sigma line)
# fmt: off
NHSPY_LIMITS = [
    (list(range(1, 11)), 5.5, 2.84, 8.16, 3.7266666666666666, 7.273333333333333),
    ([1, 2, 3, 4, 5, 4, 3, 2, 1, 2], 2.7, 0.040000000000000036, 5.36, 0.9266666666666667, 4.473333333333334),
    ([1, 2, 3], 2.0, -0.6600000000000001, 4.66, 0.22666666666666657, 3.7733333333333334),
    (list(range(20)), 9.5, 6.84, 12.16, 7.726666666666667, 11.273333333333333),
    ([3, 1, 4, 1, 5, 9, 2], 3.5714285714285716, -6.625238095238096, 13.768095238095238, -3.2263492063492065, 10.36920634920635),
    ([1, 2, 3, 2, 1, 2, 3, 4, 5, 6, 7, 4, 3, 2, 1, 2], 3.0, -0.014666666666666828, 6.014666666666667, 0.9902222222222221, 5.009777777777778),
    ([-1, -2, -3, -2, -1, -2, -3, -4, -5, -6, -7, -4, -3, -2, -1, -2], -3.0, -6.014666666666667, 0.014666666666666828, -5.009777777777778, -0.9902222222222221),
]
# fmt: on


@pytest.mark.parametrize(("values", "mean", "lpl", "upl", "near_lpl", "near_upl"), NHSPY_LIMITS)
def test_xmr_limits_and_two_sigma_lines(values, mean, lpl, upl, near_lpl, near_upl):
    chart = xmr(values)
    row = chart[[*LIMITS, "lower_2sigma", "upper_2sigma"]].iloc[0]
    np.testing.assert_allclose(row, [mean, lpl, upl, near_lpl, near_upl], rtol=1e-9, atol=1e-12)


# NHSRplotthedots @ 050b07d : tests/testthat/test-ptd_calculate_point_type.R


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        ([1] * 6, [0] * 6),
        ([1] * 6 + [-1], [0] * 7),
        ([1] * 8 + [-1], [0] * 6 + [1, 1, 0]),
        ([-1] * 8 + [1], [0] * 6 + [1, 1, 0]),
    ],
)
def test_seven_points_one_side_of_the_mean(side, expected):
    assert shift_ends(side).tolist() == expected


@pytest.mark.parametrize(
    ("ends", "expected"),
    [
        ([0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 1, 1, 1, 1, 0]),
        ([0, 0, 0, 0, 0, 0, 0, 1, 0], [0, 1, 1, 1, 1, 1, 1, 1, 0]),
    ],
)
def test_part_of_a_run_of_seven(ends, expected):
    assert part_of_run(ends).tolist() == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, 3, 4, 5, 6], [0] * 6),
        ([1, 2, 3, 3, 4, 5, 6], [0] * 7),  # an equal pair breaks a trend
        ([1, 2, 3, 4, 5, 6, 7], [0] * 6 + [1]),
        ([2, 1, 2, 3, 4, 5, 6, 7, 3], [0] * 7 + [1, 0]),
        ([7, 6, 5, 4, 3, 2, 1], [0] * 6 + [-1]),
        ([2, 7, 6, 5, 4, 3, 2, 1, 3], [0] * 7 + [-1, 0]),
    ],
)
def test_seven_point_trends(values, expected):
    assert trend_ends(values).tolist() == expected


@pytest.mark.parametrize(
    ("close", "side", "expected"),
    [
        ([1, 0, 1], [1, 1, 1], [1, 1, 1]),
        ([0, 0, 1, 0, 1, 0, 0], [1] * 7, [0, 0, 1, 1, 1, 0, 0]),
        ([0, 0, 1, 1, 0, 0, 0], [1] * 7, [0, 1, 1, 1, 1, 0, 0]),
        ([1, 0, 1], [1, -1, 1], [0, 0, 0]),  # opposite sides of the mean: no signal
        ([0, 0, 1, 0, 1, 0, 0], [1, -1, 1, -1, 1, -1, 1], [0] * 7),
    ],
)
def test_two_in_three_beyond_two_sigma(close, side, expected):
    assert two_in_three(close, side).tolist() == expected
