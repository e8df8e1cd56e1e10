"""Spec: emergency admissions, counted by continuous inpatient spell.

A transfer between providers is one admission (its CIP spell), dated and placed by its
first provider spell; a spell admitted as a transfer from a provider whose spell is not
in the data (2B, 81) is no new admission; length of stay runs over the whole CIP spell.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from openphm.measure import acsc
from openphm.measure.admissions import cip_spells, emergency_admissions, primary_diagnoses
from openphm.measure.definitions import load
from tests.spec.harness import assert_transform

ENCOUNTER = """
encounter_id | person_id | setting | provider_code | start_date | end_date   | admission_method | is_emergency | discharge_destination | cip_spell_id
apc:a1       | moved     | apc     | RZ1           | 2024-05-01 | 2024-05-03 | 21               | T            | 51                    | apc:a1
apc:a2       | moved     | apc     | RZ2           | 2024-05-03 | 2024-05-10 | 81               | F            | 19                    | apc:a1
apc:b1       | planned   | apc     | RZ1           | 2024-06-01 | 2024-06-01 | 11               | F            | 19                    | apc:b1
apc:c1       | came_in   | apc     | RZ2           | 2024-07-01 | 2024-07-04 | 2B               | T            | 19                    | apc:c1
apc:d1       | same_day  | apc     | RZ1           | 2024-08-01 | 2024-08-01 | 22               | T            | 19                    | apc:d1
apc:e1       | still_in  | apc     | RZ2           | 2026-03-20 |            | 21               | T            |                       | apc:e1
ae:f1        | moved     | ae      | RZ1           | 2024-05-01 | 2024-05-01 |                  | T            |                       |
"""


def test_an_emergency_admission_is_a_cip_spell_dated_and_placed_by_its_first_spell(con):
    # moved: admitted as an emergency at RZ1, transferred to RZ2: one admission of 9 days.
    # planned (elective) and came_in (a transfer in, 2B) are not emergency admissions;
    # same_day has a zero length of stay; still_in has no length of stay yet.
    assert_transform(
        con,
        lambda encounter: emergency_admissions(cip_spells(encounter)),
        {"encounter": ENCOUNTER},
        """
        cip_spell_id | person_id | event_date | provider_code | length_of_stay | zero_length_of_stay | via_emergency_department
        apc:a1       | moved     | 2024-05-01 | RZ1           | 9              | F                   | T
        apc:d1       | same_day  | 2024-08-01 | RZ1           | 0              | T                   | F
        apc:e1       | still_in  | 2026-03-20 | RZ2           |                | F                   | T
        """,
    )


def test_a_cip_spell_ends_where_its_last_provider_spell_ends(con):
    assert_transform(
        con,
        lambda encounter: cip_spells(encounter).filter(lambda t: t.person_id == "moved"),
        {"encounter": ENCOUNTER},
        """
        cip_spell_id | start_date | end_date   | provider_code | discharging_provider | discharge_destination | first_encounter_id
        apc:a1       | 2024-05-01 | 2024-05-10 | RZ1           | RZ2                  | 19                    | apc:a1
        """,
    )


DIAGNOSIS = """
encounter_id | person_id | position | code_system | code  | episode_id
apc:a1       | moved     | 1        | icd10       | R074  | e2
apc:a1       | moved     | 1        | icd10       | I200  | e1
apc:a1       | moved     | 2        | icd10       | I10   | e1
apc:d1       | same_day  | 1        | icd10       | J459  |
apc:d1       | same_day  | 1        | snomed      | 195967001 |
"""

EPISODE = """
episode_id | encounter_id | person_id | episode_order | start_date | end_date
e1         | apc:a1       | moved     | 1             | 2024-05-01 | 2024-05-02
e2         | apc:a1       | moved     | 2             | 2024-05-02 | 2024-05-03
"""


def test_the_primary_diagnosis_is_icd10_position_1_of_the_first_episode(con):
    # The second episode's primary (R074) is not the spell's; a diagnosis without an
    # episode counts as the first; SNOMED codes are not ICD-10 diagnoses.
    assert_transform(
        con,
        primary_diagnoses,
        {"diagnosis": DIAGNOSIS, "episode": EPISODE},
        """
        encounter_id | code
        apc:a1       | I200
        apc:d1       | J459
        """,
    )


ADMISSIONS = """
cip_spell_id | person_id | first_encounter_id
asthma       | p1        | apc:1
copd_j20     | p2        | apc:2
bronchitis   | p3        | apc:3
pneumonia    | p4        | apc:4
sickle       | p5        | apc:5
secondary    | p6        | apc:6
"""
ADMISSION_SCHEMA = {"cip_spell_id": "string", "person_id": "string", "first_encounter_id": "string"}

ACSC_DIAGNOSES = """
encounter_id | person_id | position | code_system | code
apc:1        | p1        | 1        | icd10       | J459
apc:2        | p2        | 1        | icd10       | J209
apc:2        | p2        | 2        | icd10       | J449
apc:3        | p3        | 1        | icd10       | J209
apc:4        | p4        | 1        | icd10       | J181
apc:5        | p5        | 1        | icd10       | J181
apc:5        | p5        | 2        | icd10       | D571
apc:6        | p6        | 1        | icd10       | S720
apc:6        | p6        | 2        | icd10       | E86
"""


def _flags(admissions, diagnosis, episode):
    lists = load().codelists
    out = admissions
    for name in ("acsc_chronic", "acsc_acute", "acsc_vaccine_preventable"):
        out = acsc.flag(out, diagnosis, episode, lists[name], name)
    return out


def test_ambulatory_care_sensitive_conditions_are_judged_by_the_primary_diagnosis(con):
    # Asthma (J45) is chronic; acute bronchitis (J20) is COPD only with a secondary
    # J41-J44 or J47; pneumonia (J18.1) is vaccine preventable unless the patient has
    # sickle-cell disease (D57); a secondary diagnosis alone (dehydration) never counts.
    assert_transform(
        con,
        _flags,
        {"admissions": ADMISSIONS, "diagnosis": ACSC_DIAGNOSES, "episode": EPISODE},
        """
        cip_spell_id | acsc_chronic | acsc_acute | acsc_vaccine_preventable
        asthma       | T            | F          | F
        copd_j20     | T            | F          | F
        bronchitis   | F            | F          | F
        pneumonia    | F            | F          | T
        sickle       | F            | F          | F
        secondary    | F            | F          | F
        """,
        schemas={"admissions": ADMISSION_SCHEMA},
    )
