"""Spec: costing-feed records find their encounters by the shipped hierarchy of rules.

``openphm/cost/matching.toml`` lists the rules in order; the first that finds an
encounter wins. A record that carries its source key is matched by it exactly (an
episode key through the episode table to its spell; a contact id to the contact of
that id *at the record's provider*, since community and mental health services number
their contacts independently). A record with only a person and a date is matched to an
encounter of that person at that provider whose span holds the date (ward, theatre and
critical care time: a spell, a day either side; tests: the spell the patient was in,
else that day's attendance; contacts: that day's contact). Two equally good encounters:
the lowest encounter_id. Nothing found: ``unmatched``, with no encounter, and still
there. These run on DuckDB and on local Spark and must give the same rows.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from __future__ import annotations

import pytest

from openphm.cost.matching import load_rules, match_feeds, match_rates
from tests.spec.harness import assert_spec, load

ENCOUNTERS = """
encounter_id    | person_id | setting       | provider_code | start_date | end_date
apc:RZ1-s1      | p1        | apc           | RZ1           | 2024-01-10 | 2024-01-15
ae:E1           | p1        | ae            | RZ1           | 2024-01-10 | 2024-01-10
op:A1           | p2        | op            | RZ1           | 2024-02-01 | 2024-02-01
op:A2           | p2        | op            | RZ1           | 2024-02-01 | 2024-02-01
community:7     | p3        | community     | RZ4           | 2024-03-01 | 2024-03-01
mental_health:7 | p4        | mental_health | RZ3           | 2024-03-05 | 2024-03-05
"""

EPISODES = """
episode_id | encounter_id | person_id
E100       | apc:RZ1-s1   | p1
E101       | apc:RZ1-s1   | p1
"""

# a7's person is not the contact's (a foreign NHS number, say): its key still wins.
ACTIVITY = """
activity_id | source         | provider_code | activity_type | activity_date | person_id | source_key_type | source_key | quantity
a1          | feed_ward_stay | RZ1           | ward_stay     | 2024-01-12    | p1        | epikey          | E101       | 600
a2          | feed_ward_stay | RZ1           | ward_stay     | 2024-01-16    | p1        |                 |            | 60
a3          | feed_ward_stay | RZ1           | ward_stay     | 2024-01-18    | p1        |                 |            | 60
a4          | feed_pathology | RZ1           | pathology     | 2024-01-10    | p1        |                 |            | 1
a5          | feed_pathology | RZ1           | pathology     | 2024-01-10    | p1        | ec_ident        | E1         | 2
a6          | feed_contacts  | RZ4           | contact       | 2024-03-01    | p3        | contact_id      | 7          | 30
a7          | feed_contacts  | RZ3           | contact       | 2024-03-05    | p9        | contact_id      | 7          | 45
a8          | feed_contacts  | RZ1           | contact       | 2024-02-01    | p2        |                 |            | 20
a9          | feed_pathology | RZ2           | pathology     | 2024-02-01    | p2        |                 |            | 1
a10         | feed_imaging   | RZ1           | imaging       | 2024-01-20    | p1        | epikey          | E999       | 1
a11         | feed_ward_stay | RZ1           | ward_stay     | 2024-01-12    | p1        | epikey          | E999       | 30
"""


@pytest.fixture
def matched(con):
    return match_feeds(
        load(con, "activity", ACTIVITY),
        load(con, "encounter", ENCOUNTERS),
        load_rules(),
        episode=load(con, "episode", EPISODES),
    )


def test_each_record_takes_the_first_rule_that_finds_an_encounter(matched):
    assert_spec(
        matched,
        """
        activity_id | encounter_id    | match_rule            | quantity
        a1          | apc:RZ1-s1      | episode_key           | 600
        a2          | apc:RZ1-s1      | inpatient_person_date | 60
        a3          |                 | unmatched             | 60
        a4          | apc:RZ1-s1      | spell_person_date     | 1
        a5          | ae:E1           | emergency_care_key    | 2
        a6          | community:7     | contact_key           | 30
        a7          | mental_health:7 | contact_key           | 45
        a8          | op:A1           | contact_person_date   | 20
        a9          |                 | unmatched             | 1
        a10         |                 | unmatched             | 1
        a11         | apc:RZ1-s1      | inpatient_person_date | 30
        """,
    )


def test_the_match_rate_is_reported_per_provider_and_feed(duckdb_con):
    matched = match_feeds(
        load(duckdb_con, "activity", ACTIVITY),
        load(duckdb_con, "encounter", ENCOUNTERS),
        load_rules(),
        episode=load(duckdb_con, "episode", EPISODES),
    )
    # Shares are of the feed's rows at that provider, unmatched included: they sum to 1.
    assert_spec(
        match_rates(matched),
        """
        provider_code | source         | match_rule            | rows | share
        RZ1           | feed_ward_stay | episode_key           | 1    | 0.25
        RZ1           | feed_ward_stay | inpatient_person_date | 2    | 0.5
        RZ1           | feed_ward_stay | unmatched             | 1    | 0.25
        RZ1           | feed_pathology | spell_person_date     | 1    | 0.5
        RZ1           | feed_pathology | emergency_care_key    | 1    | 0.5
        RZ2           | feed_pathology | unmatched             | 1    | 1.0
        RZ4           | feed_contacts  | contact_key           | 1    | 1.0
        RZ3           | feed_contacts  | contact_key           | 1    | 1.0
        RZ1           | feed_contacts  | contact_person_date   | 1    | 1.0
        RZ1           | feed_imaging   | unmatched             | 1    | 1.0
        """,
    )


def test_a_record_that_arrives_with_its_encounter_keeps_it(duckdb_con):
    # Only if that encounter exists: otherwise the rules decide, as for any record.
    activity = load(
        duckdb_con,
        "activity",
        """
        activity_id | source | provider_code | activity_type | activity_date | person_id | encounter_id
        g1          | omop   | RZ1           | imaging       | 2024-02-01    | p2        | op:A2
        g2          | omop   | RZ1           | imaging       | 2024-02-01    | p2        | op:GONE
        """,
    )
    result = match_feeds(
        activity,
        load(duckdb_con, "encounter", ENCOUNTERS),
        load_rules(),
        episode=load(duckdb_con, "episode", EPISODES),
    )
    assert_spec(
        result,
        """
        activity_id | encounter_id | match_rule
        g1          | op:A2        | given
        g2          | op:A1        | attendance_person_date
        """,
    )


def test_without_episodes_an_episode_key_falls_to_the_date_rules(duckdb_con):
    # A workspace with no admitted care has no episode table: nothing to look keys up in.
    result = match_feeds(
        load(duckdb_con, "activity", ACTIVITY),
        load(duckdb_con, "encounter", ENCOUNTERS),
        load_rules(),
    )
    assert_spec(
        result.filter(result.activity_id.isin(["a1", "a5"])),
        """
        activity_id | encounter_id | match_rule
        a1          | apc:RZ1-s1   | inpatient_person_date
        a5          | ae:E1        | emergency_care_key
        """,
    )
