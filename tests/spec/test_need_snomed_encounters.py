"""Spec: SNOMED CT diagnoses on encounters count, from every setting, as GP events do.

Emergency care (ECDS) codes its diagnoses only in SNOMED CT, and OMOP conditions on
visits, community and mental health contacts often are too. A SNOMED CT diagnosis on
an encounter is dated by the encounter's start, as an ICD-10 diagnosis is, and matches
the lists that hold SNOMED CT concepts (``ltc``, ``maternity``); the lists that are
ICD-10 only (Charlson, Elixhauser, HFRS) do not read it. A condition recorded in many
places is still one condition. ICD-10 still counts only from admitted care and
outpatients, so a population coded only in ICD-10 is measured as it always was.

Concepts from ``src/openphm/codelists/ltc.codes.csv``: atrial fibrillation 49436004,
myocardial infarction 22298006 (coronary heart disease).
"""

from __future__ import annotations

import datetime as dt

from openphm.need import condition_flags, scores
from openphm.need.records import coded_records
from tests.spec.harness import assert_spec, load

INDEX = dt.date(2024, 3, 31)


def test_a_snomed_diagnosis_on_an_ae_attendance_flags_its_condition_once(con):
    # p1: atrial fibrillation diagnosed only in A&E.
    # p2: atrial fibrillation at the GP, then in hospital (ICD-10 I48.9), then at two A&E
    #     attendances: flagged since the GP record, and one condition.
    # p3: an ICD-10 code on an A&E attendance is not a diagnosis that counts.
    # p4: an A&E diagnosis after the index date does not count yet.
    # p5: a myocardial infarction in A&E is coronary heart disease, but Charlson is
    #     ICD-10 only and does not read it.
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | person_id | setting | start_date
        a1           | p1        | ae      | 2023-06-01
        g2           | p2        | apc     | 2022-02-02
        a2           | p2        | ae      | 2023-06-01
        b2           | p2        | ae      | 2023-07-01
        a3           | p3        | ae      | 2023-06-01
        a4           | p4        | ae      | 2024-05-01
        a5           | p5        | ae      | 2023-08-09
        """,
    )
    diagnosis = load(
        con,
        "diagnosis",
        """
        encounter_id | person_id | position | code_system | code
        a1           | p1        | 1        | snomed      | 49436004
        g2           | p2        | 1        | icd10       | I48.9
        a2           | p2        | 1        | snomed      | 49436004
        b2           | p2        | 1        | snomed      | 49436004
        a3           | p3        | 1        | icd10       | I48
        a4           | p4        | 1        | snomed      | 49436004
        a5           | p5        | 1        | snomed      | 22298006
        """,
    )
    gp_event = load(
        con,
        "gp_event",
        """
        person_id | event_date | code_system | code
        p2        | 2021-01-10 | snomed      | 49436004
        """,
    )
    records = coded_records(diagnosis, encounter, gp_event)
    people = load(con, "people", "person_id\np1\np2\np3\np4\np5", {"person_id": "string"})
    assert_spec(
        condition_flags(records, index_date=INDEX, people=people),
        """
        person_id | ltc_atrial_fibrillation | ltc_atrial_fibrillation_first | ltc_chd
        p1        | T                       | 2023-06-01                    | F
        p2        | T                       | 2021-01-10                    | F
        p3        | F                       |                               | F
        p4        | F                       |                               | F
        p5        | F                       |                               | T
        """,
    )
    assert_spec(
        scores(records, definitions=["charlson", "ltc"], index_date=INDEX, people=people),
        """
        person_id | charlson | ltc_count
        p1        | 0        | 1
        p2        | 0        | 1
        p3        | 0        | 0
        p4        | 0        | 0
        p5        | 0        | 1
        """,
    )


def test_a_population_coded_only_in_icd10_is_measured_from_admitted_care_and_outpatients(con):
    # p1: a myocardial infarction admitted (I21.4) and type 2 diabetes in outpatients
    #     (E11.9): Charlson 2 (one each), two long-term conditions.
    # p2: the same codes on A&E, mental health and community contacts: referral reasons
    #     and front-door codes, none of which counts.
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | person_id | setting       | start_date
        e1           | p1        | apc           | 2023-01-05
        e2           | p1        | op            | 2023-02-01
        e3           | p2        | ae            | 2023-01-05
        e4           | p2        | mental_health | 2023-02-01
        e5           | p2        | community     | 2023-03-01
        """,
    )
    diagnosis = load(
        con,
        "diagnosis",
        """
        encounter_id | person_id | position | code_system | code
        e1           | p1        | 1        | icd10       | I214
        e2           | p1        | 1        | icd10       | E119
        e3           | p2        | 1        | icd10       | I214
        e4           | p2        | 1        | icd10       | E119
        e5           | p2        | 1        | icd10       | E119
        """,
    )
    records = coded_records(diagnosis, encounter)
    assert_spec(
        records,
        """
        person_id | code_system | code | diagnosis_date
        p1        | icd10       | I214 | 2023-01-05
        p1        | icd10       | E119 | 2023-02-01
        """,
    )
    people = load(con, "people", "person_id\np1\np2", {"person_id": "string"})
    assert_spec(
        scores(records, definitions=["charlson", "ltc"], index_date=INDEX, people=people),
        """
        person_id | charlson | ltc_count
        p1        | 2        | 2
        p2        | 0        | 0
        """,
    )
