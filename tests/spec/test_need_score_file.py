"""Spec: scoring an analyst's own diagnosis file, as ``openphm need score`` will.

A long CSV or Parquet file in (one diagnosis per row, columns named as the file
names them), one row per person out, sorted by person id, with every score.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest

from openphm.need import score_file

IN = """\
patient,icd10,admitted,age_years
0042,I21.0,2023-06-01,80
0042,f00.1,2023-06-01,80
0042,F00.9,2021-01-01,80
0007,C78.0,2024-01-10,61
0007,c50.9,2024-01-10,61
0099,Z00.0,2024-01-10,90
"""


def read_csv(path):
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_a_csv_of_diagnoses_becomes_a_csv_of_scores_one_row_per_person(tmp_path):
    # Ids are text (leading zeros kept). Index date 31 March 2024: F00.9 in 2021 is outside
    # the frailty score's two years but inside Charlson's unlimited lookback. 0007 is 61,
    # below the frailty score's 75: no score (an empty cell). 0099's code is in no list: 0.
    src = tmp_path / "diagnoses.csv"
    src.write_text(IN)
    done = score_file(
        src,
        tmp_path / "scores.csv",
        person="patient",
        code="icd10",
        date="admitted",
        age="age_years",
        index_date=dt.date(2024, 3, 31),
    )
    assert read_csv(done.out) == [
        ["person_id", "charlson", "charlson_quan2011", "elixhauser_vw", "hfrs", "hfrs_band"],
        ["0007", "6", "6", "12", "", ""],
        ["0042", "2", "2", "0", "7.1", "intermediate"],
        ["0099", "0", "0", "0", "0.0", "low"],
    ]
    assert (done.rows, done.people) == (6, 3)
    assert done.columns[0] == "person_id" and "hfrs_band" in done.columns


def test_parquet_in_and_out_without_dates_counts_every_row(tmp_path):
    src = tmp_path / "diagnoses.parquet"
    pd.read_csv(io.StringIO(IN), dtype=str).to_parquet(src)
    done = score_file(src, tmp_path / "scores.parquet", person="patient", code="icd10")
    got = pd.read_parquet(done.out)
    assert got.person_id.tolist() == ["0007", "0042", "0099"]
    assert got.hfrs.tolist() == [0.0, 7.1, 0.0]  # F00.1 and F00.9: category F00 once
    assert got.charlson.tolist() == [6, 2, 0]
    assert got.dtypes.astype(str).tolist()[1:5] == ["int64", "int64", "int64", "float64"]


def test_problems_with_the_file_are_named_with_the_fix(tmp_path):
    src = tmp_path / "diagnoses.csv"
    src.write_text(IN)
    out = tmp_path / "scores.csv"
    with pytest.raises(ValueError, match=r"has no column 'person_id'; its columns are \["):
        score_file(src, out, code="icd10")
    with pytest.raises(ValueError, match="no index date was given"):
        score_file(src, out, person="patient", code="icd10", date="admitted")
    with pytest.raises(ValueError, match="cannot tell the file type"):
        score_file(src, tmp_path / "scores.xlsx", person="patient", code="icd10")
    bad = tmp_path / "bad.csv"
    bad.write_text("patient,icd10,admitted\n1,I21,2023-02-30\n2,I21,01/03/2023\n3,I21,\n")
    with pytest.raises(ValueError, match=r"column 'admitted': 2 values are not a date"):
        score_file(
            bad, out, person="patient", code="icd10", date="admitted", index_date=dt.date.today()
        )
    bad.write_text("patient,icd10,age\n1,I21,80\n,I21,80\n")
    with pytest.raises(ValueError, match="column 'patient': 1 rows have no id"):
        score_file(bad, out, person="patient", code="icd10")
    bad.write_text("patient,icd10,age\n1,I21,80\n2,I21,eighty\n")
    with pytest.raises(ValueError, match="column 'age': 1 values are not a whole number"):
        score_file(bad, out, person="patient", code="icd10", age="age")
    assert not out.exists()
