"""No silent empties: data that are valid but thin give notes, not empty tables or a stop.

Small workspaces over a synthetic ICS whose care ran from April 2001 to March 2004,
long before any index date a template might hold:

- no index date set: the measure stage takes one from the data (31 March 2004, the end
  of the last financial year they cover) and publishes indicators for 2003/04;
- too few people for a risk model: the risk stage is skipped with a note, writes its
  tables empty, and measure and publish still run (``openphm run`` exits 0); the note
  is published (``stage_notes.csv``) and heads the report;
- no GP registrations: rates per population fall back to the area populations the
  ``lsoas`` source carries (ONS's LSOA mid-year estimates, wide by sex and single year
  of age), and without those the rates are left empty with a note saying why.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from openphm.cli import app
from openphm.ingest.layouts import POPULATION_COLUMNS
from openphm.ingest.stage import STAGE as INGEST
from openphm.link.stage import STAGE as LINK
from openphm.measure.stage import STAGE as MEASURE
from openphm.publish.stage import STAGE as PUBLISH
from openphm.report.build import build_report
from openphm.runner import run_stage
from openphm.synth import generate
from openphm.workspace import Workspace
from tests.e2e.workspaces import configure_sources

START = dt.date(2001, 4, 1)  # three financial years: 2001/02 to 2003/04
# Sources a measure needs (registrations left out where a test says so), and no costing
# files: these tests are about measure and risk.
MEASURED = ("gp_patients", "gp_registrations", "hes_apc", "hes_op", "ecds", "opt_outs")
PER_YEAR_OF_AGE = 10  # people per LSOA, sex and single year of age in the test estimates


@pytest.fixture(scope="module")
def ics(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ics2001")
    generate(out, people=400, seed=3, start=START, years=3)
    return out


def workspace(root: Path, ics: Path, sources=MEASURED, extra: str = "") -> Workspace:
    """A workspace over ``ics`` with only ``sources``, and no measure index date set."""
    ws = configure_sources(root, ics)
    config = ws.root / "openphm.toml"
    blocks = re.split(r"\n(?=\[sources\.)", config.read_text())
    kept = [b for b in blocks if not b.startswith("[sources.") or _source(b) in sources]
    text = "\n".join(kept)
    # Whatever the template sets, the index date is left to the data.
    text = re.sub(r"(\[stages\.measure\]\n)index_date = [^\n]*\n", r"\1", text)
    config.write_text(text + extra)
    ws.close()
    ws = Workspace(root)
    assert ws.config.stages.measure.index_date is None
    return ws


def _source(block: str) -> str:
    return block.split("]", 1)[0].removeprefix("[sources.")


def lsoas_with_populations(ics: Path, path: Path) -> int:
    """The ICS's LSOA lookup with ONS-style population columns: F0..F90, M0..M90 (wide),
    ``PER_YEAR_OF_AGE`` people in every cell. Returns the number of LSOAs."""
    lookup = pd.read_csv(ics / "reference/lsoa.csv", dtype=str)
    people = pd.DataFrame(PER_YEAR_OF_AGE, index=lookup.index, columns=list(POPULATION_COLUMNS))
    lookup = pd.concat([lookup, people], axis=1)
    lookup.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return len(lookup)


def published(ws: Workspace, name: str) -> pd.DataFrame:
    return pd.read_csv(ws.published_dir / f"{name}.csv", dtype=str, keep_default_na=False)


def notes(ws: Workspace) -> pd.DataFrame:
    return published(ws, "stage_notes")


def test_an_old_extract_is_measured_up_to_the_end_of_its_last_financial_year(ics, tmp_path):
    ws = workspace(tmp_path / "ws", ics)
    summaries = {s.name: run_stage(ws, s) for s in (INGEST, LINK, MEASURE, PUBLISH)}
    measured = summaries["measure"].counts
    assert measured["index_date"] == "2004-03-31"
    assert measured["index_date_from"] == "the data"
    values = published(ws, "indicator_emergency_admissions")
    years = values[values.period_type == "year"]
    assert set(years.period) >= {"2003/04", "2002/03"}
    latest = years[(years.period == "2003/04") & (years.breakdown == "sex")]
    numerators = pd.to_numeric(latest.numerator.replace("*", None), errors="coerce")
    assert numerators.fillna(0).sum() > 0  # events counted, not an empty year
    assert summaries["measure"].notes == ()  # registrations present: nothing to say


def test_an_index_date_after_the_data_gives_nought_and_says_why(ics, tmp_path):
    ws = workspace(tmp_path / "ws", ics)
    config = ws.root / "openphm.toml"
    config.write_text(
        config.read_text().replace(
            "[stages.measure]\n", "[stages.measure]\nindex_date = 2010-03-31\n"
        )
    )
    ws = Workspace(ws.root)
    summaries = {s.name: run_stage(ws, s) for s in (INGEST, LINK, MEASURE)}
    counted = ws.table("indicator_values").numerator.sum().execute()
    assert counted == 0
    (note,) = summaries["measure"].notes
    assert "no encounter falls in the years reported" in note
    assert "2009/10, up to the index date 2010-03-31" in note
    assert "the encounters run from 2001-04" in note  # where the data are, so the fix is plain


def test_too_few_outcomes_skips_risk_with_a_note_and_the_run_goes_on(tmp_path):
    # Sixty people give a handful of emergency admissions: too few to fit a model on.
    ics = tmp_path / "ics"
    generate(ics, people=60, seed=3, start=START, years=3)
    ws = workspace(
        tmp_path / "ws",
        ics,
        sources=(*MEASURED, "lsoas", "organisations", "gp_events"),
        extra="\n[stages.risk]\nmin_history_months = 6\n",
    )
    ws.close()
    result = CliRunner().invoke(app, ["run", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "Risk was not modelled" in flat
    ws = Workspace(ws.root)
    risk = notes(ws)
    risk = risk[risk.stage == "risk"]
    assert len(risk) == 1
    assert "fewer than 10 people with an emergency admission or death" in risk.note.iloc[0]
    # Its tables are there, empty, with their columns; measure and publish ran after it.
    performance = published(ws, "risk_performance")
    assert performance.empty and {"auroc", "people", "fpr_top_5pct"} <= set(performance.columns)
    assert ws.table("risk_score").count().execute() == 0
    assert not published(ws, "indicator_emergency_admissions").empty
    record = [r for r in ws.audit.records() if r["action"] == "stage:risk"][-1]
    assert record["notes"] == [risk.note.iloc[0]]
    # The report says so near the top, in words, and still renders the risk section.
    report = build_report(ws.root, tmp_path / "report.html").path.read_text()
    assert report.index("<section") == report.index('<section id="not-done"')
    first = report[report.index('<section id="not-done"') : report.index("</section>")]
    assert "What could not be done" in first and "Risk: Risk was not modelled" in first


def test_without_registrations_rates_use_the_area_populations(ics, tmp_path):
    sources = tuple(s for s in MEASURED if s != "gp_registrations")
    lsoa_file = tmp_path / "lsoa_populations.csv"
    areas = lsoas_with_populations(ics, lsoa_file)
    extra = f'\n[sources.lsoas]\npath = "{lsoa_file}"\nlayout = "lsoas"\n'
    ws = workspace(tmp_path / "ws", ics, sources=sources, extra=extra)
    for stage in (INGEST, LINK, MEASURE, PUBLISH):
        summary = run_stage(ws, stage)
    assert ws.table("area").count().execute() == areas * 19 * 2  # LSOA x band x sex
    measure_notes = notes(ws)
    measure_notes = measure_notes[measure_notes.stage == "measure"].note.tolist()
    assert len(measure_notes) == 1 and "area populations from the lsoas source" in measure_notes[0]
    values = published(ws, "indicator_emergency_admissions")
    by_age = values[
        (values.period_type == "year")
        & (values.period == "2003/04")
        & (values.breakdown == "age_band")
    ].set_index("group_code")
    # Five single years in a band, two sexes, every LSOA: rounded to 5 by the gate.
    assert by_age.loc["40-44", "denominator"] == str(areas * 5 * 2 * PER_YEAR_OF_AGE)
    assert by_age.loc["40-44", "value"] != ""
    by_practice = values[(values.period_type == "year") & (values.breakdown == "practice")]
    assert (by_practice.value == "").all()  # the estimates know no practices
    assert summary.stage == "publish"


def test_without_registrations_or_populations_rates_are_empty_with_a_note(ics, tmp_path):
    sources = tuple(s for s in MEASURED if s != "gp_registrations") + ("lsoas",)
    ws = workspace(tmp_path / "ws", ics, sources=sources)
    for stage in (INGEST, LINK, MEASURE, PUBLISH):
        run_stage(ws, stage)
    measure_notes = notes(ws)
    measure_notes = measure_notes[measure_notes.stage == "measure"].note.tolist()
    assert len(measure_notes) == 1 and "have no denominator" in measure_notes[0]
    values = published(ws, "indicator_emergency_admissions")
    years = values[values.period_type == "year"]
    counted = pd.to_numeric(years.numerator.replace("*", None), errors="coerce").fillna(0)
    assert counted.sum() > 0  # the admissions are counted...
    assert years.value.isin(["", "*"]).all()  # ...and no rate is made up for them
    rates = ws.table("indicator_values").to_pandas()
    rates = rates[rates.indicator == "emergency_admissions"]
    assert len(rates) and rates.value.isna().all() and rates.numerator.sum() > 0
