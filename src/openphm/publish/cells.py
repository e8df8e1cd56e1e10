"""What a published text cell may hold: never anything that looks like an identifier.

The key columns of a published table (provider, place, practice and PCN codes,
organisation and source names, HRGs, treatment functions, period labels, band
labels) carry text that came from the input files. A row whose columns shifted,
or a name typed into the wrong field, can put a patient's identifier there, and
the disclosure gate protects counts, not keys. So every text key cell is checked
here, once, by the publish writer, and a cell that fails becomes ``INVALID_VALUE``:

- anywhere in any text key cell, nothing shaped like an identifier: an NHS number
  (10 digits, spaced or not, with a valid Modulus 11 check digit), a UK postcode
  (with or without its space), a full date (a date of birth; month labels such as
  2024-04 and years such as 2024/25 are not dates), a pseudonym (a long run of hex
  digits) or a raw record key (a long run of digits);
- in a column whose codes have a known shape (``SHAPES``: provider, practice, PCN
  and place codes, HRGs, treatment functions, years, months, age bands), only a
  value of that shape, or one of the category labels every table may use
  (``CATEGORIES``).

Only counts of what was replaced are reported (the table's sidecar), never a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from openphm.codes import is_valid_nhs_number

#: What a withheld cell shows instead (the word ingest uses for a provider code of the
#: wrong shape, so one category reads the same in every table).
INVALID_VALUE = "invalid value"

#: Category labels any key column may hold: the gate's totals, the pipeline's unknowns.
CATEGORIES = frozenset({"Total", "Unknown", "unknown", INVALID_VALUE})

# An NHS number: 10 digits, maybe grouped 3-3-4 by spaces or hyphens, not inside a
# longer number. Only a valid check digit makes it one (codes.is_valid_nhs_number).
NHS_LIKE = re.compile(r"(?<![\d.,])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d.,])")
# A UK postcode, outward and inward parts, with or without the space (ONS's shape).
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}(?![A-Za-z0-9])"
)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
# A full date (day, month and year) in the spellings extracts use: 1950-03-14,
# 14/03/1950, 14.03.1950, 14-Mar-1950, 14 March 1950, 19500314.
_DATE = re.compile(
    r"(?<!\d)(?:"
    r"(?:19|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)?\d{2}"
    r"|(?<![A-Za-z])(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    rf"|(?:0?[1-9]|[12]\d|3[01])[- ](?:{_MONTHS})[a-z]*[- ](?:19|20)?\d{{2}}"
    r")(?!\d)",
    re.IGNORECASE,
)
#: A pseudonym: this many hex digits or more in a row (an HMAC is 64).
PSEUDONYM_HEX_DIGITS = 16
PSEUDONYM = re.compile(rf"(?<![0-9A-Fa-f])[0-9A-Fa-f]{{{PSEUDONYM_HEX_DIGITS},}}(?![0-9A-Fa-f])")
#: A raw record key (episode, attendance, patient, incident numbers): this many digits
#: in a row or more. No published code is that long (SNOMED codes are not published
#: as keys; the longest key codes are ONS area codes, one letter and eight digits).
RECORD_KEY_DIGITS = 9
_RECORD_KEY = re.compile(rf"\d{{{RECORD_KEY_DIGITS},}}")

#: The shapes of the codes a key column of this name holds. ODS codes always have a
#: letter ('12345' is a local number); ONS area codes are a letter and 8 digits.
_ODS = r"(?=[A-Z0-9]*[A-Z])[A-Z0-9]{3,6}"
_ONS = r"[EWSN][0-9]{8}"
SHAPES: Mapping[str, re.Pattern] = {
    name: re.compile(rf"^(?:{shape})$")
    for name, shape in {
        "provider_code": f"{_ODS}|{_ONS}",
        "practice_code": r"[A-Z][0-9]{5}",
        "pcn_code": _ODS,
        "place_code": f"{_ODS}|{_ONS}",
        "hrg": r"[A-Z]{2}[0-9]{2}[A-Z]",
        # A specialty code, or a social care service type (home_care, reablement, ...).
        "treatment_function": r"[0-9]{3}|[a-z][a-z_]{1,40}",
        "financial_year": r"[0-9]{4}/[0-9]{2}",
        "month": r"[0-9]{4}-(?:0[1-9]|1[0-2])",
        "period": r"[0-9]{4}/[0-9]{2}|[0-9]{4}-(?:0[1-9]|1[0-2])",
        "age_band": r"[0-9]{1,3}(?:-[0-9]{1,3}|\+)",
    }.items()
}

#: Columns not checked, and why: text the code wrote itself, not values from the input.
TRUSTED = {
    # Sentences from the stages' own templates, guarded by runner.check_note; they
    # may quote an extract date, which is not anyone's date of birth.
    ("stage_notes", "note"): "stage notes are checked by runner.check_note",
}


def looks_like_identifier(value: str) -> bool:
    """Whether a text holds something shaped like a person's or a record's identifier."""
    if _POSTCODE.search(value) or _DATE.search(value) or PSEUDONYM.search(value):
        return True
    if _RECORD_KEY.search(value):
        return True
    return any(is_valid_nhs_number(re.sub(r"\D", "", m.group())) for m in NHS_LIKE.finditer(value))


def allowed(column: str, value: object) -> bool:
    """Whether ``value`` may be published in key column ``column``.

    Missing values and non-text values (numbers, dates the gate's statistics carry) are
    allowed: only text can carry a name or identifier from the input.
    """
    if not isinstance(value, str):
        return True
    if value in CATEGORIES:
        return True
    shape = SHAPES.get(column)
    if shape is not None and not shape.match(value):
        return False
    return not looks_like_identifier(value)


def withhold(
    table: str, columns: Iterable[str], values: Mapping[str, list]
) -> tuple[dict[str, list], dict[str, int]]:
    """Each column's values with those not ``allowed`` replaced by ``INVALID_VALUE``, and
    how many were replaced in each column that had any.

    Each distinct value is judged once, so a large table costs its distinct keys.
    """
    out: dict[str, list] = {}
    replaced: dict[str, int] = {}
    for column in columns:
        if (table, column) in TRUSTED:
            continue
        cells = values[column]
        verdict = {v: allowed(column, v) for v in set(cells) if isinstance(v, str)}
        bad = sum(1 for v in cells if isinstance(v, str) and not verdict[v])
        if bad:
            out[column] = [
                INVALID_VALUE if isinstance(v, str) and not verdict[v] else v for v in cells
            ]
            replaced[column] = bad
    return out, replaced
