"""One validated notion per code system: NHS numbers, SNOMED CT, ICD-10 and OPCS-4.

The synthetic data generator uses this module to make valid codes and ingest
validation uses it to check them, so both agree on what "valid" means. Each
system has a scalar check (``is_valid_*``), a normaliser where the system has
spelling variants, and a frozen dataclass that validates on construction, as
OpenSAFELY ehrQL's ``codes.py`` does. NHS numbers and SNOMED CT ids also have a
vectorised mask for whole data-frame columns, which agrees with the scalar check
element by element.

NHS numbers are identifiers: no error message or ``repr`` in this module ever
contains one.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
from typing import Any

import numpy as np

__all__ = [
    "CONCEPT_PARTITIONS",
    "ICD10Code",
    "NHSNumber",
    "OPCS4Code",
    "SCTID_PARTITIONS",
    "SNOMEDCTCode",
    "SYNTHETIC_NHS_CAPACITY",
    "SYNTHETIC_NHS_PREFIX",
    "corrupt_nhs_number",
    "hes_icd10",
    "is_valid_icd10",
    "is_valid_nhs_number",
    "is_valid_opcs4",
    "is_valid_sctid",
    "nhs_check_digit",
    "normalise_icd10",
    "normalise_opcs4",
    "synthetic_nhs_numbers",
    "valid_nhs_mask",
    "valid_sctid_mask",
    "verhoeff_check_digit",
]

_ASCII_DIGITS = re.compile(r"[0-9]+")
_MAX_SHOWN = 40  # characters of an offending code shown in an error message


def _digits_only(value: str) -> bool:
    """Whether a str is one or more ASCII digits (str.isdigit also accepts '²' and '١')."""
    return _ASCII_DIGITS.fullmatch(value) is not None


def _shown(value: object) -> str:
    """A code for an error message: quoted, and cut short if it is long."""
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    if len(value) > _MAX_SHOWN:
        value = value[:_MAX_SHOWN] + "..."
    return repr(value)


# --------------------------------------------------------------------------------------
# NHS numbers: ten digits, the last a Modulus 11 check digit (NHS Data Dictionary).
# --------------------------------------------------------------------------------------

_NHS_LENGTH = 10
_NHS_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)  # 10, 9, ..., 2 on digits 1 to 9

SYNTHETIC_NHS_PREFIX = "999"
"""Numbers starting 999 are never issued to patients; test and synthetic data use them."""

_NHS_EXPECTED = "10 digits with a Modulus 11 check digit"


def nhs_check_digit(first9: str) -> int | None:
    """The Modulus 11 check digit for the first nine digits of an NHS number.

    Weights 10 down to 2 multiply the nine digits; the check digit is 11 minus the
    remainder of their sum divided by 11, with 11 becoming 0. A result of 10 means no
    valid NHS number starts with these nine digits, and gives None.
    """
    if not isinstance(first9, str) or len(first9) != 9 or not _digits_only(first9):
        # The value itself is never shown: it is most of an identifier.
        raise ValueError("nhs_check_digit: expected exactly 9 digits (0-9)")
    total = sum(int(digit) * weight for digit, weight in zip(first9, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(value: str) -> bool:
    """Whether a str is an NHS number: 10 digits once spaces are removed, check digit valid.

    Only ASCII spaces are removed ('943 476 5919' is accepted); any other character,
    including a hyphen or a tab, makes the value invalid. Non-str values are invalid.
    The number's range is not checked: any 10 digits with a valid check digit pass.
    """
    if not isinstance(value, str):
        return False
    digits = value.replace(" ", "")
    if len(digits) != _NHS_LENGTH or not _digits_only(digits):
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def _nhs_check_digits(first9: np.ndarray) -> np.ndarray:
    """Check digits (10 where none is valid) for an (n, 9) integer array of digits."""
    remainder = (first9.astype(np.int64) @ _NHS_WEIGHTS) % 11
    return (11 - remainder) % 11  # remainder 0 -> 0; remainder 1 -> 10, which is invalid


@functools.cache
def synthetic_nhs_pool(prefix_text: str = SYNTHETIC_NHS_PREFIX) -> np.ndarray:
    """Every valid NHS number starting ``prefix_text``, ascending, as int64 (read-only, cached).

    Only 3-digit prefixes in the 9 block, never issued to real people, are allowed.
    """
    if not (len(prefix_text) == 3 and _digits_only(prefix_text) and prefix_text[0] == "9"):
        raise ValueError(f"synthetic_nhs_pool: prefix {prefix_text!r} is not 3 digits from 9")
    prefix = [int(d) for d in prefix_text]
    free = 9 - len(prefix)  # digits between the prefix and the check digit
    # The weighted sum of every stem at once, by broadcasting each free digit's
    # contribution along its own axis: element [d1, ..., d6] is the stem d1...d6.
    total = np.array(int(np.dot(prefix, _NHS_WEIGHTS[: len(prefix)])), dtype=np.int64)
    for weight in _NHS_WEIGHTS[len(prefix) :]:
        total = np.add.outer(total, weight * np.arange(10, dtype=np.int64))
    check = ((11 - total.ravel() % 11) % 11).astype(np.int64)  # 10: no valid number
    stems = np.flatnonzero(check != 10)
    base = int(prefix_text) * 10 ** (free + 1)
    pool = base + stems * 10 + check[stems]
    pool.flags.writeable = False
    return pool


SYNTHETIC_NHS_CAPACITY = 909_091
"""How many valid NHS numbers start 999: 10**6 nine-digit stems less the 90,909 whose
check digit would be 10. `synthetic_nhs_numbers` cannot return more than this."""


def digit_strings(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative int64s as zero-padded fixed-width strings, built without a Python loop."""
    codepoints = np.empty((numbers.size, width), dtype="<u4")
    rest = numbers.astype(np.int64, copy=True)
    for column in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        codepoints[:, column] = digit + ord("0")
    return codepoints.view(f"<U{width}").reshape(numbers.shape)


def synthetic_nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct valid NHS numbers, all starting 999, as a NumPy array of str.

    They are drawn without replacement, uniformly, from all SYNTHETIC_NHS_CAPACITY
    (909,091) valid numbers of the never-issued 999 range, so the same generator state
    gives the same numbers in the same order. Asking for more than that raises
    ValueError.

    The pool of valid numbers is built once with NumPy (check digits computed on an
    integer array, stems whose check digit is 10 dropped) and cached; each call is
    then one ``rng.choice`` without replacement. Rejection sampling with replacement
    does not suit a pool this small: at hundreds of thousands of numbers most draws
    would be repeats.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("synthetic_nhs_numbers: rng must be a numpy.random.Generator")
    if isinstance(n, bool):
        raise TypeError("synthetic_nhs_numbers: n must be an int")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"synthetic_nhs_numbers: n must be >= 0, got {n}")
    if n > SYNTHETIC_NHS_CAPACITY:
        raise ValueError(
            f"synthetic_nhs_numbers: asked for {n:,} numbers but only "
            f"{SYNTHETIC_NHS_CAPACITY:,} valid NHS numbers start {SYNTHETIC_NHS_PREFIX}"
        )
    pool = synthetic_nhs_pool()
    chosen = pool[rng.choice(pool.size, size=n, replace=False)]
    return digit_strings(chosen, _NHS_LENGTH)


def corrupt_nhs_number(value: str, rng: np.random.Generator) -> str:
    """The same number with a wrong check digit, for dirty test data.

    Spaces are removed; the first nine digits are kept (so a 999 number stays in the
    never-issued range) and the tenth is replaced by one of the nine digits that is
    not the check digit, chosen by ``rng``. If no check digit is valid for the first
    nine digits, every tenth digit is wrong and any of the ten may be chosen. The
    result is 10 digits and never a valid NHS number.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("corrupt_nhs_number: rng must be a numpy.random.Generator")
    digits = value.replace(" ", "") if isinstance(value, str) else ""
    if len(digits) != _NHS_LENGTH or not _digits_only(digits):
        raise ValueError(f"corrupt_nhs_number: expected {_NHS_LENGTH} digits (0-9)")
    check = nhs_check_digit(digits[:9])
    wrong = int(rng.integers(0, 10)) if check is None else (check + int(rng.integers(1, 10))) % 10
    return digits[:9] + str(wrong)


def _string_column(
    values: Any, caller: str, *, remove_spaces: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D column as a NumPy str array, and a mask of which elements were str.

    Elements that are not str (None, NaN, pd.NA, numbers) come back as "" with the
    mask False, so the checks that follow treat them as invalid.
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{caller}: expected a 1-D column, got {array.ndim} dimensions")
    if array.size == 0:  # np.asarray([]) is float64
        return np.empty(0, dtype="<U1"), np.zeros(0, dtype=bool)
    if array.dtype.kind == "U":
        strings = np.strings.replace(array, " ", "") if remove_spaces else array
        return strings, np.ones(array.shape, dtype=bool)
    if array.dtype.kind != "O":
        raise TypeError(f"{caller}: expected str values, got a column of dtype {array.dtype}")
    is_str = np.fromiter((isinstance(v, str) for v in array), dtype=bool, count=array.size)
    # NumPy's str arrays drop trailing NULs, which could turn an invalid value valid. A
    # NUL is neither a digit nor a space, so a value holding one is invalid: make it "".
    cleaned = [
        (v.replace(" ", "") if remove_spaces else v) if s and "\x00" not in v else ""
        for v, s in zip(array, is_str, strict=True)
    ]
    return np.array(cleaned, dtype=str).reshape(array.shape), is_str


def _digit_matrix(strings: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits of equal-length strings as an (n, width) int64 array, and which are all digits."""
    codepoints = strings.astype(f"<U{width}").view("<u4").reshape(strings.size, width)
    digits = codepoints.astype(np.int64) - ord("0")
    return digits, ((digits >= 0) & (digits <= 9)).all(axis=1)


def valid_nhs_mask(values: Any) -> np.ndarray:
    """Element-wise `is_valid_nhs_number` for a NumPy array, pandas Series or list of str.

    Returns a NumPy bool array of the same length; missing and non-str values are False.
    """
    strings, is_str = _string_column(values, "valid_nhs_mask", remove_spaces=True)
    mask = np.zeros(strings.shape, dtype=bool)
    candidates = np.flatnonzero(is_str & (np.strings.str_len(strings) == _NHS_LENGTH))
    if candidates.size:
        digits, all_digits = _digit_matrix(strings[candidates], _NHS_LENGTH)
        check = _nhs_check_digits(digits[:, :9])  # meaningless where not all digits
        mask[candidates] = all_digits & (check == digits[:, 9])
    return mask


# --------------------------------------------------------------------------------------
# SNOMED CT identifiers (SCTIDs): SNOMED CT Release File Specification, section 6.
# --------------------------------------------------------------------------------------

CONCEPT_PARTITIONS = frozenset({"00", "10"})
"""Partition identifiers of concepts: 00 short format (International), 10 long (extension)."""

SCTID_PARTITIONS = frozenset({"00", "01", "02", "10", "11", "12", "16"})
"""Every partition in use: concept, description and relationship in short (0x) and long
(1x) format, and 16 for postcoordinated expressions. Others are reserved."""

_SCTID_MIN_LENGTH = 6
_SCTID_MAX_LENGTH = 18


def _verhoeff_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verhoeff's tables built from their definitions rather than copied out.

    d is the multiplication table of the dihedral group D5 (0-4 rotations, 5-9
    reflections); p[i] is the permutation (1 5 7 6 2 8 3 0 9 4) applied i times; inv
    holds each element's inverse in D5.
    """
    d = np.empty((10, 10), dtype=np.int64)
    for j in range(10):
        for k in range(10):
            if j < 5 and k < 5:
                d[j, k] = (j + k) % 5
            elif j < 5:
                d[j, k] = 5 + (j + k) % 5
            elif k < 5:
                d[j, k] = 5 + (j - k) % 5
            else:
                d[j, k] = (j - k) % 5
    step = np.array([1, 5, 7, 6, 2, 8, 3, 0, 9, 4], dtype=np.int64)
    p = np.empty((8, 10), dtype=np.int64)
    p[0] = np.arange(10)
    for i in range(1, 8):
        p[i] = step[p[i - 1]]
    inv = np.argmax(d == 0, axis=1)
    return d, p, inv


_VERHOEFF_D, _VERHOEFF_P, _VERHOEFF_INV = _verhoeff_tables()
_D = _VERHOEFF_D.tolist()
_P = _VERHOEFF_P.tolist()
_INV = _VERHOEFF_INV.tolist()


def verhoeff_check_digit(digits: str) -> int:
    """The Verhoeff check digit to append to one or more digits (as SNOMED CT does)."""
    if not isinstance(digits, str) or not _digits_only(digits):
        raise ValueError(f"verhoeff_check_digit: expected digits (0-9), got {_shown(digits)}")
    c = 0
    for i, digit in enumerate(reversed(digits)):
        c = _D[c][_P[(i + 1) % 8][int(digit)]]
    return _INV[c]


def _verhoeff_valid(digits: str) -> bool:
    c = 0
    for i, digit in enumerate(reversed(digits)):
        c = _D[c][_P[i % 8][int(digit)]]
    return c == 0


def is_valid_sctid(value: str, concept_only: bool = True) -> bool:
    """Whether a str is a SNOMED CT identifier (by default, of a concept).

    The rules of the SNOMED CT Release File Specification (6.3 SCTID constraints): 6 to
    18 ASCII digits, no leading zero; the last digit a Verhoeff check digit; the two
    digits before it a partition identifier in use. (The rule "greater than 10**5"
    needs no code: 100000, the one 6-digit number it excludes, fails Verhoeff.) With
    ``concept_only`` (the default) only the concept partitions 00 and 10 pass; without,
    descriptions (01, 11), relationships (02, 12) and expressions (16) pass too.
    Whether the id exists in any release is not checked.
    """
    if not isinstance(value, str):
        return False
    if not _SCTID_MIN_LENGTH <= len(value) <= _SCTID_MAX_LENGTH or not _digits_only(value):
        return False
    if value[0] == "0":
        return False
    partitions = CONCEPT_PARTITIONS if concept_only else SCTID_PARTITIONS
    return value[-3:-1] in partitions and _verhoeff_valid(value)


def _partition_mask(partition: np.ndarray, allowed: frozenset[str]) -> np.ndarray:
    return np.isin(partition, np.array(sorted(int(p) for p in allowed)))


def valid_sctid_mask(values: Any, concept_only: bool = True) -> np.ndarray:
    """Element-wise `is_valid_sctid` for a NumPy array, pandas Series or list of str.

    Returns a NumPy bool array of the same length; missing and non-str values are False.
    """
    strings, is_str = _string_column(values, "valid_sctid_mask", remove_spaces=False)
    lengths = np.strings.str_len(strings)
    mask = np.zeros(strings.shape, dtype=bool)
    candidates = np.flatnonzero(
        is_str & (lengths >= _SCTID_MIN_LENGTH) & (lengths <= _SCTID_MAX_LENGTH)
    )
    if candidates.size == 0:
        return mask
    width = _SCTID_MAX_LENGTH
    padded = np.strings.rjust(strings[candidates].astype(f"<U{width}"), width, "0")
    digits, all_digits = _digit_matrix(padded, width)
    digits = np.where(all_digits[:, None], digits, 0)  # keeps table look-ups in range
    length = lengths[candidates]
    rows = np.arange(candidates.size)
    leading = digits[rows, width - length]
    partition = digits[:, width - 3] * 10 + digits[:, width - 2]
    allowed = CONCEPT_PARTITIONS if concept_only else SCTID_PARTITIONS
    c = np.zeros(candidates.size, dtype=np.int64)
    for column in range(width - 1, -1, -1):  # Verhoeff runs from the rightmost digit
        from_right = width - 1 - column
        active = column >= width - length
        stepped = _VERHOEFF_D[c, _VERHOEFF_P[from_right % 8, digits[:, column]]]
        c = np.where(active, stepped, c)
    mask[candidates] = all_digits & (leading != 0) & _partition_mask(partition, allowed) & (c == 0)
    return mask


# --------------------------------------------------------------------------------------
# ICD-10 (WHO, as used in the NHS) and OPCS-4.
# --------------------------------------------------------------------------------------

_ICD10 = re.compile(r"[A-Z][0-9]{2}[0-9A-Z]{0,2}")
_OPCS4 = re.compile(r"[A-HJ-Z][0-9]{2}[0-9]?")  # every chapter letter except I
_ICD10_FILLER = "X-"
_ICD10_CATEGORY_LENGTH = 3
_HES_ICD10_LENGTH = 4


def normalise_icd10(code: str) -> str:
    """An ICD-10 code in one spelling: 'i10x' -> 'I10', 'E11.9' -> 'E119', 'J44-' -> 'J44'.

    Surrounding whitespace is stripped, letters upper-cased and dots removed; then
    trailing filler ('X' or '-', as HES pads 3-character codes) is removed down to the
    3-character category. The result is not checked: see `is_valid_icd10`.
    """
    if not isinstance(code, str):
        raise TypeError(f"normalise_icd10: expected a str, got {type(code).__name__}")
    normal = code.strip().upper().replace(".", "")
    while len(normal) > _ICD10_CATEGORY_LENGTH and normal[-1] in _ICD10_FILLER:
        normal = normal[:-1]
    return normal


def is_valid_icd10(code: str) -> bool:
    """Whether a str, once normalised, has the shape of an ICD-10 code.

    A letter, two digits, then up to two more digits or letters (the fifth-character
    extensions and dagger/asterisk marks of NHS data). Only ASCII is accepted. Whether
    the code exists in an ICD-10 edition is not checked.
    """
    if not isinstance(code, str) or not code.isascii():
        return False
    return _ICD10.fullmatch(normalise_icd10(code)) is not None


def hes_icd10(code: str) -> str:
    """An ICD-10 code as HES's 4-character diagnosis columns hold it.

    3-character codes are padded with 'X' ('I10' -> 'I10X'), 4-character codes are kept
    and 5-character codes cut to their first 4 characters, as in HES DIAG_4_nn.
    """
    if not is_valid_icd10(code):
        raise ValueError(f"hes_icd10: {_shown(code)} is not a valid ICD-10 code")
    return normalise_icd10(code).ljust(_HES_ICD10_LENGTH, "X")[:_HES_ICD10_LENGTH]


def normalise_opcs4(code: str) -> str:
    """An OPCS-4 code in one spelling: stripped, upper case, no dot ('k40.1' -> 'K401')."""
    if not isinstance(code, str):
        raise TypeError(f"normalise_opcs4: expected a str, got {type(code).__name__}")
    return code.strip().upper().replace(".", "")


def is_valid_opcs4(code: str) -> bool:
    """Whether a str, once normalised, has the shape of an OPCS-4 code.

    A chapter letter, then two digits (the 3-character category) and optionally a third
    (the subcategory). Chapters run A to Z without I: O holds the overflow codes added in
    OPCS-4.6, U diagnostic imaging, testing and rehabilitation, and Y and Z the
    subsidiary methods and sites. Only ASCII is accepted; whether the code exists in an
    OPCS-4 version is not checked.
    """
    if not isinstance(code, str) or not code.isascii():
        return False
    return _OPCS4.fullmatch(normalise_opcs4(code)) is not None


# --------------------------------------------------------------------------------------
# Typed wrappers: a value of one of these has been checked.
# --------------------------------------------------------------------------------------


def _require_str(cls_name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{cls_name}: expected a str, got {type(value).__name__}")


@dataclasses.dataclass(frozen=True)
class ICD10Code:
    """A valid ICD-10 code, held normalised: ``ICD10Code('i10x').value == 'I10'``."""

    value: str

    def __post_init__(self) -> None:
        _require_str("ICD10Code", self.value)
        if not is_valid_icd10(self.value):
            raise ValueError(
                f"ICD10Code: {_shown(self.value)} is not a valid ICD-10 code (a letter, two "
                "digits, then up to two more letters or digits, e.g. 'I10' or 'E11.9')"
            )
        object.__setattr__(self, "value", normalise_icd10(self.value))


@dataclasses.dataclass(frozen=True)
class OPCS4Code:
    """A valid OPCS-4 code, held normalised: ``OPCS4Code('k40.1').value == 'K401'``."""

    value: str

    def __post_init__(self) -> None:
        _require_str("OPCS4Code", self.value)
        if not is_valid_opcs4(self.value):
            raise ValueError(
                f"OPCS4Code: {_shown(self.value)} is not a valid OPCS-4 code (a chapter "
                "letter other than I, then 2 or 3 digits, e.g. 'K40' or 'K40.1')"
            )
        object.__setattr__(self, "value", normalise_opcs4(self.value))


@dataclasses.dataclass(frozen=True)
class SNOMEDCTCode:
    """A valid SNOMED CT concept id, held exactly as given (no normalisation)."""

    value: str

    def __post_init__(self) -> None:
        _require_str("SNOMEDCTCode", self.value)
        if not is_valid_sctid(self.value):
            raise ValueError(
                f"SNOMEDCTCode: {_shown(self.value)} is not a valid SNOMED CT concept id "
                "(6-18 digits with a Verhoeff check digit)"
            )


@dataclasses.dataclass(frozen=True)
class NHSNumber:
    """A valid NHS number, held as 10 digits without spaces.

    The value never appears in an error message, ``repr`` or ``str``: read ``.value``
    where the number itself is needed.
    """

    value: str = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        _require_str("NHSNumber", self.value)
        if not is_valid_nhs_number(self.value):
            raise ValueError(f"NHSNumber: not a valid NHS number ({_NHS_EXPECTED})")
        object.__setattr__(self, "value", self.value.replace(" ", ""))

    def __repr__(self) -> str:
        return "NHSNumber(<redacted>)"
