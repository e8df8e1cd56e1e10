"""The report pack: one self-contained HTML file from the published tables (``openphm report``).

``build_report(workspace)`` reads ``published/`` (and the audit log and configuration for
the methods and audit sections) and writes ``reports/report.html``. Sections are a
registry (``sections.SECTIONS``): each names the published tables it shows, and says
"not run" when the stage that publishes them has not run.
"""

from openphm.report.build import REPORT_FILE, ReportResult, build_report, default_path

__all__ = ["REPORT_FILE", "ReportResult", "build_report", "default_path"]
