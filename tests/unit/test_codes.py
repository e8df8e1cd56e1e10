"""Code systems: NHS numbers, SNOMED CT concept ids, ICD-10 and OPCS-4."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from openphm.codes import (
    SYNTHETIC_NHS_CAPACITY,
    SYNTHETIC_NHS_PREFIX,
    ICD10Code,
    NHSNumber,
    OPCS4Code,
    SNOMEDCTCode,
    corrupt_nhs_number,
    hes_icd10,
    is_valid_icd10,
    is_valid_nhs_number,
    is_valid_opcs4,
    is_valid_sctid,
    nhs_check_digit,
    normalise_icd10,
    normalise_opcs4,
    synthetic_nhs_numbers,
    valid_nhs_mask,
    valid_sctid_mask,
    verhoeff_check_digit,
)

# The NHS Data Dictionary's worked example of the Modulus 11 check.
WORKED_EXAMPLE = "9434765919"


def _substitutions(value: str):
    """Every string that differs from value in exactly one digit."""
    for i, original in enumerate(value):
        for digit in "0123456789":
            if digit != original:
                yield value[:i] + digit + value[i + 1 :]


def _adjacent_transpositions(value: str):
    """Every string made by swapping two adjacent, different digits of value."""
    for i in range(len(value) - 1):
        if value[i] != value[i + 1]:
            yield value[:i] + value[i + 1] + value[i] + value[i + 2 :]


# ---------------------------------------------------------------------------------------
# NHS numbers
# ---------------------------------------------------------------------------------------


def test_the_worked_example_has_check_digit_9():
    # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299 = 27*11 + 2; 11 - 2 = 9
    assert nhs_check_digit(WORKED_EXAMPLE[:9]) == 9
    assert is_valid_nhs_number(WORKED_EXAMPLE)
    assert is_valid_nhs_number("943 476 5919")


def test_the_worked_example_with_check_digit_0_is_invalid():
    assert not is_valid_nhs_number("9434765910")
    assert not is_valid_nhs_number("943 476 5910")


def test_a_remainder_of_0_gives_check_digit_0_not_11():
    # 3*3 + 1*2 = 11 = 1*11 + 0; 11 - 0 = 11, which becomes 0
    assert nhs_check_digit("000000031") == 0
    assert is_valid_nhs_number("0000000310")


@pytest.mark.parametrize(
    "first9",
    [
        "000000006",  # 6*2 = 12 = 1*11 + 1
        "999000000",  # 9*10 + 9*9 + 9*8 = 243 = 22*11 + 1
    ],
)
def test_a_check_digit_of_10_means_no_valid_number(first9):
    assert nhs_check_digit(first9) is None
    assert not any(is_valid_nhs_number(first9 + d) for d in "0123456789")


def test_every_single_digit_error_in_an_nhs_number_is_detected():
    wrong = list(_substitutions(WORKED_EXAMPLE))
    assert len(wrong) == 90
    assert not any(is_valid_nhs_number(v) for v in wrong)


def test_every_adjacent_transposition_in_an_nhs_number_is_detected():
    swapped = list(_adjacent_transpositions(WORKED_EXAMPLE))
    assert len(swapped) == 9
    assert not any(is_valid_nhs_number(v) for v in swapped)


@pytest.mark.parametrize(
    "value",
    [" 9434765919 ", "9 4 3 4 7 6 5 9 1 9", "943476 5919"],
)
def test_spaces_anywhere_are_ignored(value):
    assert is_valid_nhs_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "943476591",  # 9 digits
        "94347659190",  # 11 digits
        "943-476-5919",  # only spaces are removed
        "\t9434765919",
        "9434765919\n",
        "９４３４７６５９１９",  # fullwidth digits: str.isdigit() says yes
        "943476591٩",  # Arabic-Indic nine
        "943476591a",
        None,
        9434765919,
    ],
)
def test_not_nhs_numbers(value):
    assert not is_valid_nhs_number(value)


@pytest.mark.parametrize(
    "first9", ["94347659", "9434765919", "94347659a", "９４３４７６５９１", None]
)
def test_nhs_check_digit_wants_nine_digits_and_does_not_echo_them(first9):
    with pytest.raises(ValueError, match="expected exactly 9 digits") as raised:
        nhs_check_digit(first9)
    assert "9434" not in str(raised.value)
    assert "９４３" not in str(raised.value)


def test_synthetic_nhs_numbers_are_distinct_valid_and_start_999():
    numbers = synthetic_nhs_numbers(20_000, np.random.default_rng(7))
    assert numbers.shape == (20_000,)
    assert numbers.dtype.kind == "U"
    assert len(set(numbers.tolist())) == 20_000
    assert all(n.startswith(SYNTHETIC_NHS_PREFIX) and len(n) == 10 for n in numbers)
    assert all(is_valid_nhs_number(n) for n in numbers)


def test_synthetic_nhs_numbers_are_deterministic_for_a_seed():
    first = synthetic_nhs_numbers(5_000, np.random.default_rng(2024))
    again = synthetic_nhs_numbers(5_000, np.random.default_rng(2024))
    other = synthetic_nhs_numbers(5_000, np.random.default_rng(2025))
    np.testing.assert_array_equal(first, again)
    assert (first != other).mean() > 0.99


def test_synthetic_nhs_numbers_come_in_random_order_from_the_whole_range():
    numbers = synthetic_nhs_numbers(10_000, np.random.default_rng(3)).astype(np.int64)
    assert not np.all(numbers[:-1] < numbers[1:])
    stems = (numbers // 10) % 10**6  # the six digits after 999
    for power in range(6):  # every free digit position takes every value
        assert set(((stems // 10**power) % 10).tolist()) == set(range(10))


def test_synthetic_capacity_is_the_count_of_valid_999_numbers():
    # Independently: how many six-digit stems s make 999s a number whose check digit is
    # not 10, counted by the distribution of the weighted sum mod 11 over the digits.
    counts = [0] * 11
    counts[243 % 11] = 1  # 999: 9*10 + 9*9 + 9*8
    for weight in (7, 6, 5, 4, 3, 2):
        nxt = [0] * 11
        for remainder, count in enumerate(counts):
            for digit in range(10):
                nxt[(remainder + weight * digit) % 11] += count
        counts = nxt
    assert sum(counts) == 10**6
    assert 10**6 - counts[1] == SYNTHETIC_NHS_CAPACITY  # remainder 1 -> check digit 10


def test_synthetic_nhs_numbers_can_exhaust_the_range_and_no_more():
    everything = synthetic_nhs_numbers(SYNTHETIC_NHS_CAPACITY, np.random.default_rng(1))
    assert len(set(everything.tolist())) == SYNTHETIC_NHS_CAPACITY
    assert valid_nhs_mask(everything).all()
    assert np.all(np.strings.startswith(everything, SYNTHETIC_NHS_PREFIX))
    with pytest.raises(ValueError, match="only 909,091 valid NHS numbers start 999"):
        synthetic_nhs_numbers(SYNTHETIC_NHS_CAPACITY + 1, np.random.default_rng(1))


def test_synthetic_nhs_numbers_arguments_are_checked():
    assert synthetic_nhs_numbers(0, np.random.default_rng(0)).shape == (0,)
    assert synthetic_nhs_numbers(np.int64(3), np.random.default_rng(0)).shape == (3,)
    with pytest.raises(ValueError, match=">= 0"):
        synthetic_nhs_numbers(-1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        synthetic_nhs_numbers(5, np.random.RandomState(0))
    with pytest.raises(TypeError):
        synthetic_nhs_numbers(True, np.random.default_rng(0))
    with pytest.raises(TypeError):
        synthetic_nhs_numbers(5.0, np.random.default_rng(0))


def test_corrupted_nhs_numbers_keep_the_first_nine_digits_and_are_invalid():
    rng = np.random.default_rng(11)
    for number in synthetic_nhs_numbers(2_000, np.random.default_rng(5)):
        bad = corrupt_nhs_number(number, rng)
        assert len(bad) == 10 and bad.isascii() and bad.isdigit()
        assert bad[:9] == number[:9]
        assert bad[9] != number[9]
        assert not is_valid_nhs_number(bad)


def test_corruption_uses_every_wrong_check_digit():
    rng = np.random.default_rng(0)
    seen = {corrupt_nhs_number(WORKED_EXAMPLE, rng)[9] for _ in range(500)}
    assert seen == set("012345678")


def test_corruption_is_deterministic_and_accepts_spaces():
    a = [corrupt_nhs_number("943 476 5919", np.random.default_rng(9)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    assert a[0].startswith("943476591")


def test_corrupting_stems_with_no_valid_check_digit_still_gives_invalid_numbers():
    rng = np.random.default_rng(4)
    results = {corrupt_nhs_number("9990000001", rng) for _ in range(300)}
    assert {r[:9] for r in results} == {"999000000"}
    assert len(results) == 10  # any tenth digit is wrong here
    assert not any(is_valid_nhs_number(r) for r in results)


@pytest.mark.parametrize("value", ["943476591", "943-476-5919", "94347659x9", None])
def test_corrupt_nhs_number_rejects_non_numbers_without_echoing_them(value):
    with pytest.raises(ValueError, match="expected 10 digits") as raised:
        corrupt_nhs_number(value, np.random.default_rng(0))
    assert "943" not in str(raised.value)


MIXED_NHS = [
    WORKED_EXAMPLE,
    "943 476 5919",
    "9434765910",
    "943-476-5919",
    "",
    "９４３４７６５９１９",
    "9434765919\x00",
    "99900000",
    "0000000310",
    "9990000000",
    " 9434765919",
]


def test_valid_nhs_mask_agrees_with_the_scalar_check_on_str_arrays():
    values = np.array(MIXED_NHS)
    mask = valid_nhs_mask(values)
    assert mask.dtype == bool and mask.shape == (len(MIXED_NHS),)
    # "9434765919\x00" loses its NUL inside a NumPy str array, so compare element-wise
    # with what the array holds.
    assert mask.tolist() == [is_valid_nhs_number(str(v)) for v in values]
    assert mask.tolist()[:4] == [True, True, False, False]


def test_valid_nhs_mask_treats_missing_and_non_str_values_as_invalid():
    values = [*MIXED_NHS, None, np.nan, pd.NA, 9434765919, b"9434765919"]
    mask = valid_nhs_mask(np.array(values, dtype=object))
    assert mask.tolist() == [is_valid_nhs_number(v) for v in values]
    assert mask.tolist()[6] is False  # the NUL is not silently dropped
    series = pd.Series(values, dtype=object)
    np.testing.assert_array_equal(valid_nhs_mask(series), mask)


def test_valid_nhs_mask_on_a_pandas_string_column():
    series = pd.Series([WORKED_EXAMPLE, None, "9434765910", "943 476 5919"], dtype="string")
    assert valid_nhs_mask(series).tolist() == [True, False, False, True]


def test_valid_nhs_mask_agrees_with_the_scalar_check_on_random_strings():
    rng = np.random.default_rng(12)
    alphabet = np.array(list("0123456789 -x"))
    p = np.r_[np.full(10, 0.09), 0.06, 0.02, 0.02]
    noise = ["".join(rng.choice(alphabet, size=rng.integers(8, 14), p=p)) for _ in range(3000)]
    good = synthetic_nhs_numbers(3000, rng).tolist()
    spaced = [f"{v[:3]} {v[3:6]} {v[6:]}" for v in good[:500]]
    bad = [corrupt_nhs_number(v, rng) for v in good[:500]]
    values = noise + good + spaced + bad
    expected = [is_valid_nhs_number(v) for v in values]
    assert sum(expected) >= 3500
    assert valid_nhs_mask(values).tolist() == expected
    assert valid_nhs_mask(np.array(values, dtype=object)).tolist() == expected


def test_valid_nhs_mask_rejects_what_is_not_a_column_of_str():
    with pytest.raises(TypeError, match="expected str values"):
        valid_nhs_mask(np.array([9434765919]))
    with pytest.raises(ValueError, match="1-D"):
        valid_nhs_mask(np.array([[WORKED_EXAMPLE]]))
    assert valid_nhs_mask([]).shape == (0,)


def test_nhs_number_holds_ten_digits():
    assert NHSNumber("943 476 5919").value == WORKED_EXAMPLE
    assert NHSNumber("943 476 5919") == NHSNumber(WORKED_EXAMPLE)


@pytest.mark.parametrize("value", ["9434765910", "943-476-5919", "94347659"])
def test_nhs_number_error_never_contains_the_digits(value):
    with pytest.raises(ValueError) as raised:
        NHSNumber(value)
    message = str(raised.value)
    assert message == (
        "NHSNumber: not a valid NHS number (10 digits with a Modulus 11 check digit)"
    )
    for text in (message, repr(raised.value)):
        assert value not in text
        assert "9434" not in text and "5910" not in text and "476" not in text
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_nhs_number_type_error_does_not_contain_the_digits():
    with pytest.raises(TypeError, match="NHSNumber: expected a str, got int") as raised:
        NHSNumber(9434765919)
    assert "9434" not in str(raised.value)


def test_nhs_number_repr_and_str_hide_the_value():
    number = NHSNumber(WORKED_EXAMPLE)
    for text in (repr(number), str(number), f"{number}", f"{number!r}", repr([number])):
        assert "5919" not in text and "943" not in text
    assert repr(number) == "NHSNumber(<redacted>)"


@pytest.mark.parametrize(
    ("make", "good"),
    [
        (NHSNumber, WORKED_EXAMPLE),
        (SNOMEDCTCode, "38341003"),
        (ICD10Code, "I10"),
        (OPCS4Code, "K40"),
    ],
)
def test_code_objects_are_frozen(make, good):
    code = make(good)
    with pytest.raises(dataclasses.FrozenInstanceError):
        code.value = "x"
    assert code.value == good


# ---------------------------------------------------------------------------------------
# SNOMED CT
# ---------------------------------------------------------------------------------------

KNOWN_CONCEPTS = {
    "38341003": "hypertensive disorder",
    "44054006": "type 2 diabetes mellitus",
    "13645005": "chronic obstructive lung disease",
    "195967001": "asthma",
    "53741008": "coronary arteriosclerosis",
    "84114007": "heart failure",
    "49436004": "atrial fibrillation",
    "709044004": "chronic kidney disease",
    "230690007": "cerebrovascular accident",
    "363346000": "malignant neoplastic disease",
    "52448006": "dementia",
    "35489007": "depressive disorder",
    "110359009": "intellectual disability",
    "248279007": "frailty",
    "22298006": "myocardial infarction",
    "185317003": "telephone encounter",
}


@pytest.mark.parametrize("sctid", list(KNOWN_CONCEPTS))
def test_known_concept_ids_are_valid(sctid):
    assert is_valid_sctid(sctid)
    assert is_valid_sctid(sctid, concept_only=False)
    assert verhoeff_check_digit(sctid[:-1]) == int(sctid[-1])
    assert SNOMEDCTCode(sctid).value == sctid


@pytest.mark.parametrize("sctid", list(KNOWN_CONCEPTS))
def test_every_single_digit_error_in_a_known_concept_id_is_detected(sctid):
    wrong = list(_substitutions(sctid))
    assert len(wrong) == 9 * len(sctid)
    assert not any(is_valid_sctid(v, concept_only=False) for v in wrong)
    assert not valid_sctid_mask(wrong, concept_only=False).any()


@pytest.mark.parametrize("sctid", list(KNOWN_CONCEPTS))
def test_every_adjacent_transposition_in_a_known_concept_id_is_detected(sctid):
    swapped = list(_adjacent_transpositions(sctid))
    assert swapped
    assert not any(is_valid_sctid(v, concept_only=False) for v in swapped)


def test_a_long_format_concept_id_is_valid():
    # Partition 10: a concept from an extension, here the UK's namespace 1000000.
    assert is_valid_sctid("1240581000000104")


@pytest.mark.parametrize(
    ("digits", "check"),
    [("236", 3), ("12345", 1), ("123456789012", 0), ("0", 4)],
)
def test_verhoeff_check_digits_of_worked_examples(digits, check):
    assert verhoeff_check_digit(digits) == check


@pytest.mark.parametrize("digits", ["", "12a", "١٢٣", "1 2", None])
def test_verhoeff_check_digit_wants_digits(digits):
    with pytest.raises(ValueError, match="expected digits"):
        verhoeff_check_digit(digits)


def _sctid(item: str, partition: str) -> str:
    payload = item + partition
    return payload + str(verhoeff_check_digit(payload))


@pytest.mark.parametrize(
    ("partition", "concept", "component"),
    [
        ("00", True, True),
        ("10", True, True),
        ("01", False, True),  # description
        ("11", False, True),
        ("02", False, True),  # relationship
        ("12", False, True),
        ("16", False, True),  # postcoordinated expression
        ("03", False, False),  # reserved
        ("05", False, False),
        ("13", False, False),
        ("20", False, False),
        ("99", False, False),
    ],
)
def test_partition_identifiers(partition, concept, component):
    sctid = _sctid("1234567", partition)
    assert is_valid_sctid(sctid) is concept
    assert is_valid_sctid(sctid, concept_only=False) is component
    assert valid_sctid_mask([sctid]).tolist() == [concept]
    assert valid_sctid_mask([sctid], concept_only=False).tolist() == [component]


@pytest.mark.parametrize(
    ("sctid", "valid"),
    [
        (_sctid("100", "00"), True),  # 6 digits: 100005
        (_sctid("10", "00"), False),  # 5 digits
        ("100000", False),  # the constraint "greater than 10**5"
        (_sctid("1" * 15, "10"), True),  # 18 digits
        (_sctid("1" * 16, "10"), False),  # 19 digits
        (_sctid("0123", "00"), False),  # leading zero
        (" 38341003", False),
        ("38341003 ", False),
        ("３８３４１００３", False),
        ("", False),
        (None, False),
        (38341003, False),
    ],
)
def test_sctid_length_and_form(sctid, valid):
    assert is_valid_sctid(sctid) is valid
    assert is_valid_sctid(sctid, concept_only=False) is valid
    assert valid_sctid_mask(np.array([sctid], dtype=object)).tolist() == [valid]


def test_sctid_form_cases_are_otherwise_valid():
    # The rejections above must come from the rule named, not from the check digit.
    assert _sctid("100", "00") == "100005"
    from_rule = [_sctid("10", "00"), _sctid("1" * 16, "10"), _sctid("0123", "00")]
    assert all(verhoeff_check_digit(s[:-1]) == int(s[-1]) for s in from_rule)


def test_snomed_error_names_the_system_the_value_and_what_is_expected():
    with pytest.raises(ValueError) as raised:
        SNOMEDCTCode("12345")
    assert str(raised.value) == (
        "SNOMEDCTCode: '12345' is not a valid SNOMED CT concept id "
        "(6-18 digits with a Verhoeff check digit)"
    )


def test_snomed_code_rejects_descriptions_and_non_str():
    with pytest.raises(ValueError, match="not a valid SNOMED CT concept id"):
        SNOMEDCTCode(_sctid("1234567", "01"))
    with pytest.raises(TypeError, match="SNOMEDCTCode: expected a str, got int"):
        SNOMEDCTCode(38341003)


def test_long_values_are_cut_short_in_error_messages():
    with pytest.raises(ValueError) as raised:
        SNOMEDCTCode("9" * 500)
    assert len(str(raised.value)) < 150
    assert "9" * 40 + "..." in str(raised.value)


def test_valid_sctid_mask_agrees_with_the_scalar_check():
    rng = np.random.default_rng(21)
    noise = ["".join(rng.choice(list("0123456789"), size=rng.integers(4, 21))) for _ in range(4000)]
    partitions = ["00", "10", "01", "11", "02", "12", "16", "03", "99"]
    made = [
        _sctid(str(rng.integers(1, 10 ** rng.integers(1, 15))), str(rng.choice(partitions)))
        for _ in range(4000)
    ]
    odd = ["", " ", "3834 1003", "38341003x", None, np.nan, 1.5, "０"]
    values = noise + made + list(KNOWN_CONCEPTS) + odd
    for concept_only in (True, False):
        expected = [is_valid_sctid(v, concept_only=concept_only) for v in values]
        assert sum(expected) >= 700
        mask = valid_sctid_mask(pd.Series(values, dtype=object), concept_only=concept_only)
        assert mask.dtype == bool
        assert mask.tolist() == expected
    str_values = noise + made
    assert valid_sctid_mask(np.array(str_values)).tolist() == [
        is_valid_sctid(v) for v in str_values
    ]


# ---------------------------------------------------------------------------------------
# ICD-10
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("i10x", "I10"),
        ("E11.9", "E119"),
        ("J44-", "J44"),
        (" I10 ", "I10"),
        ("I10XX", "I10"),
        ("J44.-", "J44"),
        ("R69.X", "R69"),
        ("U07.1", "U071"),
        ("X59X", "X59"),  # the chapter letter X is not filler
        ("X59", "X59"),
        ("I1X", "I1X"),  # nothing is removed from the first three characters
        ("K57.3X", "K573"),
        ("", ""),
    ],
)
def test_normalise_icd10(raw, normal):
    assert normalise_icd10(raw) == normal


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("I10", True),
        ("I10X", True),
        ("i10x", True),
        ("E11.9", True),
        ("J44-", True),
        ("U07.1", True),
        ("G63.1A", True),  # five characters: a dagger/asterisk mark
        ("M80.08", True),
        ("X59", True),
        ("I10\n", True),
        ("", False),
        ("I1", False),
        ("I1X", False),
        ("10I", False),
        ("II0", False),
        ("I10999", False),
        ("I10 X", False),
        ("I10.9.9.9", False),
        ("Ｉ10", False),  # fullwidth I
        ("ı10", False),  # dotless i: upper-cases to I, still not ASCII
        (None, False),
        (110, False),
    ],
)
def test_is_valid_icd10(code, valid):
    assert is_valid_icd10(code) is valid


def test_normalise_icd10_wants_a_str():
    with pytest.raises(TypeError, match="expected a str, got NoneType"):
        normalise_icd10(None)


@pytest.mark.parametrize(
    ("code", "hes"),
    [
        ("I10", "I10X"),
        ("i10x", "I10X"),
        ("J44-", "J44X"),
        ("E11.9", "E119"),
        ("G63.1A", "G631"),  # HES 4-character columns hold the first four
    ],
)
def test_hes_icd10(code, hes):
    assert hes_icd10(code) == hes


def test_hes_icd10_rejects_invalid_codes():
    with pytest.raises(ValueError, match="hes_icd10: 'I1' is not a valid ICD-10 code"):
        hes_icd10("I1")


def test_icd10_code_holds_the_normal_form():
    assert ICD10Code("i10x").value == "I10"
    assert ICD10Code("I10X") == ICD10Code("I10")
    assert ICD10Code("E11.9").value == "E119"


def test_icd10_error_names_the_system_the_value_and_what_is_expected():
    with pytest.raises(ValueError) as raised:
        ICD10Code("I1")
    assert str(raised.value).startswith(
        "ICD10Code: 'I1' is not a valid ICD-10 code (a letter, two digits,"
    )
    with pytest.raises(TypeError, match="ICD10Code: expected a str"):
        ICD10Code(None)


# ---------------------------------------------------------------------------------------
# OPCS-4
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("k40.1", "K401"),
        (" W37.1 ", "W371"),
        ("X99", "X99"),
        ("h25.9\t", "H259"),
        ("", ""),
    ],
)
def test_normalise_opcs4(raw, normal):
    assert normalise_opcs4(raw) == normal


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("K40", True),
        ("K40.1", True),
        ("k401", True),
        ("A01.1", True),
        ("O18.1", True),  # chapter O: overflow codes
        ("U05.1", True),  # chapter U: diagnostic imaging, testing and rehabilitation
        ("Y53.9", True),  # subsidiary: methods
        ("Z94.2", True),  # subsidiary: sites
        ("I01", False),  # there is no chapter I
        ("I01.1", False),
        ("K4", False),
        ("K40.11", False),
        ("K40A", False),
        ("40K", False),
        ("K-40", False),
        ("", False),
        ("-", False),
        ("&", False),
        ("Ｋ40", False),
        (None, False),
    ],
)
def test_is_valid_opcs4(code, valid):
    assert is_valid_opcs4(code) is valid


def test_opcs4_code_holds_the_normal_form_and_explains_errors():
    assert OPCS4Code("k40.1").value == "K401"
    assert OPCS4Code("K40.1") == OPCS4Code("K401")
    with pytest.raises(ValueError) as raised:
        OPCS4Code("I01")
    assert str(raised.value).startswith(
        "OPCS4Code: 'I01' is not a valid OPCS-4 code (a chapter letter other than I,"
    )
    with pytest.raises(TypeError, match="expected a str, got NoneType"):
        normalise_opcs4(None)
