"""Spec: the engine differences settled in engine.py and dates.py, on DuckDB and Spark."""

from datetime import date

import ibis

from openphm import dates, engine
from tests.spec.harness import assert_spec, load

ROWS = {"grp": "string", "key": "string", "value": "int64", "day": "date"}
INPUT = """
grp | key | value | day
a   | k1  | 3     | 1970-01-02
a   | k2  |       | 2020-02-29
a   | k3  | 1     |
b   | k4  | 5     | 1969-12-31
b   | k5  | 5     | 2026-03-31
"""


def test_nulls_sort_last_on_every_engine(con):
    t = load(con, "rows", INPUT, ROWS)
    ranked = t.mutate(rank=engine.row_number([t.grp], engine.sort_keys(t.value), [t.key]))
    assert_spec(
        ranked,
        """
        key | rank
        k3  | 1
        k1  | 2
        k2  | 3
        k4  | 1
        k5  | 2
        """,
    )


def test_descending_sort_still_puts_nulls_last(con):
    t = load(con, "rows", INPUT, ROWS)
    keys = engine.sort_keys(t.value, descending=True)
    ranked = t.mutate(rank=engine.row_number([t.grp], keys, [t.key]))
    assert_spec(
        ranked.filter(ranked.grp == "a"),
        """
        key | rank
        k1  | 1
        k3  | 2
        k2  | 3
        """,
    )


def test_ties_are_broken_by_the_key_the_same_way_everywhere(con):
    t = load(con, "rows", INPUT, ROWS)
    ranked = t.mutate(rank=engine.row_number([t.grp], engine.sort_keys(t.value), [t.key]))
    # k4 and k5 tie on value 5; the tie-break key decides.
    assert_spec(ranked.filter(ranked.grp == "b"), "key | rank\nk4 | 1\nk5 | 2")


def test_dates_become_epoch_days(con):
    t = load(con, "rows", INPUT, ROWS)
    assert_spec(
        t.mutate(days=engine.epoch_days(t.day)),
        """
        key | days
        k1  | 1
        k2  | 18321
        k3  |
        k4  | -1
        k5  | 20543
        """,
    )


def test_age_counts_the_birthday_as_the_first_of_the_birth_month(con):
    people = {"id": "string", "yob": "int64", "mob": "int64"}
    t = load(
        con,
        "people",
        """
        id | yob  | mob
        p1 | 1950 | 3
        p2 | 1950 | 4
        p3 | 2026 | 3
        p4 | 1930 | 12
        p5 | 2021 | 1
        """,
        people,
    )
    age = dates.age_on(t.yob, t.mob, ibis.literal(date(2026, 3, 31)))
    assert_spec(
        t.mutate(age=age, band=dates.esp2013_band(age)),
        """
        id | age | band
        p1 | 76  | 75-79
        p2 | 75  | 75-79
        p3 | 0   | 0-4
        p4 | 95  | 90+
        p5 | 5   | 5-9
        """,
    )


def test_a_period_covers_its_first_and_last_day_and_open_ends(con):
    periods = {"id": "string", "start": "date", "end": "date"}
    t = load(
        con,
        "periods",
        """
        id | start      | end
        r1 | 2026-03-31 | 2026-03-31
        r2 | 2020-01-01 |
        r3 | 2020-01-01 | 2026-03-30
        r4 | 2026-04-01 |
        """,
        periods,
    )
    on = ibis.literal(date(2026, 3, 31))
    assert_spec(
        t.mutate(covered=dates.covers(t.start, t.end, on)),
        """
        id | covered
        r1 | true
        r2 | true
        r3 | false
        r4 | false
        """,
    )


def test_fingerprint_ignores_row_order_but_sees_any_change(con):
    a = load(con, "rows", INPUT, ROWS)
    b = load(
        con,
        "rows",
        "\n".join(reversed(INPUT.strip().splitlines()[1:])).join(
            [INPUT.strip().splitlines()[0] + "\n", ""]
        ),
        ROWS,
    )
    changed = load(con, "rows", INPUT.replace("| 3 ", "| 4 "), ROWS)
    fa, fb, fc = engine.fingerprint(a), engine.fingerprint(b), engine.fingerprint(changed)
    assert fa == fb
    assert fa[1] == 5
    assert fc[0] != fa[0]
