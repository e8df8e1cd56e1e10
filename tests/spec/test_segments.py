"""Spec: Bridges to Health segments, one per person, by a priority order written as data.

``codelists/bridges_to_health.rules.toml`` lists Lynn et al.'s eight segments with the
criteria for each, the segment of greatest need first. A person takes the first they
qualify for, so qualifying for several counts them once, in the highest:

=====  ======================  =====================================================
 no.   segment                 qualifies with
=====  ======================  =====================================================
 8     frailty_dementia        dementia or coded frailty; HFRS intermediate or high
 7     organ_failure           heart failure; CKD stage 4-5
 6     incurable_cancer        metastatic cancer
 5     disability              learning disability
 4     long_term_conditions    any long-term condition
 3     acutely_ill             an emergency admission in the last 12 months
 2     maternal_infant         a maternity record in the last 12 months; under one
 1     healthy                 everyone else
=====  ======================  =====================================================
"""

from __future__ import annotations

import pytest

from openphm.codelists import load_rules
from openphm.need import segments
from openphm.need.criteria import CriteriaError
from tests.spec.harness import assert_spec, load

PEOPLE = {
    "person_id": "string",
    "age": "int64",
    "ltc_dementia": "boolean",
    "ltc_frailty": "boolean",
    "hfrs_band": "string",
    "ltc_heart_failure": "boolean",
    "ltc_ckd_severe": "boolean",
    "ltc_cancer_metastatic": "boolean",
    "ltc_learning_disability": "boolean",
    "ltc_count": "int64",
    "emergency_admissions_12m": "int64",
    "maternity_pregnancy": "boolean",
}
# Each person's columns, shortened to what makes them qualify: the rest are F, 0 or NULL.
WHO = """
person_id         | qualifies with
frail_diabetic    | ltc_frailty, ltc_count=2
hfrs_high         | hfrs_band=high
heart_and_cancer  | ltc_heart_failure, ltc_cancer_metastatic, ltc_count=2
metastatic        | ltc_cancer_metastatic, ltc_count=1
ld_with_asthma    | ltc_learning_disability, ltc_count=2
diabetic_admitted | ltc_count=1, emergency_admissions_12m=2
admitted          | emergency_admissions_12m=1
pregnant          | maternity_pregnancy
infant            | age=0
hfrs_low          | hfrs_band=low
well              |
"""


def people(con):
    """The people above as a table: each listed column set, the rest false or zero."""
    flags = [c for c, t in PEOPLE.items() if t == "boolean"]
    lines = [" | ".join(PEOPLE)]
    for line in WHO.strip().splitlines()[1:]:
        name, _, spec = (cell.strip() for cell in line.partition("|"))
        row = {c: "F" for c in flags} | {"person_id": name, "age": "40", "ltc_count": "0"}
        row |= {"emergency_admissions_12m": "0", "hfrs_band": ""}
        for item in filter(None, (x.strip() for x in spec.split(","))):
            column, _, value = item.partition("=")
            row[column] = value or "T"
        lines.append(" | ".join(row[c] for c in PEOPLE))
    return load(con, "people", "\n".join(lines), PEOPLE)


def test_each_person_takes_the_first_segment_in_priority_order_they_qualify_for(con):
    assert_spec(
        segments.assign(people(con)),
        """
        person_id         | segment              | segment_number
        frail_diabetic    | frailty_dementia     | 8
        hfrs_high         | frailty_dementia     | 8
        heart_and_cancer  | organ_failure        | 7
        metastatic        | incurable_cancer     | 6
        ld_with_asthma    | disability           | 5
        diabetic_admitted | long_term_conditions | 4
        admitted          | acutely_ill          | 3
        pregnant          | maternal_infant      | 2
        infant            | maternal_infant      | 2
        hfrs_low          | healthy              | 1
        well              | healthy              | 1
        """,
    )


def test_an_unknown_age_or_score_qualifies_for_nothing(duckdb_con):
    t = load(
        duckdb_con,
        "people",
        """
        person_id | age | ltc_count | emergency_admissions_12m | hfrs_band
        unknown   |     | 0         | 0                        |
        """,
        PEOPLE,
    )
    t = t.mutate(**{c: False for c, kind in PEOPLE.items() if kind == "boolean"})
    assert_spec(segments.assign(t), "person_id | segment\nunknown | healthy")


def test_the_priority_order_is_the_rule_files(duckdb_con, tmp_path):
    # The same segments with acute illness put above long-term conditions: a diabetic
    # admitted as an emergency is now acutely ill.
    source = _shipped_text()
    ltc = source.index('[[segments]]\nname = "long_term_conditions"')
    acute = source.index('[[segments]]\nname = "acutely_ill"')
    maternal = source.index('[[segments]]\nname = "maternal_infant"')
    swapped = source[:ltc] + source[acute:maternal] + source[ltc:acute] + source[maternal:]
    (tmp_path / "bridges_to_health.rules.toml").write_text(swapped)
    reordered = segments.load(load_rules("bridges_to_health", tmp_path))
    assert [s.number for s in reordered] == [8, 7, 6, 5, 3, 4, 2, 1]
    t = people(duckdb_con)
    assert_spec(
        segments.assign(
            t.filter(t.person_id.isin(["diabetic_admitted", "ld_with_asthma"])), reordered
        ),
        """
        person_id         | segment
        diabetic_admitted | acutely_ill
        ld_with_asthma    | disability
        """,
    )


def _shipped_text() -> str:
    from importlib import resources

    return (
        resources.files("openphm.codelists")
        .joinpath("bridges_to_health.rules.toml")
        .read_text(encoding="utf-8")
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # The catch-all must come last, and be the only segment without criteria.
        (('label = "Healthy"\n', 'label = "Healthy"\nbelow = { age = 200 }\n'), "only it"),
        (("number = 7\n", "number = 8\n"), "two segments have the same number"),
        (('any_flag = ["ltc_learning_disability"]', 'any_flags = ["x"]'), "unknown keys"),
        (("at_least = { ltc_count = 1 }", 'at_least = { ltc_count = "one" }'), "to numbers"),
    ],
)
def test_a_broken_rule_file_is_refused_naming_the_segment(tmp_path, change, message):
    old, new = change
    text = _shipped_text()
    assert old in text
    (tmp_path / "bridges_to_health.rules.toml").write_text(text.replace(old, new, 1))
    with pytest.raises(CriteriaError, match=message):
        segments.load(load_rules("bridges_to_health", tmp_path))


def test_a_rule_naming_a_column_the_people_lack_says_which(duckdb_con, tmp_path):
    text = _shipped_text().replace('"ltc_heart_failure"', '"ltc_heart_failur"', 1)
    (tmp_path / "bridges_to_health.rules.toml").write_text(text)
    broken = segments.load(load_rules("bridges_to_health", tmp_path))
    with pytest.raises(
        CriteriaError, match=r"segment 'organ_failure': no column 'ltc_heart_failur'"
    ):
        segments.assign(people(duckdb_con), broken)
