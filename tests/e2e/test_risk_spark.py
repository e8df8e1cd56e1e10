"""The whole risk stage gives the same outputs on DuckDB and on local Spark.

A small synthetic ICS (``PEOPLE`` people, 3 years, seed ``SEED``) goes through ingest,
link, need and cost on DuckDB. The risk stage's inputs (person, registration, encounter,
diagnosis, gp_event, lsoa, cost_person_year) are then read into pandas once and loaded
into a fresh DuckDB and into local Spark from the same frames, and the stage runs on
each: features at every index date (need recomputed on the day before each), the
outcome, the fit (in Python, on the training rows in one order), validation, the
equity audit's cost model, scoring with factors and tiers, and fair shares.

Every output table must hold the same rows: text and integers exactly, floats to
``RELATIVE``. Fitting is deterministic given its rows in one order, so the two models'
coefficients agree too; scoring is each engine's own arithmetic.
"""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest

from openphm import engine
from openphm.config import Config
from openphm.risk import stage as risk
from openphm.runner import StageInput, run_stage
from openphm.stages import STAGES
from openphm.synth import generate
from tests.e2e.parity import sorted_rows
from tests.e2e.workspaces import configure_sources

PEOPLE = 800
SEED = 3
RELATIVE = 1e-9
INPUTS = (*risk.STAGE.inputs, *risk.STAGE.optional)


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> tuple[dict[str, tuple[pd.DataFrame, ibis.Schema]], Config]:
    """The risk stage's inputs from a linked, costed synthetic ICS: frames and schemas."""
    synth = tmp_path_factory.mktemp("synth")
    generate(synth, people=PEOPLE, seed=SEED)
    root = tmp_path_factory.mktemp("ws")
    ws = configure_sources(root, synth)
    (root / "openphm.toml").write_text(
        (root / "openphm.toml").read_text()
        + '\n[stages.cost]\npool_without_volume = "unallocated"\n'
    )
    ws = type(ws)(root)
    try:
        for stage in STAGES:
            if stage.name in ("measure", "risk", "publish"):
                continue
            run_stage(ws, stage)
        out = {name: (ws.table(name).to_pandas(), ws.table(name).schema()) for name in INPUTS}
        config = ws.config
    finally:
        ws.close()
    return out, config


def _loaded(con, frames: dict[str, pd.DataFrame]) -> dict:
    tables = {}
    for name, (frame, schema) in frames.items():
        memtable = ibis.memtable(frame[list(schema.names)], schema=schema)
        tables[name] = engine.scratch_table(con, f"risk_parity_{name}", memtable)
    return tables


def _outputs(con, frames, config) -> tuple[dict[str, pd.DataFrame], dict]:
    out = risk.build(StageInput(_loaded(con, frames), config))
    try:
        return {name: sorted_rows(table) for name, table in out.tables.items()}, out.counts
    finally:
        for step in out.cleanup:
            step()


@pytest.fixture(scope="module")
def on_duckdb(frames):
    con = engine.connect("duckdb://")
    try:
        yield _outputs(con, *frames)
    finally:
        engine.close(con)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float | np.floating) or isinstance(b, float | np.floating):
        return math.isclose(float(a), float(b), rel_tol=RELATIVE, abs_tol=1e-12)
    return a == b


def test_the_stage_has_work_on_this_population(on_duckdb):
    # Not a parity check: it shows the data reach what the parity test compares.
    tables, counts = on_duckdb
    assert counts["risk"]["training_rows"] > 600
    assert counts["risk"]["cost_model"].startswith("fitted on")
    scores = tables[risk.SCORE]
    assert len(scores) > 600 and scores.factor_1.notna().sum() > 300
    assert set(tables[risk.MODEL].model) == {"need", "cost"}
    assert tables[risk.VALIDATION].outcome.sum() > 30


@pytest.mark.spark
def test_every_risk_output_is_the_same_on_duckdb_and_spark(frames, on_duckdb, spark_con):
    expected, expected_counts = on_duckdb
    got, counts = _outputs(spark_con, *frames)
    assert counts == expected_counts
    assert set(got) == set(expected) == set(risk.OUTPUTS)
    for name, want in expected.items():
        have = got[name]
        assert list(have.columns) == list(want.columns), name
        assert len(have) == len(want), name
        for column in want.columns:
            pairs = zip(have[column], want[column], strict=True)
            bad = [(h, w) for h, w in pairs if not _same(h, w)]
            assert not bad, f"{name}.{column}: {len(bad)} differ, first {bad[0]}"
