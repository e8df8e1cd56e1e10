"""The costing rules files: the shipped ones load, and a broken one is named precisely."""

from __future__ import annotations

import pytest

from openphm.cost import rules
from openphm.cost.rules import CostRuleError
from openphm.model import ACTIVITY_TYPES


def test_the_shipped_rules_cover_every_activity_type_and_support_centre_order():
    r = rules.load()
    assert {d.activity_type for d in r.drivers if d.resource is None} == set(ACTIVITY_TYPES)
    assert [s.basis for s in r.steps][:2] == ["floor_area_m2", "floor_area_m2"]  # estates first
    assert [e.line for e in r.exclusions][-1] == "income"
    assert set(r.provenance) == {"mapping.toml", "overheads.toml", "drivers.toml"}


def _write(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_workspace_file_replaces_the_shipped_one_of_the_same_name(tmp_path):
    _write(tmp_path, "overheads.toml", '[[step]]\ncost_centre = "^X"\nbasis = "beds"\n')
    r = rules.load(tmp_path)
    assert [(s.cost_centre, s.basis) for s in r.steps] == [("^X", "beds")]
    assert r.provenance["overheads.toml"]["file"] == str(tmp_path / "overheads.toml")
    assert len(r.activities) == len(rules.load().activities)  # the others are the shipped


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "overheads.toml",
            '[[step]]\ncost_centre = "^ES("\nbasis = "m2"\n',
            r"step 1: cost_centre = '\^ES\(' is not a regular",
        ),
        (
            "overheads.toml",
            '[[step]]\ncost_centre = "^ES"\nbasis = "m2"\nbase = 1\n',
            r"step 1: unknown field\(s\) \['base'\]",
        ),
        (
            "drivers.toml",
            '[[driver]]\nname = "x"\nactivity_type = "ward_stay"\nmeasure = "minutes"\n',
            r"driver 1: measure = 'minutes'; use one of",
        ),
        (
            "drivers.toml",
            '[[driver]]\nname = "x"\nactivity_type = "ward_stay"\nmeasure = "quantity"\n',
            r"no driver for activity type\(s\) \['theatre'",
        ),
        (
            "mapping.toml",
            '[[exclusion]]\nline = "x"\ncost_centre_type = "support"\n',
            r"exclusion 1: cost_centre_type = 'support' is the costed quantum",
        ),
        (
            "mapping.toml",
            '[[activity]]\ncost_centre = "^W"\nactivity_type = "ward"\nactivity = "w"\n',
            r"activity 1: activity_type = 'ward'; use one of",
        ),
        ("mapping.toml", "[resources]\npay = 3\n", r"\[resources\]: pay = 3"),
        ("mapping.toml", "[[exclusion]\n", r"mapping.toml: not valid TOML"),
    ],
)
def test_a_broken_rules_file_is_named_with_its_entry_and_field(tmp_path, name, text, message):
    _write(tmp_path, name, text)
    with pytest.raises(CostRuleError, match=message):
        rules.load(tmp_path)
