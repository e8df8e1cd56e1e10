"""Spec: HES and SUS as analysts receive them, into staged canonical rows.

HES as NHS Digital publishes it has no provider spell number (PROVSPNOPS), no date
of birth (only MYDOB, month and year ``MMYYYY``) and, for A&E before ECDS, its own
diagnosis schemes. Input tables are headed with the HES field names; an empty cell
is NULL, and a column left out is NULL too, as the reader delivers an optional
column a file lacks.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from openphm.ingest.canonical import hes_ae, hes_apc, hes_birth
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.long_codes import resolve
from openphm.ingest.staged import SCHEMAS
from tests.spec.harness import assert_spec, load

APC = {c: "string" for c in LAYOUTS["hes_apc"].all_columns}
AE = {c: "string" for c in LAYOUTS["hes_ae"].all_columns}


def test_without_provspnops_a_spell_is_one_persons_episodes_at_one_provider_from_one_admission(con):
    # k1, k2: one stay at RA1 (two consultants). k3: the same person, the same day, at RB2:
    # another provider, another spell. k4 has no person key and no spell number: a spell
    # of its own, never merged with anyone's. k5, k6 have no EPIORDER: ordered by start.
    t = load(
        con,
        "apc",
        """
        EPIKEY | PROCODE3 | NEWNHSNO   | ADMIDATE   | EPISTART   | EPIEND     | EPIORDER | DISDATE    | DISDEST | ADMIMETH
        k1     | RA1      | 9990000018 | 2024-03-01 | 2024-03-01 | 2024-03-03 | 1        |            | 98      | 21
        k2     | RA1      | 9990000018 | 2024-03-01 | 2024-03-03 | 2024-03-06 | 2        | 2024-03-06 | 19      | 21
        k3     | RB2      | 9990000018 | 2024-03-01 | 2024-03-01 | 2024-03-01 | 1        | 2024-03-01 | 19      | 11
        k4     | RA1      |            | 2024-03-01 | 2024-03-01 | 2024-03-02 | 1        | 2024-03-02 | 19      | 99
        k6     | RC3      | 9990000026 | 2024-04-01 | 2024-04-02 | 2024-04-05 |          | 2024-04-05 | 19      |
        k5     | RC3      | 9990000026 | 2024-04-01 | 2024-04-01 | 2024-04-02 |          |            | 98      |
        """,
        APC,
    )
    out = hes_apc(t, "hes")
    assert_spec(
        out["staged_encounter"],
        """
        encounter_id | record_key | provider_code | start_date | end_date   | is_emergency | discharge_destination
        apc:RA1-ek1  | k1         | RA1           | 2024-03-01 | 2024-03-06 | true         | 19
        apc:RB2-ek3  | k3         | RB2           | 2024-03-01 | 2024-03-01 | false        | 19
        apc:RA1-ek4  | k4         | RA1           | 2024-03-01 | 2024-03-02 | false        | 19
        apc:RC3-ek5  | k5         | RC3           | 2024-04-01 | 2024-04-05 | false        | 19
        """,
    )
    assert_spec(
        out["staged_episode"],
        """
        episode_id | encounter_id | episode_order
        k1         | apc:RA1-ek1  | 1
        k2         | apc:RA1-ek1  | 2
        k3         | apc:RB2-ek3  | 1
        k4         | apc:RA1-ek4  | 1
        k5         | apc:RC3-ek5  | 1
        k6         | apc:RC3-ek5  | 2
        """,
    )


def test_a_date_of_birth_from_dob_else_the_first_of_mydobs_month_else_the_middle_of_the_age_year(
    con,
):
    # b1 has DOB: kept. b2: MYDOB 041968 -> 1 April 1968. b3: MYDOB not a month (13) and
    # age 34 on 27 Sep 2001: born between 28 Sep 1966 and 27 Sep 1967, so 34 years and 6
    # months before, on the first of the month: 1 Mar 1967. b4: HES's infant ages
    # (7001-7007) are 0 years. b5: age written 54.0. b6: an age no one has, and no MYDOB.
    t = load(
        con,
        "apc",
        """
        EPIKEY | DOB        | MYDOB  | STARTAGE | ADMIDATE
        b1     | 1950-07-14 | 041968 | 34       | 2001-09-27
        b2     |            | 041968 | 34       | 2001-09-27
        b3     |            | 131968 | 34       | 2001-09-27
        b4     |            |        | 7003     | 2001-09-27
        b5     |            |        | 54.0     | 2004-03-31
        b6     |            |        | 999      | 2001-09-27
        """,
        APC,
    )
    assert_spec(
        t.select(key=t.EPIKEY, date_of_birth=hes_birth(t, "ADMIDATE", "STARTAGE")),
        """
        key | date_of_birth
        b1  | 1950-07-14
        b2  | 1968-04-01
        b3  | 1967-03-01
        b4  | 2001-03-01
        b5  | 1949-09-01
        b6  |
        """,
    )


def test_historic_ae_attendances_are_emergencies_and_only_icd10_diagnoses_are_kept(con):
    # AEATTENDDISP 01 admitted (the admission itself is the APC file's spell), 03 sent
    # home, 12 left before being treated (not seen), 10 died in the department.
    # DIAGSCHEME 02 is ICD-10: a1's J18 and I10 are kept. 01 is the A&E diagnosis scheme
    # (040 is its code, not ICD-10) and 04 Read codes (H33 is asthma in Read, not ICD-10
    # H33 retinal detachment): left out, however ICD-10-like.
    t = load(
        con,
        "ae",
        """
        AEKEY | PROCODE3 | NEWNHSNO   | ARRIVALDATE | AEATTENDDISP | DIAGSCHEME | DIAG3_01 | DIAG3_02
        a1    | RA1      | 9990000018 | 2008-02-12  | 01           | 02         | J18      | I10
        a2    | RA1      | 9990000026 | 2008-02-13  | 03           | 01         | 040      |
        a3    | RA1      | 9990000034 | 2008-02-14  | 12           | 04         | H33      |
        a4    | RA1      | 9990000042 | 2008-02-15  | 10           |            |          |
        """,
        AE,
    )
    out = hes_ae(t, "ae")
    assert_spec(
        out["staged_encounter"],
        """
        encounter_id | setting | start_date | is_emergency | attended | discharge_destination
        ae:a1        | ae      | 2008-02-12 | true         | true     |
        ae:a2        | ae      | 2008-02-13 | true         | true     |
        ae:a3        | ae      | 2008-02-14 | true         | false    |
        ae:a4        | ae      | 2008-02-15 | true         | true     | 79
        """,
    )
    assert_spec(
        out["staged_diagnosis"],
        """
        encounter_id | position | code_system | code
        ae:a1        | 1        | icd10       | J18
        ae:a1        | 2        | icd10       | I10
        """,
    )


def test_long_diagnoses_join_their_episodes_spell_or_their_attendance_and_the_rest_are_counted(con):
    # One row per code names a record by key: e1 and e2 are episodes of spell apc:RA1-s7;
    # 5001 an outpatient attendance; zz nothing delivered. A wide file's code (on its
    # encounter already) passes unchanged.
    codes = load(
        con,
        "codes",
        """
        encounter_id | episode_id | position | code_system | code
                     | e1         | 1        | icd10       | K409
                     | e2         | 1        | icd10       | I10
                     | 5001       | 1        | icd10       | M179
                     | zz         | 1        | icd10       | J189
        op:4000      |            | 1        | icd10       | R69
        """,
        SCHEMAS["staged_diagnosis"],
    )
    episode = load(
        con,
        "episode",
        """
        episode_id | encounter_id
        e1         | apc:RA1-s7
        e2         | apc:RA1-s7
        """,
        SCHEMAS["staged_episode"],
    )
    encounter = load(
        con,
        "encounter",
        """
        encounter_id | record_key | setting
        apc:RA1-s7   | e1         | apc
        op:5001      | 5001       | op
        op:4000      | 4000       | op
        """,
        SCHEMAS["staged_encounter"],
    )
    placed, lost = resolve(codes, episode, encounter)
    assert_spec(
        placed,
        """
        encounter_id | episode_id | position | code
        apc:RA1-s7   | e1         | 1        | K409
        apc:RA1-s7   | e2         | 1        | I10
        op:5001      |            | 1        | M179
        op:4000      |            | 1        | R69
        """,
    )
    assert_spec(
        lost,
        """
        episode_id | code
        zz         | J189
        """,
    )
