"""A stage that fails part way leaves the previous outputs unchanged; a re-run
gives the same result. Failures are injected at every step of the commit."""

import tempfile
from contextlib import contextmanager
from unittest import mock

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from openphm import engine, workspace
from openphm.runner import Stage, StageOutput, run_stage
from openphm.workspace import Workspace

OUTPUTS = ("out_a", "out_b", "out_c")


def stage(version: int) -> Stage:
    def build(inp):
        src = inp.tables["source"]
        return StageOutput(
            tables={name: src.mutate(v=src.k * (i + 1) + version) for i, name in enumerate(OUTPUTS)}
        )

    return Stage("test", "a three-output stage", ("source",), OUTPUTS, build)


class Injected(RuntimeError):
    pass


@contextmanager
def failing_at(step: int):
    """Fail at commit step `step`: 0-2 are the table writes, 3 the catalog swap."""
    calls = {"n": 0}
    real_write, real_replace = engine.write_table, workspace.os.replace

    def write(*args, **kwargs):
        if calls["n"] == step:
            raise Injected(f"killed at write {step}")
        calls["n"] += 1
        return real_write(*args, **kwargs)

    def replace(src, dst):
        if step == len(OUTPUTS) and str(dst).endswith("catalog.json"):
            raise Injected("killed at the catalog swap")
        return real_replace(src, dst)

    with (
        mock.patch.object(engine, "write_table", write),
        mock.patch.object(workspace.os, "replace", replace),
    ):
        yield


def prints(ws):
    return {t: engine.fingerprint(ws.table(t)) for t in OUTPUTS}


@settings(max_examples=25, deadline=None)
@given(step=st.integers(0, len(OUTPUTS)), rows=st.integers(1, 30))
def test_a_failed_stage_leaves_previous_outputs_and_a_rerun_is_repeatable(step, rows):
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(tmp)
        try:
            ws.commit({"source": ibis.memtable({"k": list(range(rows))})})
            run_stage(ws, stage(1))
            before, catalog, audit_records = prints(ws), ws.catalog(), ws.audit.verify().records

            try:
                with failing_at(step):
                    run_stage(ws, stage(2))
            except Injected:
                pass
            else:
                raise AssertionError("the injected failure did not happen")
            assert ws.catalog() == catalog
            assert prints(ws) == before
            assert ws.audit.verify().records == audit_records  # no record for a failed run

            run_stage(ws, stage(2))
            first = prints(ws)
            run_stage(ws, stage(2))
            assert prints(ws) == first != before
            live = set(ws.catalog().values())
            leftovers = [t for t in engine.table_names(ws.con) if "__r" in t and t not in live]
            assert leftovers == []
            assert ws.audit.verify().ok
        finally:
            ws.close()
