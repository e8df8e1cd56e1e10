"""openphm.stats funnel plots against FunnelPlotR.

Numbers are copied from nhs-r-community/FunnelPlotR @ 9020d49 : tests/testthat/*.R (the
file is named on each test). FunnelPlotR rounds its expected values before comparing, so
the tolerance here is half a unit in the last place it shows.
"""

from __future__ import annotations

import numpy as np

from openphm.stats import funnel, funnel_limits, outlier_flags


def test_records_are_summed_by_group_into_one_ratio_per_unit():
    # FunnelPlotR @ 9020d49 : tests/testthat/test-aggregate_fun.R (round(b$rr, 6))
    fitted = funnel(
        [100, 150, 180, 89, 120, 225],
        [102, 135, 165, 95, 100, 220],
        group=["a", "a", "a", "b", "b", "c"],
    )
    assert fitted.points.group.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(fitted.points.value, [1.069652, 1.071795, 1.022727], atol=5e-7)


def test_dispersion_ratio_for_shmi_ratios():
    # FunnelPlotR @ 9020d49 : tests/testthat/test-classes_methods.R
    # funnel_plot(num, den, groups a-f) with data_type "SR", sr_method "SHMI", trim_by 0.1;
    # round(phi, 6) == 2.948033
    fitted = funnel(
        [100, 150, 180, 80, 120, 225],
        [108, 112, 165, 95, 100, 220],
        group=list("abcdef"),
        kind="ratio",
        method="shmi",
        trim=0.1,
    )
    assert abs(fitted.phi - 2.948033) <= 5e-7
    assert fitted.tau2 > 0 and fitted.adjusted


def test_exact_poisson_limits_around_a_ratio_of_one():
    # FunnelPlotR @ 9020d49 : tests/testthat/test-poisson_limits.R
    # calculate_limits(number_seq = 15, 20, 30; target 1; unadjusted)
    limits = funnel_limits([15, 20, 30], kind="ratio", target=1)
    np.testing.assert_allclose(limits.lower95_0, [0.5596924, 0.6108260, 0.6746958], atol=5e-8)
    np.testing.assert_allclose(limits.upper95_0, [1.649348, 1.544419, 1.427562], atol=5e-7)
    np.testing.assert_allclose(limits.lower99_8, [0.3862650, 0.4479107, 0.5289724], atol=5e-8)
    np.testing.assert_allclose(limits.upper99_8, [2.082907, 1.902094, 1.702771], atol=5e-7)


RR = [1, 0.95, 1.05, 0.8, 1.2, 0.6, 1.4, 0.4, 1.6, 0]


def test_outliers_are_outside_the_limits_in_force():
    # FunnelPlotR @ 9020d49 : tests/testthat/test-outliers_func.R (limits inclusive)
    cases = [
        ((0.9, 1.1), [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]),  # 95%, unadjusted
        ((0.79, 1.21), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]),  # 95%, over-dispersion adjusted
        ((0.59, 1.41), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]),  # 99.8%, unadjusted
        ((0.38, 1.62), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),  # 99.8%, adjusted
    ]
    for (lower, upper), expected in cases:
        flags = outlier_flags(RR, np.full(10, lower), np.full(10, upper))
        assert np.abs(flags).tolist() == expected
        # and the sign says which side: above the upper limit is +1
        assert all(flag == np.sign(rr - 1) for flag, rr in zip(flags, RR, strict=True) if flag)
