"""Spec: comorbidity and frailty scores from a long table of diagnoses.

One row per person, a column per score: ``charlson`` (Charlson 1987 weights),
``charlson_quan2011`` (Quan 2011 weights), ``elixhauser_vw`` (van Walraven 2009) and
``hfrs`` with ``hfrs_band`` (Gilbert 2018). Weights used below, from those papers:

- Charlson 1987 / Quan 2011: myocardial infarction 1/0, heart failure 1/2, dementia
  1/2, mild liver disease 1/2, diabetes 1/0, diabetes with complications 2/1, any
  malignancy 2/2, moderate or severe liver disease 3/4, metastatic solid tumour 6/6,
  AIDS/HIV 6/4;
- van Walraven: heart failure 7, liver disease 11, solid tumour 4, metastatic cancer
  12, obesity -4, drug abuse -7, depression -3;
- HFRS points: F00 7.1, G81 4.4, R29 3.6, W19 3.2, R40 2.5, S72 1.4, R33 1.3, J69 1.0;
  low under 5, intermediate 5 to 15, high over 15.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from openphm import codelists
from openphm.need import conditions, resolve, scores, window_start
from tests.spec.harness import assert_spec, load

DX = {"person_id": "string", "code": "string", "diagnosis_date": "date", "age": "int64"}
PEOPLE = {"person_id": "string", "age": "int64"}
INDEX = dt.date(2024, 3, 31)


def diagnoses(con, text):
    return load(con, "diagnoses", text, DX)


def test_each_category_counts_once_and_weighs_as_its_publication_says(duckdb_con):
    # p1: two myocardial infarction codes count once. p2: HIV weighs 6 (1987) or 4 (2011).
    # p3: F00 (dementia in Alzheimer's disease) and W19 (unspecified fall): 7.1 + 3.2 frailty.
    t = diagnoses(
        duckdb_con,
        """
        person_id | code
        p1        | I21.0
        p1        | I22.1
        p1        | I50.0
        p2        | B20.0
        p3        | F00.0
        p3        | W19
        p4        | Z00.0
        """,
    )
    assert_spec(
        scores(t),
        """
        person_id | charlson | charlson_quan2011 | elixhauser_vw | hfrs | hfrs_band
        p1        | 2        | 2                 | 7             | 0    | low
        p2        | 6        | 4                 | 0             | 0    | low
        p3        | 1        | 2                 | 0             | 10.3 | intermediate
        p4        | 0        | 0                 | 0             | 0    | low
        """,
    )


def test_only_the_strongest_category_of_a_hierarchy_counts(duckdb_con):
    # p1: alcoholic fatty liver (K70.0, mild; in Elixhauser also alcohol abuse) and hepatic
    #     failure (K72.1, moderate or severe). p2: type 2 diabetes without (E11.9) and with
    #     renal complications (E11.2). p3: breast cancer (C50.9) that has spread (C78.0).
    # p4: the breast cancer alone. p5: hypertension (I10) and secondary hypertension (I15.0).
    t = diagnoses(
        duckdb_con,
        """
        person_id | code
        p1        | K70.0
        p1        | K72.1
        p2        | E11.9
        p2        | E11.2
        p3        | C50.9
        p3        | C78.0
        p4        | C50.9
        p5        | I10
        p5        | I15.0
        """,
    )
    both = ["charlson", "elixhauser"]
    assert_spec(
        conditions(t, definitions=both),
        """
        person_id | definition | category
        p1        | charlson   | msld
        p1        | elixhauser | ld
        p1        | elixhauser | alcohol
        p2        | charlson   | diabwc
        p2        | elixhauser | diabc
        p3        | charlson   | metacanc
        p3        | elixhauser | metacanc
        p4        | charlson   | canc
        p4        | elixhauser | solidtum
        p5        | elixhauser | hypc
        """,
    )
    assert_spec(
        scores(t, definitions=both),
        """
        person_id | charlson | charlson_quan2011 | elixhauser_vw
        p1        | 3        | 4                 | 11
        p2        | 2        | 1                 | 0
        p3        | 6        | 6                 | 12
        p4        | 2        | 2                 | 4
        p5        | 0        | 0                 | 0
        """,
    )


def test_every_charlson_condition_scores_29_with_1987_weights_and_24_with_quan_2011(duckdb_con):
    # A code for each of the 17 conditions. The hierarchy leaves 14 (mild liver disease,
    # diabetes without complications and any malignancy are outranked). Quan 2011 gives
    # the updated index's maximum, 24; the 1987 weights sum to 29.
    codes = [
        "I21",
        "I50",
        "I70",
        "I63",
        "F01",
        "J44",
        "M05",
        "K25",
        "K73",
        "E119",
        "E112",
        "G81",
        "N18",
        "C50",
        "K721",
        "C78",
        "B20",
    ]
    t = diagnoses(duckdb_con, "\n".join(["person_id | code", *(f"p1 | {c}" for c in codes)]))
    assert_spec(
        scores(t, definitions=["charlson"]),
        """
        person_id | charlson | charlson_quan2011
        p1        | 29       | 24
        """,
    )


def test_van_walraven_weights_can_make_a_score_negative(duckdb_con):
    # Opioid dependence (F11.2, drug abuse), a depressive episode (F32.9), obesity (E66.9).
    t = diagnoses(
        duckdb_con,
        """
        person_id | code
        p1        | F11.2
        p1        | F32.9
        p1        | E66.9
        """,
    )
    assert_spec(
        scores(t, definitions=["elixhauser"]),
        """
        person_id | elixhauser_vw
        p1        | -14
        """,
    )


def test_frailty_points_count_once_per_category_and_bands_include_5_and_15(duckdb_con):
    # p1: two codes under F00 score its 7.1 once. p2 to p5 sit either side of the bands'
    # bounds: 3.6 + 1.3 = 4.9; 3.6 + 1.4 = 5.0; 7.1 + 4.4 + 2.5 + 1.0 = 15.0; 7.1 + 4.4 + 3.6.
    t = diagnoses(
        duckdb_con,
        """
        person_id | code
        p1        | F00.1
        p1        | F00.9
        p2        | R29.6
        p2        | R33
        p3        | R29.6
        p3        | S72.0
        p4        | F00.0
        p4        | G81.9
        p4        | R40.2
        p4        | J69.0
        p5        | F00.0
        p5        | G81.9
        p5        | R29.6
        """,
    )
    assert_spec(
        scores(t, definitions=["hfrs"]),
        """
        person_id | hfrs | hfrs_band
        p1        | 7.1  | intermediate
        p2        | 4.9  | low
        p3        | 5.0  | intermediate
        p4        | 15.0 | intermediate
        p5        | 15.1 | high
        """,
    )


def test_the_lookback_runs_from_the_same_day_two_years_before_to_the_index_date(duckdb_con):
    # Index date 31 March 2024. HFRS looks back 24 months: 31 March 2022 to 31 March 2024,
    # both days included. Charlson has no lookback: anything up to the index date counts.
    # Nothing after the index date counts, nor an undated row once there is an index date.
    t = diagnoses(
        duckdb_con,
        """
        person_id | code  | diagnosis_date
        first_day | F00.0 | 2022-03-31
        day_early | F00.0 | 2022-03-30
        index_day | F00.0 | 2024-03-31
        day_late  | F00.0 | 2024-04-01
        undated   | F00.0 |
        """,
    )
    assert_spec(
        scores(t, index_date=INDEX, definitions=["charlson", "hfrs"]),
        """
        person_id | charlson | hfrs
        first_day | 1        | 7.1
        day_early | 1        | 0
        index_day | 1        | 7.1
        day_late  | 0        | 0
        undated   | 0        | 0
        """,
    )


def test_a_lookback_is_data_and_can_be_changed(duckdb_con):
    # Charlson over the last 12 months only: 31 March 2023 onwards.
    t = diagnoses(
        duckdb_con,
        """
        person_id | code  | diagnosis_date
        recent    | I50.0 | 2023-03-31
        older     | I50.0 | 2023-03-30
        """,
    )
    recent_charlson = dataclasses.replace(codelists.load("charlson"), lookback_months=12)
    assert_spec(
        scores(t, index_date=INDEX, definitions=[recent_charlson]),
        """
        person_id | charlson
        recent    | 1
        older     | 0
        """,
    )


@pytest.mark.parametrize(
    ("index", "months", "start"),
    [
        (dt.date(2024, 3, 31), 24, dt.date(2022, 3, 31)),
        (dt.date(2024, 2, 29), 24, dt.date(2022, 2, 28)),  # no 29 February in 2022
        (dt.date(2024, 3, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2024, 1, 15), 13, dt.date(2022, 12, 15)),
    ],
)
def test_a_lookback_starts_on_the_same_day_of_the_month_or_the_months_last_day(
    index, months, start
):
    assert window_start(index, months) == start


def test_frailty_is_scored_from_age_75_and_the_age_limit_is_data(duckdb_con):
    # Gilbert 2018 developed the score in people aged 75 and over. Below the limit the score
    # is NULL (not applicable), not 0; an unknown age is scored. Charlson has no age limit.
    t = diagnoses(
        duckdb_con,
        """
        person_id | code  | age
        aged_74   | F00.0 | 74
        aged_75   | F00.0 | 75
        unknown   | F00.0 |
        """,
    )
    assert_spec(
        scores(t, definitions=["charlson", "hfrs"]),
        """
        person_id | charlson | hfrs | hfrs_band
        aged_74   | 1        |      |
        aged_75   | 1        | 7.1  | intermediate
        unknown   | 1        | 7.1  | intermediate
        """,
    )
    from_65 = dataclasses.replace(codelists.load("hfrs"), min_age=65)
    assert_spec(
        scores(t, definitions=[from_65]),
        """
        person_id | hfrs
        aged_74   | 7.1
        aged_75   | 7.1
        unknown   | 7.1
        """,
    )


def test_everyone_in_the_population_gets_a_row_and_no_codes_scores_0(duckdb_con):
    # The population is the people table when one is given: p3 has no diagnoses at all,
    # p2 only ones outside the window. Ages come from the people table.
    t = diagnoses(
        duckdb_con,
        """
        person_id | code  | diagnosis_date
        p1        | F00.0 | 2024-01-01
        p2        | F00.0 | 2020-01-01
        p2        | A09   | 2025-01-01
        """,
    )
    people = load(
        duckdb_con,
        "people",
        """
        person_id | age
        p1        | 80
        p2        | 80
        p3        | 80
        p4        | 60
        """,
        PEOPLE,
    )
    assert_spec(
        scores(t, index_date=INDEX, people=people),
        """
        person_id | charlson | charlson_quan2011 | elixhauser_vw | hfrs | hfrs_band
        p1        | 1        | 2                 | 0             | 7.1  | intermediate
        p2        | 1        | 2                 | 0             | 0    | low
        p3        | 0        | 0                 | 0             | 0    | low
        p4        | 0        | 0                 | 0             |      |
        """,
    )


def test_whole_number_weights_give_integer_scores_and_points_give_decimals(duckdb_con):
    t = diagnoses(duckdb_con, "person_id | code\np1 | I21")
    schema = scores(t).schema()
    assert [str(schema[c]) for c in schema.names] == [
        "string",  # person_id
        "int64",  # charlson
        "int64",  # charlson_quan2011
        "int64",  # elixhauser_vw
        "float64",  # hfrs
        "string",  # hfrs_band
    ]


def test_inputs_that_cannot_be_scored_are_named(duckdb_con):
    t = diagnoses(duckdb_con, "person_id | code\np1 | I21")
    with pytest.raises(ValueError, match="needs columns 'person_id' and 'code'"):
        scores(t.rename(patient="person_id"))
    undated = t.drop("diagnosis_date")
    with pytest.raises(ValueError, match="no 'diagnosis_date' column"):
        scores(undated, index_date=INDEX)
    with pytest.raises(TypeError, match="index_date must be a datetime.date"):
        scores(t, index_date="2024-03-31")
    with pytest.raises(codelists.CodeListError, match="no code list 'charlston'"):
        scores(t, definitions=["charlston"])


# --- the same answers on every engine ----------------------------------------------
# One Spark run covers every rule above at once (spellings, window, hierarchy, ages,
# bands): a local Spark query costs seconds, a DuckDB one milliseconds.


def population(seed: int = 5, people: int = 60) -> tuple[str, str]:
    """Spec tables of people with codes from every list: as listed, and as extracts spell them."""
    rng = random.Random(seed)
    listed = sorted({r.code for d in resolve() for r in d.codes})  # the scored lists
    spellings = [
        lambda c: c,
        lambda c: c.lower(),
        lambda c: c[:3] + "." + c[3:] if len(c) > 3 else c + "X",
        lambda c: c + "-" if len(c) == 3 else c,
        lambda c: f"␣{c}␣",  # the harness strips cells: ␣ is made a space on loading
    ]
    clean, messy = [["person_id | code | diagnosis_date | age"] for _ in range(2)]
    for p in range(people):
        age = "" if p % 7 == 0 else str(rng.randrange(40, 100))
        for _ in range(rng.randrange(0, 9)):
            code = rng.choice(listed) if rng.random() < 0.8 else rng.choice(["Z00", "A01", "R69"])
            day = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(0, 1300))
            clean.append(f"p{p:02d} | {code} | {day} | {age}")
            messy.append(f"p{p:02d} | {rng.choice(spellings)(code)} | {day} | {age}")
    return "\n".join(clean), "\n".join(messy)


def scored(con, text):
    t = diagnoses(con, text)
    result = scores(t.mutate(code=t.code.replace("␣", " ")), index_date=INDEX)
    frame = result.order_by("person_id").execute()
    return frame.astype(object).where(frame.notna(), None).values.tolist()


@pytest.mark.spark
def test_duckdb_and_spark_give_identical_scores_however_codes_are_spelt(duckdb_con, spark_con):
    clean, messy = population()
    expected = scored(duckdb_con, clean)
    assert len(expected) > 50 and sum(row[1] for row in expected) > 50  # charlson
    assert any(row[4] is None for row in expected) and any(row[4] for row in expected)  # hfrs
    assert scored(duckdb_con, messy) == expected
    assert scored(spark_con, messy) == expected
