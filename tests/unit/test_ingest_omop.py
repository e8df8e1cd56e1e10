"""OMOP CDM input: the synthetic ICS's OMOP tables through ingest and link, checked
against the OMOP files themselves; and each mapper on a few rows."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openphm import codes, runner
from openphm.ingest import checks
from openphm.ingest import stage as ingest_stage
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.omop import (
    OMOP_SOURCE,
    VISIT_SETTINGS,
    omop_condition_occurrence,
    omop_person,
    omop_procedure_occurrence,
)
from openphm.link import pseudonym
from openphm.link import stage as link_stage
from openphm.synth import generate
from openphm.workspace import Workspace

KEY = "omop-test-key-not-for-real-data-0123456"  # 40 characters
TABLES = ("person", "visit_occurrence", "condition_occurrence", "procedure_occurrence", "cost")
# The OMOP visit concepts and the settings they stand for, written out independently of
# the module under test.
SETTING_OF = {
    9201: "apc",
    262: "apc",
    9202: "op",
    9203: "ae",
    581477: "gp",
    581476: "community",
    581478: "ambulance",
}
CASE_MANAGEMENT = 38004193  # a real visit concept with no setting here
BAD_VISIT_ID = 9 * 10**15  # ids of the rows added to the synthetic files
BAD_CONDITION_IDS = (9 * 10**15, 9 * 10**15 + 1)
BAD_PROCEDURE_ID = 9 * 10**15


def _append(path: Path, rows: list[dict]) -> None:
    """Rows added to an OMOP file, in its schema (columns not given are null)."""
    table = pq.read_table(path)
    extra = pa.table(
        {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in table.schema}
    )
    pq.write_table(pa.concat_tables([table, extra]), path)


def _dirty(omop: Path) -> None:
    """A visit of an unsupported concept with a diagnosis on it, a condition without a
    code, a procedure without a visit: each must be quarantined or dropped, not lost."""
    visits = pq.read_table(omop / "visit_occurrence.parquet").slice(0, 1).to_pylist()[0]
    person, day = visits["person_id"], visits["visit_start_date"]
    _append(
        omop / "visit_occurrence.parquet",
        [{**visits, "visit_occurrence_id": BAD_VISIT_ID, "visit_concept_id": CASE_MANAGEMENT}],
    )
    condition = {"person_id": person, "condition_start_date": day, "condition_concept_id": 0}
    _append(
        omop / "condition_occurrence.parquet",
        [
            {**condition, "condition_occurrence_id": BAD_CONDITION_IDS[0]}
            | {"visit_occurrence_id": BAD_VISIT_ID, "condition_source_value": "I10X"},
            {**condition, "condition_occurrence_id": BAD_CONDITION_IDS[1]}
            | {"visit_occurrence_id": visits["visit_occurrence_id"]},
        ],
    )
    _append(
        omop / "procedure_occurrence.parquet",
        [
            {
                "procedure_occurrence_id": BAD_PROCEDURE_ID,
                "person_id": person,
                "procedure_date": day,
                "procedure_source_value": "W371",
            }
        ],
    )


def _frame(path: Path):
    return pq.read_table(path).to_pandas()


def _staged(ws: Workspace, name: str):
    """A staged table as ingest left it: in the warehouse, or a restricted file."""
    if ws.has(name):
        return ws.table(name).to_pandas()
    return pq.read_table(ws.quarantine_dir / "ingest" / f"{name}.parquet").to_pandas()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(workspace, OMOP frames, ingest summary, staged tables, link summary)."""
    root = tmp_path_factory.mktemp("omop") / "ws"
    ws = Workspace.init(root)
    generate(root / "synth", people=2000, seed=5)
    omop = root / "synth" / "omop"
    _dirty(omop)
    ingest = '[stages.ingest]\nextract_date = "2026-11-22"\n\n[stages.link]'
    config = (root / "openphm.toml").read_text().replace("[stages.link]", ingest)
    for table in TABLES:
        config += f'\n[sources.omop_{table}]\npath = "synth/omop/{table}.parquet"\n'
        config += f'layout = "omop_{table}"\n'
    (root / "openphm.toml").write_text(config)
    ws.close()
    ws = Workspace(root)
    frames = {t: _frame(omop / f"{t}.parquet") for t in TABLES}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENPHM_PSEUDONYM_KEY", KEY)
        ingested = runner.run_stage(ws, ingest_stage.STAGE)
        staged = {
            name: _staged(ws, name)
            for name in ("staged_identity", "staged_encounter", "staged_gp_event")
        }
        linked = runner.run_stage(ws, link_stage.STAGE)
    yield ws, frames, ingested, staged, linked
    ws.close()


def _accepted_visits(frames):
    visits = frames["visit_occurrence"]
    return visits[visits.visit_concept_id.isin(list(SETTING_OF))]


def _record_person(person_id) -> str:
    return pseudonym.of_records(KEY.encode(), [OMOP_SOURCE], [f"person:{person_id}"])[0]


def test_every_row_read_is_accepted_or_quarantined(world):
    _, frames, ingested, _, _ = world
    files = {f["layout"]: f for f in ingested.counts["files"]}
    assert set(files) == {f"omop_{t}" for t in TABLES}
    for table in TABLES:
        f = files[f"omop_{table}"]
        assert f["rows_read"] == len(frames[table])
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"]
    quarantined = {t: files[f"omop_{t}"]["rows_quarantined"] for t in TABLES}
    assert quarantined == {
        "person": 0,
        "visit_occurrence": 1,
        "condition_occurrence": 1,
        "procedure_occurrence": 1,
        "cost": 0,
    }


def test_quarantine_names_the_reason(world):
    ws, *_ = world
    bad = pq.read_table(ws.quarantine_dir / "ingest" / "quarantine.parquet").to_pandas()
    found = set(zip(bad.source, bad.column, bad.reason, strict=True))
    assert found == {
        ("omop_visit_occurrence", "visit_concept_id", "invalid_value"),
        ("omop_condition_occurrence", "condition_source_value", "missing_value"),
        ("omop_procedure_occurrence", "visit_occurrence_id", "missing_value"),
    }


def test_one_identity_row_per_person_without_nhs_numbers(world):
    _, frames, _, staged, _ = world
    people = frames["person"]
    identity = staged["staged_identity"]
    assert len(identity) == len(people)
    assert set(identity.record_key) == {f"person:{p}" for p in people.person_id}
    assert (identity.source == OMOP_SOURCE).all()
    # The synthetic ICS's person_source_value is its person index, never an NHS number.
    assert identity.nhs_number.isna().all()
    by_key = identity.set_index("record_key")
    born = people.assign(record_key="person:" + people.person_id.astype(str))
    born = born.set_index("record_key").loc[by_key.index]
    parts = zip(born.year_of_birth, born.month_of_birth, born.day_of_birth, strict=True)
    assert list(by_key.date_of_birth) == [date(*p) for p in parts]
    assert (by_key.sex.to_numpy() == born.gender_source_value.to_numpy()).all()
    assert (by_key.ethnic_category.to_numpy() == born.race_source_value.to_numpy()).all()


def test_encounters_are_the_accepted_visits_in_their_settings(world):
    ws, frames, _, staged, _ = world
    visits = _accepted_visits(frames)
    encounter = ws.table("encounter").to_pandas()
    assert len(staged["staged_encounter"]) == len(visits)
    assert len(encounter) == len(visits)
    expected = visits.visit_concept_id.map(SETTING_OF).value_counts().sort_index()
    assert encounter.setting.value_counts().sort_index().to_dict() == expected.to_dict()
    emergency = visits.visit_concept_id.isin([262, 9203, 581478]).sum()
    assert encounter.is_emergency.sum() == emergency
    ids = set("omop:" + visits.visit_occurrence_id.astype(str))
    assert set(encounter.encounter_id) == ids


def test_each_omop_person_is_one_pseudonym(world):
    ws, frames, _, _, _ = world
    visits = _accepted_visits(frames)
    encounter = ws.table("encounter").to_pandas()
    ids = "omop:" + visits.visit_occurrence_id.astype(str)
    owner = dict(zip(ids, visits.person_id, strict=True))
    encounter["omop_person"] = encounter.encounter_id.map(owner)
    per_person = encounter.groupby("omop_person").person_id.nunique()
    assert (per_person == 1).all()
    assert encounter.person_id.nunique() == len(per_person)
    expected = encounter.omop_person.map(_record_person)
    assert (encounter.person_id == expected).all()
    assert (encounter.link_method == "unlinked").all()
    assert (encounter.source == OMOP_SOURCE).all()


def test_no_person_id_is_a_raw_identifier(world):
    ws, frames, _, _, _ = world
    raw = set(frames["person"].person_source_value) | set(frames["person"].person_id.astype(str))
    for table in ("encounter", "diagnosis", "procedure", "gp_event"):
        ids = set(ws.table(table).person_id.to_pyarrow().to_pylist())
        assert ids, table
        assert not ids & raw, table
        assert all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids), table


def test_diagnoses_are_the_conditions_on_accepted_visits(world):
    ws, frames, _, _, _ = world
    visits = set(_accepted_visits(frames).visit_occurrence_id)
    conditions = frames["condition_occurrence"]
    coded = conditions[conditions.condition_source_value.notna()]
    on_visit = coded[coded.visit_occurrence_id.isin(visits)]
    diagnosis = ws.table("diagnosis").to_pandas()
    assert len(diagnosis) == len(on_visit)
    snomed = on_visit.condition_source_value.str.fullmatch(r"[0-9]+")
    assert (diagnosis.code_system == "snomed").sum() == snomed.sum()
    icd = on_visit.condition_source_value[~snomed]
    spelt = icd.str.replace(".", "", regex=False).str.replace(r"[X\-]+$", "", regex=True)
    assert sorted(diagnosis.code[diagnosis.code_system == "icd10"]) == sorted(spelt)
    # Positions run 1..n within each visit.
    sizes = diagnosis.groupby("encounter_id").position.agg(["min", "max", "count"])
    assert (sizes["min"] == 1).all() and (sizes["max"] == sizes["count"]).all()


def test_conditions_without_a_visit_are_gp_history(world):
    ws, frames, _, _, _ = world
    conditions = frames["condition_occurrence"]
    history = conditions[conditions.visit_occurrence_id.isna()]
    # Every one of them in the synthetic ICS is SNOMED coded: none is left unstaged.
    assert history.condition_source_value.str.fullmatch(r"[1-9][0-9]{5,17}").all()
    gp_event = ws.table("gp_event").to_pandas()
    assert len(gp_event) == len(history)
    assert sorted(gp_event.code) == sorted(history.condition_source_value)
    expected = history.person_id.map(_record_person)
    assert sorted(gp_event.person_id) == sorted(expected)


def test_procedures_are_on_their_visits(world):
    ws, frames, _, _, _ = world
    visits = set(_accepted_visits(frames).visit_occurrence_id)
    procedures = frames["procedure_occurrence"]
    on_visit = procedures[procedures.visit_occurrence_id.isin(visits)]
    procedure = ws.table("procedure").to_pandas()
    assert len(procedure) == len(on_visit)
    assert (procedure.code_system == "opcs4").all()  # the synthetic ICS codes OPCS-4
    assert sorted(procedure.code) == sorted(on_visit.procedure_source_value.str.replace(".", ""))


# --- each mapper on a few rows ------------------------------------------------------------


def _text_table(layout: str, rows: list[dict]) -> ibis.Table:
    columns = LAYOUTS[layout].all_columns
    return ibis.memtable(
        {c: [r.get(c) for r in rows] for c in columns}, schema={c: "string" for c in columns}
    )


def test_checks_list_the_supported_visit_concepts():
    visit_checks = [c for c in checks.all_checks() if c.layout == "omop_visit_occurrence"]
    concept = ("visit_concept_id", "in")
    supported = [c.argument.split() for c in visit_checks if (c.column, c.check) == concept]
    assert len(supported) == 1
    assert sorted(supported[0]) == sorted(VISIT_SETTINGS)
    assert {int(k): v[0] for k, v in VISIT_SETTINGS.items()} == SETTING_OF


def test_person_source_value_is_the_nhs_number_only_when_valid(con):
    valid = "9990000018"
    assert codes.valid_nhs_mask([valid]).all()
    rows = [
        {"person_id": "1", "person_source_value": valid, "year_of_birth": "1950"},
        {"person_id": "2", "person_source_value": "999 000 0018", "year_of_birth": "1950"},
        {"person_id": "3", "person_source_value": "9990000019", "year_of_birth": "1950"},
        {"person_id": "4", "person_source_value": "P-0004", "year_of_birth": "1950"},
        {"person_id": "5", "year_of_birth": "1950"},
    ]
    for r in rows:
        r |= {"month_of_birth": "7", "gender_source_value": "1"}
    t = _text_table("omop_person", rows)
    got = con.to_pyarrow(omop_person(t, "people")["staged_identity"]).to_pylist()
    assert [r["nhs_number"] for r in got] == [valid, valid, None, None, None]
    assert [r["record_key"] for r in got] == [f"person:{i}" for i in range(1, 6)]
    assert {r["source"] for r in got} == {OMOP_SOURCE}


def test_person_birth_sex_and_ethnicity(con):
    base = {"person_source_value": "x", "year_of_birth": "1961"}
    rows = [
        {**base, "person_id": "1", "month_of_birth": "3", "day_of_birth": "9"},
        {**base, "person_id": "2", "month_of_birth": "3"},
        {**base, "person_id": "3"},
        {**base, "person_id": "4", "month_of_birth": "2", "day_of_birth": "30"},
    ]
    sexes = [("1", "8532"), ("", "8532"), ("M", "8507"), ("U", "0")]
    races = ["A", "Z", "White", None]
    for r, (stated, concept), race in zip(rows, sexes, races, strict=True):
        r |= {"gender_source_value": stated or None, "gender_concept_id": concept}
        r |= {"race_source_value": race}
    t = _text_table("omop_person", rows)
    got = con.to_pyarrow(omop_person(t, "people")["staged_identity"]).to_pylist()
    assert [r["date_of_birth"] for r in got] == [date(1961, 3, 9), date(1961, 3, 1), None, None]
    assert [r["sex"] for r in got] == ["1", "2", "1", None]
    assert [r["ethnic_category"] for r in got] == ["A", "Z", None, None]


def test_condition_positions_and_code_systems(con):
    rows = [
        ("10", "7", "E11.9"),
        ("9", "7", "I10X"),
        ("11", "7", "22298006"),
        ("12", None, "44054006"),
        ("13", None, "E119"),  # no visit and not SNOMED: nowhere to go (documented)
        ("14", "8", "J18-"),
    ]
    t = _text_table(
        "omop_condition_occurrence",
        [
            {
                "condition_occurrence_id": cid,
                "person_id": "0042",
                "condition_start_date": "2024-01-02",
                "visit_occurrence_id": visit,
                "condition_source_value": code,
            }
            for cid, visit, code in rows
        ],
    )
    out = omop_condition_occurrence(t, "conditions")
    diagnosis = con.to_pyarrow(out["staged_diagnosis"].order_by(["encounter_id", "position"]))
    assert diagnosis.select(["encounter_id", "position", "code_system", "code"]).to_pylist() == [
        {"encounter_id": "omop:7", "position": 1, "code_system": "icd10", "code": "I10"},
        {"encounter_id": "omop:7", "position": 2, "code_system": "icd10", "code": "E119"},
        {"encounter_id": "omop:7", "position": 3, "code_system": "snomed", "code": "22298006"},
        {"encounter_id": "omop:8", "position": 1, "code_system": "icd10", "code": "J18"},
    ]
    history = con.to_pyarrow(out["staged_gp_event"]).to_pylist()
    assert len(history) == 1
    assert history[0]["code"] == "44054006" and history[0]["record_key"] == "person:42"
    assert history[0]["nhs_number"] is None and history[0]["source"] == OMOP_SOURCE


def test_procedure_code_systems(con):
    rows = [("2", "W37.1"), ("1", "71388002"), ("3", "Z942")]
    t = _text_table(
        "omop_procedure_occurrence",
        [
            {
                "procedure_occurrence_id": pid,
                "person_id": "5",
                "procedure_date": "2024-05-06",
                "visit_occurrence_id": "3",
                "procedure_source_value": code,
            }
            for pid, code in rows
        ],
    )
    out = omop_procedure_occurrence(t, "procedures")["staged_procedure"]
    got = con.to_pyarrow(out.order_by("position")).to_pylist()
    assert [(r["position"], r["code_system"], r["code"]) for r in got] == [
        (1, "snomed", "71388002"),
        (2, "opcs4", "W371"),
        (3, "opcs4", "Z942"),
    ]
    assert {str(r["procedure_date"]) for r in got} == {"2024-05-06"}
