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
    assert codelists.available() == ("charlson", "elixhauser", "hfrs")
    charlson, elixhauser, hfrs = codelists.load_all()
    assert len(charlson.categories) == 17 and len(elixhauser.categories) == 31
    assert len(hfrs.categories) == 109  # Gilbert 2018: 109 ICD-10 categories
    assert [ws.name for ws in charlson.weight_sets] == ["charlson", "charlson_quan2011"]
    assert (hfrs.lookback_months, hfrs.min_age) == (24, 75)
    assert (charlson.lookback_months, charlson.min_age) == (None, None)
    assert re.fullmatch(r"[0-9a-f]{16}", charlson.fingerprint)


def test_weights_are_the_publications():
    charlson, elixhauser, hfrs = codelists.load_all()
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
    # ICD-10 descriptions are WHO's and may not be redistributed: the code files hold codes,
    # and only Charlson's and Elixhauser's own condition names appear, as labels.
    for path in SHIPPED.glob("*.csv"):
        rows = list(csv.reader(path.open()))
        if path.name.endswith(".codes.csv"):
            assert rows[0] == ["category", "code"]
            assert all(re.fullmatch(r"[A-Z][0-9]{2}[0-9]{0,2}", r[1]) for r in rows[1:])
        elif "label" in rows[0]:
            assert path.name in ("charlson.categories.csv", "elixhauser.categories.csv")
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
