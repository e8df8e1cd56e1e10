"""Spec: who an event belongs to on its own day, and who counts in a denominator.

An event is placed with the practice the person was registered with that day, by the
registered population's own rule; the person is described as they were that day (age
band) or are (sex, ethnic group, deprivation of their LSOA). Whatever cannot be found
is "Unknown", so every breakdown adds up to the whole.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from datetime import date

import ibis

from openphm.measure.attribution import (
    demographics,
    registered_on_days,
    registered_practice,
    with_segment,
)
from openphm.measure.definitions import load
from openphm.measure.population import registered_on
from tests.spec.harness import assert_transform

PERSON = """
person_id | year_of_birth | month_of_birth | sex | ethnic_category | lsoa_code | date_of_death
ann       | 1950          | 6              | 2   | H               | L1        |
bob       | 2000          | 3              | 1   | A               | L2        | 2024-06-30
cat       | 2024          | 2              | X   |                 |           |
"""

REGISTRATION = """
person_id | practice_code | start_date | end_date
ann       | Y1            | 2010-01-01 | 2024-05-31
ann       | Y2            | 2024-05-01 |
bob       | Y1            | 2010-01-01 |
"""

LSOA = """
lsoa_code | place_code | imd_decile
L1        | P1         | 1
L2        | P1         | 10
"""

EVENTS = """
person_id | on
ann       | 2024-04-30
ann       | 2024-05-15
ann       | 2024-06-01
bob       | 2024-06-15
cat       | 2024-06-15
"""
EVENT_SCHEMA = {"person_id": "string", "on": "date"}


def test_an_event_belongs_to_the_practice_registered_that_day(con):
    # ann moved from Y1 to Y2 on 1 May with the old registration still open until the
    # end of May: the most recent start wins, as in the registered population.
    assert_transform(
        con,
        registered_practice,
        {"pairs": EVENTS, "registration": REGISTRATION},
        """
        person_id | on         | practice_code
        ann       | 2024-04-30 | Y1
        ann       | 2024-05-15 | Y2
        ann       | 2024-06-01 | Y2
        bob       | 2024-06-15 | Y1
        cat       | 2024-06-15 |
        """,
        schemas={"pairs": EVENT_SCHEMA},
    )


def test_a_person_is_described_on_the_day_of_the_event(con):
    # ann turns 74 in June 2024; IMD decile 1 is quintile 1 (most deprived), decile 10
    # quintile 5; H (Indian) is in the Asian group; cat has no ethnicity or LSOA.
    assert_transform(
        con,
        lambda pairs, person, lsoa: demographics(
            pairs, person, lsoa, load().codelists["ethnic_groups"]
        ),
        {"pairs": EVENTS, "person": PERSON, "lsoa": LSOA},
        """
        person_id | on         | age_band | sex | ethnic_group           | imd_quintile
        ann       | 2024-04-30 | 70-74    | 2   | Asian or Asian British | 1
        ann       | 2024-05-15 | 70-74    | 2   | Asian or Asian British | 1
        ann       | 2024-06-01 | 70-74    | 2   | Asian or Asian British | 1
        bob       | 2024-06-15 | 20-24    | 1   | White                  | 5
        cat       | 2024-06-15 | 0-4      | X   | Unknown                | Unknown
        """,
        schemas={"pairs": EVENT_SCHEMA},
    )


CENSUS = [date(2023, 10, 1), date(2024, 5, 15), date(2024, 10, 1)]


def test_the_denominator_on_many_days_is_the_registered_population_on_each(con):
    # bob died in June 2024 and cat was born in 2024 with no registration: the rule
    # for many days at once agrees with registered_on, day by day.
    def both(person, registration):
        days = ibis.memtable({"on": CENSUS}, schema=ibis.schema({"on": "date"}))
        many = registered_on_days(person, registration, days).select(
            "person_id", "practice_code", "on"
        )
        one_by_one = ibis.union(
            *[
                registered_on(person, registration, day).select(
                    "person_id", "practice_code", on=ibis.literal(day, type="date")
                )
                for day in CENSUS
            ]
        )
        return (
            many.difference(one_by_one)
            .union(one_by_one.difference(many))
            .union(many.mutate(person_id=many.person_id + "*"))
        )

    assert_transform(
        con,
        both,
        {"person": PERSON, "registration": REGISTRATION},
        """
        person_id | practice_code | on
        ann*      | Y1            | 2023-10-01
        ann*      | Y2            | 2024-05-15
        ann*      | Y2            | 2024-10-01
        bob*      | Y1            | 2023-10-01
        bob*      | Y1            | 2024-05-15
        """,
    )


SEGMENT = """
person_id | segment
ann       | frailty
bob       | healthy
"""


def test_the_segment_breakdown_takes_the_need_stages_segment_of_each_person(con):
    # The need stage (issue 5) writes one segment per person; cat has none.
    assert_transform(
        con,
        lambda pairs, segment: with_segment(pairs, segment),
        {"pairs": EVENTS, "segment": SEGMENT},
        """
        person_id | on         | segment
        ann       | 2024-04-30 | frailty
        ann       | 2024-05-15 | frailty
        ann       | 2024-06-01 | frailty
        bob       | 2024-06-15 | healthy
        cat       | 2024-06-15 | Unknown
        """,
        schemas={"pairs": EVENT_SCHEMA, "segment": {"person_id": "string", "segment": "string"}},
    )
