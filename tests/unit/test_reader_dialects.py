"""Files as systems really write them: pipe and tab delimiters, lower-case headers, UK
and compact dates, SQL Server date-times, NULL tokens, OMOP tables as CSV and Parquet
with float ids. Each is read as [sources.NAME] says; the staged values are what the
checks and mappers see (ISO dates, layout column names, missing for no value)."""

from __future__ import annotations

import datetime as dt
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openphm import engine
from openphm.config import Source
from openphm.ingest import checks
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.reader import IngestError
from openphm.ingest.stage import _read

REGS = LAYOUTS["gp_registrations"]
WINDOW = checks.Window(date(1900, 1, 1), date(2026, 11, 22))
HEADER = ["REG_ID", "NHS_NUMBER", "PRACTICE_CODE", "REGISTRATION_START", "REGISTRATION_END"]


def _file(tmp_path: Path, name: str, rows: list[list[str]], sep: str = ",") -> Path:
    path = tmp_path / name
    path.write_text("".join(sep.join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _staged(tmp_path: Path, path: Path, **settings) -> tuple[list[dict], object]:
    source = Source(path=path, layout=settings.pop("layout", "gp_registrations"), **settings)
    result = _read(path, source, tmp_path / "staged.parquet")
    return pq.read_table(result.path).to_pylist(), result


def _quarantined(tmp_path: Path, result) -> list[tuple[int, str, str]]:
    con = engine.connect("duckdb://")
    _, bad = checks.evaluate(con.read_parquet(str(result.path)), REGS, WINDOW)
    rows = bad.to_pyarrow().to_pylist()
    return sorted((r["line"], r["column"], r["reason"]) for r in rows)


def test_a_pipe_delimited_file_is_read_with_delimiter_set(tmp_path):
    rows = [
        HEADER,
        ["r1", "9990000018", "A81001", "2020-01-01", ""],
        ["r2", "9990000026", "A81001", "2021-05-06", "2022-01-01"],
    ]
    path = _file(tmp_path, "regs.txt", rows, "|")
    staged, result = _staged(tmp_path, path, delimiter="|")
    assert result.rows_read == 2 and result.rejects == []
    assert [(r["REG_ID"], r["REGISTRATION_END"], r["_line"]) for r in staged] == [
        ("r1", None, 2),
        ("r2", "2022-01-01", 3),
    ]


def test_a_pipe_delimited_psv_needs_no_setting_and_quotes_hold_pipes(tmp_path):
    path = tmp_path / "regs.psv"
    path.write_text("|".join(HEADER) + '\n"r|1"|9990000018|A81001|2020-01-01|\n', encoding="utf-8")
    staged, _ = _staged(tmp_path, path)
    assert staged[0]["REG_ID"] == "r|1"


@pytest.mark.parametrize(
    ("name", "settings"), [("regs.tsv", {}), ("regs.txt", {"delimiter": "tab"})]
)
def test_a_tab_delimited_file_by_extension_or_by_setting(tmp_path, name, settings):
    rows = [HEADER, ["r1", "999 000 0018", "A81001", "2020-01-01", ""]]
    staged, result = _staged(tmp_path, _file(tmp_path, name, rows, "\t"), **settings)
    assert result.rejects == []
    assert staged[0]["NHS_NUMBER"] == "999 000 0018"  # spaces inside a value are kept
    assert staged[0]["REGISTRATION_START"] == "2020-01-01"


def test_a_line_of_only_delimiters_is_an_empty_row_and_a_short_line_is_named(tmp_path):
    rows = [
        HEADER,
        ["r1", "9990000018", "A81001", "2020-01-01", ""],
        ["", "", "", "", ""],
        ["r3", "x"],
    ]
    _, result = _staged(tmp_path, _file(tmp_path, "regs.psv", rows, "|"))
    assert [(r.line, r.reason) for r in result.rejects] == [
        (3, "empty_row"),
        (4, "wrong_field_count"),
    ]
    assert result.rows_read == 3


def test_an_unclosed_quote_in_a_pipe_file_names_its_column_and_reading_resumes(tmp_path):
    path = tmp_path / "regs.psv"
    path.write_text(
        "|".join(HEADER) + "\n"
        'r1|9990000018|"A81001|2020-01-01|\n'
        "r2|9990000026|A81001|2021-01-01|\n",
        encoding="utf-8",
    )
    staged, result = _staged(tmp_path, path)
    assert [(r.line, r.reason, r.column) for r in result.rejects] == [
        (2, "wrong_field_count", "PRACTICE_CODE")
    ]
    assert [r["REG_ID"] for r in staged] == ["r2"]


def test_lower_case_headers_with_spaces_are_renamed_to_the_layouts_names(tmp_path):
    rows = [
        ["reg id", "nhs_number", "Practice Code", "registration_start", "Registration_End"],
        ["r1", "9990000018", "A81001", "2020-01-01", ""],
    ]
    staged, _ = _staged(tmp_path, _file(tmp_path, "regs.csv", rows))
    assert set(staged[0]) == {*HEADER, "_line"}
    assert staged[0]["PRACTICE_CODE"] == "A81001"


def test_a_header_that_does_not_split_says_which_delimiter_to_set(tmp_path):
    rows = [HEADER, ["r1", "9990000018", "A81001", "2020-01-01", ""]]
    path = _file(tmp_path, "regs.csv", rows, "|")
    with pytest.raises(IngestError) as err:
        _staged(tmp_path, path)
    message = str(err.value)
    assert "regs.csv: line 1 (the header) does not split into columns at ','" in message
    assert 'pipe-separated; set delimiter = "|"' in message
    tabbed = _file(tmp_path, "tabbed.csv", rows, "\t")
    with pytest.raises(IngestError, match=r'tab-separated; set delimiter = "\\t"'):
        _staged(tmp_path, tabbed)


def test_uk_and_compact_dates_become_iso_in_the_order_the_formats_are_given(tmp_path):
    rows = [
        HEADER,
        ["r1", "9990000018", "A81001", "04/06/2023", "5/7/2023"],
        ["r2", "9990000026", "A81001", "20230604", ""],
        ["r3", "9990000034", "A81001", "2023-06-04", ""],  # ISO stays as it is
        ["r4", "9990000042", "A81001", "31/02/2023", ""],  # no such day: left for the checks
        ["r5", "9990000050", "A81001", "2023064", ""],  # not 8 digits: left for the checks
    ]
    path = _file(tmp_path, "regs.csv", rows)
    staged, result = _staged(tmp_path, path, date_formats=["%d/%m/%Y", "%Y%m%d"])
    assert [(r["REGISTRATION_START"], r["REGISTRATION_END"]) for r in staged] == [
        ("2023-06-04", "2023-07-05"),
        ("2023-06-04", None),
        ("2023-06-04", None),
        ("31/02/2023", None),
        ("2023064", None),
    ]
    assert _quarantined(tmp_path, result) == [
        (5, "REGISTRATION_START", "invalid_date"),
        (6, "REGISTRATION_START", "invalid_date"),
    ]


def test_uk_dates_without_the_setting_are_invalid_dates_at_their_lines(tmp_path):
    rows = [HEADER, ["r1", "9990000018", "A81001", "04/06/2023", ""]]
    _, result = _staged(tmp_path, _file(tmp_path, "regs.csv", rows))
    assert _quarantined(tmp_path, result) == [(2, "REGISTRATION_START", "invalid_date")]


def test_month_names_are_read_whatever_their_case(tmp_path):
    rows = [HEADER, ["r1", "9990000018", "A81001", "04-JUN-2023", "01-jan-2024"]]
    path = _file(tmp_path, "regs.csv", rows)
    staged, _ = _staged(tmp_path, path, date_formats=["%d-%b-%Y"])
    assert (staged[0]["REGISTRATION_START"], staged[0]["REGISTRATION_END"]) == (
        "2023-06-04",
        "2024-01-01",
    )


def test_sql_server_date_times_become_dates_with_no_setting(tmp_path):
    rows = [
        HEADER,
        ["r1", "9990000018", "A81001", "2023-06-04 00:00:00.000", "2024-01-31T23:59:59Z"],
        ["r2", "9990000026", "A81001", "2023-06-04 10:30", "2024-01-31T00:00:00+01:00"],
    ]
    staged, result = _staged(tmp_path, _file(tmp_path, "regs.csv", rows))
    assert [(r["REGISTRATION_START"], r["REGISTRATION_END"]) for r in staged] == [
        ("2023-06-04", "2024-01-31"),
        ("2023-06-04", "2024-01-31"),
    ]
    assert _quarantined(tmp_path, result) == []


def test_date_time_columns_become_iso_date_times(tmp_path):
    feed = LAYOUTS["costing_feed"]
    values = {c: "" for c in feed.columns} | {
        "RECORD_ID": "f1",
        "ACTIVITY_START": "2023-06-04 10:30:15.250",
        "ACTIVITY_END": "04/06/2023 11:45",
    }
    path = tmp_path / "feed.csv"
    path.write_text(",".join(values) + "\n" + ",".join(values.values()) + "\n")
    staged, _ = _staged(tmp_path, path, layout="costing_feed", date_formats=["%d/%m/%Y %H:%M"])
    assert (staged[0]["ACTIVITY_START"], staged[0]["ACTIVITY_END"]) == (
        "2023-06-04T10:30:15",
        "2023-06-04T11:45:00",
    )


def test_null_tokens_are_no_value_in_every_column_beside_the_layouts_own(tmp_path):
    apc = LAYOUTS["hes_apc"]
    values = {c: "" for c in apc.columns} | {
        "EPIKEY": "e1",
        "SEX": "NULL",
        "DIAG_4_01": "N/A",
        "DISDATE": "1800-01-01",  # HES's own null date
        "OPERTN_4_01": "-",  # OPCS-4's "no operation"
        "MAINSPEF": "NULLS",  # not the token: kept
    }
    path = tmp_path / "apc.csv"
    path.write_text(",".join(values) + "\n" + ",".join(values.values()) + "\n")
    staged, _ = _staged(tmp_path, path, layout="hes_apc", null_values=["NULL", "N/A"])
    row = staged[0]
    assert (row["SEX"], row["DIAG_4_01"], row["DISDATE"], row["OPERTN_4_01"]) == (None,) * 4
    assert row["MAINSPEF"] == "NULLS"
    unset, _ = _staged(tmp_path, path, layout="hes_apc")
    assert (unset[0]["SEX"], unset[0]["DIAG_4_01"]) == ("NULL", "N/A")


OMOP_PERSON = ["person_id", "gender_source_value", "year_of_birth", "month_of_birth"]


def test_an_omop_table_delivered_as_csv_is_read_as_csv(tmp_path):
    # OMOP CDM v5.4 person, as the CSV release writes it (pandas writes integers as N.0)
    rows = [
        [*OMOP_PERSON, "person_source_value", "gender_concept_id"],
        ["1", "M", "1950", "7", "p-1", "8507.0"],
        ["2", "F", "1961.0", "", "p-2", "8532"],
    ]
    staged, result = _staged(tmp_path, _file(tmp_path, "person.csv", rows), layout="omop_person")
    assert result.rejects == []
    assert [(r["person_id"], r["gender_concept_id"], r["year_of_birth"]) for r in staged] == [
        ("1", "8507.0", "1950"),
        ("2", "8532", "1961.0"),
    ]


def test_a_parquet_file_with_float_ids_dates_and_timestamps_is_staged_as_csv_text(tmp_path):
    # OMOP CDM v5.4 visit_occurrence with ids held as doubles, as some exports write them
    table = pa.table(
        {
            "visit_occurrence_id": pa.array([1.0, 2.0], pa.float64()),
            "person_id": pa.array([65363002.0, 7.0], pa.float64()),
            "visit_concept_id": pa.array([9201, 9203], pa.int64()),
            "visit_start_date": pa.array([dt.date(2023, 6, 4), dt.date(2023, 7, 1)]),
            "visit_end_date": pa.array(
                [dt.datetime(2023, 6, 9, 0, 0), dt.datetime(2023, 7, 1, 16, 5)],
                pa.timestamp("ms"),
            ),
            "care_site_id": pa.array([3.5, None], pa.float64()),
            "visit_source_value": pa.array(["IP", "ER"]),
        }
    )
    path = tmp_path / "visits.parquet"
    pq.write_table(table, path)
    staged, _ = _staged(tmp_path, path, layout="omop_visit_occurrence")
    assert [
        (r["visit_occurrence_id"], r["person_id"], r["visit_start_date"], r["visit_end_date"])
        for r in staged
    ] == [("1", "65363002", "2023-06-04", "2023-06-09"), ("2", "7", "2023-07-01", "2023-07-01")]
    assert [r["care_site_id"] for r in staged] == ["3.5", None]  # not whole: as it is
