"""The report pack in headless Chromium, on a demo workspace built once per test session.

``demo_workspace()`` runs ``openphm demo`` on a 2,000-person synthetic ICS (every stage,
then the report), and adds the ``risk_score`` warehouse table the risk stage writes
when the workspace does not have it yet; tests/e2e/test_dashboard.py serves the same
workspace. Screenshots are decoded here (``decode_png``: zlib and PNG's filters, no
imaging library) and checked for the charts' colours.
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import ibis
import pytest
from typer.testing import CliRunner

from openphm.cli import app
from openphm.report.charts import DARK_GREY, GREY, NHS_BLUE, ORANGE, WARM_YELLOW
from openphm.report.published import read_published
from openphm.workspace import Workspace

PEOPLE = 2_000
SEED = 5
COUNT_CELL = re.compile(r'<td class="count( suppressed)?"[^>]*>([^<]*)</td>')
HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


@functools.cache
def demo_workspace() -> tuple[Path, str]:
    """The demo, built once per process: (workspace, what the demo printed)."""
    base = Path(tempfile.mkdtemp(prefix="openphm-report-e2e-"))
    atexit.register(shutil.rmtree, base, True)
    root = base / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--dir", str(root), "--people", str(PEOPLE), "--seed", str(SEED)]
    )
    assert result.exit_code == 0, result.output
    shutil.rmtree(root / "sources")  # the extracts: not needed from here on
    add_risk_score(root)
    return root, result.output


def add_risk_score(root: Path) -> None:
    """risk_score as the risk stage writes it, unless the risk stage already did.

    Each registered person gets a made-up probability from a hash of their pseudonym:
    these tests are about who may see the list, not about the model.
    """
    ws = Workspace(root)
    try:
        if ws.has("risk_score"):
            return
        reg = ws.table("registration")
        current = reg.group_by("person_id").aggregate(practice_code=reg.practice_code.max())
        p = (current.person_id.hash().abs() % 1000).cast("float64") / 1000
        scored = current.mutate(
            index_date=ibis.date(2026, 3, 31),
            probability=p,
            tier=ibis.cases((p >= 0.95, "very_high"), (p >= 0.8, "high"), else_="low"),
            factor_1=ibis.literal("age"),
            factor_2=ibis.literal("ltc_count"),
            factor_3=ibis.literal("prior_emergency_admissions"),
        )
        ranked = scored.mutate(
            rank=ibis.row_number().over(
                group_by="practice_code", order_by=[ibis.desc("probability"), "person_id"]
            )
            + 1
        )
        ws.commit({"risk_score": ranked})
    finally:
        ws.close()


def person_ids(root: Path) -> set[str]:
    ws = Workspace(root)
    try:
        return set(ws.table("person").person_id.execute())
    finally:
        ws.close()


def practice_ids(root: Path, practice: str) -> set[str]:
    ws = Workspace(root)
    try:
        t = ws.table("risk_score")
        return set(t.filter(t.practice_code == practice).person_id.execute())
    finally:
        ws.close()


def unsafe_count_cells(html: str) -> list[str]:
    """Count cells that are neither suppressed ('*'), empty, 0 nor a multiple of 5 above 7."""
    bad = []
    for m in COUNT_CELL.finditer(html):
        text = m.group(2).replace(",", "")
        if text in ("*", ""):
            continue
        n = int(text)
        if 1 <= n <= 7 or n % 5:
            bad.append(text)
    return bad


def count_cells(html: str) -> list[str]:
    return [m.group(2) for m in COUNT_CELL.finditer(html)]


# --- screenshots -------------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGBA bytes) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            channels = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if channels == 3:
            line = bytearray(x for j in range(width) for x in (*line[3 * j : 3 * j + 3], 255))
        rows.append(bytes(line))
    return width, height, rows


def colour_share(png: bytes, hex_colour: str, tolerance: int = 12) -> float:
    """The share of pixels within ``tolerance`` of a colour in each channel."""
    width, height, rows = decode_png(png)
    r0, g0, b0 = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    hits = 0
    for row in rows:
        for j in range(0, len(row), 4):
            if (
                abs(row[j] - r0) <= tolerance
                and abs(row[j + 1] - g0) <= tolerance
                and abs(row[j + 2] - b0) <= tolerance
            ):
                hits += 1
    return hits / (width * height)


def ink_share(png: bytes) -> float:
    """The share of pixels that are not (near) white: 0 for a blank picture."""
    width, height, rows = decode_png(png)
    ink = sum(
        1
        for row in rows
        for j in range(0, len(row), 4)
        if min(row[j], row[j + 1], row[j + 2]) < 235
    )
    return ink / (width * height)


# --- the tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace() -> Path:
    return demo_workspace()[0]


@pytest.fixture(scope="module")
def report_file(workspace) -> Path:
    path = workspace / "reports" / "report.html"
    assert path.exists()
    return path


@pytest.fixture(scope="module")
def opened(browser, report_file):
    """The report open in Chromium, with every request it made."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report_file.as_uri())
    yield page, requests
    page.close()


def test_demo_ends_by_writing_the_report_and_saying_how_to_serve(workspace, report_file):
    _, output = demo_workspace()
    assert f"report:     {report_file}" in " ".join(output.split("\n"))
    assert f"openphm serve --dir {workspace}" in output


def test_report_makes_no_network_request_and_runs_no_script(opened):
    page, requests = opened
    assert page.evaluate("document.scripts.length") == 0
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []


def test_report_has_every_section_and_says_which_have_not_run(opened, workspace):
    page, _ = opened
    headings = page.locator("section > h2").all_inner_texts()
    for title in (
        "Population and need",
        "Emergency admissions",
        "Emergency readmissions within 30 days",
        "Avoidable emergency admissions",
        "Data quality",
        "Methods",
        "What was suppressed and why",
        "Audit summary",
        "Costs of care and fair shares",
        "Risk of emergency admission and the equity audit",
    ):
        assert title in headings
    pub = read_published(workspace / "published")
    for section, table in (("risk", "risk_tiers"), ("costs", "cost_by_setting")):
        text = page.locator(f"section#{section}").inner_text()
        assert ("Not run:" in text) == (table not in pub)
    audit = page.locator("section#audit").inner_text()
    assert "The audit log verifies" in audit and "stage:publish" in audit
    assert "planning" in audit and "Article 6(1)(e)" in audit
    methods = page.locator("section#methods").inner_text()
    assert "charlson" in methods and "Quan H" in methods and "Bridges to Health" in methods


def test_report_charts_are_drawn_with_their_colours(opened, tmp_path_factory):
    page, _ = opened
    shots = tmp_path_factory.mktemp("report-shots")
    pyramid = page.locator('img[alt^="Age-sex pyramid"]')
    png = pyramid.screenshot(path=shots / "pyramid.png")
    assert colour_share(png, NHS_BLUE) > 0.05  # males
    assert colour_share(png, WARM_YELLOW) > 0.05  # females
    funnel = page.locator('img[alt^="Funnel plot"]').first
    png = funnel.screenshot(path=shots / "funnel.png")
    points = colour_share(png, NHS_BLUE, 20) + colour_share(png, ORANGE, 20)
    # points (a handful on a small practice funnel) and limits
    assert points > 0.0005 and colour_share(png, DARK_GREY, 20) > 0.002
    spc = page.locator('img[alt^="Statistical process control"]').first
    png = spc.screenshot(path=shots / "spc.png")
    assert colour_share(png, GREY, 20) > 0.003 and ink_share(png) > 0.03
    for img in page.locator("figure.chart img").all():
        assert img.get_attribute("role") == "img"
        assert len(img.get_attribute("alt")) > 40
        box = img.bounding_box()
        assert box["width"] > 200 and box["height"] > 100
    # Each chart is followed by the table behind it.
    assert page.locator("figure.chart table").count() == page.locator("figure.chart img").count()


def test_report_shows_no_small_count_and_no_person(report_file, workspace):
    html = report_file.read_text()
    cells = count_cells(html)
    assert len(cells) > 200 and "*" in cells
    assert unsafe_count_cells(html) == []
    assert set(HEX64.findall(html)) & person_ids(workspace) == set()


def test_report_prints_to_pdf(opened, tmp_path):
    page, _ = opened
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    # A page per section at least (each starts on a new page in print).
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= page.locator("main > section").count()
