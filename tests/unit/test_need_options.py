"""The need stage's options ([stages.need] in openphm.toml) and what the stage does with them."""

from __future__ import annotations

import datetime as dt
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from openphm import codelists
from openphm.config import TEMPLATE, Config, ConfigError, load_config
from openphm.need import stage as need
from openphm.runner import StageError, StageInput
from tests.spec.harness import load

BASE = {
    "name": "t",
    "governance": {
        "controller": "ICB",
        "purpose": "planning",
        "lawful_basis_article6": "6(1)(e)",
        "lawful_basis_article9": "9(2)(h)",
    },
    "pseudonymisation": {"key_env": "K"},
}


def config(**need_options) -> Config:
    return Config.model_validate({**BASE, "stages": {"need": need_options}})


def test_defaults_measure_on_the_last_day_of_the_data_with_the_shipped_rules(tmp_path):
    path = tmp_path / "openphm.toml"
    path.write_text(TEMPLATE.format(name="t", controller="ICB"))
    options = load_config(path).stages.need
    assert (options.index_date, options.plus_groups, options.codelists) == (None, None, None)
    assert "[stages.need]" in TEMPLATE and "# index_date" in TEMPLATE


def test_options_are_read_and_checked(tmp_path):
    options = config(
        index_date="2025-03-31",
        plus_groups={"carers": {"any_flag": ["ltc_dementia"]}},
        codelists="lists",
    ).stages.need
    assert options.index_date == dt.date(2025, 3, 31)
    assert options.plus_groups["carers"].any_flag == ["ltc_dementia"]
    assert options.codelists == Path("lists")
    path = tmp_path / "openphm.toml"
    text = TEMPLATE.format(name="t", controller="ICB")
    path.write_text(text.replace("[stages.need]\n", "[stages.need.plus_groups.carers]\n", 1))
    with pytest.raises(ConfigError, match="stages.need.plus_groups.carers: give at least one"):
        load_config(path)
    path.write_text(text.replace("[stages.need]\n", '[stages.need]\nindex_date = "soon"\n', 1))
    with pytest.raises(ConfigError, match="stages.need.index_date = 'soon'"):
        load_config(path)


# --- the stage on a handful of people ---------------------------------------------------


TABLES = {
    "person": """
            person_id | year_of_birth | month_of_birth | sex | ethnic_category | lsoa_code
            p1        | 1940          | 6              | 2   | A               | L1
            p2        | 1990          | 1              | 1   | H               | L2
            """,
    "lsoa": """
            lsoa_code | place_code | imd_decile
            L1        | P1         | 1
            L2        | P2         | 7
            """,
    "encounter": """
            encounter_id | person_id | setting | start_date | is_emergency
            e1           | p1        | apc     | 2024-11-02 | T
            """,
    "diagnosis": """
            encounter_id | person_id | position | code_system | code
            e1           | p1        | 1        | icd10       | I500
            """,
    "gp_event": """
            person_id | event_date | code_system | code
            p2        | 2025-01-15 | snomed     | 195967001
            """,
}


def loaded(con):
    return {name: load(con, name, text) for name, text in TABLES.items()}


@pytest.fixture
def tables(duckdb_con):
    return loaded(duckdb_con)


def built(tables, **options):
    out = need.build(StageInput(tables, config(**options)))
    return out, out.tables["person_need"].to_pandas().set_index("person_id")


def test_without_an_index_date_the_stage_takes_the_last_day_of_the_data(tables):
    out, people = built(tables)
    assert set(people.index_date) == {pd.Timestamp("2025-01-15")}
    assert people.loc["p1", "segment"] == "organ_failure"  # heart failure
    assert people.loc["p2", "segment"] == "long_term_conditions"  # asthma
    assert out.counts["need"]["index_date_from"] == "end of the data"
    assert set(out.tables) == {"person_need", "segment", "need_summary"}


def test_an_index_date_before_a_record_leaves_it_out(tables):
    out, people = built(tables, index_date="2024-12-31")
    assert not people.loc["p2", "ltc_asthma"] and people.loc["p2", "segment"] == "healthy"
    assert out.counts["need"]["index_date"] == "2024-12-31"


def test_plus_groups_from_the_options_become_columns(tables):
    _, people = built(tables, plus_groups={"older": {"at_least": {"age": 80}}})
    assert people.plus_older.to_dict() == {"p1": True, "p2": False}
    assert "plus_ethnic_minority" not in people.columns


def test_a_workspace_code_list_replaces_the_shipped_one_and_the_audit_says_so(tables, tmp_path):
    # An ICS's own ltc list, here the shipped one plus an asthma concept id.
    shipped = Path(str(resources.files("openphm.codelists")))
    for suffix in (".toml", ".codes.csv", ".categories.csv"):
        shutil.copy(shipped / f"ltc{suffix}", tmp_path / f"ltc{suffix}")
    with (tmp_path / "ltc.codes.csv").open("a") as fh:
        fh.write("asthma,304527002,snomed\n")
    tables["gp_event"] = tables["gp_event"].mutate(
        code=tables["gp_event"].code.replace("195967001", "304527002")
    )
    out, people = built(tables, codelists=str(tmp_path))
    assert people.loc["p2", "ltc_asthma"]
    fingerprint = out.counts["need"]["definitions"]["ltc"]["fingerprint"]
    assert fingerprint == codelists.load("ltc", tmp_path).fingerprint
    assert fingerprint != codelists.load("ltc").fingerprint


def test_a_broken_workspace_list_or_missing_folder_stops_the_stage_naming_it(tables, tmp_path):
    with pytest.raises(StageError, match="codelists: .* is not a folder"):
        built(tables, codelists=str(tmp_path / "nowhere"))
    (tmp_path / "bridges_to_health.rules.toml").write_text(
        'name = "bridges_to_health"\ntitle = "t"\nversion = "1"\nlicence = "x"\n'
        '[source]\nmade = "here"\n'
    )
    with pytest.raises(StageError, match=r"need: bridges_to_health.rules.toml: needs two or more"):
        built(tables, codelists=str(tmp_path))


def test_a_workspace_with_no_dated_records_asks_for_an_index_date(tables):
    empty = {
        **tables,
        "encounter": tables["encounter"].limit(0),
        "gp_event": tables["gp_event"].limit(0),
    }
    with pytest.raises(StageError, match=r"set \[stages.need\] index_date"):
        built(empty)


# DuckDB and Spark parity of the whole stage: tests/e2e/test_need_spark.py.
