"""Area populations from the lsoas source: ONS LSOA mid-year estimates, wide, into ``area``.

ONS publishes its LSOA population estimates one row per LSOA with a column per sex and
single year of age (F0 .. F90, M0 .. M90; 90 means 90 and over). The ``lsoas`` mapper
sums them into ESP 2013 five-year bands by NHS sex code: the ``area`` table the
measure stage takes denominators from when nobody is registered.
"""

from __future__ import annotations

import ibis
import pandas as pd

from openphm.ingest.canonical import lsoas
from openphm.ingest.layouts import LAYOUTS, POPULATION_COLUMNS
from openphm.model import AGE_BANDS_ESP2013, table_spec


def _file(rows: list[dict[str, str]]) -> ibis.Table:
    frame = pd.DataFrame(rows).astype(object)
    frame = frame.where(frame.notna(), None)
    return ibis.memtable(frame, schema={c: "string" for c in frame.columns})


def test_the_layout_reads_ons_population_columns_when_present():
    layout = LAYOUTS["lsoas"]
    assert set(layout.columns) == {"lsoa_code", "place_code", "imd_decile"}
    assert layout.optional[:2] == ("F0", "F1") and layout.optional[-1] == "M90"
    assert len(POPULATION_COLUMNS) == 2 * 91


def test_single_years_are_summed_into_bands_by_sex():
    con = ibis.duckdb.connect()
    row = {"lsoa_code": "E01000001", "place_code": "X1A", "imd_decile": "3"}
    row |= {f"F{a}": str(a) for a in range(91)}  # a woman's column holds her age
    row |= {f"M{a}": "1" for a in range(91)}
    row["M7"] = "2.0"  # whole numbers written with a decimal point still count
    area = con.to_pandas(lsoas(_file([row]), "lsoas")["area"])
    assert len(area) == 2 * len(AGE_BANDS_ESP2013)
    by = area.set_index(["sex", "age_band"]).population
    assert by[("2", "0-4")] == 0 + 1 + 2 + 3 + 4
    assert by[("2", "85-89")] == 85 + 86 + 87 + 88 + 89
    assert by[("2", "90+")] == 90  # ONS's 90 is 90 and over
    assert by[("1", "5-9")] == 6  # five ones, with M7 as 2
    assert by[("1", "90+")] == 1
    assert area.imd_decile.unique().tolist() == [3]
    assert tuple(area.columns) == table_spec("area").schema().names


def test_without_population_columns_there_is_no_area_table():
    con = ibis.duckdb.connect()
    out = lsoas(_file([{"lsoa_code": "E01000001", "place_code": "X1A", "imd_decile": "3"}]), "s")
    assert set(out) == {"lsoa"}
    assert con.to_pandas(out["lsoa"]).lsoa_code.tolist() == ["E01000001"]


def test_a_band_with_no_value_in_any_of_its_years_is_left_out_not_zero():
    con = ibis.duckdb.connect()
    row = {"lsoa_code": "E01000001", "place_code": "X1A", "imd_decile": "3"}
    row |= dict.fromkeys(POPULATION_COLUMNS, None)
    row |= {"F30": "12", "F31": "not a number"}
    area = con.to_pandas(lsoas(_file([row]), "lsoas")["area"])
    assert area[["sex", "age_band", "population"]].values.tolist() == [["2", "30-34", 12]]
