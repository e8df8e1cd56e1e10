"""The matching rules file: the shipped one loads, and a bad one is refused by name."""

from __future__ import annotations

import pytest

from openphm.cost.matching import (
    MAX_WINDOW_DAYS,
    MatchRulesError,
    load_rules,
)

GOOD = """
[[rule]]
name = "attendance_key"
method = "key"
key_type = "attendkey"
lookup = "encounter_id"
settings = ["op"]

[[rule]]
name = "same_day"
method = "person_date"
settings = ["op", "ae"]
activity_types = ["pathology"]
days_after = 2
"""


def write(tmp_path, text):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def test_the_shipped_rules_put_every_key_before_any_date():
    rules = load_rules()
    methods = [r.method for r in rules.rules]
    assert methods == sorted(methods), "key rules (exact) come before person_date (a judgement)"
    assert {r.key_type for r in rules.rules if r.method == "key"} == {
        "epikey",
        "attendkey",
        "ec_ident",
        "contact_id",
        "incident_id",
    }
    assert rules.needs_episodes
    assert all(r.same_provider for r in rules.rules)


def test_a_custom_file_loads_with_its_defaults(tmp_path):
    rules = load_rules(write(tmp_path, GOOD))
    assert rules.names == ("attendance_key", "same_day")
    key, date = rules.rules
    assert (key.lookup, key.activity_types, key.same_provider) == ("encounter_id", None, True)
    assert (date.days_before, date.days_after, date.activity_types) == (0, 2, ("pathology",))
    assert rules.file == "rules.toml" and len(rules.fingerprint) == 16


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('name = "same_day"', 'name = "Same Day"', r"number 2 .*name must be lower snake case"),
        ('name = "same_day"', 'name = "unmatched"', r"not 'unmatched'"),
        ('name = "same_day"', 'name = "attendance_key"', r"'attendance_key'\] used more than once"),
        ('method = "person_date"', 'method = "fuzzy"', r"method 'fuzzy' is not one of"),
        ('settings = ["op", "ae"]', 'settings = ["op", "a&e"]', r"settings \['a&e'\] not among"),
        ('settings = ["op", "ae"]', "settings = []", r"settings must be a non-empty list"),
        ('activity_types = ["pathology"]', 'activity_types = ["lab"]', r"activity_types \['lab'\]"),
        ("days_after = 2", f"days_after = {MAX_WINDOW_DAYS + 1}", r"days_after must be a whole"),
        ("days_after = 2", "days_after = 1.5", r"days_after must be a whole number .* not 1.5"),
        ("days_after = 2", 'key_type = "epikey"', r"\['key_type'\] apply only to method 'key'"),
        ("days_after = 2", "window = 2", r"unknown field\(s\) \['window'\]"),
        ('lookup = "encounter_id"', 'lookup = "spell"', r"lookup 'spell' is not one of"),
        ('lookup = "encounter_id"', "", r"method 'key' needs field 'lookup'"),
        ('lookup = "encounter_id"', 'lookup = "episode"', r"settings must be \['apc'\]"),
        ('key_type = "attendkey"', 'key_type = "ATTENDKEY"', r"key_type must be a lower-case"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_file_rule_and_value(tmp_path, old, new, message):
    assert old in GOOD
    with pytest.raises(MatchRulesError, match=r"rules\.toml") as caught:
        load_rules(write(tmp_path, GOOD.replace(old, new, 1)))
    assert caught.match(message)


def test_a_file_that_is_not_rules_is_refused(tmp_path):
    with pytest.raises(MatchRulesError, match=r"rules\.toml: not valid TOML"):
        load_rules(write(tmp_path, "[[rule]\n"))
    with pytest.raises(MatchRulesError, match=r"no \[\[rule\]\] tables"):
        load_rules(write(tmp_path, "# nothing\n"))
    with pytest.raises(MatchRulesError, match=r"unknown top-level key\(s\) \['rules'\]"):
        load_rules(write(tmp_path, "[[rules]]\nname = 'x'\n"))
    with pytest.raises(MatchRulesError, match=r"cannot read"):
        load_rules(tmp_path / "missing.toml")
