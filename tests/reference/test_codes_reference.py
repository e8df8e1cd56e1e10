"""openphm.codes against implementations written by others.

NHS numbers are compared with the `nhs-number` package (uk-fci/nhs-number, MIT).
The Verhoeff check digit is compared with the textbook algorithm, typed in below from
the published tables.
"""

from __future__ import annotations

import nhs_number
import numpy as np
import pytest
from nhs_number.constants import RANGE_NOT_ISSUED_SYNTHETIC, RANGE_SCOTLAND

from openphm.codes import (
    SYNTHETIC_NHS_CAPACITY,
    is_valid_nhs_number,
    is_valid_sctid,
    synthetic_nhs_numbers,
    valid_nhs_mask,
    valid_sctid_mask,
    verhoeff_check_digit,
)

# ---------------------------------------------------------------------------------------
# NHS numbers against the nhs-number package
# ---------------------------------------------------------------------------------------


def _random_ten_digit_strings(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{v:010d}" for v in rng.integers(0, 10**10, size=n)]


def _package_checksum_ok(value: str) -> bool:
    """The package's Modulus 11 arithmetic alone (it returns 10 when none is valid)."""
    return nhs_number.calculate_checksum(value[:9]) == int(value[9])


def _assert_agrees_with_package(values: list[str]) -> int:
    """Compare with nhs_number.is_valid; return how many the package calls valid.

    Inside Scotland's CHI range (0100000000 to 3112999999) the package also requires
    the first six digits to be a DDMMYY date. openphm applies the Modulus 11 check
    alone, so there the package's answer must imply openphm's, and openphm must agree
    with the package's checksum arithmetic.
    """
    ours = [is_valid_nhs_number(v) for v in values]
    theirs = [nhs_number.is_valid(v) for v in values]
    assert valid_nhs_mask(values).tolist() == ours
    for value, mine, package in zip(values, ours, theirs, strict=True):
        if RANGE_SCOTLAND.contains_number(value):
            assert mine == _package_checksum_ok(value), value
            assert mine or not package, value
        else:
            assert mine == package, value
    return sum(theirs)


def test_agreement_on_20000_random_ten_digit_strings():
    values = _random_ten_digit_strings(20_000, seed=20_000)
    valid = _assert_agrees_with_package(values)
    assert valid >= 1_000  # about 1 in 11 random strings has the right check digit


def test_agreement_on_20000_strings_given_the_packages_check_digit():
    # Random first nine digits completed by the package, so most are valid for it.
    completed = []
    for value in _random_ten_digit_strings(20_000, seed=7):
        check = nhs_number.calculate_checksum(value[:9])
        completed.append(value[:9] + str(check % 10))  # 10 has no digit: any is wrong
    valid = _assert_agrees_with_package(completed)
    assert valid >= 10_000


def test_agreement_on_spaced_numbers():
    values = [f"{v[:3]} {v[3:6]} {v[6:]}" for v in _random_ten_digit_strings(2_000, 3)]
    for value in values:
        if not RANGE_SCOTLAND.contains_number(value.replace(" ", "")):
            assert is_valid_nhs_number(value) == nhs_number.is_valid(value), value


def test_the_package_accepts_every_synthetic_number_as_synthetic():
    numbers = synthetic_nhs_numbers(100_000, np.random.default_rng(99)).tolist()
    assert all(nhs_number.is_valid(n) for n in numbers)
    assert all(RANGE_NOT_ISSUED_SYNTHETIC.contains_number(n) for n in numbers)


def test_synthetic_numbers_are_every_999_number_the_package_calls_valid():
    # A random sample of 999 stems: each is in the synthetic pool exactly when the
    # package can complete it with a valid check digit.
    pool = set(synthetic_nhs_numbers(SYNTHETIC_NHS_CAPACITY, np.random.default_rng(0)).tolist())
    rng = np.random.default_rng(5)
    for stem in rng.integers(0, 10**6, size=20_000):
        first9 = f"999{stem:06d}"
        check = nhs_number.calculate_checksum(first9)
        valid_numbers = {first9 + d for d in "0123456789" if nhs_number.is_valid(first9 + d)}
        assert valid_numbers == ({first9 + str(check)} if check < 10 else set())
        assert {first9 + d for d in "0123456789"} & pool == valid_numbers


# ---------------------------------------------------------------------------------------
# Verhoeff against the textbook algorithm
# ---------------------------------------------------------------------------------------

# Tables from J. Verhoeff, "Error Detecting Decimal Codes", Mathematical Centre Tracts
# 29, Mathematisch Centrum, Amsterdam, 1969, as printed in the Wikipedia article
# "Verhoeff algorithm": d is the multiplication table of the dihedral group D5, p the
# position permutations, inv the inverses. Typed in, not derived, so that they check
# openphm's derivation.
D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def textbook_generate(digits: str) -> int:
    c = 0
    for i, n in enumerate(reversed(digits)):
        c = D[c][P[(i + 1) % 8][int(n)]]
    return INV[c]


def textbook_validate(digits: str) -> bool:
    c = 0
    for i, n in enumerate(reversed(digits)):
        c = D[c][P[i % 8][int(n)]]
    return c == 0


def test_the_textbook_implementation_reproduces_the_worked_example():
    # Wikipedia's worked example: 236 gets check digit 3, and 2363 validates.
    assert textbook_generate("236") == 3
    assert textbook_validate("2363")
    assert not textbook_validate("2364")


def test_check_digits_agree_with_the_textbook():
    rng = np.random.default_rng(1969)
    for _ in range(5_000):
        digits = "".join(map(str, rng.integers(0, 10, size=rng.integers(1, 18))))
        assert verhoeff_check_digit(digits) == textbook_generate(digits), digits


@pytest.mark.parametrize("concept_only", [True, False])
def test_sctid_validity_agrees_with_the_textbook(concept_only):
    # Random ids of 6-18 digits, no leading zero, a partition in use; half given a
    # textbook check digit, half a random one.
    rng = np.random.default_rng(6)
    partitions = ["00", "10", "01", "11", "02", "12", "16"]
    allowed = {"00", "10"} if concept_only else set(partitions)
    values = []
    for i in range(10_000):
        length = int(rng.integers(6, 19))
        item = str(rng.integers(1, 10)) + "".join(map(str, rng.integers(0, 10, size=length - 4)))
        payload = item + str(rng.choice(partitions))
        check = textbook_generate(payload) if i % 2 else int(rng.integers(0, 10))
        values.append(payload + str(check))
    expected = [textbook_validate(v) and v[-3:-1] in allowed for v in values]
    assert sum(expected) >= 1_000
    assert [is_valid_sctid(v, concept_only=concept_only) for v in values] == expected
    assert valid_sctid_mask(values, concept_only=concept_only).tolist() == expected
