"""Spec: recorded codes into code-list categories, however the codes are spelt.

A listed code matches a recorded code that starts with it (``prefix``, as every
shipped list does) or equals it (``exact``), once the recorded code is cleaned:
upper case, no spaces or dots, no trailing filler (``X`` or ``-``) down to the
3-character category. In the tables below ``␣`` stands for a space.
"""

from __future__ import annotations

from openphm import codelists, codes
from openphm.need import clean_icd10, code_categories
from tests.spec.harness import assert_spec, load

CODES = {"code": "string"}
SPACE = "␣"


def recorded(con, text, schema=CODES):
    """Codes as recorded: the harness strips cells, so spaces are written ␣ and put back here."""
    t = load(con, "codes", text, schema)
    return t.mutate(code=t.code.replace(SPACE, " "))


def shown(t):
    """The codes as the tables here write them (␣ for a space)."""
    return t.mutate(code=t.code.replace(" ", SPACE))


def test_recorded_spellings_clean_to_one_code(duckdb_con):
    # A code never shrinks below its 3-character category: 'XXXX' is category XXX
    # with filler; 'A0X' is too short to have any (it is not a code, and stays as it is).
    t = recorded(
        duckdb_con,
        """
        code
        E11.9
        ␣e119␣
        E11␣9
        I10X
        I10-
        i10X-
        J44.-
        R69X
        X59X
        XXXX
        XXX
        A0X
        """,
    )
    assert_spec(
        shown(t.mutate(clean=clean_icd10(t.code))),
        """
        code   | clean
        E11.9  | E119
        ␣e119␣ | E119
        E11␣9  | E119
        I10X   | I10
        I10-   | I10
        i10X-  | I10
        J44.-  | J44
        R69X   | R69
        X59X   | X59
        XXXX   | XXX
        XXX    | XXX
        A0X    | A0X
        """,
    )


RAW = ["E11.9", " e119 ", "I10X", "I10-", "i10x-", "J44.-", "XXXX", "XX", "X", "C7A", "M80.08"]


def test_the_engine_cleans_as_openphm_codes_does(duckdb_con):
    # codes.normalise_icd10 is the one spelling in Python; the engine's must agree.
    # (Spaces inside a code are the one addition: HES has none, hand-typed files do.)
    t = recorded(duckdb_con, "\n".join(["code", *(r.replace(" ", SPACE) for r in RAW)]))
    got = t.mutate(clean=clean_icd10(t.code)).execute()
    assert dict(zip(got.code, got.clean, strict=True)) == {r: codes.normalise_icd10(r) for r in RAW}


def test_a_listed_code_matches_every_code_that_starts_with_it_whatever_the_spelling(
    duckdb_con,
):
    # Charlson (Quan 2005): I21 is myocardial infarction, I252 old myocardial infarction;
    # E134 (other specified diabetes, with a complication) is diabetes with chronic
    # complications. I25 alone (no 4th character) is not I252; I2 is not a code at all.
    t = recorded(
        duckdb_con,
        """
        code
        I21
        i21.4
        I214X
        ␣I25.2␣
        I25
        I2
        e13.4
        E13.4-
        Z00
        """,
    )
    charlson = codelists.load("charlson")
    assert_spec(
        shown(code_categories(t, [charlson])),
        """
        code    | definition | category
        I21     | charlson   | ami
        i21.4   | charlson   | ami
        I214X   | charlson   | ami
        ␣I25.2␣ | charlson   | ami
        e13.4   | charlson   | diabwc
        E13.4-  | charlson   | diabwc
        """,
    )


def test_a_code_can_fall_in_several_categories_and_definitions(duckdb_con):
    # F20.4 (post-schizophrenic depression) is both psychosis and depression in Elixhauser,
    # and serious mental illness among the long-term conditions; F00.1 is dementia in
    # Charlson and the long-term conditions, and category F00 of the frailty score.
    t = recorded(duckdb_con, "code\nF20.4\nF00.1")
    assert_spec(
        code_categories(t, codelists.load_all()),
        """
        code  | definition | category
        F20.4 | elixhauser | psycho
        F20.4 | elixhauser | depre
        F20.4 | ltc        | smi
        F00.1 | charlson   | dementia
        F00.1 | ltc        | dementia
        F00.1 | hfrs       | F00
        """,
    )


def test_an_exact_code_matches_only_itself_once_cleaned(duckdb_con, tmp_path):
    # A definition is data: this one, written here, lists J44 exactly (no 4th character)
    # and everything under J45.
    (tmp_path / "demo.toml").write_text(
        'name = "demo"\ntitle = "Demo"\nversion = "1"\ncode_system = "icd10"\n'
        'licence = "test data"\n[source]\nmade = "here"\n'
        '[weight_sets.demo]\nsource = "here"\n'
    )
    (tmp_path / "demo.codes.csv").write_text(
        "category,code,match\ncopd_unspecified,J44,exact\nasthma,J45,prefix\n"
    )
    (tmp_path / "demo.categories.csv").write_text("category,demo\ncopd_unspecified,1\nasthma,1\n")
    demo = codelists.load("demo", folder=tmp_path)
    t = recorded(duckdb_con, "code\nJ44\nj44x\nJ44.-\nJ449\nJ45\nJ459")
    assert_spec(
        code_categories(t, [demo]),
        """
        code  | definition | category
        J44   | demo       | copd_unspecified
        j44x  | demo       | copd_unspecified
        J44.- | demo       | copd_unspecified
        J45   | demo       | asthma
        J459  | demo       | asthma
        """,
    )


def test_with_a_code_system_column_codes_match_lists_of_their_own_system_only(duckdb_con):
    t = recorded(
        duckdb_con,
        """
        code | code_system
        I21  | icd10
        I21  | snomed
        """,
        {"code": "string", "code_system": "string"},
    )
    assert_spec(
        code_categories(t, [codelists.load("charlson")]),
        """
        code | code_system | definition | category
        I21  | icd10       | charlson   | ami
        """,
    )
