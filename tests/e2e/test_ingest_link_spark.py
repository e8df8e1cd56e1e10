"""The same delivered files give identical canonical tables on DuckDB and on local Spark.

One small synthetic ICS, with its deliberate dirt, goes through ingest and link
twice: on DuckDB, and on local Spark in its own process (a Spark session's
warehouse is fixed when it starts). Every table the two stages commit, and the
restricted quarantine and field issues, must hold exactly the same rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.runner import NOTES_TABLE
from openphm.synth import generate

REPO = Path(__file__).resolve().parents[2]
PEOPLE = 600

RUN_AND_EXPORT = """
import sys
from pathlib import Path
import pyarrow.parquet as pq
from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.runner import run_stage
from tests.e2e.workspaces import configure_sources

root, synth, url, out = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
ws = configure_sources(root, synth, url)
for stage in (ingest.STAGE, link.STAGE):
    run_stage(ws, stage)
out.mkdir(parents=True)
for name in ws.catalog():
    pq.write_table(ws.table(name).to_pyarrow(), out / f"{name}.parquet")
ws.close()
"""


def _run(tmp: Path, synth: Path, url: str, label: str) -> Path:
    out = tmp / f"{label}-tables"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = textwrap.dedent(RUN_AND_EXPORT)
    args = [str(tmp / label), str(synth), url, str(out)]
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / label


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({c: "object" for c in frame.columns})
    keys = list(frame.columns)
    return frame.sort_values(keys, key=lambda s: s.astype(str)).reset_index(drop=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parity")
    generate(tmp / "synth", people=PEOPLE, seed=23)
    duck = _run(tmp, tmp / "synth", "duckdb://warehouse.duckdb", "duckdb")
    spark = _run(tmp, tmp / "synth", "spark://local[2]", "spark")
    return duck, spark


@pytest.mark.spark
def test_every_committed_table_is_identical_on_duckdb_and_spark(runs):
    duck, spark = runs
    names = {*ingest.STAGE.outputs, *link.STAGE.outputs, NOTES_TABLE}
    tables = sorted(p.stem for p in (duck.parent / "duckdb-tables").iterdir())
    assert set(tables) == names
    assert sorted(p.stem for p in (spark.parent / "spark-tables").iterdir()) == tables
    for name in tables:
        a = pd.read_parquet(duck.parent / "duckdb-tables" / f"{name}.parquet")
        b = pd.read_parquet(spark.parent / "spark-tables" / f"{name}.parquet")
        assert list(a.columns) == list(b.columns), name
        assert len(a) == len(b), name
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), obj=name)
    assert len(pd.read_parquet(duck.parent / "duckdb-tables" / "encounter.parquet")) > 1_000


@pytest.mark.spark
def test_the_quarantine_and_field_issues_are_identical_on_duckdb_and_spark(runs):
    duck, spark = runs
    for name in ("quarantine", "field_issues"):
        path = Path("quarantine") / "ingest" / f"{name}.parquet"
        a, b = pd.read_parquet(duck / path), pd.read_parquet(spark / path)
        assert len(a) > 10, name  # the synthetic ICS's dirt
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), obj=name)
