"""The publish writer: gated tables only, suppressed cells shown as '*', a sidecar."""

import csv
import json

import ibis
import pytest

from openphm import disclosure, engine
from openphm.disclosure import Rate, gate
from openphm.publish.writer import DisclosureBreach, write_published


def cells(con):
    data = {
        "place": ["A", "A", "B", "B"],
        "band": ["5-9", "10-14", "5-9", "10-14"],
        "n": [3, 40, 50, 60],
        "pop": [100, 200, 300, 400],
    }
    return engine.scratch_table(con, "cells", ibis.memtable(data))


def test_refuses_anything_that_did_not_pass_the_gate(tmp_path, duckdb_con):
    with pytest.raises(TypeError, match="disclosure.gate"):
        write_published(tmp_path, cells(duckdb_con))


def test_writes_stars_in_reading_order_with_a_sidecar(tmp_path, duckdb_con):
    gated = gate(
        "admissions",
        cells(duckdb_con),
        keys=["place", "band"],
        counts=["n", "pop"],
        margins=["place", "band"],
        rates={"per_1000": Rate("n", "pop", per=1000)},
    )
    result = write_published(tmp_path, gated)
    rows = list(csv.DictReader(result.path.open()))
    # 5-9 before 10-14 (natural order), totals after the cells they total.
    assert [(r["place"], r["band"]) for r in rows[:3]] == [
        ("A", "5-9"),
        ("A", "10-14"),
        ("A", "Total"),
    ]
    assert [(r["place"], r["band"]) for r in rows][-1] == ("Total", "Total")
    a = {r["band"]: r for r in rows if r["place"] == "A"}
    assert a["5-9"]["n"] == "*" and a["5-9"]["n_flag"] == "primary"
    assert a["5-9"]["per_1000"] == "*"
    assert a["10-14"]["n"] == "*" and a["10-14"]["n_flag"] == "secondary"
    for r in rows:
        if r["n"] != "*":
            assert int(r["n"]) % 5 == 0 and not 1 <= int(r["n"]) <= 7
    sidecar = json.loads((tmp_path / "admissions.disclosure.json").read_text())
    assert sidecar["rows"] == len(rows) == result.rows
    assert sidecar["disclosure"]["suppressed"]["n_primary"] == 1


def test_a_forged_gated_table_with_a_small_count_is_stopped(tmp_path, duckdb_con):
    # Defence in depth: even a table that skipped the rules cannot reach the file.
    raw = cells(duckdb_con).mutate(n_flag=ibis.null("string"), pop_flag=ibis.null("string"))
    forged = disclosure.GatedTable(
        "forged",
        raw,
        ("place", "band"),
        ("n", "pop"),
        {},
        {"enabled": True, "suppression_threshold": 7, "rounding_multiple": 5},
        _token=disclosure._GATE_TOKEN,
    )
    with pytest.raises(DisclosureBreach, match="forged.n: 1 cell") as info:
        write_published(tmp_path, forged)
    assert "A" not in str(info.value).split(":")[-1]  # no row content in the message
    assert not (tmp_path / "forged.csv").exists()
