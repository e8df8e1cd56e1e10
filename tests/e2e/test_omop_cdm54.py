"""A hand-built OMOP CDM v5.4 database (tests/data/omop_cdm54, written from the CDM
specification) through ingest and link, as CSV with ``.0`` ids and as Parquet written
from the same rows: what an analyst with a UK OMOP conversion would see."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openphm import runner
from openphm.ingest import stage as ingest_stage
from openphm.link import pseudonym
from openphm.link import stage as link_stage
from openphm.workspace import Workspace

DATA = Path(__file__).parents[1] / "data" / "omop_cdm54"
KEY = "omop-cdm-test-key-not-for-real-data-0123"
TABLES = (
    "person",
    "death",
    "observation_period",
    "location",
    "care_site",
    "provider",
    "visit_occurrence",
    "visit_detail",
    "condition_occurrence",
    "procedure_occurrence",
    "concept",
    "cost",
)
DEAD = "9990000034"  # person 4, died 2001-05-20 (written '999 000 0034')
TEXT_IDS = ("cost_domain_id", "domain_id", "vocabulary_id", "concept_class_id")  # varchar
NUMBERED = {"1": "9990000018", "2": "9990000026", "4": DEAD, "42": "9990000042"}


def _as_parquet(folder: Path) -> None:
    """Each CSV as Parquet with the CDM's types: ids and concept ids int64, years, months
    and days int32, dates date32, the rest text (as a database export writes it)."""
    for table in TABLES:
        frame = pd.read_csv(DATA / f"{table}.csv", dtype=str, keep_default_na=False)
        columns = {}
        for name in frame.columns:
            values = [None if v == "" else v for v in frame[name]]
            numeric = name.endswith("_id") and name not in TEXT_IDS
            if numeric or name in ("year_of_birth", "month_of_birth", "day_of_birth"):
                number = pd.to_numeric(pd.Series(values, dtype="object")).astype("Int64")
                columns[name] = pa.array(number, type=pa.int64() if numeric else pa.int32())
            elif name.endswith("_date") and table != "concept":
                days = [None if v is None else date.fromisoformat(v) for v in values]
                columns[name] = pa.array(days, type=pa.date32())
            elif name.endswith("_datetime"):
                stamps = [None if v is None else datetime.fromisoformat(v) for v in values]
                columns[name] = pa.array(stamps, type=pa.timestamp("us"))
            else:
                columns[name] = pa.array(values, type=pa.string())
        pq.write_table(pa.table(columns), folder / f"{table}.parquet")


def _workspace(
    root: Path, folder: str, extension: str, url: str = "duckdb://warehouse.duckdb"
) -> Workspace:
    Workspace.init(root)
    config = (root / "openphm.toml").read_text()
    config = config.replace('url = "duckdb://warehouse.duckdb"', f'url = "{url}"')
    config = config.replace(
        "[stages.link]", '[stages.ingest]\nextract_date = "2026-11-22"\n\n[stages.link]'
    )
    for table in TABLES:
        config += f'\n[sources.omop_{table}]\npath = "{folder}/{table}.{extension}"\n'
        config += f'layout = "omop_{table}"\n'
    (root / "openphm.toml").write_text(config)
    return Workspace(root)


def _staged(ws: Workspace, name: str) -> pd.DataFrame:
    return pq.read_table(ws.quarantine_dir / "ingest" / f"{name}.parquet").to_pandas()


def _run(root: Path, folder: str, extension: str):
    ws = _workspace(root, folder, extension)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENPHM_PSEUDONYM_KEY", KEY)
        ingested = runner.run_stage(ws, ingest_stage.STAGE)
        staged = {
            name: _staged(ws, name)
            for name in (
                "staged_identity",
                "staged_encounter",
                "staged_diagnosis",
                "staged_gp_event",
                "staged_procedure",
                "staged_registration",
            )
        }
        linked = runner.run_stage(ws, link_stage.STAGE)
    return ws, ingested, staged, linked


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{'csv': (ws, ingest summary, staged tables, link summary), 'parquet': ...}."""
    out = {}
    root = tmp_path_factory.mktemp("cdm")
    shutil.copytree(DATA, root / "csv_ws" / "omop")
    out["csv"] = _run(root / "csv_ws", "omop", "csv")
    (root / "parquet_ws" / "omop").mkdir(parents=True)
    _as_parquet(root / "parquet_ws" / "omop")
    out["parquet"] = _run(root / "parquet_ws", "omop", "parquet")
    yield out
    for ws, *_ in out.values():
        ws.close()


@pytest.fixture(params=["csv", "parquet"])
def run(request, runs):
    return runs[request.param]


def _values(column: pd.Series) -> dict:
    """A column as a dict, with None for a missing value (not NaN)."""
    return {k: None if pd.isna(v) else v for k, v in column.items()}


def _encounters(staged) -> pd.DataFrame:
    return staged["staged_encounter"].set_index("encounter_id").sort_index()


def test_every_row_is_accepted(run):
    _, ingested, _, _ = run
    files = {f["layout"]: f for f in ingested.counts["files"]}
    assert set(files) == {f"omop_{t}" for t in TABLES}
    for table in TABLES:
        rows = len(pd.read_csv(DATA / f"{table}.csv", dtype=str))
        f = files[f"omop_{table}"]
        assert (f["rows_read"], f["rows_accepted"], f["rows_quarantined"]) == (rows, rows, 0)


def test_the_person_who_died_has_a_date_of_death(run):
    ws, _, staged, _ = run
    identity = staged["staged_identity"].set_index("record_key")
    assert identity.loc["person:4", "nhs_number"] == DEAD
    assert identity.loc["person:4", "date_of_death"] == date(2001, 5, 20)
    assert identity.date_of_death.notna().sum() == 1
    person = ws.table("person").to_pandas().set_index("person_id")
    dead = pseudonym.of_nhs_numbers(KEY.encode(), [DEAD])[0]
    assert pd.Timestamp(person.loc[dead, "date_of_death"]) == pd.Timestamp(2001, 5, 20)
    assert person.date_of_death.notna().sum() == 1


def test_identity_rows_carry_nhs_numbers_places_and_practices(run):
    _, _, staged, _ = run
    identity = staged["staged_identity"].set_index("record_key").sort_index()
    keys = [f"person:{p}" for p in ("1", "2", "3", "4", "42", "5")]
    assert sorted(identity.index) == sorted(keys)
    numbers = identity.nhs_number.dropna().to_dict()
    assert numbers == {f"person:{k}": n for k, n in NUMBERED.items()}
    assert set(identity.source) == {"omop"}
    assert identity.loc["person:42", "date_of_birth"] == date(1960, 5, 5)
    assert identity.loc["person:2", "date_of_birth"] == date(1975, 7, 1)  # no day: the 1st
    lsoa = _values(identity.lsoa_code)
    assert lsoa == {
        "person:1": "E01011365",
        "person:2": "W01001234",
        "person:3": "E01012345",  # from county
        "person:4": None,
        "person:42": None,  # location_source_value 'Leeds' is no LSOA
        "person:5": None,
    }
    postcode = _values(identity.postcode)
    assert postcode["person:1"] == "LS1 4AP" and postcode["person:42"] == "LS2 9JT"
    assert postcode["person:3"] is None  # 'LS6' is a district, not a postcode
    practice = _values(identity.practice_code)
    assert practice == {
        "person:1": "B82001",
        "person:2": "B82001",
        "person:3": "B82002",  # written 'b82002'
        "person:4": "B82001",
        "person:42": None,  # a trust is no practice
        "person:5": None,
    }
    assert identity.loc["person:1", "record_date"] == date(2024, 3, 31)


def test_registrations_are_the_observation_periods_at_a_practice(run):
    _, _, staged, _ = run
    reg = staged["staged_registration"].sort_values(["record_key", "start_date"])
    got = [
        (r.record_key, r.practice_code, r.start_date, r.end_date)
        for r in reg.itertuples(index=False)
    ]
    assert got == [
        ("person:1", "B82001", date(2015, 1, 1), None),  # ends at the cut-off: ongoing
        ("person:2", "B82001", date(2010, 1, 1), date(2020, 12, 31)),
        ("person:2", "B82001", date(2021, 6, 1), None),
        ("person:3", "B82002", date(2019, 1, 1), None),
        ("person:4", "B82001", date(1995, 1, 1), date(2001, 5, 20)),
    ]


def test_settings_and_emergencies(run):
    _, _, staged, _ = run
    enc = _encounters(staged)
    got = {i: (r.setting, bool(r.is_emergency)) for i, r in enc.iterrows()}
    assert got == {
        "omop:101": ("apc", True),  # 9201 admitted from 8870
        "omop:102": ("op", False),
        "omop:103": ("gp", False),
        "omop:104": ("ae", True),  # 9203
        "omop:105": ("apc", True),  # 9201 the day person 2's ER visit ends
        "omop:106": ("apc", True),  # 262
        "omop:107": ("apc", False),  # elective
        "omop:108": ("apc", True),  # admitted from 'A&E'
        "omop:109": ("apc", True),  # a visit_detail in the ER
        "omop:110": ("community", False),  # unknown concept, care site without a place
        "omop:111": ("ae", True),  # concept 0 at an emergency room care site
        "omop:112": ("community", False),  # 581476
        "omop:113": ("op", False),
        "omop:114": ("apc", True),  # admitted_from_source_value '9203'
    }


def test_provider_code_is_never_null(run):
    ws, _, staged, _ = run
    enc = _encounters(staged)
    assert enc.provider_code.to_dict() == {
        "omop:101": "RR8",
        "omop:102": "RR801",
        "omop:103": "B82001",
        "omop:104": "RR8",
        "omop:105": "RR8",
        "omop:106": "RR8",  # no care site: its provider's
        "omop:107": "RR8",
        "omop:108": "care_site:30",  # 'Ward 7' is no ODS code
        "omop:109": "RR801",
        "omop:110": "care_site:30",
        "omop:111": "care_site:31",  # '12345' is a local number
        "omop:112": "unknown",  # a provider without a care site
        "omop:113": "unknown",
        "omop:114": "RR8",
    }
    encounter = ws.table("encounter").to_pandas()
    assert len(encounter) == 14 and encounter.provider_code.notna().all()


def test_unknown_visit_concepts_are_kept_and_noted(run):
    _, ingested, _, _ = run
    notes = ingested.notes
    assert any(n.startswith("OMOP: 2 visits have a visit_concept_id not in") for n in notes)
    assert any(n.startswith("OMOP: 1 people have no observation period") for n in notes)
    assert any(n.startswith("OMOP: 1 conditions have no SNOMED CT concept") for n in notes)
    assert any(n.startswith("OMOP: 1 conditions without a visit are coded only") for n in notes)
    assert len(notes) == 4


def test_diagnoses_in_icd10_and_snomed(run):
    _, _, staged, _ = run
    dx = staged["staged_diagnosis"].sort_values(["encounter_id", "position", "code_system"])
    got = [(r.encounter_id, r.position, r.code_system, r.code) for r in dx.itertuples()]
    assert got == [
        ("omop:101", 1, "icd10", "I10"),
        ("omop:101", 1, "snomed", "59621000"),  # the standard concept's code
        ("omop:101", 2, "icd10", "E119"),
        ("omop:101", 2, "snomed", "44054006"),
        ("omop:101", 3, "snomed", "22298006"),  # the source value
        ("omop:101", 4, "icd10", "E780"),  # the source concept's code
        ("omop:104", 1, "icd10", "J449"),
        ("omop:104", 1, "snomed", "13645005"),
        ("omop:105", 1, "icd10", "J18"),
        ("omop:113", 1, "snomed", "44054006"),
    ]
    history = staged["staged_gp_event"].sort_values("record_key")
    assert [(r.record_key, r.code) for r in history.itertuples()] == [
        ("person:3", "195967001"),  # a Read code's standard concept
        ("person:42", "44054006"),
    ]


def test_procedures(run):
    _, _, staged, _ = run
    proc = staged["staged_procedure"].sort_values(["encounter_id", "position"])
    got = [(r.encounter_id, r.position, r.code_system, r.code) for r in proc.itertuples()]
    assert got == [
        ("omop:101", 1, "opcs4", "K401"),
        ("omop:101", 2, "snomed", "71388002"),
        ("omop:107", 1, "opcs4", "W371"),
    ]


def test_link_keys_numbered_people_by_nhs_number(run):
    ws, _, _, _ = run
    enc = ws.table("encounter").to_pandas().set_index("encounter_id")
    expected = pseudonym.of_nhs_numbers(KEY.encode(), [NUMBERED["1"]])[0]
    assert enc.loc["omop:101", "person_id"] == expected
    assert enc.loc["omop:101", "link_method"] == "nhs_number"
    registration = ws.table("registration").to_pandas()
    by_practice = registration.groupby("practice_code").person_id.nunique().to_dict()
    assert by_practice == {"B82001": 3, "B82002": 1}


def test_both_formats_give_identical_staged_tables(runs):
    _, _, csv_staged, _ = runs["csv"]
    _, _, parquet_staged, _ = runs["parquet"]
    for name, table in csv_staged.items():
        other = parquet_staged[name]
        keys = list(table.columns)
        left = table.sort_values(keys).reset_index(drop=True)
        right = other[keys].sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=name)


def test_the_database_runs_through_every_stage(tmp_path):
    """End to end, as a user runs it: every stage, on the CSV export, exits 0; need is
    measured for its people; costs are unit-cost estimates (no ledgers); what could not be
    done (too little data to model risk, unmapped visit concepts) is said, not left empty."""
    from typer.testing import CliRunner

    from openphm.cli import app

    root = tmp_path / "ws"
    ws = _workspace(root, "omop", "csv")
    shutil.copytree(DATA, root / "omop")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENPHM_PSEUDONYM_KEY", KEY)
        result = CliRunner().invoke(app, ["run", "--dir", str(root)])
    assert result.exit_code == 0, result.output
    actions = [r["action"] for r in ws.audit.records()]
    assert actions[-1] == "stage:publish" and len(actions) == 7
    need = ws.table("person_need").to_pandas()
    people = ws.table("person").count().execute()
    assert people >= 6 and len(need) == people - 1  # who died in 2001 is not measured
    assert (need.ltc_count > 0).any()  # SNOMED and ICD-10 conditions count
    assert set(ws.table("cost_encounter").to_pandas().basis) == {"unit_cost"}
    notes = pd.read_csv(root / "published" / "stage_notes.csv")
    assert {"cost", "risk"} <= set(notes.stage)
    ws.close()
