"""The hand-built OMOP CDM v5.4 database (tests/data/omop_cdm54) gives identical tables
through ingest and link on DuckDB and on local Spark (in its own process: a Spark
session's warehouse is fixed when it starts), with the same notes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.test_omop_cdm54 import DATA, KEY

REPO = Path(__file__).resolve().parents[2]

RUN_AND_EXPORT = """
import json, sys
from pathlib import Path
import pyarrow.parquet as pq
from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.runner import run_stage
from tests.e2e.test_omop_cdm54 import _workspace

root, url, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
ws = _workspace(root, "omop", "csv", url)
notes = run_stage(ws, ingest.STAGE).notes
run_stage(ws, link.STAGE)
out.mkdir(parents=True)
for name in ws.catalog():
    pq.write_table(ws.table(name).to_pyarrow(), out / f"{name}.parquet")
(out / "notes.json").write_text(json.dumps(list(notes)))
ws.close()
"""


def _run(tmp: Path, url: str, label: str) -> Path:
    root, out = tmp / label, tmp / f"{label}-tables"
    shutil.copytree(DATA, root / "omop")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    env["OPENPHM_PSEUDONYM_KEY"] = KEY
    script = textwrap.dedent(RUN_AND_EXPORT)
    done = subprocess.run(
        [sys.executable, "-c", script, str(root), url, str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({c: "object" for c in frame.columns})
    keys = list(frame.columns)
    return frame.sort_values(keys, key=lambda s: s.astype(str)).reset_index(drop=True)


@pytest.mark.spark
def test_duckdb_and_spark_give_the_same_tables_and_notes(tmp_path):
    duck = _run(tmp_path, "duckdb://warehouse.duckdb", "duckdb")
    spark = _run(tmp_path, "spark://local[2]", "spark")
    names = sorted(p.name for p in duck.iterdir())
    assert sorted(p.name for p in spark.iterdir()) == names
    for name in names:
        if name == "notes.json":
            notes = json.loads((duck / name).read_text())
            assert len(notes) == 4 and json.loads((spark / name).read_text()) == notes
            continue
        a, b = pd.read_parquet(duck / name), pd.read_parquet(spark / name)
        assert list(a.columns) == list(b.columns), name
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), obj=name)
    encounter = pd.read_parquet(duck / "encounter.parquet")
    assert len(encounter) == 14 and encounter.is_emergency.sum() == 8
