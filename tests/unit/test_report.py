"""The report pack on a tiny workspace whose tables went through the real gate and writer.

``tiny_workspace`` is shared with the dashboard's unit tests (tests/unit/test_web.py):
a workspace with a handful of published tables, a ``risk_score`` warehouse table for
four practices, and an audit record naming the code lists a need run used.
"""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import pandas as pd
import pytest

from openphm import codelists
from openphm.disclosure import gate
from openphm.publish.writer import write_published
from openphm.report import build_report
from openphm.report.published import read_published
from openphm.report.sections import SECTIONS, generic
from openphm.runner import write_restricted
from openphm.workspace import Workspace

PRACTICES = ("A81001", "A81002", "B82001", "B82002")
AGE_BANDS = ("0-4", "5-9", "10-14", "15-19")


def person_id(i: int) -> str:
    """A pseudonym-shaped id (64 hex characters), as link's HMAC makes them."""
    return f"{i:064x}"


def tiny_workspace(root: Path) -> Workspace:
    ws = Workspace.init(root)
    # Audited first: files in published/ with an empty audit log would be a deleted log.
    charlson = codelists.load("charlson")
    ws.audit.append(
        {
            "action": "stage:need",
            "user": "tester",
            "purpose": "planning",
            "lawful_basis": ws.config.governance.lawful_basis,
            "code_version": "test",
            "counts": {
                "need": {
                    "definitions": {
                        "charlson": {
                            "version": charlson.version,
                            "fingerprint": charlson.fingerprint,
                        }
                    }
                }
            },
            "published": [{"file": "registered_population.csv"}],
        }
    )
    pop = pd.DataFrame(
        [
            {"practice_code": p, "age_band": a, "sex": s, "population": 3 + 40 * i + 7 * j + k}
            for i, p in enumerate(PRACTICES)
            for j, a in enumerate(AGE_BANDS)
            for k, s in enumerate(("1", "2"))
        ]
    )
    tables = [
        gate(
            "registered_population",
            ibis.memtable(pop),
            keys=["practice_code", "age_band", "sex"],
            counts=["population"],
            margins=["practice_code", "age_band", "sex"],
        ),
        # A table no section has a renderer of its own for: the generic renderer draws it.
        gate(
            "cost_by_setting",
            ibis.memtable(
                pd.DataFrame(
                    {
                        "financial_year": ["2024/25"] * 4 + ["2025/26"] * 4,
                        "setting": ["apc", "op", "ae", "community"] * 2,
                        "people": [120, 340, 5, 90, 130, 350, 60, 95],
                        "cost_pounds": [90_000, 25_000, 300, 8_000, 99_000, 27_000, 4_000, 9_000],
                    }
                )
            ),
            keys=["financial_year", "setting"],
            counts=["people", "cost_pounds"],
        ),
    ]
    for t in tables:
        write_published(ws.published_dir, t)
    # The risk stage's warehouse table: 30 people per practice, ranked by probability.
    rows = []
    for i in range(len(PRACTICES) * 30):
        p = PRACTICES[i % len(PRACTICES)]
        prob = round(((i * 37) % 100) / 100, 2)
        rows.append(
            {
                "person_id": person_id(i + 1),
                "index_date": pd.Timestamp("2026-03-31").date(),
                "practice_code": p,
                "probability": prob,
                "tier": "high" if prob >= 0.9 else "moderate" if prob >= 0.5 else "low",
                "factor_1": "age",
                "factor_2": "ltc_count",
                "factor_3": "prior_emergency_admissions",
            }
        )
    risk = pd.DataFrame(rows)
    risk["rank"] = (
        risk.groupby("practice_code")["probability"].rank(method="first", ascending=False)
    ).astype("int64")
    ws.commit({"risk_score": risk})
    write_restricted(ws, "risk", "risk_score", risk)  # as the risk stage does, for the dashboard
    ws.close()
    return Workspace(root)


COUNT_CELL = re.compile(r'<td class="count( suppressed)?"[^>]*>([^<]*)</td>')


def count_cells(html: str) -> list[str]:
    return [m.group(2) for m in COUNT_CELL.finditer(html)]


def unsafe_counts(cells: list[str]) -> list[str]:
    """Cells that are neither suppressed, empty, zero, nor a multiple of 5 above 7."""
    bad = []
    for text in cells:
        if text in ("*", ""):
            continue
        n = int(text.replace(",", ""))
        if 1 <= n <= 7 or n % 5:
            bad.append(text)
    return bad


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    ws = tiny_workspace(tmp_path_factory.mktemp("tiny") / "ws")
    result = build_report(ws.root)
    return ws, result, result.path.read_text()


def test_report_is_one_file_without_scripts_or_network(report):
    _, result, html = report
    assert result.path.name == "report.html"
    assert "<script" not in html.lower()
    # Only the SVG namespaces are URLs: nothing is fetched.
    urls = set(re.findall(r"(?:src|href)=\"(https?://[^\"]+)", html))
    assert urls == set()
    assert 'http-equiv="Content-Security-Policy"' in html


def test_sections_without_their_tables_say_not_run(report):
    _, result, html = report
    titles = {s.id: s.title for s in SECTIONS}
    assert titles["emergency"] in result.not_run
    assert titles["risk"] in result.not_run
    assert "Not run: the risk stage has not published its tables" in html
    # Costs published one table: the section renders it and lists what is missing.
    assert titles["costs"] not in result.not_run
    assert "cost_by_place.csv" in html


def test_every_count_cell_is_suppressed_or_a_safe_rounded_count(report):
    _, _, html = report
    cells = count_cells(html)
    assert len(cells) > 10
    assert "*" in cells  # the tiny population has small cells, and they are hidden
    assert unsafe_counts(cells) == []


def test_charts_are_pictures_with_text_alternatives_and_tables(report):
    _, result, html = report
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) == result.charts >= 2  # the pyramid and the generic cost bars
    for img in images:
        assert 'src="data:image/svg+xml;base64,' in img
        assert re.search(r'alt="[^"]{30,}"', img) and 'role="img"' in img
    # Each chart sits in a figure with the table behind it.
    assert html.count('<figure class="chart">') == result.charts
    assert "Age-sex pyramid" in html


def test_methods_name_the_code_lists_the_run_used_with_sources(report):
    _, _, html = report
    charlson = codelists.load("charlson")
    assert charlson.fingerprint in html
    assert "Quan H" in html  # its source publication
    assert "Counts from 1 to 7 are suppressed" in html


def test_suppression_section_reports_the_gates_decisions(report):
    ws, _, html = report
    pub = read_published(ws.published_dir)
    primary = pub["registered_population"].suppressed_cells["population_primary"]
    assert primary > 0
    assert f"population: {primary} primary (1 to 7)" in html


def test_counts_are_recognised_by_their_flags_as_the_gate_recorded_them(report):
    ws, _, _ = report
    for name, pt in read_published(ws.published_dir).items():
        recorded = {k.rsplit("_", 1)[0] for k in pt.decisions["suppressed"]}
        assert set(pt.counts) == recorded, name


def test_generic_renderer_charts_the_latest_year_by_the_varying_label(report):
    ws, _, _ = report
    pt = read_published(ws.published_dir)["cost_by_setting"]
    figure, whole = generic(pt, value="cost_pounds")
    assert "cost pounds by setting (financial_year 2025/26)" in figure.chart.alt
    assert figure.table.columns == ("financial_year", "setting", "people", "cost_pounds")
    rows = {row[1].text: row for row in figure.table.rows}
    assert set(rows) == {"apc", "op", "ae", "community"}
    assert {row[0].text for row in figure.table.rows} == {"2025/26"}
    assert rows["apc"][3].text == "99000" and rows["apc"][3].kind == "count"
    assert whole.caption.endswith("the whole table")


def test_generic_renderer_keeps_suppressed_cells_hidden(report):
    ws, _, _ = report
    pt = read_published(ws.published_dir)["cost_by_setting"]
    figure, whole = generic(pt)  # the first count, people
    assert "people by setting" in figure.chart.alt
    assert len(whole.rows) == 8  # and the whole table after the chart's
    cells = {(row[0].text, row[1].text): row[2] for row in whole.rows}
    assert cells["2024/25", "ae"].suppressed and cells["2024/25", "ae"].kind == "count"
    assert cells["2025/26", "ae"].text == "60"


def test_equity_audit_sets_each_groups_share_beside_its_fair_share(tmp_path):
    from openphm.report.sections import _equity

    rows = [
        {
            "label": label,
            "group_type": "imd_quintile",
            "group": q,
            "tier": tier,
            "share_in_tier_percent": share,
            "share_of_need_percent": 20.0,
            "share_of_top_by_need_percent": fair,
            "people": 40,
            "need_people": 30,
        }
        for label in ("cost", "need")
        for q, share, fair in (("1", 30.0, 38.0), ("5", 12.0, 10.0))
        for tier in ("all", "top_20%")
    ]
    frame = pd.DataFrame(rows)
    keys = [c for c in frame.columns if c not in ("people", "need_people")]
    written = write_published(
        tmp_path,
        gate("equity_audit", ibis.memtable(frame), keys=keys, counts=["people", "need_people"]),
    )
    (figure,) = _equity(read_published(written.path.parent)["equity_audit"])
    assert "each imd quintile's share of the model's top 20%" in figure.chart.alt
    assert "one panel per model (cost, need)" in figure.chart.alt
    assert {row[3].text for row in figure.table.rows} == {"top_20%"}
    assert len(figure.table.rows) == 4
