"""Spec: the disclosure gate, on DuckDB and on Spark.

NHS Digital's HES rules: counts 1 to 7 suppressed, the rest rounded to the
nearest 5, rates from the rounded counts, and secondary suppression so that
no suppressed cell can be worked out from a total.
"""

from openphm.disclosure import Rate, gate
from tests.spec.harness import assert_spec, load

CELLS = {"place": "string", "sex": "string", "admissions": "int64", "population": "int64"}


def test_small_counts_are_suppressed_and_the_rest_rounded_to_5(con):
    cells = load(
        con,
        "cells",
        """
        place | sex | admissions | population
        A     | 1   | 0          | 1000
        B     | 1   | 1          | 1000
        C     | 1   | 7          | 1000
        D     | 1   | 8          | 1000
        E     | 1   | 12         | 1000
        F     | 1   | 13         | 1000
        G     | 1   | 1002       | 1003
        """,
        CELLS,
    )
    gated = gate("t", cells, keys=["place", "sex"], counts=["admissions", "population"])
    assert_spec(
        gated.table,
        """
        place | admissions | admissions_flag | population
        A     | 0          |                 | 1000
        B     |            | primary         | 1000
        C     |            | primary         | 1000
        D     | 10         |                 | 1000
        E     | 10         |                 | 1000
        F     | 15         |                 | 1000
        G     | 1000       |                 | 1005
        """,
    )
    assert gated.decisions["suppressed"] == {
        "admissions_primary": 2,
        "admissions_secondary": 0,
        "population_primary": 0,
        "population_secondary": 0,
    }


def test_a_lone_suppressed_cell_takes_the_next_smallest_in_its_line_with_it(con):
    # Row A has one small cell; with the row total published, A/1 = total - A/2.
    # So A/2 (the smallest other non-zero cell) is suppressed too; then column 2
    # has a lone suppressed cell, so B/2 goes, and row B then needs B/1.
    cells = load(
        con,
        "cells",
        """
        place | sex | admissions | population
        A     | 1   | 3          | 100
        A     | 2   | 50         | 100
        B     | 1   | 40         | 100
        B     | 2   | 41         | 100
        C     | 1   | 0          | 100
        C     | 2   | 12         | 100
        """,
        CELLS,
    )
    gated = gate(
        "t",
        cells,
        keys=["place", "sex"],
        counts=["admissions", "population"],
        margins=["place", "sex"],
        rates={"per_1000": Rate("admissions", "population", per=1000)},
    )
    assert_spec(
        gated.table,
        """
        place | sex   | admissions | admissions_flag | population | per_1000
        A     | 1     |            | primary         | 100        |
        A     | 2     |            | secondary       | 100        |
        A     | Total | 55         |                 | 200        | 275
        B     | 1     |            | secondary       | 100        |
        B     | 2     |            | secondary       | 100        |
        B     | Total | 80         |                 | 200        | 400
        C     | 1     | 0          |                 | 100        | 0
        C     | 2     | 10         |                 | 100        | 100
        C     | Total | 10         |                 | 200        | 50
        Total | 1     | 45         |                 | 300        | 150
        Total | 2     | 105        |                 | 300        | 350
        Total | Total | 145        |                 | 600        | 241.666666667
        """,
    )


def test_totals_obey_the_same_rules_as_cells(con):
    # Sex 1 has a single small cell, so its total equals it and is suppressed too.
    cells = load(
        con,
        "cells",
        """
        place | sex | admissions | population
        A     | 1   | 5          | 100
        B     | 2   | 20         | 100
        C     | 2   | 30         | 100
        """,
        CELLS,
    )
    gated = gate("t", cells, keys=["place", "sex"], counts=["admissions"], margins=["place"])
    assert_spec(
        gated.table,
        """
        place | sex | admissions | admissions_flag
        A     | 1   |            | primary
        Total | 1   |            | primary
        B     | 2   | 20         |
        C     | 2   | 30         |
        Total | 2   | 50         |
        """,
    )


def test_money_for_a_few_people_is_suppressed_with_their_count(con):
    # Place A's cost is large, but it is the cost of 3 people: shown, it would tell
    # anyone who knows one of them roughly what their care cost. It goes with their
    # count, and B's cost goes too, or A's could be had from the total.
    cells = load(
        con,
        "cells",
        """
        place | people | cost_pounds
        A     | 3      | 90000
        B     | 40     | 120000
        C     | 52     | 150000
        D     | 61     | 200000
        """,
        {"place": "string", "people": "int64", "cost_pounds": "int64"},
    )
    gated = gate(
        "t",
        cells,
        keys=["place"],
        counts=["people", "cost_pounds"],
        margins=["place"],
        guarded_by={"cost_pounds": "people"},
    )
    assert_spec(
        gated.table,
        """
        place | people | people_flag | cost_pounds | cost_pounds_flag
        A     |        | primary     |             | secondary
        B     |        | secondary   |             | secondary
        C     | 50     |             | 150000      |
        D     | 60     |             | 200000      |
        Total | 155    |             | 560000      |
        """,
    )
