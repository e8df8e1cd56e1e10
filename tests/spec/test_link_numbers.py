"""Link gives a record without an NHS number the one its own identity row carries.

An OMOP visit names its person only by a record key ('person:<id>'), shared by
all of that person's rows; the NHS number is on the person's identity row. Link
fills it in before opt-outs, so the visit is linked (and opted out) by NHS number.
"""

from openphm.ingest import staged
from openphm.link.stage import _identity_numbers, _numbered
from tests.spec.harness import assert_spec, load

ENCOUNTER = {n: str(t) for n, t in staged.SCHEMAS["staged_encounter"].items()}
IDENTITY = {n: str(t) for n, t in staged.IDENTITY.items()}


def test_a_record_takes_the_nhs_number_of_its_identity_row_and_keeps_its_own(con):
    records = load(
        con,
        "records",
        """
        encounter_id | source | record_key | nhs_number
        omop:1       | omop   | person:1   |
        omop:2       | omop   | person:1   |
        omop:3       | omop   | person:2   |
        omop:4       | omop   | person:3   |
        hes:5        | hes    | person:1   | 9990000018
        hes:6        | hes    | a6         |
        """,
        ENCOUNTER,
    )
    # person:2 has two identity rows that disagree: no number is guessed for it.
    # person:3 is known only within the OMOP database. A hes record with the same key
    # as an OMOP person is a different record: keys are per source.
    identity = load(
        con,
        "identity",
        """
        source | record_key | nhs_number
        omop   | person:1   | 9990000026
        omop   | person:2   | 9990000034
        omop   | person:2   | 9990000042
        omop   | person:3   |
        hes    | a6         |
        """,
        IDENTITY,
    )
    assert_spec(
        _numbered(records, _identity_numbers(identity)),
        """
        encounter_id | source | record_key | nhs_number
        omop:1       | omop   | person:1   | 9990000026
        omop:2       | omop   | person:1   | 9990000026
        omop:3       | omop   | person:2   |
        omop:4       | omop   | person:3   |
        hes:5        | hes    | person:1   | 9990000018
        hes:6        | hes    | a6         |
        """,
    )
