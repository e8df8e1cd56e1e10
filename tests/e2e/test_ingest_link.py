"""Ingest and link on the synthetic ICS, measured against the truth it was generated from.

One 12,000-person ICS with its deliberate dirt, run through ingest and link on
DuckDB. The generator recorded every fault it injected (truth/dirt) and whose
every record is (truth/record_person); these tests hold the pipeline to them.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from openphm import engine
from openphm.ingest import stage as ingest
from openphm.link import pseudonym
from openphm.link import stage as link
from openphm.publish import stage as publish
from openphm.runner import run_stage
from openphm.synth import generate
from openphm.workspace import Workspace
from tests.e2e.workspaces import KEY, configure_sources

PEOPLE = 12_000
# The reason ingest must give each kind of injected fault, per file where it differs.
EXPECTED_REASON = {
    "invalid_nhs_number": "invalid_nhs_number",
    "impossible_date": "invalid_date",
    "end_before_start": "end_before_start",
    "duplicate_row": "duplicate_row",
}
UNKNOWN_CODE_REASON = {"extracts/hes_apc": "invalid_icd10"}  # elsewhere SNOMED
# What each kind of fault does to its row (checks.csv's severities): an invalid NHS number
# or code is nulled and the row kept, except where the row is nothing without it.
QUARANTINES = {"impossible_date", "end_before_start", "duplicate_row"}
# The sources whose records carry a date of birth, sex and postcode to link on, and whose
# encounters are keyed by the line's record key.
WITH_DEMOGRAPHICS = ("ambulance_incidents", "social_care_services", "hes_op", "ecds")
QUARANTINED_BY = {
    ("extracts/gp_patients", "invalid_nhs_number"),  # the register is keyed by NHS number
    ("extracts/gp_registrations", "invalid_nhs_number"),  # a registration is a person's
    ("extracts/gp_events", "unknown_code"),  # an event is its code
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, people=PEOPLE, seed=11)
    ws = configure_sources(tmp_path_factory.mktemp("ws"), out)
    summaries = [run_stage(ws, s) for s in (ingest.STAGE, link.STAGE, publish.STAGE)]
    yield out, ws, summaries
    ws.close()


def _line_keys(path) -> pd.DataFrame:
    """Each data line's record key (the synthetic files have no quoted line breaks)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=[0])
    return pd.DataFrame({"line": range(2, len(frame) + 2), "record_key": frame.iloc[:, 0]})


def _quarantine(ws: Workspace) -> pd.DataFrame:
    return pd.read_parquet(ws.quarantine_dir / "ingest" / "quarantine.parquet")


def test_rows_read_equal_rows_accepted_plus_quarantined_for_every_file(world):
    _, _, (ingested, *_) = world
    files = ingested.counts["files"]
    assert len(files) >= 20
    for f in files:
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"], f
    assert ingested.rows_quarantined == sum(f["rows_quarantined"] for f in files)


def _issues(ws: Workspace) -> pd.DataFrame:
    return pd.read_parquet(ws.quarantine_dir / "ingest" / "field_issues.parquet")


def test_every_injected_fault_is_an_issue_and_only_unusable_rows_are_quarantined(world):
    """Each fault is recorded with its reason; the rows quarantined are exactly those whose
    fault makes them unusable; no clean row has an issue or is quarantined."""
    out, ws, _ = world
    dirt = pd.read_parquet(out / "truth/dirt.parquet")
    dirt = dirt[dirt.kind != "demographic_typo"]  # typos are for linkage, not quarantine
    quarantine, issues = _quarantine(ws), _issues(ws)
    checked = nulled = 0
    for file, injected in dirt.groupby("file"):
        name = file.split("/")[-1]
        keys = _line_keys(out / f"{file}.csv")
        found = issues[issues.source == name].merge(keys, on="line")
        held = quarantine[quarantine.source == name].merge(keys, on="line")
        expected, unusable = set(), set()
        for key, kind in zip(injected.record_key, injected.kind, strict=True):
            if kind == "unknown_code":
                expected.add((key, UNKNOWN_CODE_REASON.get(file, "invalid_snomed")))
            else:
                expected.add((key, EXPECTED_REASON[kind]))
            if kind in QUARANTINES or (file, kind) in QUARANTINED_BY:
                unusable.add(key)
        assert expected <= set(zip(found.record_key, found.reason, strict=True)), file
        assert set(found.record_key) == {k for k, _ in expected}, file
        assert set(held.record_key) == unusable, file
        checked += len(injected)
        nulled += int((found.action == "nulled").sum())
    assert checked > 100
    assert nulled > 50  # invalid NHS numbers and codes kept their rows


def test_no_opted_out_person_in_any_table_after_link(world):
    out, ws, _ = world
    opt = pd.read_csv(out / "extracts/opt_outs.csv", dtype=str)
    national = pseudonym.of_nhs_numbers(KEY, opt[opt.OPT_OUT_TYPE == "national"].NHS_NUMBER)
    type_1 = set(pseudonym.of_nhs_numbers(KEY, opt[opt.OPT_OUT_TYPE == "type_1"].NHS_NUMBER))
    assert len(national) > 100
    for name in link.OUTPUTS:
        table = ws.table(name)
        if "person_id" not in table.columns:
            continue
        ids = set(table.person_id.to_pyarrow().to_pylist())
        assert not ids & set(national), name
        if name in ("gp_event", "registration"):
            assert not ids & type_1, name


def test_probabilistic_linkage_precision_and_recall_against_truth(world):
    """Measured on the records that carry demographics to link on. An APC encounter is a
    spell, keyed by its spell number rather than a line's record key, so the truth (by
    record key) cannot be joined to it; community and mental health contacts carry no
    demographics: those whose NHS number was nulled stay unlinked (the next test)."""
    out, ws, _ = world
    truth = pd.read_parquet(out / "truth/record_person.parquet")
    people = pd.read_parquet(out / "truth/people.parquet", columns=["person_index", "nhs_number"])
    truth = truth.merge(people, on="person_index")
    truth["true_person"] = pseudonym.of_nhs_numbers(KEY, truth.nhs_number)
    encounter = ws.table("encounter")
    linked = encounter.filter(encounter.link_method != "nhs_number").to_pandas()
    linked = linked[linked.source.isin(WITH_DEMOGRAPHICS)]
    linked["record_key"] = linked.encounter_id.str.split(":").str[1]
    linked["file"] = "extracts/" + linked.source
    scored = linked.merge(truth, on=["file", "record_key"], how="left")
    assert len(scored) > 100
    links = scored[scored.link_method == "probabilistic"]
    correct = (links.person_id == links.true_person).sum()
    precision = correct / len(links)
    recall = correct / len(scored)
    assert precision >= 0.995, precision
    assert recall >= 0.95, recall


def test_a_contact_whose_nhs_number_was_nulled_is_kept_unlinked(world):
    """Before checks had severities such a contact was quarantined, and its activity lost."""
    out, ws, _ = world
    dirt = pd.read_parquet(out / "truth/dirt.parquet")
    encounter = ws.table("encounter").to_pandas()
    for source in ("community_contacts", "mental_health_contacts"):
        injected = dirt[(dirt.file == f"extracts/{source}") & (dirt.kind == "invalid_nhs_number")]
        # A duplicate's first copy is kept: only a bad date loses the record.
        dated = dirt.kind.isin(["impossible_date", "end_before_start"])
        unusable = dirt[(dirt.file == f"extracts/{source}") & dated]
        expected = set(injected.record_key) - set(unusable.record_key)
        mine = encounter[encounter.source == source]
        unlinked = mine[mine.link_method == "unlinked"].encounter_id.str.split(":").str[1]
        assert expected and set(unlinked) == expected, source


def test_no_raw_identifier_anywhere_in_the_warehouse_or_published(world):
    """Every string in every stored table and published file, against the people's real
    NHS numbers and postcodes; and no date of birth kept finer than year and month."""
    out, ws, _ = world
    ws.close()  # what is stored, read back by a new session
    people = pd.read_parquet(out / "truth/people.parquet", columns=["nhs_number", "postcode"])
    numbers, postcodes = set(people.nhs_number), set(people.postcode)
    # Ten digits standing alone: HES's 12-digit record keys are random, and one starting
    # with 999 can begin with a synthetic NHS number without holding it.
    tokens = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])|ZZ[0-9] ?[0-9][A-Z]{2}")

    def leaks(text: str) -> set[str]:
        found = set(tokens.findall(text))
        return (found & numbers) | {p for p in found if p in postcodes}

    con = ws.con
    names = engine.table_names(con)
    assert len(names) >= 10
    for physical in names:
        table = con.table(physical)
        assert not [
            c for c in table.columns if "birth" in c and not c.startswith(("year", "month"))
        ]
        for column, dtype in table.schema().items():
            if dtype.is_string():
                values = table.select(v=table[column]).distinct().v.to_pyarrow().to_pylist()
                assert not leaks("\n".join(v for v in values if v)), (physical, column)
    published = list(ws.published_dir.iterdir())
    assert published
    for path in published:
        assert not leaks(path.read_text()), path.name


def test_staged_tables_never_reach_the_warehouse_and_are_deleted_by_link(world):
    _, ws, _ = world
    assert not [t for t in ws.catalog() if t.startswith("staged_")]
    assert not [t for t in engine.table_names(ws.con) if t.startswith(("staged_", "_ingest"))]
    assert not list((ws.quarantine_dir / "ingest").glob("staged_*"))
    assert (ws.quarantine_dir / "ingest" / "quarantine.parquet").exists()
    assert not [p for p in ws.root.iterdir() if p.name.startswith("staging-")]


def test_same_key_same_ids_and_different_key_unlinkable():
    assert pseudonym.of_nhs_numbers(KEY, ["9990000018"]) == pseudonym.of_nhs_numbers(
        KEY, ["9990000018"]
    )
    other = b"another-key-of-at-least-32-bytes!!"
    assert pseudonym.of_nhs_numbers(other, ["9990000018"]) != pseudonym.of_nhs_numbers(
        KEY, ["9990000018"]
    )
