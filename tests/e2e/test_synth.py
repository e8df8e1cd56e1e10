"""The synthetic ICS end to end: deterministic, complete, traceable, calibrated."""

import json
from pathlib import Path

import pandas as pd
import pytest

from openphm import codes
from openphm.synth import calibration, generate
from openphm.synth.dirt import Dirt


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    generate(out, people=3_000, seed=5, chunk_people=1_000)
    return out


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_byte_identical_files(small, tmp_path):
    again = tmp_path / "b"
    generate(again, people=3_000, seed=5, chunk_people=1_000)
    mine = files(small)
    assert {"extracts/gp_patients.csv", "extracts/opt_outs.csv"} <= mine.keys()
    assert files(again) == mine


def test_another_seed_gives_other_files(small, tmp_path):
    other = tmp_path / "c"
    generate(other, people=3_000, seed=6, chunk_people=1_000)
    mine = json.loads((small / "manifest.json").read_text())["files"]
    theirs = json.loads((other / "manifest.json").read_text())["files"]
    assert mine.keys() == theirs.keys()
    assert all(mine[k]["sha256"] != theirs[k]["sha256"] for k in mine if k.startswith("extracts"))


def test_every_setting_arrives_as_an_extract(small):
    extracts = {p.stem for p in (small / "extracts").glob("*.csv")}
    assert {
        "hes_apc",
        "hes_op",
        "ecds",
        "gp_events",
        "gp_registrations",
        "community_contacts",
        "mental_health_contacts",
        "ambulance_incidents",
        "social_care_services",
        "opt_outs",
        "gp_patients",
    } <= extracts


def test_nhs_numbers_are_synthetic_unique_and_valid(small):
    people = pd.read_parquet(small / "truth/people.parquet")
    numbers = people["nhs_number"]
    assert len(people) == 3_000 and numbers.is_unique
    assert numbers.str.startswith("999").all()
    assert codes.valid_nhs_mask(numbers.to_numpy()).all()


def test_every_record_belongs_to_a_known_person_and_counts_reconcile(small):
    manifest = json.loads((small / "manifest.json").read_text())["files"]
    link = pd.read_parquet(small / "truth/record_person.parquet")
    people = pd.read_parquet(small / "truth/people.parquet")
    assert link["person_index"].isin(people["person_index"]).all()
    per_file = link["file"].value_counts()
    for key, rows in per_file.items():
        assert manifest[f"{key}.csv"]["rows"] == rows, key


def extract(out: Path, name: str) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """An extract as text, each row's true person, and whether dirt touched the row."""
    frame = pd.read_csv(out / f"extracts/{name}.csv", dtype=str, keep_default_na=False)
    link = pd.read_parquet(out / "truth/record_person.parquet")
    link = link[link["file"] == f"extracts/{name}"].reset_index(drop=True)
    assert (link["record_key"] == frame.iloc[:, 0]).all()  # written in the same order
    dirt = pd.read_parquet(out / "truth/dirt.parquet")
    dirty = frame.iloc[:, 0].isin(dirt.loc[dirt["file"] == f"extracts/{name}", "record_key"])
    return frame, link["person_index"], ~dirty


def test_the_patient_register_holds_everyone_once_as_the_truth_has_them(small):
    patients, person, clean = extract(small, "gp_patients")
    assert list(patients.columns) == [
        "PATIENT_ID", "NHS_NUMBER", "DATE_OF_BIRTH", "SEX", "ETHNIC_CATEGORY", "POSTCODE",
        "LSOA", "PRACTICE_CODE", "DATE_OF_DEATH",
    ]  # fmt: skip
    people = pd.read_parquet(small / "truth/people.parquet").set_index("person_index")
    dirt = pd.read_parquet(small / "truth/dirt.parquet")
    dirt = dirt[dirt["file"] == "extracts/gp_patients"]
    assert set(dirt["kind"]) <= {"invalid_nhs_number", "duplicate_row"}
    # One row per person, and a row more for each duplicate the dirt delivered.
    assert len(patients) == len(people) + (dirt["kind"] == "duplicate_row").sum()
    assert (person.drop_duplicates().sort_values().to_numpy() == people.index.to_numpy()).all()
    assert patients["PATIENT_ID"].nunique() == len(people)
    truth = people.loc[person[clean]]
    rows = patients[clean]
    assert clean.mean() > 0.98
    date = "%Y-%m-%d"
    assert (rows["NHS_NUMBER"].to_numpy() == truth["nhs_number"].to_numpy()).all()
    assert codes.valid_nhs_mask(rows["NHS_NUMBER"].to_numpy()).all()
    assert (rows["DATE_OF_BIRTH"].to_numpy() == truth["date_of_birth"].dt.strftime(date)).all()
    assert (rows["SEX"].to_numpy() == truth["sex"].to_numpy()).all()
    assert (rows["ETHNIC_CATEGORY"].to_numpy() == truth["ethnic_category"].to_numpy()).all()
    assert (rows["POSTCODE"].to_numpy() == truth["postcode"].to_numpy()).all()
    assert (rows["LSOA"].to_numpy() == truth["lsoa_code"].to_numpy()).all()
    death = truth["date_of_death"].dt.strftime(date).fillna("")
    assert (rows["DATE_OF_DEATH"].to_numpy() == death.to_numpy()).all()
    assert (rows["DATE_OF_DEATH"] != "").sum() > 0
    registrations = pd.read_parquet(small / "truth/registrations.parquet")
    last = registrations.sort_values(["person_index", "start"]).drop_duplicates(
        "person_index", keep="last"
    )
    practice = last.set_index("person_index").loc[person[clean], "practice_code"]
    assert (rows["PRACTICE_CODE"].to_numpy() == practice.to_numpy()).all()


# Every date of a clean record that says when care happened (HES's 1800-01-01 is its null).
EVENT_DATES = {
    "hes_apc": ["ADMIDATE", "EPISTART", "EPIEND", "DISDATE"]
    + [f"OPDATE_{i:02d}" for i in range(1, 25)],
    "hes_op": ["APPTDATE"],
    "ecds": ["ARRIVAL_DATE"],
    "gp_events": ["EVENT_DATE"],
    "gp_registrations": ["REGISTRATION_START", "REGISTRATION_END"],
    "gp_patients": ["DATE_OF_DEATH"],
    "community_contacts": ["CONTACT_DATE"],
    "mental_health_contacts": ["CONTACT_DATE"],
    "ambulance_incidents": ["INCIDENT_DATE"],
    "social_care_services": ["START_DATE", "END_DATE"],
    "opt_outs": ["EFFECTIVE_DATE"],
}


def test_no_clean_record_is_dated_before_birth_or_after_death(small):
    """Ingest quarantines such records as implausible: the clean ones must never be."""
    people = pd.read_parquet(small / "truth/people.parquet").set_index("person_index")
    for name, columns in EVENT_DATES.items():
        frame, person, clean = extract(small, name)
        born = people.loc[person, "date_of_birth"].to_numpy()
        died = people.loc[person, "date_of_death"].to_numpy()
        for column in columns:
            text = frame[column].where(~frame[column].isin(["", "1800-01-01"]))
            when = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").to_numpy()
            assert not (when[clean] < born[clean]).any(), (name, column)
            assert not (when[clean] > died[clean]).any(), (name, column)  # NaT: alive


def test_dirt_is_recorded_and_really_there(small):
    dirt = pd.read_parquet(small / "truth/dirt.parquet")
    assert {"invalid_nhs_number", "impossible_date", "duplicate_row"} <= set(dirt["kind"])
    bad = dirt[dirt["kind"] == "invalid_nhs_number"]
    assert not codes.valid_nhs_mask(bad["after"].astype(str).to_numpy()).any()
    impossible = dirt[dirt["kind"] == "impossible_date"]
    assert impossible["after"].str.endswith("-02-30").all()


def test_clean_files_when_asked(tmp_path):
    out = tmp_path / "clean"
    generate(out, people=1_500, seed=2, chunk_people=1_000, dirt=Dirt.none())
    assert len(pd.read_parquet(out / "truth/dirt.parquet")) == 0
    gp = pd.read_csv(out / "extracts/gp_events.csv", dtype=str)
    assert codes.valid_nhs_mask(gp["NHS_NUMBER"].to_numpy()).all()


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> pd.DataFrame:
    # The calibration run: 200,000 people, three years.
    out = tmp_path_factory.mktemp("synth") / "big"
    generate(out, people=200_000, seed=11)
    return calibration.achieved(out)


def test_calibration_targets_are_met_on_200k_people(calibrated):
    missed = calibrated[~calibrated["within"]]
    assert missed.empty, "\n" + calibration.render(missed)


def test_omop_has_a_cost_for_every_visit(small):
    visits = pd.read_parquet(small / "omop/visit_occurrence.parquet")
    cost = pd.read_parquet(small / "omop/cost.parquet")
    assert sorted(cost["cost_event_id"]) == sorted(visits["visit_occurrence_id"])
    assert (cost["cost_domain_id"] == "Visit").all()
    inpatient = visits.loc[visits["visit_concept_id"].isin([9201, 262]), "visit_occurrence_id"]
    # Admitted care is priced per bed day, at least one: never below £500.
    assert cost.set_index("cost_event_id").loc[inpatient, "total_cost"].min() >= 500
    people = pd.read_parquet(small / "truth/people.parquet")
    assert not visits.astype(str).isin(set(people["nhs_number"])).any().any()
