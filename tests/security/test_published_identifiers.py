"""Identifiers in published key cells (issue 16, item 1): a row whose columns had
shifted put an NHS number, a postcode and a date of birth in dq_validity.csv as a
row key; the row's count was suppressed, its key shown.

A 300-person synthetic ICS is edited to push identifiers into every text a published
table takes from the input (provider codes, treatment functions, practice codes,
organisation names, a row with shifted columns), run through every stage, and then
every published file and the report pack are scanned for each planted value and for
every person's NHS number, postcode and date of birth, in every spelling.
"""

from __future__ import annotations

import csv
import json

import ibis
import numpy as np
import pandas as pd
import pytest

from openphm.codes import is_valid_nhs_number, synthetic_nhs_numbers
from openphm.disclosure import gate
from openphm.publish.cells import INVALID_VALUE, allowed
from openphm.publish.writer import write_published
from openphm.report.build import build_report
from openphm.runner import run_stage
from openphm.stages import STAGES
from openphm.synth import generate
from openphm.workspace import Workspace
from tests.e2e.workspaces import configure_sources

NHS = str(synthetic_nhs_numbers(1, np.random.default_rng(16))[0])  # the 999 range only
POSTCODE = "LS9 7TF"
BIRTH = "1950-03-14"
PSEUDONYM = "3f" * 32
RECORD_KEY = "311291764100"


def spellings(value: str) -> set[str]:
    """A value as it may be written: an NHS number grouped 3-3-4, a postcode unspaced."""
    out = {value, value.replace(" ", "")}
    if value.isdigit() and len(value) == 10:
        out |= {f"{value[:3]} {value[3:6]} {value[6:]}", f"{value[:3]}-{value[3:6]}-{value[6:]}"}
    return out


def test_the_planted_nhs_number_is_a_valid_synthetic_one():
    assert NHS.startswith("999") and is_valid_nhs_number(NHS)


def _edit(path, edits: dict[tuple[int, str], str], extra_lines: list[str] = ()) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for (row, column), value in edits.items():
        frame.loc[row, column] = value
    frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL, lineterminator="\n")
    if extra_lines:
        with path.open("a") as fh:
            fh.write("\n".join(extra_lines) + "\n")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    synth = tmp_path_factory.mktemp("synth")
    generate(synth, people=300, seed=16)
    people = pd.read_csv(synth / "extracts" / "gp_patients.csv", dtype=str, keep_default_na=False)
    nhs, postcodes, births = people.NHS_NUMBER, people.POSTCODE, people.DATE_OF_BIRTH
    spaced = f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}"
    _edit(
        synth / "extracts" / "hes_apc.csv",
        {
            (0, "PROCODE3"): spaced,
            (1, "PROCODE3"): POSTCODE,
            (2, "PROCODE3"): BIRTH,
            (3, "TRETSPEF"): NHS,
            (4, "TRETSPEF"): POSTCODE.replace(" ", ""),
            (5, "TRETSPEF"): BIRTH,
            (6, "GPPRAC"): POSTCODE,
            (7, "PROCODE3"): PSEUDONYM,
        },
    )
    _edit(
        synth / "extracts" / "gp_registrations.csv",
        {(0, "PRACTICE_CODE"): NHS, (1, "PRACTICE_CODE"): POSTCODE},
    )
    _edit(
        synth / "reference" / "organisation.csv",
        {(1, "name"): f"Place {spaced}", (2, "name"): POSTCODE, (3, "name"): BIRTH},
    )
    # Columns shifted one to the right, and one to the left (a field lost).
    _edit(
        synth / "extracts" / "community_contacts.csv",
        {},
        [
            f'"99001","{nhs[0]}","{NHS}","{POSTCODE}","{BIRTH}","30","podiatry","Y"',
            f'"99002","{NHS}","{BIRTH}","{POSTCODE}","podiatry","Y"',
            f'"{RECORD_KEY}","{nhs[1]}","{POSTCODE}","{BIRTH}","30","podiatry","Y"',
        ],
    )
    root = tmp_path_factory.mktemp("ws")
    configure_sources(root, synth)
    # As in the demo: at this size a cost centre's only stays can be opted-out people's.
    config = root / "openphm.toml"
    config.write_text(config.read_text() + '\n[stages.cost]\npool_without_volume = "unallocated"\n')
    ws = Workspace(root)
    for stage in STAGES:
        run_stage(ws, stage)
    report = build_report(root)
    planted = set()
    for value in (NHS, POSTCODE, BIRTH, PSEUDONYM, RECORD_KEY, *nhs, *postcodes, *births):
        if value:
            planted |= spellings(value)
    yield ws, report, planted
    ws.close()


def _published_texts(ws, report):
    for path in sorted(ws.published_dir.rglob("*")):
        if path.is_file():
            yield path.name, path.read_text(errors="replace")
    for path in sorted(report.path.parent.rglob("*")):
        if path.is_file() and path.suffix in {".html", ".json", ".csv", ".md", ".txt", ".svg"}:
            yield path.name, path.read_text(errors="replace")


def test_no_identifier_reaches_any_published_file_or_the_report(run):
    ws, report, planted = run
    texts = list(_published_texts(ws, report))
    assert sum(name.endswith(".csv") for name, _ in texts) >= 30  # every stage published
    found = [(name, len(value)) for name, text in texts for value in planted if value in text]
    # Only the file and the value's length are shown: the value is someone's identifier.
    assert not found, found


def test_the_sidecars_count_what_was_withheld(run):
    ws, _, _ = run
    withheld = {}
    for path in ws.published_dir.glob("*.disclosure.json"):
        sidecar = json.loads(path.read_text())
        assert "invalid_values" in sidecar["disclosure"]
        for column, n in sidecar["disclosure"]["invalid_values"].items():
            withheld[(sidecar["table"], column)] = n
    # The planted treatment functions reach the cost rollup as keys and are withheld
    # there (ingest checks provider codes itself; this column it keeps as given).
    assert withheld.get(("cost_by_treatment_function", "treatment_function"), 0) >= 1
    shown = pd.read_csv(ws.published_dir / "cost_by_treatment_function.csv", dtype=str)
    assert INVALID_VALUE in set(shown.treatment_function)


# The writer on its own: every kind of key column, planted values and legitimate ones.
LEGITIMATE = {
    "provider_code": ["RZ1", "RXH01", "E06999001", "Z90001", "unknown", "Total"],
    "practice_code": ["Z90001", "A81001", "Unknown", "Total"],
    "pcn_code": ["U91001", "QZZ", "Total"],
    "place_code": ["X1A", "15N", "E38000001", "Unknown"],
    "hrg": ["FD10M", "WH50B", "Unknown"],
    "treatment_function": ["100", "361", "home_care", "Unknown"],
    "financial_year": ["2024/25"],
    "month": ["2024-04", "1931-02"],
    "period": ["2024/25", "2024-04"],
    "age_band": ["0-4", "40-44", "90+", "Total"],
    "group": ["Asian or Asian British", "Not stated", "40-44", "Z90001", "overall"],
    "source": ["hes_apc", "feed_ward_stay", "NHS Digital I02040 / NHS OF 3b: 0-29 days"],
    "percentile_band": ["00-05", "95-100"],
    "tier": ["top_0.5%", "0.5-2%", "rest"],
    "file": ["sources/extracts/hes_apc.csv"],
}
IDENTIFIERS = [
    NHS,
    f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}",
    f"{NHS[:3]}-{NHS[3:6]}-{NHS[6:]}",
    POSTCODE,
    POSTCODE.replace(" ", "").lower(),
    BIRTH,
    "14/03/1950",
    "14-Mar-1950",
    "19500314",
    PSEUDONYM,
    RECORD_KEY,
    f"Surgery at {POSTCODE}",
    f"Dr Smith {NHS}",
]


@pytest.mark.parametrize("column", sorted(LEGITIMATE))
def test_legitimate_key_values_are_published_as_they_are(column):
    for value in LEGITIMATE[column]:
        assert allowed(column, value), (column, value)


@pytest.mark.parametrize("column", sorted(LEGITIMATE))
def test_identifiers_are_never_allowed_in_any_key_column(column):
    for value in IDENTIFIERS:
        assert not allowed(column, value), (column, len(value))


def test_a_key_column_with_a_known_shape_takes_nothing_else():
    assert not allowed("provider_code", "20000")  # a local record number, not ODS
    assert not allowed("provider_code", "Dr Smith")
    assert not allowed("hrg", "FD10")
    assert not allowed("age_band", "forty")
    assert allowed("provider_code", 12)  # numbers are counts and statistics, not text


def test_the_writer_withholds_identifiers_and_counts_them(tmp_path):
    keys = ["provider_code", "hrg", "treatment_function"]
    rows = [("RZ1", "FD10M", "100")] + [(v, v, v) for v in IDENTIFIERS]
    table = ibis.memtable(
        {
            **{k: [r[i] for r in rows] for i, k in enumerate(keys)},
            "people": [40] * len(rows),
        }
    )
    written = write_published(tmp_path, gate("attack", table, keys=keys, counts=["people"]))
    text = written.path.read_text()
    for value in IDENTIFIERS:
        for spelling in spellings(value):
            assert spelling not in text, len(spelling)
    shown = pd.read_csv(written.path, dtype=str)
    assert list(shown.iloc[0][keys]) == ["RZ1", "FD10M", "100"]  # clean rows untouched
    assert (shown.iloc[1:][keys] == INVALID_VALUE).all().all()
    sidecar = json.loads((tmp_path / "attack.disclosure.json").read_text())
    expected = {k: len(IDENTIFIERS) for k in keys}
    assert (
        sidecar["disclosure"]["invalid_values"] == expected == written.decisions["invalid_values"]
    )
