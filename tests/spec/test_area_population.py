"""Spec: area populations as the denominator when nobody is registered with a practice.

The ``area`` table (people by LSOA, ESP 2013 age band and sex, from the ``lsoas``
source's ONS mid-year estimates) stands for every financial year reported, summed by
the breakdowns an area population can describe: IMD quintile (decile 1-2 is quintile 1,
the most deprived), age band and sex.
"""

from datetime import date

from openphm.measure import periods as P
from openphm.measure.aggregate import area_population_base
from tests.spec.harness import assert_transform

AREA = """
lsoa_code | imd_decile | age_band | sex | population
E01000001 | 1          | 40-44    | 1   | 30
E01000001 | 1          | 40-44    | 2   | 32
E01000002 | 2          | 40-44    | 1   | 10
E01000003 | 10         | 90+      | 2   | 4
"""

# Two financial years: 2023/24 and 2024/25 (index date 31 March 2025).
REPORTED = P.measurement_periods(date(2025, 3, 31), 2)


def test_one_set_of_estimates_for_every_year_by_quintile_age_band_and_sex(con):
    assert_transform(
        con,
        lambda area: area_population_base(area, REPORTED, ["imd_quintile", "age_band", "sex"]),
        {"area": AREA},
        """
        period  | imd_quintile | age_band | sex | population
        2023/24 | 1            | 40-44    | 1   | 40
        2023/24 | 1            | 40-44    | 2   | 32
        2023/24 | 5            | 90+      | 2   | 4
        2024/25 | 1            | 40-44    | 1   | 40
        2024/25 | 1            | 40-44    | 2   | 32
        2024/25 | 5            | 90+      | 2   | 4
        """,
    )


def test_by_one_breakdown_the_areas_add_up(con):
    assert_transform(
        con,
        lambda area: area_population_base(area, REPORTED, ["sex"]),
        {"area": AREA},
        """
        period  | sex | population
        2023/24 | 1   | 40
        2023/24 | 2   | 36
        2024/25 | 1   | 40
        2024/25 | 2   | 36
        """,
    )
