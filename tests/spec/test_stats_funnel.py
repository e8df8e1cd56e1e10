"""Spec: funnel plots (openphm.stats.funnel), as an analyst comparing places reads them.

The six SHMI-style units below are FunnelPlotR's test data: observed against expected
deaths, more spread than chance allows (phi = 2.95).
"""

from __future__ import annotations

import numpy as np
import pytest

from openphm.stats import funnel, funnel_limits
from openphm.stats.overdispersion import between_unit_variance, dispersion_ratio

OBSERVED = [100, 150, 180, 80, 120, 225]
EXPECTED = [108, 112, 165, 95, 100, 220]


def test_exact_binomial_limits_interpolate_between_the_discrete_steps():
    # Binomial(10, 0.5): P(R <= 1) = 11/1024, P(R <= 2) = 56/1024, P(R <= 7) = 968/1024,
    # P(R <= 8) = 1013/1024. The 2.5% point lies in the step at 2 and the 97.5% point in
    # the step at 8; Spiegelhalter (2005, A.1.1) interpolates within each step.
    lower = (2 - (56 / 1024 - 0.025) / (45 / 1024)) / 10
    upper = (8 - (1013 / 1024 - 0.975) / (45 / 1024)) / 10
    limits = funnel_limits([10], kind="proportion", target=0.5, confidence=0.95)
    assert limits[["lower95_0", "upper95_0"]].iloc[0].tolist() == pytest.approx([lower, upper])


def test_exact_binomial_limits_approach_the_normal_limits_for_large_samples():
    n, p = 1_000_000, 0.2
    limits = funnel_limits([n], kind="proportion", target=p, confidence=0.95).iloc[0]
    half_width = 1.959964 * np.sqrt(p * (1 - p) / n)
    assert limits.lower95_0 == pytest.approx(p - half_width, rel=1e-4)
    assert limits.upper95_0 == pytest.approx(p + half_width, rel=1e-4)


def test_over_dispersion_widens_the_limits_and_shrinks_the_z_scores():
    fitted = funnel(OBSERVED, EXPECTED)  # ratios, SHMI method, additive (tau squared)
    points = fitted.points
    assert fitted.phi > 1 and fitted.tau2 > 0 and fitted.adjusted
    assert (points.od_upper95_0 > points.upper95_0).all()
    assert (points.od_lower95_0 < points.lower95_0).all()
    assert (points.z_adjusted.abs() < points.z.abs()).all()
    # 150 deaths against 112 expected is outside the exact 99.8% limit, not the adjusted one
    assert points.value[1] > points.upper99_8[1]
    assert points.flag99_8.tolist() == [0, 0, 0, 0, 0, 0]


def test_tau_squared_is_the_dersimonian_laird_excess_over_chance():
    # two units with standard errors 0.1 and 0.2: weights 1/s^2 = 100 and 25, so
    # sum(w) - sum(w^2)/sum(w) = 125 - 10625/125 = 40; phi = 2 gives n*phi - (n-1) = 3
    assert between_unit_variance(2.0, np.array([0.1, 0.2])) == pytest.approx(3 / 40)
    # no excess when n * phi does not exceed n - 1
    assert between_unit_variance(0.4, np.array([0.1, 0.2])) == 0
    # phi is the mean squared z-score of the units kept (NaN marks a truncated unit)
    assert dispersion_ratio(np.array([1.0, np.nan, -3.0])) == pytest.approx(5.0)


def test_the_multiplicative_adjustment_scales_the_spread_by_root_phi():
    fitted = funnel(OBSERVED, EXPECTED, adjustment="multiplicative")
    points = fitted.points
    # on the log scale the 95% half-width is 1.96 * sqrt(phi / expected)
    half_width = np.log(points.od_upper95_0) / (1.959964 / np.sqrt(points.denominator))
    np.testing.assert_allclose(half_width, np.sqrt(fitted.phi), rtol=1e-6)
    np.testing.assert_allclose(points.z_adjusted, points.z / np.sqrt(fitted.phi))


def test_units_within_chance_keep_the_exact_limits():
    fitted = funnel([100, 101, 99, 100], [100, 100, 100, 100], method="cqc")
    assert fitted.phi < 1 and fitted.tau2 == 0 and not fitted.adjusted
    assert not any(column.startswith("od_") for column in fitted.points.columns)
    assert fitted.points.flag95_0.tolist() == [0, 0, 0, 0]


def test_shmi_truncates_the_top_and_bottom_tenth_before_measuring_dispersion():
    rng = np.random.default_rng(7)
    expected = rng.uniform(50, 500, size=20)
    observed = rng.poisson(expected)
    shmi = funnel(observed, expected, method="shmi").points
    cqc = funnel(observed, expected, method="cqc").points
    dropped = shmi.z_trimmed.isna()
    assert dropped.sum() == 4  # two lowest and two highest z-scores
    ranks = shmi.z.rank()
    assert sorted(ranks[dropped]) == [1, 2, 19, 20]
    # CQC winsorises instead: extremes are pulled in to the 10th and 90th percentiles
    assert cqc.z_trimmed.notna().all()
    assert cqc.z_trimmed.max() < cqc.z.max() and cqc.z_trimmed.min() > cqc.z.min()


def test_a_rate_funnel_compares_each_place_with_the_pooled_rate():
    admissions = [30, 45, 12, 80, 51]
    population = [10_000, 12_000, 8_000, 15_000, 11_000]
    rate = funnel(admissions, population, kind="rate", multiplier=1000)
    pooled = sum(admissions) / sum(population)
    assert rate.target == pytest.approx(pooled)
    # a rate is observed over expected = pooled rate x population, scaled by that rate
    ratio = funnel(admissions, [pooled * n for n in population], kind="ratio")
    np.testing.assert_allclose(rate.points.z, ratio.points.z)
    np.testing.assert_allclose(rate.points.upper99_8, ratio.points.upper99_8 * pooled * 1000)
    assert rate.phi == pytest.approx(ratio.phi) and rate.tau2 == pytest.approx(ratio.tau2)


def test_proportion_limits_stay_between_0_and_1():
    fitted = funnel([1, 30, 12, 59, 8, 90], [10, 100, 80, 60, 60, 200], kind="proportion")
    limits = fitted.limits([2, 5, 10, 1000])
    columns = [c for c in limits.columns if c != "denominator"]
    assert ((limits[columns] >= 0) & (limits[columns] <= 1)).all().all()
    # the limits narrow as the denominator grows
    assert limits.od_upper95_0.is_monotonic_decreasing
    assert limits.od_lower95_0.is_monotonic_increasing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "proportion", "method": "shmi"}, "applies to ratios and rates only"),
        ({"method": "log"}, "method must be one of"),
        ({"trim": 0.5}, "trim must be a fraction"),
        ({"kind": "odds"}, "kind must be one of"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        funnel(OBSERVED, EXPECTED, **kwargs)


def test_bad_units_are_refused():
    with pytest.raises(ValueError, match="pass at least two"):
        funnel([10], [12])
    with pytest.raises(ValueError, match=r"numerator\[1\] is nan"):
        funnel([10, np.nan], [12, 12])
    with pytest.raises(ValueError, match="whole numbers"):
        funnel([1, 2], [10.5, 12], kind="proportion")
