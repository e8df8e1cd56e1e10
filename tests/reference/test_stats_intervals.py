"""openphm.stats crude rates, proportions, Byar and Wilson limits against PHEindicatormethods.

Numbers are copied from ukhsa-collaboration/PHEindicatormethods @ 093fd28 :
tests/testthat/testdata_Byars_Wilson.xlsx, testdata_Rate.xlsx and testdata_Proportion.xlsx
(the package's own expected results; blank cells are NaN).
"""

# ruff: noqa: E501 (reference tables keep one source row per line)

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openphm.stats import byar_lower, byar_upper, crude_rate, proportion, wilson_lower, wilson_upper

NAN = float("nan")
RTOL = 1e-9  # the sources hold full double precision; 6 significant figures is the floor


# PHEindicatormethods @ 093fd28 : tests/testthat/testdata_Byars_Wilson.xlsx, sheet testdata_B_W
# (x, lowercl, uppercl, confidence); a Byar lower limit the formula makes negative is NA
# fmt: off
BYAR = [
    (65, 50.163187710459454, 82.849138545939837, 0.95),
    (1045, 982.59320180733255, 1110.3312129856499, 0.95),
    (1, 1.3072132901504351e-2, 5.5637555824752605, 0.95),
    (65, 42.880261471480203, 94.000290844318016, 0.998),
    (1045, 947.94070356103737, 1148.8061609880331, 0.998),
    (10, 2.916318374695686, 24.193724927880535, 0.998),
    (1, NAN, 9.362180217908362, 0.998),
]
# fmt: on
# same sheet, Wilson rows: (x, n, lowercl, uppercl, confidence)
# fmt: off
WILSON = [
    (65, 100, 0.55254443296887967, 0.73635751756902468, 0.95),
    (1045, 5000, 0.19795549880013297, 0.22049130373189027, 0.95),
    (0.445, 1, 4.3817447720588223e-2, 0.93346212769791559, 0.95),
    (65, 100, 0.49549465740704313, 0.77835406140896968, 0.998),
    (1045, 5000, 0.19179381799015244, 0.22731562902525818, 0.998),
    (0.445, 1, 1.9347006132900975e-2, 0.97022599470195414, 0.998),
]
# fmt: on


@pytest.mark.parametrize(("x", "lower", "upper", "level"), BYAR)
def test_byar_limits(x, lower, upper, level):
    np.testing.assert_allclose(byar_lower([x], level), [lower], rtol=RTOL)
    np.testing.assert_allclose(byar_upper([x], level), [upper], rtol=RTOL)


@pytest.mark.parametrize(("x", "n", "lower", "upper", "level"), WILSON)
def test_wilson_limits(x, n, lower, upper, level):
    np.testing.assert_allclose(wilson_lower([x], [n], level), [lower], rtol=RTOL)
    np.testing.assert_allclose(wilson_upper([x], [n], level), [upper], rtol=RTOL)


# PHEindicatormethods @ 093fd28 : tests/testthat/testdata_Rate.xlsx, sheet testdata_Rate,
# rows with multiplier 100000:
# (numerator, denominator, value, lower95_0cl, upper95_0cl, lower99_8cl, upper99_8cl, method)
# fmt: off
RATES = [
    (1, 100, 1000, 25.317807984289896, 5571.6433909388979, 1.0005003335835343, 9233.4134764515857, "exact"),
    (5, 100, 5000, 1623.4863901184199, 11668.332079322669, 739.37173191783893, 16454.745203680104, "exact"),
    (20, 100, 20000, 12211.428834875936, 30889.880369197064, 8922.8023651441927, 38085.035625041914, "byar"),
    (65, 100, 65000, 50163.187710459453, 82849.138545939844, 42880.261471480204, 94000.290844318006, "byar"),
    (9856, 12345, 79837.991089509916, 78269.490589767578, 81430.016542721409, 77375.905432710526, 82354.472770954308, "byar"),
    (7776456, 7564336677, 102.80420256339154, 102.73196005302074, 102.87648334092832, 102.690317308454, 102.91817639509068, "byar"),
    (222, 3215, 6905.1321928460338, 6026.5748776526743, 7875.7293708718507, 5560.7376952598534, 8461.0466817334109, "byar"),
    (999, 3456, 28906.25, 27141.304936090521, 30755.833237378414, 26162.147596445768, 31845.604819822653, "byar"),
    (250, 220, 113636.36363636365, 99984.947385328764, 128631.14487455782, 92710.005544389525, 137651.23772147458, "byar"),
]
# fmt: on
LIMITS = ["value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"]


def test_crude_rates_per_100000_with_both_levels():
    expected = pd.DataFrame(RATES, columns=["numerator", "denominator", *LIMITS, "method"])
    result = crude_rate(expected.numerator, expected.denominator)
    np.testing.assert_allclose(result[LIMITS], expected[LIMITS], rtol=RTOL)
    assert result.method.tolist() == expected.method.tolist()


def test_crude_rates_per_100_scale_with_the_multiplier():
    # same sheet, multiplier 100: Area5 and Area6
    result = crude_rate([9856, 7776456], [12345, 7564336677], multiplier=100)
    # fmt: off
    expected = [
        [79.837991089509913, 78.269490589767571, 81.430016542721404, 77.375905432710525, 82.354472770954303],
        [0.10280420256339154, 0.10273196005302074, 0.10287648334092832, 0.102690317308454, 0.10291817639509068],
    ]
    # fmt: on
    np.testing.assert_allclose(result[LIMITS], expected, rtol=RTOL)


def test_crude_rates_missing_inputs_give_missing_results():
    # same sheet: Area09 (no numerator), Area10 (no denominator), Area11 (neither)
    result = crude_rate([NAN, 10, NAN], [100, NAN, NAN])
    assert result[LIMITS].isna().all().all()
    assert result.method.tolist() == [None, "byar", None]  # the source's NA, Byars, NA


def test_crude_rates_at_one_level_name_only_that_level():
    # PHEindicatormethods @ 093fd28 : tests/testthat/testdata_Rate.xlsx, sheet testdata_Rate_g
    numerator = [2, 10, 40, 130, 19712, 15552912, 444, 1998]
    denominator = [200, 200, 200, 200, 24690, 15128673354, 6430, 6912]
    # fmt: off
    lower = [121.10463927198258, 2393.7249569837822, 14286.649933218456, 54306.521019257249,
             78727.300271336382, 102.7531168009107, 6277.6881141457798, 27652.520088302212]
    upper = [3612.3438338619794, 9195.7293028782369, 27235.04966001213, 77182.744306619628,
             80960.432718132564, 102.85530745877516, 7578.3044586343622, 30202.169187218453]
    # fmt: on
    result = crude_rate(numerator, denominator, confidence=0.95)
    assert [c for c in result.columns if c.endswith("cl")] == ["lower95_0cl", "upper95_0cl"]
    np.testing.assert_allclose(result.lower95_0cl, lower, rtol=RTOL)
    np.testing.assert_allclose(result.upper95_0cl, upper, rtol=RTOL)
    assert result.method.tolist() == ["exact"] + ["byar"] * 7


# PHEindicatormethods @ 093fd28 : tests/testthat/testdata_Proportion.xlsx, sheet testdata_Prop,
# rows with multiplier 1: (numerator, denominator, value, lower95_0cl, upper95_0cl,
# lower99_8cl, upper99_8cl)
# fmt: off
PROPORTIONS = [
    (1, 100, 0.01, 1.7674320641406511e-3, 5.4486196178705294e-2, 8.73065697299977e-4, 0.10455445283705821),
    (5, 100, 0.05, 2.154367915436798e-2, 0.11175046923191911, 1.3865320725997183e-2, 0.16458852282596442),
    (20, 100, 0.2, 0.1333669333310325, 0.28882916559315885, 0.10519162066711432, 0.3471109417008601),
    (65, 100, 0.65, 0.55254443296887967, 0.73635751756902468, 0.49549465740704313, 0.77835406140896968),
    (9856, 12345, 0.79837991089509919, 0.79121017529090687, 0.80536400736149094, 0.7869924108419063, 0.80930614125896261),
    (7776456, 7564336677, 1.0280420256339154e-3, 1.0273201001641094e-3, 1.0287644578977231e-3, 1.0269040118442213e-3, 1.0291812992698397e-3),
    (222, 3215, 6.9051321928460335e-2, 6.0791690363636595e-2, 7.8339566813836331e-2, 5.647101964624248e-2, 8.4184141852701344e-2),
    (999, 3456, 0.2890625, 0.27418951080009873, 0.30440389662818057, 0.26583995768074953, 0.31344754492799848),
]
# fmt: on


def test_proportions_with_wilson_limits():
    expected = pd.DataFrame(PROPORTIONS, columns=["numerator", "denominator", *LIMITS])
    result = proportion(expected.numerator, expected.denominator)
    np.testing.assert_allclose(result[LIMITS], expected[LIMITS], rtol=RTOL)
    assert set(result.method) == {"wilson"}


def test_percentages_scale_value_and_limits_by_100():
    # same sheet, multiplier 100: Area3 and Area7
    result = proportion([20, 222], [100, 3215], multiplier=100)
    # fmt: off
    expected = [
        [20, 13.33669333310325, 28.882916559315884, 10.519162066711433, 34.711094170086007],
        [6.9051321928460334, 6.0791690363636599, 7.8339566813836328, 5.6471019646242482, 8.4184141852701337],
    ]
    # fmt: on
    np.testing.assert_allclose(result[LIMITS], expected, rtol=RTOL)


def test_proportions_at_one_level_and_missing_inputs():
    # PHEindicatormethods @ 093fd28 : tests/testthat/testdata_Proportion.xlsx, sheet testdata_Prop_g
    numerator = [2, 10, 40, 130, 19712, 15552912, 444, 1998, NAN, 10, NAN]
    denominator = [200, 200, 200, 200, 24690, 15128673354, 6430, 6912, 100, NAN, NAN]
    # fmt: off
    lower = [2.746658133544438e-3, 2.7382645600763925e-2, 0.15045200926098115,
             0.58163464336040083, 0.79332918455413748, 1.0275314947741198e-3,
             6.3107995762980915e-2, 0.27849494363237037, NAN, NAN, NAN]
    upper = [3.5721761716176796e-2, 8.9578148138775973e-2, 0.26085518656537882,
             0.71271175872641923, 0.80333780322782966, 1.0285528098907119e-3,
             7.5509261831701299e-2, 0.29986439017207411, NAN, NAN, NAN]
    # fmt: on
    result = proportion(numerator, denominator, confidence=0.95)
    np.testing.assert_allclose(result.lower95_0cl, lower, rtol=RTOL)
    np.testing.assert_allclose(result.upper95_0cl, upper, rtol=RTOL)
