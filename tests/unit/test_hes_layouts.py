"""The HES layouts read HES as NHS Digital publishes it and SUS+ as NCDR names it."""

from __future__ import annotations

import csv
from pathlib import Path

import ibis
import pytest

from openphm.ingest.canonical import MAPPERS
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.reader import resolve_columns

EXCERPT = Path(__file__).parents[1] / "data" / "artificial_hes"


def _header(name: str) -> list[str]:
    with open(EXCERPT / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


@pytest.mark.parametrize(
    ("layout", "required"),
    [
        ("hes_apc", {"EPIKEY", "PROCODE3", "NEWNHSNO", "ADMIDATE", "EPISTART"}),
        ("hes_op", {"ATTENDKEY", "PROCODE3", "NEWNHSNO", "APPTDATE"}),
        ("hes_ae", {"AEKEY", "PROCODE3", "NEWNHSNO", "ARRIVALDATE"}),
    ],
)
def test_only_what_a_record_cannot_be_used_without_is_required(layout, required):
    # The record key, the provider, the activity date and the person key.
    assert set(LAYOUTS[layout].columns) == required


@pytest.mark.parametrize("name", ["apc", "op", "ae"])
def test_the_artificial_hes_headers_resolve_with_no_columns_setting(name):
    layout = LAYOUTS[f"hes_{name}"]
    mapping = resolve_columns(EXCERPT / f"{name}.csv", _header(name), layout)
    by_column = {column: header for header, column in mapping.items()}
    assert by_column["NEWNHSNO"] == "PSEUDO_HESID"
    assert by_column["LSOA11"] == "LSOA11" and by_column["LSOA01"] == "LSOA01"
    assert "LSOA21" not in by_column and "DOB" not in by_column
    assert "HOMEADD" not in by_column  # HES publishes no postcode
    if name == "apc":
        assert by_column["MYDOB"] == "MYDOB"
        assert "PROVSPNOPS" not in by_column


def test_sus_plus_names_resolve_through_aliases():
    found = [
        "APCE_Ident",
        "Der_Provider_Code",
        "Der_Pseudo_NHS_Number",
        "Admission_Date",
        "Episode_Start_Date",
        "Episode_End_Date",
        "Discharge_Date",
        "Admission_Method",
        "Patient_Classification",
        "Treatment_Function_Code",
        "Ethnic_Group",
        "Der_Postcode_LSOA_2011_Code",
        "GP_Practice_Code",
        "Der_Spell_ID",
        "Der_Primary_Diagnosis_Code",
    ]
    mapping = resolve_columns(Path("apce.csv"), found, LAYOUTS["hes_apc"])
    assert mapping == {
        "APCE_Ident": "EPIKEY",
        "Der_Provider_Code": "PROCODE3",
        "Der_Pseudo_NHS_Number": "NEWNHSNO",
        "Admission_Date": "ADMIDATE",
        "Episode_Start_Date": "EPISTART",
        "Episode_End_Date": "EPIEND",
        "Discharge_Date": "DISDATE",
        "Admission_Method": "ADMIMETH",
        "Patient_Classification": "CLASSPAT",
        "Treatment_Function_Code": "TRETSPEF",
        "Ethnic_Group": "ETHNOS",
        "Der_Postcode_LSOA_2011_Code": "LSOA11",
        "GP_Practice_Code": "GPPRAC",
        "Der_Spell_ID": "PROVSPNOPS",
        "Der_Primary_Diagnosis_Code": "DIAG_4_01",
    }


@pytest.mark.parametrize(
    "layout",
    ["hes_apc", "hes_op", "hes_ae", "hes_diagnoses_long", "hes_procedures_long"],
)
def test_every_column_a_hes_mapper_reads_is_a_column_of_its_layout(layout):
    # The reader gives a file every layout column (an absent optional one as NULL), and
    # nothing else: a mapper that read any other column would fail here.
    columns = LAYOUTS[layout].all_columns
    empty = ibis.table({c: "string" for c in (*columns, "_line")}, name="staged")
    tables = MAPPERS[layout](empty, "source")
    assert tables  # built without an unknown column
