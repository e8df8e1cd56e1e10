"""NHS Digital's artificial HES, as published, through ingest: sources that say only
``layout = "hes_apc"`` (``hes_op``, ``hes_ae``).

The excerpt (tests/data/artificial_hes, README there) has HES's own names
(PSEUDO_HESID, MYDOB, LSOA11, no PROVSPNOPS, no DOB, no postcode). Its person key is
a pseudonym; until ingest reads a pseudonym as one (``identifier = "pseudonym"``), the
second group of tests gives each PSEUDO_HESID a synthetic NHS number from the
never-issued 999 range in a column of its own, mapped with ``columns``.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from openphm.ingest import stage as ingest
from openphm.runner import run_stage
from openphm.workspace import Workspace

EXCERPT = Path(__file__).parents[1] / "data" / "artificial_hes"
ROWS = {"apc": 205, "op": 200, "ae": 202}
NHS_COLUMN = "TEST_NHS_NUMBER"


def nhs_numbers():
    """Valid NHS numbers from 999 000 000 0 up, in order (Modulus 11; a check digit of 10
    is never issued, so that stem is skipped)."""
    n = 999_000_000
    while True:
        digits = str(n)
        check = 11 - sum(int(d) * (10 - k) for k, d in enumerate(digits)) % 11
        if check != 10:
            yield digits + str(0 if check == 11 else check)
        n += 1


def with_nhs_numbers(source: Path, target: Path) -> None:
    """A copy of a HES file with one synthetic NHS number per PSEUDO_HESID, as its last column."""
    with open(source, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    key = rows[0].index("PSEUDO_HESID")
    numbers: dict[str, str] = {}
    fresh = nhs_numbers()
    with open(target, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow([*rows[0], NHS_COLUMN])
        for row in rows[1:]:
            number = (
                numbers[row[key]]
                if row[key] in numbers
                else numbers.setdefault(row[key], next(fresh))
            )
            out.writerow([*row, number])


def _workspace(root: Path, nhs_numbers: bool) -> Workspace:
    Workspace.init(root)
    config = (root / "openphm.toml").read_text()
    for name in ROWS:
        target = root / f"{name}.csv"
        if nhs_numbers:
            with_nhs_numbers(EXCERPT / f"{name}.csv", target)
        else:
            shutil.copy(EXCERPT / f"{name}.csv", target)
        config += f'\n[sources.{name}]\npath = "{name}.csv"\nlayout = "hes_{name}"\n'
        if nhs_numbers:
            config += f'columns = {{ NEWNHSNO = "{NHS_COLUMN}" }}\n'
    (root / "openphm.toml").write_text(config)
    return Workspace(root)


def _restricted(ws: Workspace, name: str):
    return ws.con.read_parquet(str(ws.root / "quarantine" / "ingest" / f"{name}.parquet"))


def test_artificial_hes_as_published_is_read_with_nothing_but_its_layout(tmp_path):
    ws = _workspace(tmp_path / "ws", nhs_numbers=False)
    summary = run_stage(ws, ingest.STAGE)  # no missing column stops the run
    files = {f["source"]: f for f in summary.counts["files"]}
    for name, rows in ROWS.items():
        f = files[name]
        assert f["layout"] == f"hes_{name}"
        assert f["rows_read"] == rows
        assert f["rows_accepted"] + f["rows_quarantined"] == rows


@pytest.fixture(scope="module")
def hes(tmp_path_factory):
    ws = _workspace(tmp_path_factory.mktemp("hes") / "ws", nhs_numbers=True)
    summary = run_stage(ws, ingest.STAGE)
    return ws, {f["source"]: f for f in summary.counts["files"]}


def _staged(ws: Workspace, name: str):
    return _restricted(ws, f"staged_{name}").to_pandas()


def test_every_file_reconciles_rows_read_accepted_and_quarantined(hes):
    _, files = hes
    for name, rows in ROWS.items():
        assert files[name]["rows_read"] == rows
        assert files[name]["rows_accepted"] + files[name]["rows_quarantined"] == rows
    # Quarantine falls as the Data Dictionary's "not known" codes become valid values
    # (checks.csv severities); the episodes with nothing wrong are kept today.
    assert files["apc"]["rows_accepted"] > 0


def test_accepted_episodes_become_spells_with_their_diagnoses_and_procedures(hes):
    ws, files = hes
    encounters = _staged(ws, "encounter")
    episodes = _staged(ws, "episode")
    apc = encounters[encounters.setting == "apc"]
    assert len(episodes) == files["apc"]["rows_accepted"]
    # No PROVSPNOPS: spells by person, provider and admission date; each episode in one.
    assert set(episodes.encounter_id) == set(apc.encounter_id)
    assert 0 < len(apc) <= len(episodes)
    assert apc.encounter_id.str.match(r"^apc:[A-Z0-9]{3,5}-e[0-9]+$").all()
    diagnoses = _staged(ws, "diagnosis")
    procedures = _staged(ws, "procedure")
    on_apc = diagnoses[diagnoses.encounter_id.str.startswith("apc:")]
    assert set(on_apc.encounter_id) <= set(apc.encounter_id)
    # Every accepted episode has its primary diagnosis, in one spelling (no HES 'X' filler),
    # but those whose primary code was not ICD-10 (nulled, and a field issue).
    issues = pd.read_parquet(ws.quarantine_dir / "ingest" / "field_issues.parquet")
    nulled = issues[(issues.source == "apc") & (issues.column == "DIAG_4_01")]
    assert (nulled.action == "nulled").all()
    excerpt = pd.read_csv(EXCERPT / "apc.csv", dtype=str, keep_default_na=False)
    undelivered = excerpt.DIAG_4_01.str.strip().isin(["", "-", "&"]).sum()  # HES: no code
    primary = len(on_apc[on_apc.position == 1])
    assert len(episodes) - len(nulled) - undelivered <= primary <= len(episodes)
    assert primary < len(episodes)  # the excerpt holds an episode with no primary code
    assert not diagnoses.code.str.contains(r"[.X\-]$").any()
    assert len(procedures[procedures.encounter_id.str.startswith("apc:")]) > 0


def test_accepted_attendances_become_encounters(hes):
    ws, files = hes
    encounters = _staged(ws, "encounter")
    assert (encounters.setting == "op").sum() == files["op"]["rows_accepted"]
    assert (encounters.setting == "ae").sum() == files["ae"]["rows_accepted"]
    assert encounters[encounters.setting == "ae"].is_emergency.all()


def test_a_date_of_birth_comes_from_mydob_and_the_lsoa_from_lsoa01(hes):
    ws, _ = hes
    identity = _staged(ws, "identity").set_index("record_key")
    # Line 2 of apc.csv: EPIKEY 513700125763, MYDOB 041968, LSOA11 empty, LSOA01 E01031043.
    row = identity.loc["513700125763"]
    assert str(row.date_of_birth)[:10] == "1968-04-01"
    assert row.lsoa_code == "E01031043"
    assert pd.isna(row.postcode)  # HES publishes none


SUS_APCE = (
    "APCE_Ident,Der_Provider_Code,Der_Pseudo_NHS_Number,Admission_Date,Episode_Start_Date,"
    "Episode_End_Date,Discharge_Date,Admission_Method,Treatment_Function_Code,Sex,"
    "Ethnic_Group,Der_Postcode_LSOA_2011_Code,GP_Practice_Code,Der_Diagnosis_All\n"
    "9001,RXX,9990000018,2023-05-01,2023-05-01,2023-05-03,2023-05-03,21,300,2,A,"
    'E01000001,A81001,"K409,I10X"\n'
    "9002,RXX,9990000026,2023-06-10,2023-06-10,2023-06-10,2023-06-10,11,101,1,Z,"
    "E01000002,A81002,\n"
)
# Diagnoses one row per code, as CPRD's HES APC linkage names them (epikey, d_order, ICD),
# ICD-10 dotted as CPRD writes it; the last names an episode no file delivered.
LONG_DIAGNOSES = "epikey,d_order,ICD\n9001,1,K40.9\n9001,2,I10X\n9002,1,N39.0\n9999,1,J18.9\n"


def test_a_sus_named_file_and_long_diagnoses_are_read_through_aliases(tmp_path):
    root = tmp_path / "ws"
    Workspace.init(root)
    (root / "apce.csv").write_text(SUS_APCE)
    (root / "diagnoses.csv").write_text(LONG_DIAGNOSES)
    config = (root / "openphm.toml").read_text()
    config += '\n[sources.apce]\npath = "apce.csv"\nlayout = "hes_apc"\n'
    config += '\n[sources.diagnoses]\npath = "diagnoses.csv"\nlayout = "hes_diagnoses_long"\n'
    (root / "openphm.toml").write_text(config)
    ws = Workspace(root)
    summary = run_stage(ws, ingest.STAGE)
    files = {f["source"]: f for f in summary.counts["files"]}
    assert files["apce"]["rows_accepted"] == 2
    assert files["diagnoses"]["rows_accepted"] == 4
    encounters = _staged(ws, "encounter").set_index("record_key")
    expected = {
        "nhs_number": "9990000018",
        "provider_code": "RXX",
        "setting": "apc",
        "admission_method": "21",
        "is_emergency": True,
        "treatment_function": "300",
    }
    assert {k: encounters.loc["9001", k] for k in expected} == expected
    identity = _staged(ws, "identity").set_index("record_key")
    assert identity.loc["9001", "lsoa_code"] == "E01000001"
    assert identity.loc["9001", "practice_code"] == "A81001"
    assert identity.loc["9001", "ethnic_category"] == "A"
    diagnoses = _staged(ws, "diagnosis")
    got = sorted(zip(diagnoses.episode_id, diagnoses.position, diagnoses.code, strict=True))
    assert got == [("9001", 1, "K409"), ("9001", 2, "I10"), ("9002", 1, "N390")]
    spell = encounters.loc["9001", "encounter_id"]
    assert set(diagnoses[diagnoses.episode_id == "9001"].encounter_id) == {spell}
    assert summary.notes == (
        "1 diagnoses delivered one row per code name an episode or attendance that no "
        "source delivered; they are left out (add the APC, OP or A&E file they belong to).",
    )
