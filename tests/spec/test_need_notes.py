"""Spec: the need stage counts who each definition matched, and says why one matched no one.

A definition that matches no one scores everyone 0, which reads as a healthy
population. In more than 100 people (``need.notes.MIN_PEOPLE``) the stage adds a note
naming the definition, the people, and the likely cause read from the coded records:
codes in a system the definition does not use, no one old enough, nothing in its
lookback or before the index date, no coded records at all, or (if none of those)
that no record in its window is on its list. In 100 people or fewer no match can be
chance, so there is no note; the counts are there either way.
"""

from __future__ import annotations

import datetime as dt

import pytest

from openphm.config import Config
from openphm.need import scores
from openphm.need import stage as need
from openphm.need.scores import matched_column
from openphm.runner import StageInput
from tests.spec.harness import assert_spec, load

CONFIG = {
    "name": "t",
    "governance": {
        "controller": "ICB",
        "purpose": "planning",
        "lawful_basis_article6": "6(1)(e)",
        "lawful_basis_article9": "9(2)(h)",
    },
    "pseudonymisation": {"key_env": "K"},
}
ASTHMA = "195967001"  # SNOMED CT, in the ltc list


def population(con, n: int, born: int, setting: str, coded: list[tuple[str, str, str]]):
    """``n`` people born in ``born``, each with one encounter in ``setting`` per
    (date, code_system, code) of ``coded``, that code its diagnosis."""
    person = ["person_id | year_of_birth | month_of_birth | sex"]
    encounter = ["encounter_id | person_id | setting | start_date"]
    diagnosis = ["encounter_id | person_id | position | code_system | code"]
    for i in range(n):
        person.append(f"p{i} | {born} | 6 | 2")
        for j, (day, system, code) in enumerate(coded):
            encounter.append(f"e{i}_{j} | p{i} | {setting} | {day}")
            diagnosis.append(f"e{i}_{j} | p{i} | 1 | {system} | {code}")
    tables = {"person": person, "encounter": encounter, "diagnosis": diagnosis}
    return {name: load(con, name, "\n".join(lines)) for name, lines in tables.items()}


def run(tables, index_date: str):
    config = Config.model_validate({**CONFIG, "stages": {"need": {"index_date": index_date}}})
    out = need.build(StageInput(tables, config))
    for step in out.cleanup:
        step()
    return out.counts["need"], out.notes


def test_snomed_only_diagnoses_against_icd10_definitions_say_so(con):
    # 150 people, each with asthma coded in SNOMED CT at an A&E attendance: the ltc list
    # finds them all; the ICD-10 lists find no one, and say it is the code system.
    # Maternity reads SNOMED CT, finds the records in its year and none on its list.
    tables = population(con, 150, 1960, "ae", [("2023-06-01", "snomed", ASTHMA)])
    counts, notes = run(tables, "2024-03-31")
    assert counts["people"] == 150
    assert counts["people_matched"] == {
        "charlson": 0,
        "elixhauser": 0,
        "hfrs": 0,
        "ltc": 150,
        "maternity": 0,
    }
    needs_icd10 = "it needs ICD-10 codes and the coded records are SNOMED CT (150)"
    assert notes == [
        f"The charlson definition matched 0 of 150 people: {needs_icd10}.",
        f"The elixhauser definition matched 0 of 150 people: {needs_icd10}.",
        f"The hfrs definition matched 0 of 150 people: {needs_icd10}.",
        "The maternity definition matched 0 of 150 people: none of the 150 ICD-10 or "
        "SNOMED CT records in its window is a code on its list.",
    ]


def test_records_outside_the_lookback_or_after_the_index_date_say_when_the_data_are(con):
    # 150 people born in 1930, with dementia (F00, in Charlson and HFRS) and hypertension
    # (I10, in Elixhauser and ltc) admitted in early 2002.
    tables = population(
        con,
        150,
        1930,
        "apc",
        [("2002-01-15", "icd10", "F000"), ("2002-03-31", "icd10", "I10X")],
    )
    # An index date 24 years later: Charlson, Elixhauser and ltc look back without
    # limit; HFRS (two years) and maternity (one) find nothing in their lookback.
    counts, notes = run(tables, "2026-03-31")
    assert counts["people_matched"] == {
        "charlson": 150,
        "elixhauser": 150,
        "hfrs": 0,
        "ltc": 150,
        "maternity": 0,
    }
    span = "run from 2002-01-15 to 2002-03-31"
    assert notes == [
        "The hfrs definition matched 0 of 150 people: no ICD-10 record falls in its "
        f"24-month lookback before the index date 2026-03-31 (its ICD-10 records {span}).",
        "The maternity definition matched 0 of 150 people: no ICD-10 or SNOMED CT record "
        "falls in its 12-month lookback before the index date 2026-03-31 (its ICD-10 or "
        f"SNOMED CT records {span}).",
    ]
    # An index date before the data: nothing is dated on or before it, and at 69 no one
    # is old enough for HFRS.
    counts, notes = run(tables, "2000-01-01")
    assert counts["people"] == 150 and set(counts["people_matched"].values()) == {0}
    before = f"is dated on or before the index date 2000-01-01 (its ICD-10 records {span})"
    assert notes[:3] == [
        f"The charlson definition matched 0 of 150 people: no ICD-10 record {before}.",
        f"The elixhauser definition matched 0 of 150 people: no ICD-10 record {before}.",
        "The hfrs definition matched 0 of 150 people: it scores people aged 75 and over, "
        "and none is.",
    ]
    assert notes[3].startswith("The ltc definition matched 0 of 150 people: no ICD-10 or ")
    assert len(notes) == 5


@pytest.mark.parametrize("people, noted", [(100, False), (101, True)])
def test_a_population_of_100_or_fewer_gets_counts_but_no_note(duckdb_con, people, noted):
    tables = population(duckdb_con, people, 1960, "ae", [("2023-06-01", "snomed", ASTHMA)])
    counts, notes = run(tables, "2024-03-31")
    assert counts["people"] == people and counts["people_matched"]["charlson"] == 0
    assert any(n.startswith("The charlson definition") for n in notes) is noted


def test_no_coded_records_at_all_say_so(duckdb_con):
    tables = population(duckdb_con, 120, 1960, "apc", [("2023-06-01", "icd10", "I10")])
    tables |= {name: tables[name].limit(0) for name in ("encounter", "diagnosis")}
    _, notes = run(tables, "2024-03-31")
    assert len(notes) == 5
    assert notes[0] == (
        "The charlson definition matched 0 of 120 people: there are no coded records "
        "(no hospital diagnoses and no GP events) to match its codes against."
    )


def test_matched_is_holding_a_category_not_a_score_above_0(con):
    # p1's hypertension weighs 0 in van Walraven's Elixhauser: a score of 0, but matched.
    # p2, at 60, is too young for HFRS: its dementia scores NULL and does not match.
    # p3 has no records.
    diagnoses = load(
        con,
        "dx",
        """
        person_id | code | diagnosis_date
        p1        | I10  | 2023-01-01
        p2        | F00  | 2023-01-01
        """,
        {"person_id": "string", "code": "string", "diagnosis_date": "date"},
    )
    people = load(
        con,
        "people",
        """
        person_id | age
        p1        | 80
        p2        | 60
        p3        | 80
        """,
        {"person_id": "string", "age": "int64"},
    )
    found = scores(diagnoses, index_date=dt.date(2024, 3, 31), people=people, matched=True).rename(
        elixhauser_matched=matched_column("elixhauser"), hfrs_matched=matched_column("hfrs")
    )
    assert_spec(
        found,
        """
        person_id | elixhauser_vw | elixhauser_matched | hfrs | hfrs_matched
        p1        | 0             | T                  | 0    | F
        p2        | 0             | F                  |      | F
        p3        | 0             | F                  | 0    | F
        """,
    )
