"""Spec: Core20PLUS5 flags, from ``codelists/core20plus5.rules.toml``.

- ``core20``: the person's LSOA is in IMD decile 1 or 2, the most deprived 20% of
  England's; NULL where the LSOA, so the deprivation, is not known.
- ``plus_<group>``: a PLUS group. By default ethnic minority communities (the ethnic
  categories outside the White groups, not stated and not known) and people with a
  learning disability; ``[stages.need.plus_groups]`` in openphm.toml replaces them.
- ``clinical_<area>``: the cohort of each of the five clinical areas: maternity (a
  maternity record in the last 12 months), severe mental illness, chronic respiratory
  disease (COPD), cancer and hypertension.
"""

from __future__ import annotations

import pytest

from openphm.config import NeedOptions
from openphm.need import core20plus5
from openphm.need.criteria import CriteriaError
from tests.spec.harness import assert_spec, load

PEOPLE = {
    "person_id": "string",
    "age": "int64",
    "imd_decile": "int8",
    "ethnic_category": "string",
    "ltc_learning_disability": "boolean",
    "maternity_pregnancy": "boolean",
    "ltc_smi": "boolean",
    "ltc_copd": "boolean",
    "ltc_cancer": "boolean",
    "ltc_hypertension": "boolean",
}
TABLE = """
person_id | age | imd_decile | ethnic_category | ltc_learning_disability | maternity_pregnancy | ltc_smi | ltc_copd | ltc_cancer | ltc_hypertension
p1        | 30  | 1          | N               | F                       | T                   | F       | F        | F          | F
p2        | 70  | 2          | A               | F                       | F                   | F       | T        | F          | T
p3        | 45  | 3          | C               | T                       | F                   | T       | F        | F          | F
p4        | 66  |            | 99              | F                       | F                   | F       | F        | T          | F
"""  # noqa: E501


def test_core20_plus_groups_and_clinical_areas(con):
    # p1 lives in the most deprived decile, is Black African (N) and pregnant. p2 (decile
    # 2, White British) has COPD and hypertension. p3 (decile 3, Other White) has a
    # learning disability and serious mental illness. p4's LSOA is not known.
    flagged = core20plus5.flag(load(con, "people", TABLE, PEOPLE))
    assert_spec(
        flagged,
        """
        person_id | core20 | plus_ethnic_minority | plus_learning_disability
        p1        | T      | T                    | F
        p2        | T      | F                    | F
        p3        | F      | F                    | T
        p4        |        | F                    | F
        """,
    )
    assert_spec(
        flagged,
        """
        person_id | clinical_maternity | clinical_smi | clinical_respiratory | clinical_cancer | clinical_hypertension
        p1        | T                  | F            | F                    | F               | F
        p2        | F                  | F            | T                    | F               | T
        p3        | F                  | T            | F                    | F               | F
        p4        | F                  | F            | F                    | T               | F
        """,  # noqa: E501
    )


def test_plus_groups_from_openphm_toml_replace_the_defaults(duckdb_con):
    # An ICS chooses older people in the most deprived fifth... and people of Pakistani
    # or Bangladeshi heritage (J, K): its own groups, not the shipped ones.
    options = NeedOptions.model_validate(
        {
            "plus_groups": {
                "older": {"at_least": {"age": 65}},
                "south_asian": {"one_of": {"ethnic_category": ["J", "K"]}},
            }
        }
    )
    groups = {name: g.model_dump() for name, g in options.plus_groups.items()}
    rules = core20plus5.load(plus_groups=groups)
    flagged = core20plus5.flag(load(duckdb_con, "people", TABLE, PEOPLE), rules)
    assert "plus_ethnic_minority" not in flagged.columns
    assert_spec(
        flagged,
        """
        person_id | plus_older | plus_south_asian
        p1        | F          | F
        p2        | T          | F
        p3        | F          | F
        p4        | T          | F
        """,
    )


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"Carers": {"any_flag": ["carer"]}}, "'Carers' must be lower case"),
        ({"carers": {}}, "carers: has no criteria, so it would flag nobody"),
        ({"carers": {"any_flag": "carer"}}, "any_flag must be a list of columns"),
    ],
)
def test_a_plus_group_that_cannot_work_is_refused_by_name(groups, message):
    with pytest.raises(CriteriaError, match=message):
        core20plus5.load(plus_groups=groups)


def test_a_plus_group_on_a_column_the_people_lack_is_named(duckdb_con):
    rules = core20plus5.load(plus_groups={"carers": {"any_flag": ["is_carer"]}})
    with pytest.raises(CriteriaError, match=r"plus_groups\] carers: no column 'is_carer'"):
        core20plus5.flag(load(duckdb_con, "people", TABLE, PEOPLE), rules)
