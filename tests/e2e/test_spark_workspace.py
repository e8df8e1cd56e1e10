"""A workspace on local Spark, across separate processes, publishes exactly what
the same workspace on DuckDB publishes."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

OPENPHM = str(Path(sys.executable).parent / "openphm")

LOAD_AND_RUN = """
import sys
from openphm.runner import load_sources, run_stage
from openphm.sample import sample_population
from openphm.stages import STAGES
from openphm.workspace import Workspace

ws = Workspace(sys.argv[1])
load_sources(ws, sample_population(3_000, seed=7), source="sample")
for stage in STAGES:
    if stage.name in ("measure", "publish"):  # the sample stands in for ingest and link
        run_stage(ws, stage)
"""


def make_workspace(root: Path, url: str) -> Path:
    subprocess.run([OPENPHM, "init", str(root)], check=True, capture_output=True)
    config = root / "openphm.toml"
    text = config.read_text().replace('"duckdb://warehouse.duckdb"', f'"{url}"')
    # The sample has registrations and no activity to date the indicators from: set it.
    text = text.replace('# index_date = "2026-03-31"', 'index_date = "2026-03-31"', 1)
    config.write_text(text)
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LOAD_AND_RUN), str(root)],
        check=True,
        capture_output=True,
    )
    return root / "published" / "registered_population.csv"


@pytest.mark.spark
def test_spark_and_duckdb_workspaces_publish_identical_files(tmp_path):
    on_duckdb = make_workspace(tmp_path / "duck", "duckdb://warehouse.duckdb")
    on_spark = make_workspace(tmp_path / "spark", "spark://local[1]")
    first = on_spark.read_text()
    assert first == on_duckdb.read_text()
    assert "*" in first  # the comparison covers suppression, not only rounding

    # A second process finds the tables the first one wrote, re-runs, and tidies up.
    for stage in ("measure", "publish"):  # ingest and link have no sources here
        rerun = subprocess.run(
            [OPENPHM, "run", "-w", str(tmp_path / "spark"), "--stage", stage],
            capture_output=True,
            text=True,
        )
        assert rerun.returncode == 0, rerun.stderr
    assert on_spark.read_text() == first
    verify = subprocess.run(
        [OPENPHM, "audit", "verify", "-w", str(tmp_path / "spark")], capture_output=True, text=True
    )
    assert verify.returncode == 0 and "5 records" in verify.stdout
    warehouse = tmp_path / "spark" / "spark-warehouse"
    tables = sorted(p.name.split("__")[0] for p in warehouse.iterdir() if p.is_dir())
    # The indicator tables are committed (empty) without activity: the sample has none,
    # and measure's note says so (stage_notes).
    indicators = ["indicator_definitions", "indicator_dsr", "indicator_funnel", "indicator_spc"]
    assert tables == sorted(
        [*indicators, "indicator_values", "person", "registered_population", "registration"]
        + ["stage_notes"]
    )
