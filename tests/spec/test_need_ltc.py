"""Spec: long-term condition flags, and the day each condition was first recorded.

The ``ltc`` code list holds ICD-10 categories (matched by prefix, however the code is
spelt) and SNOMED CT concept ids (matched exactly) for 26 conditions, and two nested
subsets: ``ckd_severe`` (stage 4-5) within ``ckd`` and ``cancer_metastatic`` within
``cancer``. On an index date a person has a condition if any record of it falls on or
before that day, in either code system; ``_first`` is the earliest such record.
``ltc_count`` counts conditions, each once, and the nested subsets not at all.

Records come from hospital diagnoses dated by the encounter's start (ICD-10 from
admitted care and outpatients, not ICD-10 referral reasons; SNOMED CT from every
setting, emergency care included) and GP events (SNOMED CT).
"""

from __future__ import annotations

import datetime as dt

from openphm.need import condition_flags, scores
from openphm.need.records import coded_records, emergency_admissions
from tests.spec.harness import assert_spec, load

RECORDS = {
    "person_id": "string",
    "code_system": "string",
    "code": "string",
    "diagnosis_date": "date",
}
PEOPLE = {"person_id": "string"}
INDEX = dt.date(2024, 3, 31)


def records(con, text):
    return load(con, "records", text, RECORDS)


def test_conditions_are_flagged_from_either_code_system_with_their_first_record(con):
    # p1: type 2 diabetes at the GP in 2018 (SNOMED CT 44054006), then in hospital (E11.9);
    #     hypertension recorded only after the index date does not count yet.
    # p2: CKD stage 3 at the GP (433144002), then stage 4 in hospital (N18.4): CKD since
    #     2021, stage 4-5 since 2023, and still one condition.
    # p3: hypertension as HES pads it (I10X); a SNOMED CT id missing a digit is no code.
    # p4: no records at all.
    t = records(
        con,
        """
        person_id | code_system | code      | diagnosis_date
        p1        | snomed      | 44054006  | 2018-03-02
        p1        | icd10       | E11.9     | 2020-05-01
        p1        | snomed      | 38341003  | 2024-06-01
        p2        | snomed      | 433144002 | 2021-07-01
        p2        | icd10       | N18.4     | 2023-01-10
        p3        | icd10       | I10X      | 2019-02-02
        p3        | snomed      | 4405400   | 2019-02-02
        """,
    )
    people = load(con, "people", "person_id\np1\np2\np3\np4", PEOPLE)
    flags = condition_flags(t, index_date=INDEX, people=people)
    assert_spec(
        flags,
        """
        person_id | ltc_diabetes | ltc_diabetes_first | ltc_hypertension | ltc_hypertension_first
        p1        | T            | 2018-03-02         | F                |
        p2        | F            |                    | F                |
        p3        | F            |                    | T                | 2019-02-02
        p4        | F            |                    | F                |
        """,
    )
    assert_spec(
        flags,
        """
        person_id | ltc_ckd | ltc_ckd_first | ltc_ckd_severe | ltc_ckd_severe_first
        p1        | F       |               | F              |
        p2        | T       | 2021-07-01    | T              | 2023-01-10
        p3        | F       |               | F              |
        p4        | F       |               | F              |
        """,
    )
    assert_spec(
        scores(t, definitions=["ltc"], index_date=INDEX, people=people),
        """
        person_id | ltc_count
        p1        | 1
        p2        | 1
        p3        | 1
        p4        | 0
        """,
    )


def test_maternity_looks_back_12_months_from_the_index_date(duckdb_con):
    # p1 gave birth (Z37.0) 11 months before the index date; p2 was pregnant (SNOMED CT
    # 77386006) 13 months before it, which is too long ago to count.
    t = records(
        duckdb_con,
        """
        person_id | code_system | code     | diagnosis_date
        p1        | icd10       | Z37.0    | 2023-05-02
        p1        | icd10       | O80      | 2023-05-01
        p2        | snomed      | 77386006 | 2023-02-27
        """,
    )
    assert_spec(
        condition_flags(t, definitions=["maternity"], index_date=INDEX),
        """
        person_id | maternity_pregnancy | maternity_pregnancy_first
        p1        | T                   | 2023-05-01
        p2        | F                   |
        """,
    )


def test_records_are_hospital_icd10_snomed_on_any_encounter_and_gp_snomed_codes(duckdb_con):
    # e1, an admission, and e2, an outpatient attendance, give their ICD-10 codes on their
    # start dates. e3's ICD-10 mental health referral reason is not a diagnosis a register
    # would take. SNOMED CT counts from every setting: e4's emergency care diagnosis
    # (ECDS codes only in SNOMED CT) and e5's community contact, each on its start date.
    # GP events count when coded in SNOMED CT, not in Read codes.
    encounter = load(
        duckdb_con,
        "encounter",
        """
        encounter_id | person_id | setting       | start_date | end_date
        e1           | p1        | apc           | 2023-01-05 | 2023-01-09
        e2           | p1        | op            | 2023-02-01 |
        e3           | p2        | mental_health | 2023-03-01 |
        e4           | p2        | ae            | 2023-04-01 |
        e5           | p2        | community     | 2023-05-01 |
        """,
    )
    diagnosis = load(
        duckdb_con,
        "diagnosis",
        """
        encounter_id | person_id | position | code_system | code
        e1           | p1        | 1        | icd10       | I214
        e1           | p1        | 2        | icd10       | E119
        e2           | p1        | 1        | icd10       | M170
        e3           | p2        | 1        | icd10       | F419
        e4           | p2        | 1        | snomed      | 22298006
        e5           | p2        | 1        | snomed      | 195967001
        """,
    )
    gp_event = load(
        duckdb_con,
        "gp_event",
        """
        person_id | event_date | code_system | code
        p2        | 2019-06-01 | snomed      | 197480006
        p2        | 2019-06-01 | read2       | E2002
        """,
    )
    assert_spec(
        coded_records(diagnosis, encounter, gp_event),
        """
        person_id | code_system | code      | diagnosis_date
        p1        | icd10       | I214      | 2023-01-05
        p1        | icd10       | E119      | 2023-01-05
        p1        | icd10       | M170      | 2023-02-01
        p2        | snomed      | 22298006  | 2023-04-01
        p2        | snomed      | 195967001 | 2023-05-01
        p2        | snomed      | 197480006 | 2019-06-01
        """,
    )


def test_emergency_admissions_are_counted_over_the_12_months_to_the_index_date(duckdb_con):
    # p1: two emergency admissions in the year (the first on its first day), one the day
    # before the year began, and a planned one. p2: an emergency A&E attendance is not an
    # admission.
    encounter = load(
        duckdb_con,
        "encounter",
        """
        encounter_id | person_id | setting | start_date | is_emergency
        e1           | p1        | apc     | 2023-03-31 | T
        e2           | p1        | apc     | 2024-03-31 | T
        e3           | p1        | apc     | 2023-03-30 | T
        e4           | p1        | apc     | 2023-09-01 | F
        e5           | p2        | ae      | 2024-01-01 | T
        """,
    )
    assert_spec(
        emergency_admissions(encounter, INDEX),
        """
        person_id | emergency_admissions_12m
        p1        | 2
        """,
    )
