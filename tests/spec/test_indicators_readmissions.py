"""Spec: emergency readmissions within 30 days of discharge (NHS Digital I02040).

Each finished continuous inpatient spell is a discharge; it is readmitted when the
person's next CIP spell is an emergency admission 0 to 29 days after the discharge
date. Spells for cancer, obstetrics or chemotherapy are left out on both sides, as
are deaths in hospital and discharges whose 30 days run past the index date.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from datetime import date

from openphm.measure.admissions import cip_spells
from openphm.measure.definitions import load
from openphm.measure.readmissions import excluded_spells, index_discharges
from tests.spec.harness import assert_transform

INDEX_DATE = date(2026, 3, 31)
WINDOW_DAYS = 30

ENCOUNTER = """
encounter_id | person_id  | setting | provider_code | start_date | end_date   | admission_method | is_emergency | discharge_destination | cip_spell_id
apc:d0a      | day_0      | apc     | RZ1           | 2024-01-01 | 2024-01-10 | 21               | T            | 19                    | apc:d0a
apc:d0b      | day_0      | apc     | RZ2           | 2024-01-10 | 2024-01-12 | 22               | T            | 19                    | apc:d0b
apc:d29a     | day_29     | apc     | RZ1           | 2024-01-01 | 2024-01-10 | 11               | F            | 19                    | apc:d29a
apc:d29b     | day_29     | apc     | RZ1           | 2024-02-08 | 2024-02-09 | 21               | T            | 19                    | apc:d29b
apc:d30a     | day_30     | apc     | RZ1           | 2024-01-01 | 2024-01-10 | 21               | T            | 19                    | apc:d30a
apc:d30b     | day_30     | apc     | RZ1           | 2024-02-09 | 2024-02-10 | 21               | T            | 19                    | apc:d30b
apc:pla      | planned    | apc     | RZ1           | 2024-03-01 | 2024-03-02 | 21               | T            | 19                    | apc:pla
apc:plb      | planned    | apc     | RZ1           | 2024-03-05 | 2024-03-05 | 12               | F            | 19                    | apc:plb
apc:tra      | transfer   | apc     | RZ1           | 2024-04-01 | 2024-04-03 | 21               | T            | 51                    | apc:tra
apc:trb      | transfer   | apc     | RZ2           | 2024-04-03 | 2024-04-08 | 81               | F            | 19                    | apc:tra
apc:die      | died       | apc     | RZ1           | 2024-05-01 | 2024-05-04 | 21               | T            | 79                    | apc:die
apc:late     | too_late   | apc     | RZ1           | 2026-03-01 | 2026-03-10 | 21               | T            | 19                    | apc:late
"""


def _discharges(encounter, diagnosis, procedure, episode):
    excluded = excluded_spells(
        encounter, diagnosis, procedure, episode, load().codelists["readmission_exclusions"]
    )
    return index_discharges(cip_spells(encounter), excluded, WINDOW_DAYS, INDEX_DATE)


# Codes of someone else's spell: nothing here excludes anyone above.
NO_DIAGNOSIS = """
encounter_id | person_id | position | code_system | code
apc:other    | other     | 1        | icd10       | C189
"""
NO_PROCEDURE = """
encounter_id | person_id | position | code_system | code
apc:other    | other     | 1        | opcs4       | X723
"""
NO_EPISODE = """
episode_id | encounter_id | person_id | episode_order | start_date | main_specialty
o1         | apc:other    | other     | 1             | 2024-01-01 | 501
"""


def test_readmitted_when_the_next_emergency_admission_is_0_to_29_days_after_discharge(con):
    # day_0 is back the day it left; day_29 on the 29th day after an elective stay;
    # day_30 a day too late. planned's next admission is elective; transfer's move to
    # RZ2 is one CIP spell, not a discharge and a readmission; died has no discharge;
    # too_late left 21 days before the index date, so its 30 days are not yet seen.
    assert_transform(
        con,
        _discharges,
        {
            "encounter": ENCOUNTER,
            "diagnosis": NO_DIAGNOSIS,
            "procedure": NO_PROCEDURE,
            "episode": NO_EPISODE,
        },
        """
        cip_spell_id | person_id | event_date | provider_code | days_to_next_admission | readmitted
        apc:d0a      | day_0     | 2024-01-10 | RZ1           | 0                      | T
        apc:d0b      | day_0     | 2024-01-12 | RZ2           |                        | F
        apc:d29a     | day_29    | 2024-01-10 | RZ1           | 29                     | T
        apc:d29b     | day_29    | 2024-02-09 | RZ1           |                        | F
        apc:d30a     | day_30    | 2024-01-10 | RZ1           | 30                     | F
        apc:d30b     | day_30    | 2024-02-10 | RZ1           |                        | F
        apc:pla      | planned   | 2024-03-02 | RZ1           | 3                      | F
        apc:plb      | planned   | 2024-03-05 | RZ1           |                        | F
        apc:tra      | transfer  | 2024-04-08 | RZ2           |                        | F
        """,
    )


EXCLUSIONS = """
encounter_id | person_id | setting | provider_code | start_date | end_date   | admission_method | is_emergency | discharge_destination | cip_spell_id
apc:ca1      | cancer    | apc     | RZ1           | 2024-01-01 | 2024-01-05 | 21               | T            | 19                    | apc:ca1
apc:ca2      | cancer    | apc     | RZ1           | 2024-01-10 | 2024-01-12 | 21               | T            | 19                    | apc:ca2
apc:ob1      | mother    | apc     | RZ1           | 2024-01-01 | 2024-01-05 | 21               | T            | 19                    | apc:ob1
apc:ob2      | mother    | apc     | RZ1           | 2024-01-10 | 2024-01-12 | 21               | T            | 19                    | apc:ob2
apc:ch1      | chemo     | apc     | RZ1           | 2024-01-01 | 2024-01-01 | 13               | F            | 19                    | apc:ch1
apc:ch2      | chemo     | apc     | RZ1           | 2024-01-10 | 2024-01-12 | 21               | T            | 19                    | apc:ch2
apc:mw1      | midwife   | apc     | RZ1           | 2024-01-01 | 2024-01-05 | 21               | T            | 19                    | apc:mw1
apc:mw2      | midwife   | apc     | RZ1           | 2024-01-10 | 2024-01-12 | 21               | T            | 19                    | apc:mw2
apc:ok1      | kept      | apc     | RZ1           | 2024-01-01 | 2024-01-05 | 21               | T            | 19                    | apc:ok1
apc:ok2      | kept      | apc     | RZ1           | 2024-01-10 | 2024-01-12 | 21               | T            | 19                    | apc:ok2
"""
EXCLUDING_DIAGNOSES = """
encounter_id | person_id | position | code_system | code
apc:ca1      | cancer    | 3        | icd10       | C189
apc:ob2      | mother    | 1        | icd10       | O141
apc:ok1      | kept      | 1        | icd10       | D370
"""
EXCLUDING_PROCEDURES = """
encounter_id | person_id | position | code_system | code
apc:ch1      | chemo     | 1        | opcs4       | X723
"""
EXCLUDING_EPISODES = """
episode_id | encounter_id | person_id | episode_order | start_date | main_specialty
m1         | apc:mw2      | midwife   | 1             | 2024-01-10 | 560
"""


def test_cancer_obstetrics_and_chemotherapy_are_left_out_on_either_side(con):
    # A cancer diagnosis anywhere in the spell (C18.9, third position) removes the
    # discharge, so its readmission is not counted; an obstetric readmission (O14.1) or
    # one under a midwife (specialty 560) is not a readmission; a chemotherapy day case
    # (OPCS-4 X72.3) is no discharge. A tumour of uncertain behaviour (D37) is not cancer.
    assert_transform(
        con,
        _discharges,
        {
            "encounter": EXCLUSIONS,
            "diagnosis": EXCLUDING_DIAGNOSES,
            "procedure": EXCLUDING_PROCEDURES,
            "episode": EXCLUDING_EPISODES,
        },
        """
        cip_spell_id | person_id | readmitted
        apc:ca2      | cancer    | F
        apc:ob1      | mother    | F
        apc:ch2      | chemo     | F
        apc:mw1      | midwife   | F
        apc:ok1      | kept      | T
        apc:ok2      | kept      | F
        """,
    )


def test_each_excluded_spell_says_why(con):
    assert_transform(
        con,
        lambda encounter, diagnosis, procedure, episode: excluded_spells(
            encounter, diagnosis, procedure, episode, load().codelists["readmission_exclusions"]
        ),
        {
            "encounter": EXCLUSIONS,
            "diagnosis": EXCLUDING_DIAGNOSES,
            "procedure": EXCLUDING_PROCEDURES,
            "episode": EXCLUDING_EPISODES,
        },
        """
        cip_spell_id | reason
        apc:ca1      | cancer
        apc:ob2      | obstetrics
        apc:ch1      | chemotherapy
        apc:mw2      | obstetrics
        """,
    )
