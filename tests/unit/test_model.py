"""Tests for the canonical data model (openphm.model)."""

from __future__ import annotations

import dataclasses
import re

import ibis
import ibis.expr.datatypes as dt
import pytest

from openphm import model
from openphm.model import (
    ACTIVITY_TYPES,
    ACTIVITY_UNITS,
    ADMISSION_METHODS,
    AGE_BANDS_ESP2013,
    DIAGNOSIS_CODE_SYSTEMS,
    DISCHARGE_DESTINATIONS,
    EMERGENCY_ADMISSION_METHODS,
    ETHNIC_CATEGORIES,
    GP_EVENT_CODE_SYSTEMS,
    HES_ETHNIC_CATEGORIES,
    ORGANISATION_KINDS,
    PROCEDURE_CODE_SYSTEMS,
    SETTINGS,
    SEX_CODES,
    TABLES,
    Column,
    TableSpec,
    describe,
    table_spec,
)

# The design: table -> columns in order.
DESIGN_COLUMNS = {
    "person": [
        "person_id",
        "year_of_birth",
        "month_of_birth",
        "sex",
        "ethnic_category",
        "lsoa_code",
        "date_of_death",
    ],
    "registration": ["person_id", "practice_code", "start_date", "end_date"],
    "encounter": [
        "encounter_id",
        "person_id",
        "setting",
        "provider_code",
        "start_date",
        "end_date",
        "admission_method",
        "is_emergency",
        "treatment_function",
        "discharge_destination",
        "hrg",
    ],
    "diagnosis": ["encounter_id", "person_id", "position", "code_system", "code"],
    "procedure": [
        "encounter_id",
        "person_id",
        "position",
        "code_system",
        "code",
        "procedure_date",
    ],
    "gp_event": ["person_id", "event_date", "code_system", "code", "value"],
    "activity": [
        "activity_id",
        "encounter_id",
        "provider_code",
        "activity_type",
        "quantity",
        "unit",
        "weight",
        "activity_date",
    ],
    "ledger": [
        "provider_code",
        "cost_centre",
        "expense_type",
        "resource",
        "activity_type",
        "amount_pence",
    ],
    "organisation": [
        "code",
        "kind",
        "name",
        "parent_code",
        "valid_from",
        "valid_to",
        "successor_code",
    ],
    "area": ["lsoa_code", "imd_decile", "age_band", "sex", "population"],
}

# The design: table -> the columns that may be null (all others are NOT NULL).
DESIGN_NULLABLE = {
    "person": {"date_of_death", "lsoa_code"},  # LSOA unknown for people of no fixed abode
    "registration": {"end_date"},
    "encounter": {
        "end_date",
        "admission_method",
        "treatment_function",
        "discharge_destination",
        "hrg",
    },
    "diagnosis": set(),
    "procedure": {"procedure_date"},
    "gp_event": {"value"},
    "activity": {"encounter_id"},
    "ledger": {"activity_type"},
    "organisation": {"parent_code", "valid_to", "successor_code"},
    "area": set(),
}


# ---------------------------------------------------------------------------- tables & columns


# Tables the code taught us we need beyond the design's (ingest, issue 4).
EXTENSION_TABLES = {"episode", "overhead_basis", "lsoa"}


def test_tables_are_the_design_tables_in_design_order_plus_extensions():
    assert [t for t in TABLES if t in DESIGN_COLUMNS] == list(DESIGN_COLUMNS)
    assert set(TABLES) - set(DESIGN_COLUMNS) == EXTENSION_TABLES


@pytest.mark.parametrize("table", list(DESIGN_COLUMNS))
def test_table_starts_with_the_design_columns_in_order(table):
    spec = table_spec(table)
    assert spec.name == table
    assert list(spec.names[: len(DESIGN_COLUMNS[table])]) == DESIGN_COLUMNS[table]


@pytest.mark.parametrize("table", list(DESIGN_NULLABLE))
def test_design_columns_are_nullable_exactly_as_designed(table):
    spec = table_spec(table)
    design = set(DESIGN_COLUMNS[table])
    assert {c.name for c in spec.columns if c.nullable and c.name in design} == DESIGN_NULLABLE[
        table
    ]
    schema = spec.schema()
    assert {n for n, t in schema.items() if t.nullable and n in design} == DESIGN_NULLABLE[table]


def test_grains():
    assert {name: spec.grain for name, spec in TABLES.items()} == {
        "person": "person",
        "registration": "GP registration period",
        "encounter": "contact or spell, any setting",
        "diagnosis": "coded diagnosis on an encounter",
        "procedure": "coded procedure",
        "gp_event": "coded primary-care observation",
        "activity": "costable resource use",
        "ledger": "cost-ledger line",
        "organisation": "organisation over a validity period",
        "area": "LSOA, age band and sex",
        "episode": "consultant episode of a hospital spell",
        "overhead_basis": "cost centre and apportionment basis",
        "lsoa": "LSOA",
    }


def test_every_table_and_column_is_documented_on_one_line():
    for spec in TABLES.values():
        assert spec.description.strip()
        for col in spec.columns:
            assert col.description.strip(), (spec.name, col.name)
            assert "\n" not in col.description, (spec.name, col.name)


def test_all_names_are_lower_snake_case():
    pattern = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
    for spec in TABLES.values():
        assert pattern.match(spec.name)
        for name in spec.names:
            assert pattern.match(name), (spec.name, name)


def test_no_raw_nhs_number_in_the_canonical_model():
    for spec in TABLES.values():
        for name in spec.names:
            assert "nhs" not in name, (spec.name, name)


def test_person_id_is_a_non_null_string_wherever_it_appears():
    tables = [spec for spec in TABLES.values() if "person_id" in spec.names]
    assert {s.name for s in tables} == {
        "person",
        "registration",
        "encounter",
        "diagnosis",
        "procedure",
        "gp_event",
        "episode",
        "activity",
    }
    for spec in tables:
        assert spec.schema()["person_id"] == dt.String(nullable=False), spec.name


# -------------------------------------------------------------------------------------- schemas


def test_person_schema_exactly():
    expected = ibis.schema(
        {
            "person_id": "!string",
            "year_of_birth": "!int16",
            "month_of_birth": "!int8",
            "sex": "!string",
            "ethnic_category": "!string",
            "lsoa_code": "string",
            "date_of_death": "date",
        }
    )
    assert table_spec("person").schema() == expected


@pytest.mark.parametrize(
    ("table", "column", "expected"),
    [
        ("ledger", "amount_pence", dt.Int64(nullable=False)),
        ("person", "date_of_death", dt.Date(nullable=True)),
        ("person", "person_id", dt.String(nullable=False)),
        ("person", "year_of_birth", dt.Int16(nullable=False)),
        ("person", "month_of_birth", dt.Int8(nullable=False)),
        ("encounter", "is_emergency", dt.Boolean(nullable=False)),
        ("encounter", "end_date", dt.Date(nullable=True)),
        ("diagnosis", "position", dt.Int16(nullable=False)),
        ("procedure", "position", dt.Int16(nullable=False)),
        ("gp_event", "value", dt.Float64(nullable=True)),
        ("activity", "quantity", dt.Float64(nullable=False)),
        ("activity", "weight", dt.Float64(nullable=False)),
        ("activity", "encounter_id", dt.String(nullable=True)),
        ("area", "imd_decile", dt.Int8(nullable=False)),
        ("area", "population", dt.Int64(nullable=False)),
        ("organisation", "valid_to", dt.Date(nullable=True)),
    ],
)
def test_schema_dtypes(table, column, expected):
    actual = table_spec(table).schema()[column]
    assert actual == expected
    assert actual.nullable == expected.nullable


def test_money_columns_are_int64():
    money = [
        (spec.name, col)
        for spec in TABLES.values()
        for col in spec.columns
        if col.name.endswith("_pence") or "amount" in col.name
    ]
    assert money, "expected at least one money column"
    for table, col in money:
        assert col.dtype == "int64", (table, col.name)


@pytest.mark.parametrize("table", list(DESIGN_COLUMNS))
def test_schema_builds_an_ibis_table(table):
    t = ibis.table(table_spec(table).schema(), name=table)
    assert list(t.columns) == list(table_spec(table).names)
    assert list(t.columns[: len(DESIGN_COLUMNS[table])]) == DESIGN_COLUMNS[table]


# --------------------------------------------------------------------------------- closed sets


def test_sex_codes():
    assert set(SEX_CODES) == {"1", "2", "9", "X"}
    assert SEX_CODES["1"] == "Male"
    assert SEX_CODES["2"] == "Female"
    assert table_spec("person").column("sex").allowed == SEX_CODES
    assert table_spec("area").column("sex").allowed == SEX_CODES


def test_settings():
    assert set(SETTINGS) == {
        "gp",
        "apc",
        "op",
        "ae",
        "community",
        "mental_health",
        "ambulance",
        "social_care",
    }
    assert table_spec("encounter").column("setting").allowed == SETTINGS


def test_ethnic_categories():
    assert list(ETHNIC_CATEGORIES) == [*"ABCDEFGHJKLMNPRSZ", "99"]
    assert ETHNIC_CATEGORIES["A"] == "White - British"
    assert table_spec("person").column("ethnic_category").allowed == ETHNIC_CATEGORIES
    # HES ETHNOS as delivered: the categories, HES's X (not known) and the codes of years
    # before 2001-02 (9: not given), as NHS Digital's artificial HES 2001-02 carries them.
    assert set(HES_ETHNIC_CATEGORIES) == set(ETHNIC_CATEGORIES) | {"X", *"0123456789"}


def test_admission_methods():
    assert list(ADMISSION_METHODS) == [
        "11",
        "12",
        "13",
        "21",
        "22",
        "23",
        "24",
        "25",
        "2A",
        "2B",
        "2C",
        "2D",
        "28",
        "31",
        "32",
        "81",
        "82",
        "83",
        "84",
        "89",
        "98",  # not applicable
        "99",  # not known: a valid value, not an error
    ]
    assert table_spec("encounter").column("admission_method").allowed == ADMISSION_METHODS
    assert {
        "21",
        "22",
        "23",
        "24",
        "25",
        "2A",
        "2B",
        "2C",
        "2D",
        "28",
    } == EMERGENCY_ADMISSION_METHODS


def test_discharge_destinations():
    assert list(DISCHARGE_DESTINATIONS) == [
        "19",
        "29",
        "30",
        "37",
        "38",
        "48",
        "49",
        "50",
        "51",
        "52",
        "53",
        "54",
        "65",
        "66",
        "79",
        "84",
        "85",
        "87",
        "88",
        "98",
        "99",
    ]
    col = table_spec("encounter").column("discharge_destination")
    assert col.allowed == DISCHARGE_DESTINATIONS


@pytest.mark.parametrize(
    ("table", "column", "constant", "codes"),
    [
        ("diagnosis", "code_system", DIAGNOSIS_CODE_SYSTEMS, {"icd10", "snomed"}),
        ("procedure", "code_system", PROCEDURE_CODE_SYSTEMS, {"opcs4", "snomed"}),
        ("gp_event", "code_system", GP_EVENT_CODE_SYSTEMS, {"snomed", "ctv3", "read2"}),
        (
            "activity",
            "activity_type",
            ACTIVITY_TYPES,
            {
                "ward_stay",
                "theatre",
                "critical_care",
                "pathology",
                "imaging",
                "pharmacy",
                "contact",
            },
        ),
        ("ledger", "activity_type", ACTIVITY_TYPES, set(ACTIVITY_TYPES)),
        ("activity", "unit", ACTIVITY_UNITS, {"minutes", "tests", "items", "days", "contacts"}),
        (
            "organisation",
            "kind",
            ORGANISATION_KINDS,
            {"practice", "pcn", "sub_icb", "icb", "region", "provider"},
        ),
    ],
)
def test_closed_sets_reused_by_columns(table, column, constant, codes):
    assert set(constant) == codes
    assert table_spec(table).column(column).allowed == constant


def test_closed_set_meanings_are_non_empty_labels():
    for spec in TABLES.values():
        for col in spec.columns:
            if col.allowed is None:
                continue
            for code, meaning in col.allowed.items():
                assert code and meaning.strip(), (spec.name, col.name, code)
                assert "\n" not in meaning


def test_esp2013_age_bands():
    assert len(AGE_BANDS_ESP2013) == 19
    assert AGE_BANDS_ESP2013[0] == "0-4"
    assert AGE_BANDS_ESP2013[-1] == "90+"
    assert AGE_BANDS_ESP2013[-2] == "85-89"
    # contiguous five-year bands
    for i, band in enumerate(AGE_BANDS_ESP2013[:-1]):
        low, high = (int(x) for x in band.split("-"))
        assert (low, high) == (5 * i, 5 * i + 4)


def test_area_age_band_allowed_values_are_the_esp_bands_in_order():
    allowed = table_spec("area").column("age_band").allowed
    assert tuple(allowed) == AGE_BANDS_ESP2013


def test_closed_sets_are_read_only():
    with pytest.raises(TypeError):
        SEX_CODES["3"] = "Other"  # type: ignore[index]
    with pytest.raises(TypeError):
        TABLES["extra"] = TABLES["person"]  # type: ignore[index]


# ------------------------------------------------------------------------- immutability, API


def test_column_and_table_spec_are_frozen_and_hashable():
    col = table_spec("person").column("sex")
    with pytest.raises(dataclasses.FrozenInstanceError):
        col.nullable = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        table_spec("person").columns = ()  # type: ignore[misc]
    assert hash(col) == hash(col)
    assert len({spec for spec in TABLES.values()}) == len(TABLES)


def test_column_freezes_a_dict_of_allowed_values():
    source = {"a": "A"}
    col = Column("x", "string", "x", allowed=source)
    source["b"] = "B"
    assert dict(col.allowed) == {"a": "A"}
    with pytest.raises(TypeError):
        col.allowed["c"] = "C"  # type: ignore[index]


def test_column_accepts_pairs_for_allowed_values():
    col = Column("x", "string", "x", allowed=(("a", "A"), ("b", "B")))
    assert list(col.allowed.items()) == [("a", "A"), ("b", "B")]
    assert col == Column("x", "string", "x", allowed={"a": "A", "b": "B"})
    assert hash(col) == hash(Column("x", "string", "x", allowed={"a": "A", "b": "B"}))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "Bad", "dtype": "string", "description": "d"},
        {"name": "x", "dtype": "not_a_type", "description": "d"},
        {"name": "x", "dtype": "!string", "description": "d"},
        {"name": "x", "dtype": "string", "description": ""},
        {"name": "x", "dtype": "string", "description": "two\nlines"},
        {"name": "x", "dtype": "int8", "description": "d", "allowed": {"1": "one"}},
        {"name": "x", "dtype": "string", "description": "d", "allowed": {}},
    ],
)
def test_invalid_column_declarations_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Column(**kwargs)


def test_duplicate_column_names_are_rejected():
    col = Column("x", "string", "x")
    with pytest.raises(ValueError, match="duplicate column 'x'"):
        TableSpec("t", "thing", "things", (col, col))


def test_table_spec_columns_given_as_list_are_stored_as_tuple():
    spec = TableSpec("t", "thing", "things", [Column("x", "string", "x")])  # type: ignore[arg-type]
    assert isinstance(spec.columns, tuple)
    assert spec.schema() == ibis.schema({"x": "!string"})


def test_unknown_table_error_names_it_and_lists_known_tables():
    with pytest.raises(KeyError) as excinfo:
        table_spec("patient")
    message = excinfo.value.args[0]
    assert "'patient'" in message
    for name in DESIGN_COLUMNS:
        assert name in message


def test_unknown_column_error_names_table_column_and_alternatives():
    with pytest.raises(KeyError) as excinfo:
        table_spec("registration").column("gp_code")
    message = excinfo.value.args[0]
    assert "'registration'" in message
    assert "'gp_code'" in message
    for name in DESIGN_COLUMNS["registration"]:
        assert name in message


def test_column_lookup_returns_the_declared_column():
    col = table_spec("ledger").column("amount_pence")
    assert (col.name, col.dtype, col.nullable) == ("amount_pence", "int64", False)


# ------------------------------------------------------------------------------------ describe


@pytest.mark.parametrize("table", list(DESIGN_COLUMNS))
def test_describe_one_table_mentions_every_column(table):
    text = describe(table)
    spec = table_spec(table)
    assert f"Table: {table}" in text
    assert spec.grain in text
    for col in spec.columns:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"- {col.name} ("))
        assert col.dtype in line
        assert ("nullable" if col.nullable else "not null") in line
        assert col.description in line
    # only this table
    others = [n for n in DESIGN_COLUMNS if n != table]
    assert not any(f"Table: {n}\n" in text for n in others)


def test_describe_lists_allowed_values_as_code_equals_meaning():
    text = describe("person")
    assert "1=Male" in text
    assert "2=Female" in text
    assert "9=Indeterminate" in text
    assert "X=Not known" in text
    assert "99=Not known" in text
    enc = describe("encounter")
    for code in ADMISSION_METHODS:
        assert f"{code}={ADMISSION_METHODS[code]}" in enc
    assert "0-4=" in describe("area") and "90+=" in describe("area")


def test_describe_all_covers_every_table_in_order():
    text = describe()
    positions = [text.index(f"Table: {name}\n") for name in DESIGN_COLUMNS]
    assert positions == sorted(positions)
    for name in DESIGN_COLUMNS:
        assert describe(name).strip() in text


def test_describe_unknown_table_raises():
    with pytest.raises(KeyError, match="nope"):
        describe("nope")


def test_public_api_is_exported():
    for name in model.__all__:
        assert hasattr(model, name), name
