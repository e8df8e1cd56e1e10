"""``python -m bench``: run every benchmark once, print medians and ratios, write JSON."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import cases
from bench.report import print_table, write_json
from bench.timing import Result, peak_rss_mib

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "latest.json"
SPARK_URL = "spark://local[2]"
QUICK = {"people": 2_000, "repeats": 1, "audit_records": 100}
FULL = {"people": 200_000, "repeats": 5, "audit_records": 1_000}


def _positive(minimum: int):
    def parse(text: str) -> int:
        value = int(text.replace("_", ""))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="openphm benchmarks: a warm-up, then the median of N runs; ratios "
        "between engines are measured in the same run.",
    )
    parser.add_argument("--repeats", type=_positive(1), help="timed runs per benchmark (5)")
    parser.add_argument("--people", type=_positive(100), help="sample size (200_000)")
    parser.add_argument(
        "--audit-records", type=_positive(10), help="records appended to the audit log (1_000)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke size to check the bench itself ({QUICK}); explicit options still win",
    )
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark runs")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _versions() -> dict[str, str]:
    out = {}
    for package in ("openphm", "ibis-framework", "duckdb", "pyspark", "pandas", "pyarrow"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _spark_runs(
    sample: dict, args: argparse.Namespace, console: Console
) -> tuple[Result, Result, Any, dict[str, Any]]:
    """Population and gate on local Spark, in a throw-away warehouse."""
    from openphm import engine

    tmp = Path(tempfile.mkdtemp(prefix="openphm-bench-spark-"))
    try:
        started = time.perf_counter()
        con = engine.connect(SPARK_URL, base_dir=tmp)
        session_s = time.perf_counter() - started
        load_s = cases.load_sample(con, sample)
        console.print(f"spark: session {session_s:.1f} s, sample loaded in {load_s:.1f} s")
        try:
            population, frame = cases.registered_population(con, args.people, args.repeats)
            console.print(f"spark: registered population {population.timing.median:.3f} s")
            gate = cases.disclosure_gate(con, args.repeats)
            console.print(f"spark: disclosure gate {gate.timing.median:.3f} s")
        finally:
            con._session.stop()
        return population, gate, frame, {"session_s": session_s, "load_s": load_s}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same_frames(a: Any, b: Any) -> bool:
    keys = list(cases.KEYS)
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)
    return a[keys + ["population"]].astype(str).equals(b[keys + ["population"]].astype(str))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Piped output (make, CI logs) would otherwise wrap the table at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 150)
    started = time.perf_counter()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    console.print(
        f"[bold]openphm bench[/]: {args.people:,} people, warm-up + {args.repeats} repeats, "
        f"{args.audit_records:,} audit records{' (quick)' if args.quick else ''}"
    )

    from openphm import engine
    from openphm.sample import sample_population

    t = time.perf_counter()
    sample = sample_population(args.people)
    console.print(f"sample generated in {time.perf_counter() - t:.1f} s")

    duck = engine.connect("duckdb://")
    duck_load_s = cases.load_sample(duck, sample)
    pop_duck, frame_duck = cases.registered_population(duck, args.people, args.repeats)
    console.print(f"duckdb: registered population {pop_duck.timing.median:.4f} s")
    gate_duck = cases.disclosure_gate(duck, args.repeats)
    console.print(f"duckdb: disclosure gate {gate_duck.timing.median:.4f} s")
    fingerprint = cases.fingerprint(duck, args.repeats)
    console.print(f"duckdb: fingerprint {fingerprint.timing.median:.4f} s")
    engine.close(duck)

    results = [pop_duck]
    spark_meta: dict[str, Any] = {"skipped": True}
    if args.no_spark:
        results.append(gate_duck)
    else:
        pop_spark, gate_spark, frame_spark, spark_meta = _spark_runs(sample, args, console)
        for spark, duck_result in ((pop_spark, pop_duck), (gate_spark, gate_duck)):
            spark.ratio = spark.timing.median / duck_result.timing.median
            spark.ratio_of = "spark/duckdb"
        spark_meta["population_agrees"] = _same_frames(frame_duck, frame_spark)
        spark_meta["gate_decisions_agree"] = gate_duck.details == gate_spark.details
        results += [pop_spark, gate_duck, gate_spark]

    audit = cases.audit_log(args.audit_records, args.repeats)
    console.print(f"audit: append x{args.audit_records} {audit[0].timing.median:.2f} s")
    workspace = cases.workspace_commit(sample, args.repeats)
    console.print(f"workspace: init + load_sources {workspace.timing.median:.2f} s")
    results += [fingerprint, *audit, workspace]

    wall_s = time.perf_counter() - started
    console.print()
    print_table(
        console,
        results,
        title=f"openphm bench: {args.people:,} people, median of {args.repeats} "
        f"after a warm-up, {os.cpu_count()} CPUs",
    )
    if not args.no_spark:
        agree = spark_meta["population_agrees"] and spark_meta["gate_decisions_agree"]
        colour = "green" if agree else "bold red"
        console.print(
            f"[{colour}]duckdb and spark agree: population "
            f"{spark_meta['population_agrees']}, gate decisions "
            f"{spark_meta['gate_decisions_agree']}[/]"
        )
    console.print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB (the JVM not included)")
    console.print(f"wall time: {wall_s:.1f} s")

    meta = {
        "started_at": started_at,
        "wall_s": round(wall_s, 2),
        "people": args.people,
        "repeats": args.repeats,
        "audit_records": args.audit_records,
        "quick": args.quick,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "duckdb_load_s": round(duck_load_s, 3),
        "spark": {k: round(v, 3) if isinstance(v, float) else v for k, v in spark_meta.items()},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": _versions(),
    }
    write_json(args.output, meta, results)
    console.print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
