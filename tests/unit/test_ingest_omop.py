"""OMOP CDM input: the synthetic ICS's OMOP tables through ingest and link, checked
against the OMOP files themselves; and each mapper on a few rows."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openphm import codes, runner
from openphm.ingest import omop_join, omop_visits
from openphm.ingest import stage as ingest_stage
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.omop import (
    OMOP_SOURCE,
    omop_care_site,
    omop_condition_occurrence,
    omop_location,
    omop_person,
    omop_procedure_occurrence,
    omop_visit_occurrence,
)
from openphm.link import pseudonym
from openphm.link import stage as link_stage
from openphm.synth import generate
from openphm.workspace import Workspace

KEY = "omop-test-key-not-for-real-data-0123456"  # 40 characters
TABLES = (
    "person",
    "death",
    "observation_period",
    "care_site",
    "visit_occurrence",
    "condition_occurrence",
    "procedure_occurrence",
    "cost",
)
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
EMERGENCY_ROOMS = (9203, 8870, 8782)  # visit concepts of an emergency department
CLINICAL_STUDY = 44818519  # a real visit concept with no setting here
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
    """A visit of an unmapped concept with a diagnosis on it (kept, in the community
    setting), a condition without a code (not staged, noted), a procedure without a
    visit (quarantined): none is lost."""
    visits = pq.read_table(omop / "visit_occurrence.parquet").slice(0, 1).to_pylist()[0]
    person, day = visits["person_id"], visits["visit_start_date"]
    _append(
        omop / "visit_occurrence.parquet",
        [{**visits, "visit_occurrence_id": BAD_VISIT_ID, "visit_concept_id": CLINICAL_STUDY}],
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
            for name in (
                "staged_identity",
                "staged_encounter",
                "staged_gp_event",
                "staged_registration",
            )
        }
        linked = runner.run_stage(ws, link_stage.STAGE)
    yield ws, frames, ingested, staged, linked
    ws.close()


def _accepted_visits(frames):
    return frames["visit_occurrence"]  # every visit is kept, whatever its concept


def _record_person(person_id) -> str:
    """An OMOP person without an NHS number is known by the database's own person_id, an
    upstream pseudonym ('omop:<person_id>'), so they have a person row."""
    return pseudonym.of_upstream(KEY.encode(), [f"omop:{person_id}"])[0]


def test_every_row_read_is_accepted_or_quarantined(world):
    _, frames, ingested, _, _ = world
    files = {f["layout"]: f for f in ingested.counts["files"]}
    assert set(files) == {f"omop_{t}" for t in TABLES}
    for table in TABLES:
        f = files[f"omop_{table}"]
        assert f["rows_read"] == len(frames[table])
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"]
    quarantined = {t: files[f"omop_{t}"]["rows_quarantined"] for t in TABLES}
    assert quarantined == {t: int(t == "procedure_occurrence") for t in TABLES}


def test_quarantine_names_the_reason(world):
    ws, *_ = world
    bad = pq.read_table(ws.quarantine_dir / "ingest" / "quarantine.parquet").to_pandas()
    found = set(zip(bad.source, bad.column, bad.reason, strict=True))
    assert found == {("omop_procedure_occurrence", "visit_occurrence_id", "missing_value")}


def test_what_is_kept_only_in_part_is_noted(world):
    _, _, ingested, _, _ = world
    assert list(ingested.notes) == [
        "OMOP: 1 visits have a visit_concept_id not in ingest/omop_visits.csv; they are "
        "kept, in the setting of their care site's place of service or else 'community', "
        "and not as emergencies",
        "OMOP: 1 conditions have no SNOMED CT concept and no ICD-10 or SNOMED CT "
        "condition_source_value, so are not staged",
    ]


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


def test_identity_rows_carry_deaths_and_practices(world):
    _, frames, _, staged, _ = world
    identity = staged["staged_identity"].set_index("record_key")
    deaths = frames["death"]
    died = identity.date_of_death.dropna()
    expected = dict(zip("person:" + deaths.person_id.astype(str), deaths.death_date, strict=True))
    assert len(died) == len(deaths) > 0
    assert {k: pd.Timestamp(v) for k, v in died.items()} == {
        k: pd.Timestamp(v) for k, v in expected.items()
    }
    sites = frames["care_site"].set_index("care_site_id").care_site_source_value
    people = frames["person"]
    practice = people.care_site_id.map(sites)
    keys = "person:" + people.person_id.astype(str)
    assert dict(zip(keys, practice, strict=True)) == identity.practice_code.to_dict()


def test_registrations_are_observation_periods_at_the_practice(world):
    _, frames, _, staged, _ = world
    periods = frames["observation_period"]
    reg = staged["staged_registration"]
    assert len(reg) == len(periods)
    ongoing = periods.observation_period_end_date == periods.observation_period_end_date.max()
    assert reg.end_date.isna().sum() == ongoing.sum()


def test_encounters_are_the_visits_in_their_settings(world):
    ws, frames, _, staged, _ = world
    visits = _accepted_visits(frames)
    encounter = ws.table("encounter").to_pandas()
    assert len(staged["staged_encounter"]) == len(visits)
    assert len(encounter) == len(visits)
    setting = visits.visit_concept_id.map(SETTING_OF).fillna("community")
    expected = setting.value_counts().sort_index()
    assert encounter.setting.value_counts().sort_index().to_dict() == expected.to_dict()
    ids = set("omop:" + visits.visit_occurrence_id.astype(str))
    assert set(encounter.encounter_id) == ids


def test_emergencies_are_the_unplanned_concepts_and_admissions_from_the_er(world):
    ws, frames, _, _, _ = world
    visits = _accepted_visits(frames)
    er = visits[visits.visit_concept_id.isin(EMERGENCY_ROOMS)]
    er_days = set(zip(er.person_id, er.visit_end_date, strict=True))
    inpatient = visits.visit_concept_id == 9201
    after_er = pd.Series(
        [(p, d) in er_days for p, d in zip(visits.person_id, visits.visit_start_date, strict=True)],
        index=visits.index,
    )
    emergency = visits.visit_concept_id.isin([262, 9203, 581478]) | (inpatient & after_er)
    encounter = ws.table("encounter").to_pandas().set_index("encounter_id")
    ids = "omop:" + visits.visit_occurrence_id.astype(str)
    got = encounter.loc[ids, "is_emergency"].to_numpy()
    assert (got == emergency.to_numpy()).all()
    assert (inpatient & after_er).sum() < inpatient.sum()


def test_provider_codes_are_the_care_sites_codes(world):
    ws, frames, _, _, _ = world
    visits = _accepted_visits(frames)
    sites = frames["care_site"].set_index("care_site_id").care_site_source_value
    expected = dict(
        zip(
            "omop:" + visits.visit_occurrence_id.astype(str),
            visits.care_site_id.map(sites),
            strict=True,
        )
    )
    encounter = ws.table("encounter").to_pandas()
    assert dict(zip(encounter.encounter_id, encounter.provider_code, strict=True)) == expected


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
    assert (encounter.link_method == "upstream_pseudonym").all()
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


def test_visit_concepts_map_to_settings_as_data():
    concepts = omop_visits.visit_concepts()
    assert {c: concepts[c].setting for c in SETTING_OF} == SETTING_OF
    assert {c for c, v in concepts.items() if v.setting == "ae"} == set(EMERGENCY_ROOMS)
    unplanned = {c for c, v in concepts.items() if v.is_emergency}
    assert {262, 9203, 581478, 8870} <= unplanned and 9201 not in unplanned
    assert CLINICAL_STUDY not in concepts


def test_ids_written_as_floats_or_with_leading_zeros_are_integers(con):
    rows = [
        {"visit_occurrence_id": v, "person_id": p, "visit_concept_id": c}
        | {"visit_start_date": "2024-01-01", "visit_end_date": "2024-01-01"}
        for v, p, c in [("65363002.0", "0042", "9201.0"), ("7", "42.0", "0262")]
    ]
    t = _text_table("omop_visit_occurrence", rows)
    got = con.to_pyarrow(omop_visit_occurrence(t, "v")["omop_visit_occurrence"]).to_pylist()
    assert [(r["visit_id"], r["person_id"], r["concept"]) for r in got] == [
        (65363002, 42, 9201),
        (7, 42, 262),
    ]


def test_locations_and_care_sites(con):
    places = _text_table(
        "omop_location",
        [
            {"location_id": "1", "zip": "ls1 4ap", "location_source_value": "E01011365"},
            {"location_id": "2", "zip": "LS1", "county": "W01000001"},
            {"location_id": "3", "zip": "90210", "location_source_value": "E02000001"},
        ],
    )
    got = con.to_pyarrow(omop_location(places, "l")["omop_location"]).to_pylist()
    assert [(r["lsoa_code"], r["postcode"]) for r in got] == [
        ("E01011365", "LS1 4AP"),
        ("W01000001", None),
        (None, None),  # an MSOA, and a US zip code
    ]
    sites = _text_table(
        "omop_care_site",
        [
            {"care_site_id": str(i), "care_site_source_value": v}
            for i, v in enumerate(["B82001", "rr8", "RR801", "E06000014", "12345", "Ward 7"])
        ],
    )
    got = con.to_pyarrow(omop_care_site(sites, "c")["omop_care_site"]).to_pylist()
    assert [r["code"] for r in got] == ["B82001", "RR8", "RR801", "E06000014", None, None]


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
    got = con.to_pyarrow(omop_person(t, "people")["omop_person"]).to_pylist()
    assert [r["nhs_number"] for r in got] == [valid, valid, None, None, None]
    assert [r["person_id"] for r in got] == [1, 2, 3, 4, 5]


def _empty(name: str) -> ibis.Table:
    return ibis.memtable(omop_join.PARTS[name].to_pyarrow().empty_table())


def test_identity_rows_key_each_person_by_record_key_and_upstream_id(con):
    rows = [{"person_id": p, "year_of_birth": "1950", "gender_concept_id": "0"} for p in "12"]
    people = omop_person(_text_table("omop_person", rows), "people")["omop_person"]
    parts = [_empty(n) for n in ("omop_death", "omop_location", "omop_care_site")]
    identity = omop_join.identity(people, *parts, _empty("omop_observation_period"))
    got = con.to_pyarrow(identity.order_by("record_key")).to_pylist()
    assert [(r["source"], r["record_key"], r["upstream_id"]) for r in got] == [
        (OMOP_SOURCE, "person:1", "omop:1"),
        (OMOP_SOURCE, "person:2", "omop:2"),
    ]


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
    got = con.to_pyarrow(omop_person(t, "people")["omop_person"]).to_pylist()
    assert [r["date_of_birth"] for r in got] == [date(1961, 3, 9), date(1961, 3, 1), None, None]
    assert [r["sex"] for r in got] == ["1", "2", "1", None]
    assert [r["ethnic_category"] for r in got] == ["A", "Z", None, None]


def test_condition_positions_and_code_systems(con):
    rows = [  # id, visit, source value, concept, source concept
        ("10", "7.0", "E11.9", "201826", None),
        ("9", "7", "I10X", "0", None),
        ("11", "7", "22298006", "0", None),
        ("12", None, "44054006", "0", None),
        ("13", None, "E119", "0", None),  # no visit and only ICD-10: noted, not staged
        ("14", "8", "J18-", "0", None),
        ("15", None, "H33..00", "317009", None),  # a Read code and its SNOMED concept
        ("16", "8", "272.0", "0", "9999001"),  # an ICD-9 code and its ICD-10 concept
        ("17", "8", "XaBcD", "0", None),  # no code: noted, not staged
    ]
    t = _text_table(
        "omop_condition_occurrence",
        [
            {
                "condition_occurrence_id": cid,
                "person_id": "0042",
                "condition_concept_id": concept,
                "condition_start_date": "2024-01-02",
                "visit_occurrence_id": visit,
                "condition_source_value": code,
                "condition_source_concept_id": source_concept,
            }
            for cid, visit, code, concept, source_concept in rows
        ],
    )
    conditions = omop_condition_occurrence(t, "conditions")["omop_condition_occurrence"]
    concepts = ibis.memtable(
        {
            "concept_id": [201826, 317009, 9999001, 9201],
            "vocabulary_id": ["SNOMED", "SNOMED", "ICD10", "Visit"],
            "concept_code": ["44054006", "195967001", "E78.0", "IP"],
        },
        schema=omop_join.PARTS["omop_concept"],
    )
    coded = omop_join.condition_codes(conditions, concepts)
    diagnosis = con.to_pyarrow(
        omop_join.diagnosis(coded).order_by(["encounter_id", "position", "code_system"])
    )
    assert [tuple(r.values()) for r in diagnosis.to_pylist()] == [
        ("omop:7", 1, "icd10", "I10"),
        ("omop:7", 2, "icd10", "E119"),
        ("omop:7", 2, "snomed", "44054006"),
        ("omop:7", 3, "snomed", "22298006"),
        ("omop:8", 1, "icd10", "J18"),
        ("omop:8", 2, "icd10", "E780"),
    ]
    history = con.to_pyarrow(omop_join.history(coded).order_by("code")).to_pylist()
    assert [(r["code"], r["record_key"], r["source"]) for r in history] == [
        ("195967001", "person:42", OMOP_SOURCE),
        ("44054006", "person:42", OMOP_SOURCE),
    ]
    assert all(r["nhs_number"] is None for r in history)
    unstaged = coded.filter(
        coded.snomed.isnull() & (coded.icd10.isnull() | coded.visit_id.isnull())
    )
    assert sorted(con.to_pyarrow(unstaged.condition_id).to_pylist()) == [13, 17]


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


def _part(name: str, rows: list[tuple]) -> ibis.Table:
    schema = omop_join.PARTS[name]
    return ibis.memtable(
        {c: [r[i] for r in rows] for i, c in enumerate(schema.names)}, schema=schema
    )


def test_encounters_settings_emergencies_and_provider_codes(con):
    d = date(2024, 3, 1)
    visits = _part(
        "omop_visit_occurrence",
        [  # visit, person, concept, start, end, care site, provider, from, from (text), to
            (1, 7, 9203, d, d, 20, None, None, None, None),
            (2, 7, 9201, d, date(2024, 3, 4), 20, None, None, None, "19"),  # after the ER
            (3, 8, 9201, d, d, None, 500, 8870, None, None),  # admitted from the ER
            (4, 8, 9201, d, d, None, 501, 0, "Emergency Department", None),
            (5, 9, 9201, d, d, 30, None, None, None, None),  # an ER stay in visit_detail
            (6, 9, 9201, date(2024, 4, 1), date(2024, 4, 2), 30, None, None, None, None),
            (7, 9, 44818519, d, d, 31, None, None, None, None),  # unknown, at an ER site
            (8, 9, 0, d, d, None, None, None, None, None),  # unknown, nowhere
        ],
    )
    details = _part("omop_visit_detail", [(5, 9203), (6, 581379)])
    sites = _part("omop_care_site", [(20, "RR8", 8717), (30, None, None), (31, None, 8870)])
    providers = _part("omop_provider", [(500, 20), (501, None)])
    enc = omop_visits.encounter(visits, details, sites, providers).order_by("encounter_id")
    got = [
        (r["encounter_id"], r["setting"], r["is_emergency"], r["provider_code"])
        for r in con.to_pyarrow(enc).to_pylist()
    ]
    assert got == [
        ("omop:1", "ae", True, "RR8"),
        ("omop:2", "apc", True, "RR8"),
        ("omop:3", "apc", True, "RR8"),  # the provider's care site
        ("omop:4", "apc", True, "unknown"),
        ("omop:5", "apc", True, "care_site:30"),
        ("omop:6", "apc", False, "care_site:30"),  # critical care is no ER
        ("omop:7", "ae", True, "care_site:31"),
        ("omop:8", "community", False, "unknown"),
    ]


def test_registrations_from_observation_periods_at_practices(con):
    people = _part(
        "omop_person",
        [(1, None, None, None, None, None, 10), (2, None, None, None, None, None, 20)],
    )
    sites = _part("omop_care_site", [(10, "B82001", None), (20, "RR8", None)])
    periods = _part(
        "omop_observation_period",
        [
            (1, date(2010, 1, 1), date(2015, 6, 30)),
            (1, date(2016, 1, 1), date(2024, 3, 31)),
            (2, date(2016, 1, 1), date(2024, 3, 31)),  # a trust is no practice
        ],
    )
    reg = omop_join.registration(people, sites, periods).order_by("start_date")
    got = [
        (r["record_key"], r["practice_code"], r["start_date"], r["end_date"])
        for r in con.to_pyarrow(reg).to_pylist()
    ]
    assert got == [
        ("person:1", "B82001", date(2010, 1, 1), date(2015, 6, 30)),
        ("person:1", "B82001", date(2016, 1, 1), None),  # ends at the cut-off: ongoing
    ]
