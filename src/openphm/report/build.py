"""``openphm report``: one self-contained HTML file from the published tables.

Reads only ``published/`` (the disclosure-controlled tables and their sidecars),
the audit log and the configuration; never the warehouse. The file has inline CSS
and charts as SVG pictures, no scripts and nothing fetched from the network, so it
works offline, can be emailed to a board, and prints to PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

import openphm
from openphm.report import blocks as b
from openphm.report.methods import audit_summary, methods, suppression_summary
from openphm.report.notes import notes_section
from openphm.report.published import read_published
from openphm.report.sections import render_sections
from openphm.workspace import Workspace, atomic_write_text

REPORT_FILE = "report.html"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportResult:
    path: Path
    sections: int
    not_run: tuple[str, ...]
    charts: int


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["figure"] = lambda x: isinstance(x, b.Figure)
    env.tests["table"] = lambda x: isinstance(x, b.Table)
    env.tests["text"] = lambda x: isinstance(x, b.Text)
    return env


def default_path(ws: Workspace) -> Path:
    return ws.published_dir.parent / "reports" / REPORT_FILE


def build_report(root: Path | str, out: Path | str | None = None) -> ReportResult:
    """Write the report pack for the workspace at ``root``; ``out`` defaults to reports/."""
    ws = Workspace(root)
    pub = read_published(ws.published_dir)
    records = ws.audit.records() if ws.audit.log_path.exists() else []
    sections = render_sections(pub)
    not_done = notes_section(pub)
    closing = [
        b.Section(
            "methods",
            "Methods",
            "How the figures were made, from the code lists, rules "
            "and definitions this run actually used, with their sources.",
            blocks=methods(pub, ws.config, records, ws.root),
        ),
        b.Section(
            "suppression",
            "What was suppressed and why",
            "Every published table passed the disclosure gate; this is what it decided.",
            blocks=suppression_summary(pub),
        ),
        b.Section(
            "audit",
            "Audit summary",
            "Who ran each stage, when, for what purpose and under which lawful basis.",
            blocks=audit_summary(ws.audit),
        ),
    ]
    everything = ([not_done] if not_done else []) + sections + closing
    figures = sum(isinstance(x, b.Figure) for s in everything for x in s.blocks)
    text = (
        environment()
        .get_template("report.html.j2")
        .render(
            title=f"{ws.config.name}: population health report",
            workspace=ws.config.name,
            controller=ws.config.governance.controller,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=openphm.__version__,
            sections=everything,
            tables=len(pub),
        )
    )
    path = Path(out) if out else default_path(ws)
    atomic_write_text(path, text)
    return ReportResult(
        path=path.resolve(),
        sections=len(everything),
        not_run=tuple(s.title for s in sections if s.status == "not run"),
        charts=figures,
    )
