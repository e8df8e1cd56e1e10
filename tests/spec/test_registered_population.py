"""Spec: who counts in the registered population on the index date (31 March 2026)."""

from datetime import date

from openphm.measure.population import population_by_practice, registered_on
from tests.spec.harness import assert_transform

INDEX = date(2026, 3, 31)

PERSON = """
person_id | year_of_birth | month_of_birth | sex | date_of_death
alive     | 1950          | 6              | 2   |
died      | 1950          | 6              | 1   | 2026-03-30
died_on   | 1950          | 6              | 1   | 2026-03-31
dies_late | 1980          | 1              | 1   | 2026-04-01
left      | 1990          | 1              | 2   |
joins     | 1990          | 1              | 2   |
moved     | 2000          | 3              | 1   |
twice     | 2021          | 4              | 2   |
unborn    | 2026          | 5              | 1   |
"""

REGISTRATION = """
person_id | practice_code | start_date | end_date
alive     | Y00001        | 2010-01-01 |
died      | Y00001        | 2010-01-01 |
died_on   | Y00001        | 2010-01-01 |
dies_late | Y00002        | 2010-01-01 | 2026-03-31
left      | Y00001        | 2010-01-01 | 2026-03-30
joins     | Y00002        | 2026-04-01 |
moved     | Y00001        | 2010-01-01 |
moved     | Y00002        | 2025-01-01 |
twice     | Y00002        | 2024-01-01 |
twice     | Y00001        | 2024-01-01 |
unborn    | Y00001        | 2026-05-01 |
"""


def test_counted_once_if_alive_and_registered_on_the_index_date(con):
    # Death on the index date removes a person; a registration ending on it counts;
    # an overlapping move goes to the most recent start, and an exact tie to the
    # lower practice code; age is in completed years with the birthday on the 1st.
    assert_transform(
        con,
        lambda person, registration: registered_on(person, registration, INDEX),
        {"person": PERSON, "registration": REGISTRATION},
        """
        person_id | practice_code | sex | age | age_band
        alive     | Y00001        | 2   | 75  | 75-79
        dies_late | Y00002        | 1   | 46  | 45-49
        moved     | Y00002        | 1   | 26  | 25-29
        twice     | Y00001        | 2   | 4   | 0-4
        """,
    )


def test_population_is_counted_by_practice_age_band_and_sex(con):
    assert_transform(
        con,
        lambda person, registration: population_by_practice(
            registered_on(person, registration, INDEX)
        ),
        {"person": PERSON, "registration": REGISTRATION},
        """
        practice_code | age_band | sex | population
        Y00001        | 75-79    | 2   | 1
        Y00002        | 45-49    | 1   | 1
        Y00002        | 25-29    | 1   | 1
        Y00001        | 0-4      | 2   | 1
        """,
    )
