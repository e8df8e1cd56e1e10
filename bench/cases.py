"""The benchmarks themselves; each returns a ``Result`` (or two)."""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from bench.timing import Result, measure, peak_rss_mib
from openphm import disclosure, engine
from openphm.audit import AuditLog
from openphm.config import MeasureOptions
from openphm.measure.population import population_by_practice, registered_on
from openphm.runner import load_sources
from openphm.workspace import Workspace

INDEX_DATE = MeasureOptions().index_date
KEYS = ("practice_code", "age_band", "sex")
PERSON = "bench_person"
REGISTRATION = "bench_registration"
POPULATION = "bench_registered_population"


def load_sample(con: BaseBackend, sample: Mapping[str, ir.Table]) -> float:
    """Write the sample as real tables, so timings are of the transform, not the load."""
    started = time.perf_counter()
    engine.write_table(con, PERSON, sample["person"])
    engine.write_table(con, REGISTRATION, sample["registration"])
    return time.perf_counter() - started


def _population(con: BaseBackend) -> ir.Table:
    registered = registered_on(con.table(PERSON), con.table(REGISTRATION), INDEX_DATE)
    return population_by_practice(registered)


def registered_population(con: BaseBackend, people: int, repeats: int) -> tuple[Result, Any]:
    """``registered_on`` + ``population_by_practice``, executed to a DataFrame."""
    timing, frame = measure(lambda _: _population(con).execute(), repeats)
    result = Result(
        "registered population",
        engine.engine_name(con),
        timing,
        throughput=people / timing.median,
        throughput_unit="people/s",
        details={"people": people, "cells": len(frame), "registered": int(frame.population.sum())},
    )
    return result, frame


def disclosure_gate(con: BaseBackend, repeats: int) -> Result:
    """The gate with margins over every key, on the stored population table."""
    engine.write_table(con, POPULATION, _population(con))
    table = con.table(POPULATION)

    def run(_: Any) -> dict[str, Any]:
        gated = disclosure.gate(
            "registered_population",
            table,
            keys=list(KEYS),
            counts=["population"],
            margins=list(KEYS),
        )
        gated.table.execute()  # what the publish writer does next; the tail is tiny
        return dict(gated.decisions)

    timing, decisions = measure(run, repeats)
    cells = decisions["cells"]
    return Result(
        "disclosure gate",
        engine.engine_name(con),
        timing,
        throughput=cells / timing.median,
        throughput_unit="cells/s",
        details={"cells": cells, "suppressed": decisions["suppressed"]},
    )


def fingerprint(con: BaseBackend, repeats: int) -> Result:
    table = con.table(PERSON)
    timing, (digest, rows) = measure(lambda _: engine.fingerprint(table), repeats)
    return Result(
        "fingerprint person",
        engine.engine_name(con),
        timing,
        throughput=rows / timing.median,
        throughput_unit="rows/s",
        details={"rows": rows, "fingerprint": digest},
    )


def _audit_entry(i: int) -> dict[str, Any]:
    """Shaped like the runner's stage records: metadata, counts and fingerprints only."""
    return {
        "action": "stage:bench",
        "user": "bench",
        "purpose": "planning",
        "code_version": "bench",
        "inputs": [{"table": "person", "fingerprint": f"{i:032x}", "rows": 200_000}],
        "outputs": [{"table": "registered_population", "fingerprint": f"{i:032x}", "rows": 380}],
        "rows_quarantined": 0,
    }


def audit_log(records: int, repeats: int) -> list[Result]:
    """Append ``records`` records to a fresh log, then verify the chain.

    Also reports the cost per append of the first and the last few records, since
    ``AuditLog.append`` verifies the whole chain before it writes.
    """
    edge = max(1, min(100, records // 10))
    with tempfile.TemporaryDirectory(prefix="openphm-bench-audit-") as tmp:
        runs = itertools.count()

        def fresh_dir() -> AbstractContextManager[Path]:
            return nullcontext(Path(tmp) / f"run{next(runs)}")

        def append(directory: Path) -> tuple[Path, float, float]:
            log = AuditLog(directory)
            marks = [time.perf_counter()]
            for i in range(records):
                if i in (edge, records - edge):
                    marks.append(time.perf_counter())
                log.append(_audit_entry(i))
            marks.append(time.perf_counter())
            early_ms = (marks[1] - marks[0]) * 1000 / edge
            late_ms = (marks[-1] - marks[-2]) * 1000 / edge
            return directory, early_ms, late_ms

        append_timing, (directory, early_ms, late_ms) = measure(append, repeats, fresh_dir)
        log = AuditLog(directory)  # the last run's log, left in place
        verify_timing, verification = measure(lambda _: log.verify(), repeats)
        if not (verification.ok and verification.records == records):
            raise RuntimeError(f"the benchmark's own audit log does not verify: {verification}")

    return [
        Result(
            f"audit append x{records}",
            None,
            append_timing,
            ratio=late_ms / early_ms,
            ratio_of=f"last{edge}/first{edge}",
            throughput=records / append_timing.median,
            throughput_unit="records/s",
            details={
                "records": records,
                f"ms_per_append_first_{edge}": round(early_ms, 3),
                f"ms_per_append_last_{edge}": round(late_ms, 3),
            },
        ),
        Result(
            f"audit verify x{records}",
            None,
            verify_timing,
            throughput=records / verify_timing.median,
            throughput_unit="records/s",
            details={"records": verification.records},
        ),
    ]


def workspace_commit(sample: Mapping[str, ir.Table], repeats: int) -> Result:
    """``Workspace.init`` in a fresh temp dir, then ``load_sources`` with the sample."""

    def run(tmp: str) -> dict[str, int]:
        ws = Workspace.init(Path(tmp) / "ws", name="openphm-bench")
        try:
            return load_sources(ws, sample, source="bench")
        finally:
            ws.close()

    timing, loaded = measure(
        run, repeats, lambda: tempfile.TemporaryDirectory(prefix="openphm-bench-ws-")
    )
    rows = sum(loaded.values())
    return Result(
        "workspace init + load_sources",
        "duckdb file",
        timing,
        throughput=rows / timing.median,
        throughput_unit="rows/s",
        details={"loaded": loaded, "peak_rss_mib": round(peak_rss_mib(), 1)},
    )
