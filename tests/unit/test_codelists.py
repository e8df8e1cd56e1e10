"""openphm.codelists: the shipped definitions, and the errors a broken one gives."""

from __future__ import annotations

import csv
import dataclasses
import re
import shutil
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from openphm import codelists
from openphm.codelists import CodeListError

SHIPPED = Path(str(resources.files("openphm.codelists")))


def test_the_shipped_definitions_and_their_sizes():
    assert codelists.available() == ("charlson", "elixhauser", "hfrs", "ltc", "maternity")
    charlson, elixhauser, hfrs, ltc, maternity = codelists.load_all()
    assert len(charlson.categories) == 17 and len(elixhauser.categories) == 31
    assert len(hfrs.categories) == 109  # Gilbert 2018: 109 ICD-10 categories
    assert [ws.name for ws in charlson.weight_sets] == ["charlson", "charlson_quan2011"]
    assert (hfrs.lookback_months, hfrs.min_age) == (24, 75)
    assert (charlson.lookback_months, charlson.min_age) == (None, None)
    assert re.fullmatch(r"[0-9a-f]{16}", charlson.fingerprint)
    # 26 long-term conditions and two nested subsets, in ICD-10 and SNOMED CT; pregnancy
    # in the last year. Neither scores: ltc counts conditions, maternity only flags.
    assert len(ltc.categories) == 28 and ltc.code_systems == ("icd10", "snomed")
    assert sum(ltc.weight_sets[0].weights.values()) == 26
    assert (maternity.categories, maternity.weight_sets, maternity.lookback_months) == (
        ("pregnancy",),
        (),
        12,
    )


def test_every_condition_the_synthetic_ics_generates_has_a_long_term_condition_flag():
    from openphm.synth import reference

    generated = set(reference.conditions()["condition"])
    assert generated <= set(codelists.load("ltc").categories)


def test_weights_are_the_publications():
    charlson, elixhauser, hfrs, *_ = codelists.load_all()
    original, quan2011 = (ws.weights for ws in charlson.weight_sets)
    assert original["aids"] == 6 and quan2011["aids"] == 4  # Quan 2011; comorbidipy has 2
    assert original["metacanc"] == quan2011["metacanc"] == 6
    assert sum(w for w in elixhauser.weight_sets[0].weights.values() if w < 0) == -19
    points = hfrs.weight_sets[0].weights
    assert points["F00"] == Decimal("7.1") and points["R50"] == Decimal("0.1")
    assert min(points.values()) == Decimal("0.1") and max(points.values()) == Decimal("7.1")
    bands = [(b.label, b.below, b.at_most) for b in hfrs.weight_sets[0].bands]
    assert bands == [("low", 5, None), ("intermediate", None, 15), ("high", None, None)]


def test_every_hfrs_category_is_a_3_character_code_listed_as_itself():
    hfrs = codelists.load("hfrs")
    assert all(re.fullmatch(r"[A-Z][0-9]{2}", c) for c in hfrs.categories)
    assert {(r.category, r.code, r.match) for r in hfrs.codes} == {
        (c, c, "prefix") for c in hfrs.categories
    }


def test_only_codes_names_and_weights_ship_never_code_descriptions():
    # ICD-10 descriptions are WHO's and SNOMED CT's are SNOMED International's: the code
    # files hold codes, and labels are Charlson's and Elixhauser's own condition names or
    # our own short ones (long-term conditions, maternity), never a code's description.
    shape = {"icd10": r"[A-Z][0-9]{2}[0-9]{0,2}", "snomed": r"[1-9][0-9]{5,17}"}
    for path in SHIPPED.glob("*.csv"):
        rows = list(csv.reader(path.open()))
        if path.name.endswith(".codes.csv"):
            assert rows[0][:2] == ["category", "code"]
            systems = [r[2] for r in rows[1:]] if rows[0][2:] == ["code_system"] else None
            for n, row in enumerate(rows[1:]):
                assert re.fullmatch(shape[systems[n] if systems else "icd10"], row[1]), row
        elif "label" in rows[0]:
            own = ("charlson", "elixhauser", "ltc", "maternity")
            assert path.name in [f"{name}.categories.csv" for name in own]
    assert not codelists.load("hfrs").labels


def test_every_definition_says_where_it_comes_from():
    for d in codelists.load_all():
        assert d.licence and d.version
        cited = " ".join(str(v) for v in d.source.values())
        assert "doi:" in cited
        assert all("doi:" in ws.source or "Gilbert 2018" in ws.source for ws in d.weight_sets)


# --- a broken definition is refused, with the file, line and fix ------------------------


@pytest.fixture
def lists(tmp_path):
    """A private copy of the shipped code lists, to break."""
    for path in SHIPPED.iterdir():
        if path.suffix in (".toml", ".csv"):
            shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_copy_of_the_shipped_lists_loads_the_same(lists):
    assert codelists.load_all(lists) == codelists.load_all()


def test_a_code_must_be_written_in_its_one_clean_spelling(lists):
    edit(lists / "charlson.codes.csv", "ami,I22\n", "ami,I22.1\n")
    with pytest.raises(
        CodeListError, match=r"charlson.codes.csv line 3: 'I22.1' must be written 'I221'"
    ):
        codelists.load("charlson", lists)


def test_a_code_must_be_an_icd10_code(lists):
    edit(lists / "hfrs.codes.csv", "G81,G81", "G81,G8")
    with pytest.raises(CodeListError, match=r"hfrs.codes.csv line 3: 'G8' is not an ICD-10 code"):
        codelists.load("hfrs", lists)


def test_a_misspelt_metadata_key_is_named_with_the_allowed_ones(lists):
    edit(lists / "hfrs.toml", "lookback_months = 24", "lookback_month = 24")
    with pytest.raises(CodeListError, match=r"unknown keys \['lookback_month'\]; allowed keys"):
        codelists.load("hfrs", lists)


def test_a_hierarchy_must_name_known_categories(lists):
    edit(lists / "charlson.toml", '["msld", "mld"]', '["msld", "mild"]')
    with pytest.raises(CodeListError, match=r"names unknown categories \['mild'\]"):
        codelists.load("charlson", lists)


def test_weight_columns_must_match_the_weight_sets(lists):
    edit(lists / "charlson.toml", "[weight_sets.charlson_quan2011]", "[weight_sets.quan2011]")
    with pytest.raises(CodeListError, match="weight columns .* must match the TOML's weight sets"):
        codelists.load("charlson", lists)


def test_a_weight_must_be_a_number(lists):
    edit(lists / "hfrs.categories.csv", "G81,4.4", "G81,4,4")
    with pytest.raises(
        CodeListError, match="hfrs.categories.csv line 3: 3 cells, but the header has 2"
    ):
        codelists.load("hfrs", lists)
    edit(lists / "hfrs.categories.csv", "G81,4,4", "G81,four")
    with pytest.raises(CodeListError, match=r"line 3, column hfrs: 'four' is not a number"):
        codelists.load("hfrs", lists)
    edit(lists / "hfrs.categories.csv", "G81,four", "G81,4.125")
    with pytest.raises(CodeListError, match="at most 2 decimals"):
        codelists.load("hfrs", lists)


def test_bands_must_rise(lists):
    edit(lists / "hfrs.toml", "at_most = 15", "at_most = 4")
    with pytest.raises(CodeListError, match="band bounds must rise"):
        codelists.load("hfrs", lists)


def test_every_category_needs_a_code(lists):
    edit(lists / "charlson.codes.csv", "aids,B20\naids,B21\naids,B22\naids,B24\n", "")
    with pytest.raises(CodeListError, match=r"categories \['aids'\] have no codes"):
        codelists.load("charlson", lists)


def test_a_missing_file_or_list_is_named(lists):
    (lists / "hfrs.codes.csv").unlink()
    with pytest.raises(CodeListError, match="hfrs.codes.csv is missing"):
        codelists.load("hfrs", lists)
    with pytest.raises(CodeListError, match=r"no code list 'frailty'; available: \['charlson'"):
        codelists.load("frailty", lists)


def test_two_lists_may_not_make_the_same_column(lists):
    for suffix in (".toml", ".codes.csv", ".categories.csv"):
        shutil.copy(lists / f"charlson{suffix}", lists / f"charlson2{suffix}")
    edit(lists / "charlson2.toml", 'name = "charlson"', 'name = "charlson2"')
    with pytest.raises(CodeListError, match="'charlson' and 'charlson2' both make a column"):
        codelists.load_all(lists)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_age": -1}, "min_age must be a whole number of at least 0"),
        ({"lookback_months": 0}, "lookback_months must be a whole number of at least 1"),
        ({"lookback_months": 1.5}, "lookback_months must be a whole number"),
        ({"hierarchy": (("metacanc",),)}, "at least two different categories"),
    ],
)
def test_a_changed_definition_is_checked_too(change, message):
    with pytest.raises(CodeListError, match=message):
        dataclasses.replace(codelists.load("charlson"), **change)


# --- lists in two code systems, lists that only flag, and rule sets ------------------------


def test_a_list_holds_icd10_and_snomed_codes_each_saying_its_system():
    ltc = codelists.load("ltc")
    by_system = {s: {r.code for r in ltc.codes if r.code_system == s} for s in ltc.code_systems}
    assert {"E11", "I10"} <= by_system["icd10"] and "44054006" in by_system["snomed"]
    # ICD-10 codes cover their subcodes; a SNOMED CT id is only ever itself.
    assert {r.match for r in ltc.codes if r.code_system == "icd10"} == {"prefix"}
    assert {r.match for r in ltc.codes if r.code_system == "snomed"} == {"exact"}


def test_a_snomed_code_cannot_match_by_prefix(tmp_path):
    # Part of a concept id means nothing: 1959 is not the start of a hierarchy.
    (tmp_path / "demo.toml").write_text(
        'name = "demo"\ntitle = "Demo"\nversion = "1"\ncode_system = "snomed"\n'
        'licence = "test data"\n[source]\nmade = "here"\n'
    )
    (tmp_path / "demo.categories.csv").write_text("category\nasthma\n")
    (tmp_path / "demo.codes.csv").write_text("category,code,match\nasthma,195967001,\n")
    assert codelists.load("demo", tmp_path).codes[0].match == "exact"
    (tmp_path / "demo.codes.csv").write_text("category,code,match\nasthma,195967001,prefix\n")
    with pytest.raises(CodeListError, match="line 2: '195967001' is a snomed code, which can"):
        codelists.load("demo", tmp_path)
    edit(
        tmp_path / "demo.toml", 'code_system = "snomed"', 'code_system = "snomed"\nmatch = "prefix"'
    )
    with pytest.raises(CodeListError, match='match = "prefix" cannot apply to snomed codes'):
        codelists.load("demo", tmp_path)


def test_a_code_in_the_wrong_system_or_an_unknown_system_is_named(lists):
    edit(lists / "ltc.codes.csv", "asthma,195967001,snomed", "asthma,195967001,icd10")
    with pytest.raises(CodeListError, match=r"line \d+: '195967001' is not an ICD-10 code"):
        codelists.load("ltc", lists)
    edit(lists / "ltc.codes.csv", "asthma,195967001,icd10", "asthma,195967001,read2")
    with pytest.raises(CodeListError, match=r"code_system 'read2' is not one of \['icd10'"):
        codelists.load("ltc", lists)


def test_a_definition_without_weight_sets_flags_its_categories_and_scores_nothing():
    maternity = codelists.load("maternity")
    assert maternity.weight_sets == () and maternity.score_columns == ()


def test_rule_sets_live_beside_the_lists_and_are_not_lists():
    assert codelists.available_rules() == ("bridges_to_health", "core20plus5")
    assert not set(codelists.available_rules()) & set(codelists.available())
    rules = codelists.load_rules("bridges_to_health")
    assert rules.version and rules.licence and "doi:" in " ".join(rules.source.values())
    assert len(rules.body["segments"]) == 8
    assert re.fullmatch(r"[0-9a-f]{16}", rules.fingerprint)


def test_a_rule_set_without_its_metadata_is_refused(lists):
    edit(lists / "core20plus5.rules.toml", 'version = "1.0.0"\n', "")
    with pytest.raises(CodeListError, match=r"core20plus5.rules.toml: missing \['version'\]"):
        codelists.load_rules("core20plus5", lists)
    with pytest.raises(CodeListError, match=r"no rule set 'segments'; available: \['bridges"):
        codelists.load_rules("segments", lists)
