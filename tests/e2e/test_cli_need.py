"""``openphm codelists`` and ``openphm need score``, as a user runs them (CliRunner)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from openphm import codelists
from tests.e2e.test_cli import assert_clean_exit, flat, invoke


def test_codelists_lists_every_definition_with_its_source_version_and_licence():
    result = invoke("codelists")
    assert result.exit_code == 0, result.output
    text = flat(result)
    for name in codelists.available():
        d = codelists.load(name)
        assert f"{name} {d.version}: {d.title}" in text
    for name in codelists.available_rules():
        assert f"{name} {codelists.load_rules(name).version}:" in text
    assert "doi:10.1097/01.mlr.0000182534.19832.83" in text  # Quan 2005
    assert "doi:10.1111/j.1468-0009.2007.00483.x" in text  # Lynn 2007
    assert text.count("licence:") == len(codelists.available()) + len(codelists.available_rules())
    assert "ltc_count" in text and "(icd10, snomed)" in text
    assert "Not shipped: the Cambridge Multimorbidity Score" in text


def test_stages_lists_need_between_link_and_measure():
    output = invoke("stages").output
    assert output.index("link") < output.index("need") < output.index("measure")


@pytest.fixture
def diagnoses(tmp_path) -> Path:
    path = tmp_path / "dx.csv"
    path.write_text(
        "patient,icd10,when,years\n"
        "001,I21.0,2023-06-01,80\n"
        "001,F00.1,2023-07-01,80\n"
        "002,E11.9,2020-01-01,50\n"
        "003,C50.9,2025-01-01,60\n"
    )
    return path


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {row["person_id"]: row for row in csv.DictReader(fh)}


def test_need_score_writes_one_row_per_person_with_every_score(diagnoses, tmp_path):
    out = tmp_path / "scores.csv"
    result = invoke(
        "need", "score", diagnoses, "--out", out, "--person", "patient", "--code", "icd10"
    )
    assert result.exit_code == 0, result.output
    assert "3 people scored from 4 rows" in flat(result)
    scored = rows(out)
    assert list(scored) == ["001", "002", "003"]  # ids as written, leading zeros kept
    assert scored["001"]["charlson"] == "2" and scored["001"]["hfrs"] == "7.1"
    assert scored["003"]["charlson"] == "2"  # any malignancy


def test_need_score_with_dates_counts_back_from_the_index_date(diagnoses, tmp_path):
    out = tmp_path / "scores.parquet"
    result = invoke(
        "need", "score", diagnoses, "--out", out, "--person", "patient", "--code", "icd10",
        "--date", "when", "--age", "years", "--index-date", "2024-03-31",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    import pandas as pd

    scored = pd.read_parquet(out).set_index("person_id")
    assert scored.loc["003", "charlson"] == 0  # the cancer is recorded after the index date
    assert pd.isna(scored.loc["002", "hfrs"])  # 50: too young for the frailty score
    assert scored.loc["001", "hfrs_band"] == "intermediate"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--date", "when"), "--date needs --index-date"),
        (("--index-date", "2024-03-31"), "--index-date needs --date"),
        (("--person", "id"), "dx.csv has no column 'id'; its columns are"),
        (
            ("--person", "patient", "--date", "icd10", "--index-date", "2024-03-31"),
            "column 'icd10': 4 values are not a date (YYYY-MM-DD), e.g. 'C50.9'",
        ),
    ],
)
def test_need_score_mistakes_exit_2_saying_what_to_fix(diagnoses, tmp_path, args, message):
    result = invoke(
        "need", "score", diagnoses, "--out", tmp_path / "s.csv", "--code", "icd10", *args
    )
    assert_clean_exit(result, 2)
    assert message in flat(result)
    assert not (tmp_path / "s.csv").exists()


def test_need_score_names_a_missing_file_and_an_unknown_output_type(diagnoses, tmp_path):
    result = invoke("need", "score", tmp_path / "nope.csv", "--out", tmp_path / "s.csv")
    assert_clean_exit(result, 2)
    assert "does not exist" in flat(result)
    result = invoke("need", "score", diagnoses, "--out", tmp_path / "s.xlsx")
    assert_clean_exit(result, 2)
    assert "cannot tell the file type" in flat(result)
