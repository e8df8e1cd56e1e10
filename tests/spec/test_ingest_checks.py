"""Checks by severity: a row is quarantined only when it cannot be used; an invalid value
elsewhere becomes NULL (or the NHS Data Dictionary's "not known" code) and the row is
kept; every failure of every row is recorded.

The rows are HES APC episodes written from the HES Data Dictionary's value sets (the
"not known" codes are those NHS Digital's artificial HES carries), with synthetic NHS
numbers from the never-issued 999 range. Columns a spec leaves out are NULL.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)
from __future__ import annotations

from datetime import date

from openphm.ingest import checks
from openphm.ingest.canonical import MAPPERS
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.reader import LINE
from tests.spec.harness import assert_spec, load

WINDOW = checks.Window(date(1900, 1, 1), date(2026, 11, 22))
APC = LAYOUTS["hes_apc"]


def _schema(layout) -> dict[str, str]:
    return {c: "string" for c in layout.all_columns} | {LINE: "int64"}


def _checked(con, layout, text: str):
    staged = load(con, f"staged_{layout.name}", text, _schema(layout))
    return checks.label(staged, layout, WINDOW)


# A usable episode; each spec row below changes what it is about.
EPISODES = """
_line | EPIKEY | PROCODE3   | NEWNHSNO   | DOB        | ADMIDATE   | EPISTART   | EPIORDER | ETHNOS | SEX | ADMIMETH | DISMETH | DISDEST | TRETSPEF | DIAG_4_01 | DIAG_4_02
2     | e2     | RWE        | 9990000018 | 1950-03-01 | 2024-01-02 | 2024-01-02 | 1        | A      | 1   | 21       | 1       | 19      | 300      | I10X      |
3     | e3     | RWE        | 9990000026 | 1950-03-01 | 2024-01-02 | 2024-01-02 | 1        | 7Q     | 2   | 21       | 1       | 42      | 300      | K409      | 7999
4     | e4     | RWE        | 9990000034 | 1950-03-01 |            | 2024-01-02 | 1        | A      | 1   | 21       | 1       | 19      | 300      | K409      |
5     |        | RWE        | 9990000042 | 1950-03-01 | 2024-01-02 | 2024-01-02 | 1        | A      | 1   | 21       | 1       | 19      | 300      | K409      |
6     | e6     | 9990000018 | 9990000019 | 1950-03-01 | 2024-01-02 | 2024-01-02 | 1        | A      | 1   | 21       | 1       | 19      | 300      | K409      |
"""


def test_invalid_values_are_nulled_or_not_known_and_the_row_is_kept(con):
    """Line 3 has an ETHNOS, a DISDEST and a secondary diagnosis that are not codes: its
    ETHNOS and DISDEST become the Dictionary's 99 "not known", the diagnosis NULL. Line
    6's NHS number fails Modulus 11 and its provider is an NHS number: both NULL, the row
    kept (link can still match it on its demographics)."""
    accepted, _ = checks.split(_checked(con, APC, EPISODES), APC)
    assert_spec(
        accepted,
        """
        _line | EPIKEY | PROCODE3 | NEWNHSNO   | ETHNOS | DISDEST | DIAG_4_01 | DIAG_4_02
        2     | e2     | RWE      | 9990000018 | A      | 19      | I10X      |
        3     | e3     | RWE      | 9990000026 | 99     | 99      | K409      |
        6     | e6     |          |            | A      | 19      | K409      |
        """,
    )


def test_rows_without_a_record_key_or_an_admission_date_are_quarantined(con):
    """One quarantine row per row, for the first check that makes it unusable; the
    provider shown only when it has the shape of an ODS code."""
    _, quarantined = checks.split(_checked(con, APC, EPISODES), APC)
    assert_spec(
        quarantined,
        """
        line | provider_code | column   | reason
        4    | RWE           | ADMIDATE | missing_value
        5    | RWE           | EPIKEY   | missing_value
        """,
    )


def test_every_failure_of_a_row_is_an_issue_with_what_was_done(con):
    """All three failures of line 3, not only the first; a quarantined row's failures are
    'quarantined', a kept row's 'nulled'. A provider that is not an ODS code is shown as
    'invalid value', never as itself."""
    assert_spec(
        checks.issues(_checked(con, APC, EPISODES), APC),
        """
        line | provider_code | column    | value      | reason             | action
        3    | RWE           | ETHNOS    | 7Q         | invalid_value      | nulled
        3    | RWE           | DISDEST   | 42         | invalid_value      | nulled
        3    | RWE           | DIAG_4_02 | 7999       | invalid_icd10      | nulled
        4    | RWE           | ADMIDATE  |            | missing_value      | quarantined
        5    | RWE           | EPIKEY    |            | missing_value      | quarantined
        6    | invalid value | PROCODE3  | 9990000018 | invalid_code       | nulled
        6    | invalid value | NEWNHSNO  | 9990000019 | invalid_nhs_number | nulled
        """,
    )


def test_the_data_dictionarys_not_known_codes_and_icd10_as_delivered_are_valid(con):
    """ETHNOS X / 9 / Z / 99, SEX 0 / 9, ADMIMETH 98 / 99, DISMETH 8 / 9, DISDEST 98 / 99,
    TRETSPEF '&', and ICD-10 dotted, padded, with a 5th character or a dagger: kept as
    delivered, no issue recorded."""
    text = """
    _line | EPIKEY | PROCODE3 | ADMIDATE   | EPISTART   | ETHNOS | SEX | ADMIMETH | DISMETH | DISDEST | TRETSPEF | DIAG_4_01 | DIAG_4_02 | DIAG_4_03
    2     | e2     | RWE      | 2024-01-02 | 2024-01-02 | X      | 0   | 98       | 8       | 98      | &        | K40.9     | I10-      | M8405
    3     | e3     | RWE      | 2024-01-02 | 2024-01-02 | 9      | 9   | 99       | 9       | 99      | &        | R69X      | A170D     | G01XA
    4     | e4     | RWE      | 2024-01-02 | 2024-01-02 | Z      | 1   | 21       | 1       | 19      | 300      | I10       | K409      | J18.9
    5     | e5     | RWE      | 2024-01-02 | 2024-01-02 | 99     | 2   | 21       | 1       | 19      | 300      | Z380      |           |
    """
    checked = _checked(con, APC, text)
    accepted, quarantined = checks.split(checked, APC)
    assert_spec(
        accepted,
        """
        _line | ETHNOS | SEX | ADMIMETH | DISMETH | DISDEST | TRETSPEF | DIAG_4_01 | DIAG_4_02 | DIAG_4_03
        2     | X      | 0   | 98       | 8       | 98      | &        | K40.9     | I10-      | M8405
        3     | 9      | 9   | 99       | 9       | 99      | &        | R69X      | A170D     | G01XA
        4     | Z      | 1   | 21       | 1       | 19      | 300      | I10       | K409      | J18.9
        5     | 99     | 2   | 21       | 1       | 19      | 300      | Z380      |           |
        """,
    )
    assert quarantined.count().execute() == 0
    assert checks.issues(checked, APC).count().execute() == 0


def test_a_whole_number_written_with_a_zero_fraction_is_an_integer_and_casts(con):
    """'12345.0' pence (as some exports write integers) passes the integer check and
    reaches the ledger as 12345; '12.5' does not, and a ledger amount that is not a whole
    number of pence cannot be used: the line is quarantined."""
    ledger = LAYOUTS["costing_ledger"]
    text = """
    _line | PROVIDER_CODE | FINANCIAL_YEAR | COST_CENTRE | COST_CENTRE_TYPE | EXPENSE_TYPE | RESOURCE | AMOUNT_PENCE
    2     | RWE           | 2024/25        | W100        | patient_facing   | pay          | nurse    | 12345.0
    3     | RWE           | 2024/25        | W101        | patient_facing   | pay          | nurse    | 200
    4     | RWE           | 2024/25        | W102        | patient_facing   | pay          | nurse    | 12.5
    """
    accepted, quarantined = checks.split(_checked(con, ledger, text), ledger)
    assert_spec(
        MAPPERS["costing_ledger"](accepted, "ledger")["ledger"],
        """
        cost_centre | amount_pence
        W100        | 12345
        W101        | 200
        """,
    )
    assert_spec(
        quarantined,
        """
        line | column       | value | reason
        4    | AMOUNT_PENCE | 12.5  | invalid_integer
        """,
    )


def test_an_invalid_nhs_number_quarantines_only_where_the_layout_needs_a_person_key(con):
    """A GP registration is a period of a person's registration: without a valid NHS
    number there is no one it belongs to. A HES episode's is nulled (the test above)."""
    registrations = LAYOUTS["gp_registrations"]
    text = """
    _line | REG_ID | NHS_NUMBER | PRACTICE_CODE | REGISTRATION_START
    2     | r1     | 9990000018 | A81001        | 2020-01-01
    3     | r2     | 9990000019 | A81001        | 2020-01-01
    """
    accepted, quarantined = checks.split(_checked(con, registrations, text), registrations)
    assert_spec(accepted, "_line | REG_ID\n2 | r1")
    assert_spec(quarantined, "line | column | reason\n3 | NHS_NUMBER | invalid_nhs_number")
