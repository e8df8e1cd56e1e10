"""Which header holds each layout column: configured name, own name, alias; case and
spaces ignored; every missing column listed at once."""

from pathlib import Path

import pytest

from openphm.ingest.layouts import Layout
from openphm.ingest.reader import IngestError, resolve_columns

LAYOUT = Layout(
    "demo",
    "a layout for the test",
    "KEY",
    ("KEY", "NHS", "START_DATE", "CODE"),
    optional=("LSOA21",),
    aliases={"NHS": ("PSEUDO_HESID",), "LSOA21": ("LSOA11",)},
)
FILE = Path("extract.csv")


def test_headers_match_whatever_their_case_and_spaces():
    found = ["key", "Start Date", "nhs", "code"]
    assert resolve_columns(FILE, found, LAYOUT) == {
        "key": "KEY",
        "Start Date": "START_DATE",
        "nhs": "NHS",
        "code": "CODE",
    }


def test_an_alias_is_used_when_the_layout_name_is_absent_and_the_configured_name_wins():
    found = ["KEY", "PSEUDO_HESID", "START_DATE", "DIAG", "LSOA11"]
    mapping = resolve_columns(FILE, found, LAYOUT, {"CODE": "Diag"})
    assert mapping["PSEUDO_HESID"] == "NHS"
    assert mapping["LSOA11"] == "LSOA21"
    assert mapping["DIAG"] == "CODE"


def test_every_missing_column_is_listed_with_the_closest_header_and_the_setting():
    with pytest.raises(IngestError) as err:
        resolve_columns(FILE, ["KEY", "STRT_DATE", "other"], LAYOUT)
    message = str(err.value)
    assert "3 required column(s)" in message
    assert "'START_DATE' (did you mean 'STRT_DATE'?)" in message
    assert "'NHS'" in message and "'CODE'" in message
    assert 'columns = { LAYOUT_COLUMN = "FILE HEADER" }' in message


def test_a_configured_column_the_layout_does_not_have_is_named():
    with pytest.raises(IngestError, match="NOT_A_COLUMN"):
        resolve_columns(FILE, ["KEY", "NHS", "START_DATE", "CODE"], LAYOUT, {"NOT_A_COLUMN": "x"})


def test_a_file_without_a_header_is_named_without_echoing_its_first_row():
    first_row = ["e1", "9990000018", "2024-01-02", "38341003"]
    with pytest.raises(IngestError) as err:
        resolve_columns(FILE, first_row, LAYOUT)
    message = str(err.value)
    assert "line 1 holds values, not column names (3 of its 4 fields" in message
    assert "needs a header line of column names (openphm layouts demo lists them)" in message
    assert not any(value in message for value in first_row)
