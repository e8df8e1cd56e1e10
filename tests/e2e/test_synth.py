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
    assert files(again) == files(small)


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
