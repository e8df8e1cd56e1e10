"""openphm.stats directly and indirectly standardised rates against PHEindicatormethods.

Inputs and expected results are copied from ukhsa-collaboration/PHEindicatormethods
@ 093fd28 : tests/testthat/testdata_DSR_ISR.xlsx (sheets testdata_multiarea,
testdata_nonindepe, testdata_1976, refdata, testresults_DSR, testresults_ISR). Blank
cells are NaN; in the frequency columns of testdata_nonindepe a blank is zero people.
The 99.8% limits of testresults_DSR row "testdata_1976" are ten times too large in the
source (its own tests never assert them), so they are not used.
"""

# ruff: noqa: E501 (reference tables keep one source row per line)

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openphm.stats import (
    ESP2013,
    directly_standardised_rate,
    indirectly_standardised_rate,
    indirectly_standardised_ratio,
)

NAN = float("nan")
RTOL = 1e-9  # the sources hold at least 12 significant figures
LIMITS = ["value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"]

# testdata_multiarea: every area has the same 19 age-band populations (0-4 ... 90+)
# fmt: off
POP = [636, 558, 609, 543, 384, 594, 669, 843, 660, 576, 606, 522, 426, 273, 300, 288, 153, 123, 207]
# fmt: on
COUNTS = {
    "testdata_big": [127, 25, 18, 21, 12, 27, 48, 27, 29, 32, 32, 34, 45, 65, 38, 68, 74, 82, 91],
    "testdata_small": [12, 4, 3, 2, 3, 4, 8, 2, 2, 3, 4, 5, 6, 8, 5, 6, 5, 5, 4],
    "testdata_tiny": [0, 0, NAN, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 2, 3],
}


def multiarea() -> pd.DataFrame:
    return pd.DataFrame(
        [(area, band, count, pop) for area, counts in COUNTS.items()
         for band, (count, pop) in enumerate(zip(counts, POP, strict=True))],
        columns=["area", "band", "count", "pop"],
    )  # fmt: skip


def test_esp2013_weights_are_pheindicatormethods_esp2013():
    # PHEindicatormethods @ 093fd28 : R/data.R esp2013, as listed in the reference README
    # fmt: off
    assert ESP2013 == (5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
                       7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000)
    # fmt: on
    assert sum(ESP2013) == 100_000


# testresults_DSR rows 5-7 (dsr per 100000, Dobson):
# (area, total_count, total_pop, value, lower95_0cl, upper95_0cl, lower99_8cl, upper99_8cl)
# fmt: off
DSR_PER_100000 = [
    ("testdata_big", 895, 8970, 10430.247991469423, 9717.709067985681, 11178.94091547925, 9323.2878802199029, 11620.595999522058),
    ("testdata_small", 91, 8970, 1103.212025300104, 877.455767536709, 1367.0882227251795, 763.64203579398793, 1530.0328948244762),
    ("testdata_tiny", 9, 8970, NAN, NAN, NAN, NAN, NAN),
]
# fmt: on
# testresults_DSR rows 1-3 (dsr per 10000)
# fmt: off
DSR_PER_10000 = [
    ("testdata_big", 895, 8970, 1043.0247991469423, 971.77090679856803, 1117.894091547925, 932.32878802199036, 1162.0595999522059),
    ("testdata_small", 91, 8970, 110.3212025300104, 87.745576753670903, 136.70882227251795, 76.36420357939879, 153.00328948244763),
    ("testdata_tiny", 9, 8970, NAN, NAN, NAN, NAN, NAN),
]
# fmt: on
COLUMNS = ["area", "total_count", "total_pop", *LIMITS]


@pytest.mark.parametrize(
    ("multiplier", "rows"), [(100_000, DSR_PER_100000), (10_000, DSR_PER_10000)]
)
def test_dsr_with_dobson_limits_on_esp2013(multiplier, rows):
    expected = pd.DataFrame(rows, columns=COLUMNS)
    result = directly_standardised_rate(
        multiarea(), count="count", population="pop", by="area", multiplier=multiplier
    )
    assert result.area.tolist() == expected.area.tolist()
    np.testing.assert_allclose(result[COLUMNS[1:]], expected[COLUMNS[1:]], rtol=RTOL)
    # fewer than 10 events: not shown, and the source's statistic says why
    assert result.suppression_reason.tolist() == [None, None, "not shown: fewer than 10 events"]


def test_dsr_with_a_user_standard_population():
    # testdata_1976 (18 bands, 85+ open) on the 1976 ESP; testresults_DSR row 8, 95% only
    counts = [127, 25, 18, 21, 12, 27, 48, 27, 29, 32, 32, 34, 45, 65, 38, 68, 74, 82]
    esp1976 = [8000, 7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000, 6000, 5000,
               4000, 3000, 2000, 1000, 1000]  # fmt: skip
    data = pd.DataFrame({"count": counts, "pop": POP[:18], "esp1976": esp1976})
    by_vector = directly_standardised_rate(
        data, count="count", population="pop", standard_population=esp1976, confidence=0.95
    )
    by_column = directly_standardised_rate(
        data, count="count", population="pop", standard_population="esp1976", confidence=0.95
    )
    for result in (by_vector, by_column):
        np.testing.assert_allclose(
            result[["total_count", "total_pop", "value", "lower95_0cl", "upper95_0cl"]],
            [[804, 8763, 8592.0975850223658, 7991.160931442103, 9225.2538803183179]],
            rtol=RTOL,
        )


# testdata_nonindepe: people with 1, 2, 3 and 4 events in each age band (same POP)
PEOPLE = {
    "testdata_nonind_big": (
        [75, 16, 11, 12, 8, 18, 26, 18, 18, 21, 21, 23, 23, 39, 25, 40, 46, 49, 56],
        [16, 3, 2, 3, 0, 3, 6, 3, 4, 4, 4, 4, 6, 8, 5, 9, 9, 10, 11],
        [4, 1, 1, 1, 0, 1, 2, 1, 1, 1, 1, 1, 2, 2, 1, 2, 2, 3, 3],
        [2, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1],
    ),
    "testdata_nonind_dummy": (
        [80, 15, 10, 17, 12, 25, 30, 20, 19, 23, 19, 30, 19, 25, 15, 20, 30, 29, 22],
        [10, 5, 1, 2, 0, 1, 9, 2, 5, 3, 5, 2, 7, 14, 10, 18, 16, 19, 21],
        [9, 0, 2, 0, 0, 0, 0, 1, 0, 1, 1, 0, 4, 4, 1, 4, 4, 5, 9],
        [0] * 19,
    ),
    "testdata_nonind_small": (
        [7, 4, 3, 0, 3, 4, 5, 2, 2, 3, 4, 5, 3, 5, 5, 3, 5, 5, 4],
        [1] + [0] * 18,
        [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0],
        [0] * 19,
    ),
    "testdata_nonind_tiny": (
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0],
        [0] * 17 + [1, 0],
        [0] * 18 + [1],
        [0] * 19,
    ),
}
# testresults_DSR rows 9-12 ("Dobson, with confidence adjusted for non-independent events")
# fmt: off
DSR_NON_INDEPENDENT = [
    ("testdata_nonind_big", 895, 8970, 10430.24799147, 9532.9497786200009, 11373.074832980001, 9036.2563135700002, 11929.24980749),
    ("testdata_nonind_dummy", 895, 8970, 10430.24799147, 9512.2988375200002, 11394.77359633, 9004.1741812100008, 11963.748704039999),
    ("testdata_nonind_small", 89, 8970, 1082.9541984099999, 817.68609755, 1393.5588492700001, 684.16751792000002, 1585.4964559299999),
    ("testdata_nonind_tiny", 9, 8970, NAN, NAN, NAN, NAN, NAN),
]
# fmt: on


def test_dsr_for_non_independent_events():
    # long form, as calculate_dsr takes it: one row per area, age band and event frequency
    data = pd.DataFrame(
        [(area, band, frequency, people, POP[band])
         for area, by_frequency in PEOPLE.items()
         for frequency, counts in enumerate(by_frequency, start=1)
         for band, people in enumerate(counts)],
        columns=["area", "band", "events_each", "people", "pop"],
    )  # fmt: skip
    result = directly_standardised_rate(
        data, count="people", population="pop", by="area",
        event_frequency="events_each", age_band="band",
    )  # fmt: skip
    expected = pd.DataFrame(DSR_NON_INDEPENDENT, columns=COLUMNS)
    assert result.area.tolist() == expected.area.tolist()
    # the source rounds these rows to 8 decimal places
    np.testing.assert_allclose(result[COLUMNS[1:]], expected[COLUMNS[1:]], rtol=1e-11)
    assert set(result.method) == {"dobson, non-independent events"}


# refdata: the reference population's counts and populations by age band
REF_COUNT = [10303, 2824, 0, 3615, 3641, 3490, 3789, 3213, 3031, 2771, 3089, 3490, 3595, 4745,
             5514, 7125, 5694, 6210, 5757]  # fmt: skip
REF_POP = [50520, 57173, 60213, 54659, 44345, 50128, 62163, 67423, 62899, 55463, 60479, 49974,
           44140, 40888, 37239, 30819, 18136, 15325, 13918]  # fmt: skip
EXPECTED = 835.88356123117433  # testresults_ISR: the same for all three areas
ISR_COLUMNS = ["observed", "expected", *LIMITS]

# testresults_ISR rows 1-3 (indirectly standardised rate per 100000) and 4-6 (per 1000)
# fmt: off
ISR_RATE = {
    100_000: [
        (895, EXPECTED, 10011.137622091057, 9365.91600297888, 10689.097582910616, 9008.7578618655007, 11089.02718538338),
        (91, EXPECTED, 1017.8922051511577, 819.52100250646299, 1249.7592601383201, 719.51329035282447, 1392.9381508991678),
        (9, EXPECTED, 100.6706576523123, 46.033035133078933, 191.10426659054028, 27.431908625542341, 253.43696352192359),
    ],
    1_000: [
        (895, EXPECTED, 100.11137622091056, 93.659160029788794, 106.89097582910615, 90.087578618655002, 110.8902718538338),
        (91, EXPECTED, 10.178922051511577, 8.1952100250646307, 12.497592601383202, 7.1951329035282443, 13.929381508991677),
        (9, EXPECTED, 1.0067065765231229, 0.46033035133078931, 1.9110426659054027, 0.27431908625542339, 2.5343696352192358),
    ],
}
# fmt: on
REFERENCE_RATE = {100_000: 9349.8830922110192, 1_000: 93.498830922110187}


@pytest.mark.parametrize("multiplier", [100_000, 1_000])
def test_indirectly_standardised_rates(multiplier):
    result = indirectly_standardised_rate(
        multiarea(), count="count", population="pop", by="area",
        reference_count=REF_COUNT, reference_population=REF_POP, multiplier=multiplier,
    )  # fmt: skip
    np.testing.assert_allclose(result[ISR_COLUMNS], ISR_RATE[multiplier], rtol=RTOL)
    np.testing.assert_allclose(result.reference_rate, REFERENCE_RATE[multiplier], rtol=RTOL)
    assert result.method.tolist() == ["byar", "byar", "exact"]  # exact below 10 events


# testresults_ISR rows 7-9 (ratio x 1) and 10-12 (ratio x 100)
# fmt: off
ISR_RATIO = {
    1: [
        (895, EXPECTED, 1.0707232939020275, 1.0017147712553987, 1.1432332872498949, 0.96351556196144372, 1.1860070415876287),
        (91, EXPECTED, 0.10886683770400503, 8.765040101829405e-2, 0.13366576328418911, 7.6954255283921108e-2, 0.14897920510466744),
        (9, EXPECTED, 1.0767049882813684e-2, 4.9233808250957762e-3, 2.043921455549973e-2, 2.9339306550682617e-3, 2.7105896514690211e-2),
    ],
    100: [
        (895, EXPECTED, 107.07232939020275, 100.17147712553987, 114.32332872498949, 96.351556196144372, 118.60070415876287),
        (91, EXPECTED, 10.886683770400502, 8.7650401018294044, 13.366576328418912, 7.6954255283921107, 14.897920510466744),
        (9, EXPECTED, 1.0767049882813684, 0.49233808250957761, 2.043921455549973, 0.2933930655068262, 2.7105896514690211),
    ],
}
# fmt: on


@pytest.mark.parametrize("reference_value", [1, 100])
def test_indirectly_standardised_ratios(reference_value):
    # reference given as columns of the data this time (testdata_multiarea_isr's layout)
    data = multiarea().assign(refcount=REF_COUNT * 3, refpop=REF_POP * 3)
    result = indirectly_standardised_ratio(
        data, count="count", population="pop", by="area", reference_value=reference_value,
        reference_count="refcount", reference_population="refpop",
    )  # fmt: skip
    assert result.area.tolist() == list(COUNTS)
    np.testing.assert_allclose(result[ISR_COLUMNS], ISR_RATIO[reference_value], rtol=RTOL)
