"""The OMOP CDM v5.4 copy of the synthetic ICS: one chunk of 10,000 people with three years
of care, built from the clean frames the way ``openphm.synth._chunk`` builds them."""

from __future__ import annotations

import re
import time
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from openphm.synth import omop
from openphm.synth.output import SynthContext
from tests.unit.synth_world import clean_frames, cohort_world, context

PEOPLE = 10_000
YEARS = 3
START = pd.Timestamp("2023-04-01")

# The CDM v5.4 fields of each table, in specification order, and the required ones.
CDM = {
    "omop/person": [
        "person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth",
        "birth_datetime", "race_concept_id", "ethnicity_concept_id", "location_id",
        "provider_id", "care_site_id", "person_source_value", "gender_source_value",
        "gender_source_concept_id", "race_source_value", "race_source_concept_id",
        "ethnicity_source_value", "ethnicity_source_concept_id",
    ],
    "omop/observation_period": [
        "observation_period_id", "person_id", "observation_period_start_date",
        "observation_period_end_date", "period_type_concept_id",
    ],
    "omop/visit_occurrence": [
        "visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date",
        "visit_start_datetime", "visit_end_date", "visit_end_datetime", "visit_type_concept_id",
        "provider_id", "care_site_id", "visit_source_value", "visit_source_concept_id",
        "admitted_from_concept_id", "admitted_from_source_value", "discharged_to_concept_id",
        "discharged_to_source_value", "preceding_visit_occurrence_id",
    ],
    "omop/condition_occurrence": [
        "condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date",
        "condition_start_datetime", "condition_end_date", "condition_end_datetime",
        "condition_type_concept_id", "condition_status_concept_id", "stop_reason",
        "provider_id", "visit_occurrence_id", "visit_detail_id", "condition_source_value",
        "condition_source_concept_id", "condition_status_source_value",
    ],
    "omop/procedure_occurrence": [
        "procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date",
        "procedure_datetime", "procedure_end_date", "procedure_end_datetime",
        "procedure_type_concept_id", "modifier_concept_id", "quantity", "provider_id",
        "visit_occurrence_id", "visit_detail_id", "procedure_source_value",
        "procedure_source_concept_id", "modifier_source_value",
    ],
    "omop/death": [
        "person_id", "death_date", "death_datetime", "death_type_concept_id",
        "cause_concept_id", "cause_source_value", "cause_source_concept_id",
    ],
    "omop/care_site": [
        "care_site_id", "care_site_name", "place_of_service_concept_id", "location_id",
        "care_site_source_value", "place_of_service_source_value",
    ],
}  # fmt: skip
REQUIRED = {
    "omop/person": [
        "person_id", "gender_concept_id", "year_of_birth", "race_concept_id",
        "ethnicity_concept_id",
    ],
    "omop/observation_period": CDM["omop/observation_period"],
    "omop/visit_occurrence": [
        "visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date",
        "visit_end_date", "visit_type_concept_id",
    ],
    "omop/condition_occurrence": [
        "condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date",
        "condition_type_concept_id",
    ],
    "omop/procedure_occurrence": [
        "procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date",
        "procedure_type_concept_id",
    ],
    "omop/death": ["person_id", "death_date"],
    "omop/care_site": ["care_site_id"],
}  # fmt: skip
KEY = {
    "omop/person": "person_id",
    "omop/observation_period": "observation_period_id",
    "omop/visit_occurrence": "visit_occurrence_id",
    "omop/condition_occurrence": "condition_occurrence_id",
    "omop/procedure_occurrence": "procedure_occurrence_id",
    "omop/death": "person_id",
    "omop/care_site": "care_site_id",
}
EVENTS = ["omop/visit_occurrence", "omop/condition_occurrence", "omop/procedure_occurrence"]
INPATIENT_VISITS = {9201, 262}


def _context() -> SynthContext:
    return context(PEOPLE, 7)


def _chunk(ctx: SynthContext, first: int, n: int, seed: int):
    """A chunk's cohort and clean frames, as ``openphm.synth`` makes them before the dirt."""
    _, cohort, emergencies = cohort_world(n, seed, ctx=ctx, chunk=first // n)
    return cohort, clean_frames(ctx, cohort, emergencies, seed)


@pytest.fixture(scope="module")
def world():
    ctx = _context()
    cohort, frames = _chunk(ctx, 0, PEOPLE, 1)
    started = time.perf_counter()
    tables = omop.omop_tables(ctx, cohort, frames)
    elapsed = time.perf_counter() - started
    rows = ", ".join(f"{k.removeprefix('omop/')} {len(v):,}" for k, v in tables.items())
    print(f"\nomop_tables: {PEOPLE:,} people in {elapsed:.2f} s; {rows}")
    tables.update(omop.care_site(ctx.geography))
    return ctx, cohort, frames, tables


def _types(frame: pd.DataFrame) -> dict[str, pa.DataType]:
    """The Arrow type each column is written with."""
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    return {column: schema.field(column).type for column in frame.columns}


def _ids(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].dropna().to_numpy(np.int64)


def test_tables_have_the_cdm_columns_in_order(world):
    _, _, _, tables = world
    assert set(tables) == set(CDM)
    for name, columns in CDM.items():
        assert list(tables[name].columns) == columns, name
        assert omop.COLUMNS[name] == columns, name


def test_column_types_are_fixed_and_required_fields_filled(world):
    _, _, _, tables = world
    for name, frame in tables.items():
        for column, typ in _types(frame).items():
            if column.endswith("concept_id") or column.endswith("_of_birth"):
                assert typ == pa.int32(), (name, column, typ)
            elif column.endswith("_id"):
                assert typ == pa.int64(), (name, column, typ)
            elif column.endswith("_datetime"):
                assert pa.types.is_timestamp(typ), (name, column, typ)
            elif column.endswith("_date"):
                assert typ == pa.date32(), (name, column, typ)
        for column in REQUIRED[name]:
            assert frame[column].notna().all(), (name, column)
        assert len(frame) > 0, name


def test_ids_are_unique(world):
    _, _, _, tables = world
    for name, key in KEY.items():
        assert tables[name][key].is_unique, name
    assert tables["omop/observation_period"]["person_id"].is_unique


def test_ids_do_not_collide_between_chunks(world):
    ctx, _, _, tables = world
    cohort, frames = _chunk(ctx, PEOPLE, 2_000, 2)
    other = omop.omop_tables(ctx, cohort, frames)
    for name in [*EVENTS, "omop/person", "omop/observation_period"]:
        ours, theirs = _ids(tables[name], KEY[name]), _ids(other[name], KEY[name])
        assert len(theirs) > 0 and not np.intersect1d(ours, theirs).size, name


def test_every_record_belongs_to_a_person(world):
    _, cohort, _, tables = world
    people = tables["omop/person"]["person_id"].to_numpy(np.int64)
    assert np.array_equal(np.sort(people), np.sort(cohort["person_index"].to_numpy()))
    for name in [*EVENTS, "omop/observation_period", "omop/death"]:
        assert np.isin(tables[name]["person_id"].to_numpy(np.int64), people).all(), name


def test_conditions_and_procedures_link_to_visits(world):
    _, _, _, tables = world
    visits = tables["omop/visit_occurrence"]
    known = visits["visit_occurrence_id"].to_numpy(np.int64)
    person_of = pd.Series(visits["person_id"].to_numpy(np.int64), index=known)
    gp = omop.SOURCE["extracts/gp_events"]
    for name in EVENTS[1:]:
        frame = tables[name]
        source = frame[KEY[name]].to_numpy(np.int64) // omop.ID_BLOCK
        linked = frame["visit_occurrence_id"].notna().to_numpy()
        # Records from a care contact have their visit; GP diagnoses (history) have none.
        assert np.array_equal(linked, source != gp), name
        visit = frame["visit_occurrence_id"].to_numpy()[linked].astype(np.int64)
        assert np.isin(visit, known).all(), name
        same = person_of.reindex(visit).to_numpy() == frame["person_id"].to_numpy()[linked]
        assert same.all(), name


def test_one_inpatient_visit_per_provider_spell(world):
    ctx, _, frames, tables = world
    spells = frames["truth/apc_spells"]
    admitted = spells[
        (spells["admission_date"] >= ctx.start) & (spells["admission_date"] < ctx.end)
    ]
    visits = tables["omop/visit_occurrence"]
    inpatient = visits[visits["visit_concept_id"].isin(INPATIENT_VISITS)]
    assert len(inpatient) == len(admitted) > 0
    ids = omop.SOURCE["extracts/hes_apc"] * omop.ID_BLOCK + admitted["PROVSPNOPS"].astype("int64")
    assert set(inpatient["visit_occurrence_id"].to_numpy(np.int64)) == set(ids)
    # Admitted via A&E: emergency room and inpatient (262), with the attendance folded in.
    via_ae = (admitted["admimeth"] == "21").sum()
    assert (inpatient["visit_concept_id"] == 262).sum() == via_ae > 0
    attendances = frames["extracts/ecds"]
    er = (visits["visit_concept_id"] == 9203).sum()
    assert er == (attendances["ADMITTED"] == "N").sum() > 0


def test_every_apc_diagnosis_and_operation_is_converted(world):
    _, _, frames, tables = world
    apc = frames["extracts/hes_apc"]
    cells = apc[[f"DIAG_4_{i:02d}" for i in range(1, 21)]].to_numpy(dtype=object)
    recorded = Counter(cells[cells != ""])
    conditions = tables["omop/condition_occurrence"]
    from_apc = conditions[
        conditions["condition_occurrence_id"].to_numpy(np.int64) // omop.ID_BLOCK
        == omop.SOURCE["extracts/hes_apc"]
    ]
    assert len(from_apc) == sum(recorded.values()) > 0
    assert Counter(from_apc["condition_source_value"]) == recorded
    primary = from_apc["condition_status_source_value"] == "DIAG_4_01"
    assert (from_apc.loc[primary, "condition_status_concept_id"] == 32902).all()
    assert (from_apc.loc[~primary, "condition_status_concept_id"] == 32908).all()
    assert primary.sum() == len(apc)
    procedures = tables["omop/procedure_occurrence"]
    from_apc = procedures[
        procedures["procedure_occurrence_id"].to_numpy(np.int64) // omop.ID_BLOCK
        == omop.SOURCE["extracts/hes_apc"]
    ]
    truth = frames["truth/procedures"]
    assert len(from_apc) == len(truth) > 0
    assert Counter(from_apc["procedure_source_value"]) == Counter(truth["opcs4"])
    dates = pd.to_datetime(from_apc["procedure_date"].astype("datetime64[s]"))
    assert sorted(dates) == sorted(truth["procedure_date"])


def test_no_nhs_number_anywhere(world):
    _, cohort, _, tables = world
    numbers = set(cohort["nhs_number"])
    assert len(numbers) == PEOPLE
    as_ints = cohort["nhs_number"].astype("int64").to_numpy()
    for name, frame in tables.items():
        for column, typ in _types(frame).items():
            values = frame[column].dropna()
            if pa.types.is_string(typ):
                runs = {m for v in values.unique() for m in re.findall(r"\d{10}", v)}
                assert not runs & numbers, (name, column)
            elif pa.types.is_integer(typ):
                assert not np.isin(values.to_numpy(np.int64), as_ints).any(), (name, column)


def test_gender_concepts(world):
    _, cohort, _, tables = world
    person = tables["omop/person"].set_index("person_id")
    assert set(person["gender_concept_id"]) == {8507, 8532}
    expected = cohort.set_index("person_index")["sex"].map({"1": 8507, "2": 8532})
    assert (person["gender_concept_id"].reindex(expected.index) == expected).all()


def test_visits_fall_within_observation_periods(world):
    _, cohort, _, tables = world
    periods = tables["omop/observation_period"].set_index("person_id")
    visits = tables["omop/visit_occurrence"]
    start = periods["observation_period_start_date"].reindex(visits["person_id"]).to_numpy()
    end = periods["observation_period_end_date"].reindex(visits["person_id"]).to_numpy()
    assert (visits["visit_start_date"].to_numpy() >= start).all()
    assert (visits["visit_end_date"].to_numpy() <= end).all()
    assert (visits["visit_end_datetime"] >= visits["visit_start_datetime"]).all()
    # Everyone born by the period's last day has an observation period.
    born = (cohort["date_of_birth"] < START + pd.DateOffset(years=YEARS)).sum()
    assert len(periods) == born


def test_preceding_visit_is_the_persons_previous_visit(world):
    _, _, _, tables = world
    visits = tables["omop/visit_occurrence"]
    previous = visits["preceding_visit_occurrence_id"]
    first = ~visits["person_id"].duplicated()
    assert previous[first].isna().all() and previous[~first].notna().all()
    start = visits.set_index("visit_occurrence_id")["visit_start_datetime"]
    before = start.reindex(previous[~first].to_numpy(np.int64)).to_numpy()
    assert (before <= visits.loc[~first, "visit_start_datetime"].to_numpy()).all()


def test_text_fits_the_cdm_lengths(world):
    _, _, _, tables = world
    for name, frame in tables.items():
        for column, typ in _types(frame).items():
            if column != "care_site_name" and pa.types.is_string(typ):
                assert (frame[column].dropna().str.len() <= 50).all(), (name, column)


def test_care_sites_cover_every_site_used(world):
    _, _, _, tables = world
    sites = set(tables["omop/care_site"]["care_site_id"])
    for name in ("omop/person", "omop/visit_occurrence"):
        assert set(_ids(tables[name], "care_site_id")) <= sites, name


def test_same_frames_give_the_same_tables(world):
    ctx, cohort, frames, tables = world
    again = omop.omop_tables(ctx, cohort, frames)
    for name, frame in again.items():
        pd.testing.assert_frame_equal(frame, tables[name])
