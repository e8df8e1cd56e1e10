"""``python -m bench.cost``: patient-level costing of 10M activity records against 20,000
ledger lines, against the floor any costing engine must pay.

The data are generated in DuckDB (``range()``, hashed columns; not timed) and written
to Parquet: 10 providers, one financial year, each with 190 patient-facing cost centres
(wards, theatres, pathology, imaging, outpatients) and 10 support centres, 10 expense
lines each (20,000 ledger lines), three overhead bases per patient-facing centre, and
``--rows`` activity records (2% matched to no encounter, five records an encounter).

Two things are timed, each in its own child process (so ``os.wait4`` gives its own peak
memory), from reading the Parquet to writing the result:

- **openphm**: ``cost.stage.cost_ledgers`` (CP1/CP2 mapping, step-down of the support
  centres, pools, driver units with their running totals, every pool shared in integer
  pence, the unmatched bucket, the reconciliation and its check), then the pence per
  encounter, resource and activity type written to Parquet;
- **floor**: one plain join of the records to the ledger lines of their cost centre and
  one group-by (encounter, expense type, activity type: the grain of openphm's output,
  about 33 rows an encounter) of amount x quantity x weight, written to Parquet: the
  join and aggregation any engine must do to put ledger money on encounters, with no
  normalising, no rounding, no overheads and no checks.

Aim: openphm under 3x the floor and under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024
PROVIDERS = 10
FACING = 190  # patient-facing cost centres per provider
KINDS = (("W", "ward_stay"), ("TH", "theatre"), ("PA", "pathology"), ("IM", "imaging"))
KINDS += (("OP", "contact"),)
SUPPORT = ("ES01 Estates", "ES02 Estates", "CL01 Cleaning", "CL02 Cleaning")
SUPPORT += ("IT01 Information technology", "IT02 Information technology", "FI01 Finance")
SUPPORT += ("FI02 Finance", "HR01 Human resources", "HR02 Human resources")
EXPENSES = ("pay_consultants", "pay_nursing", "pay_other_clinical", "pay_admin", "drugs")
EXPENSES += ("clinical_supplies", "non_clinical_supplies", "depreciation", "premises", "other")
RECORDS_PER_ENCOUNTER = 5
UNMATCHED_ONE_IN = 50  # 2%


def _values(rows: list[tuple]) -> str:
    return ", ".join("(" + ", ".join(repr(v) for v in r) + ")" for r in rows)


def write_data(folder: Path, rows: int) -> dict[str, int]:
    """ledger.parquet, basis.parquet, activity.parquet; returns the row counts."""
    from openphm import engine

    con = engine.connect()
    centres = [
        (f"{KINDS[c % len(KINDS)][0]}{c:03d} centre", KINDS[c % len(KINDS)][1])
        for c in range(FACING)
    ]
    con.raw_sql(
        "CREATE TABLE centre AS SELECT * FROM (VALUES "
        + _values([(i, n, k) for i, (n, k) in enumerate(centres)])
        + ") t(idx, cost_centre, activity_type)"
    )
    con.raw_sql(
        "CREATE TABLE support AS SELECT * FROM (VALUES "
        + _values([(n,) for n in SUPPORT])
        + ") t(cost_centre)"
    )
    con.raw_sql(
        "CREATE TABLE expense AS SELECT * FROM (VALUES "
        + _values([(e,) for e in EXPENSES])
        + ") t(expense_type)"
    )
    provider = (
        f"(SELECT 'P' || lpad(range::VARCHAR, 2, '0') AS provider_code FROM range({PROVIDERS}))"
    )
    con.raw_sql(
        f"""COPY (
        SELECT p.provider_code, c.cost_centre, e.expense_type, 'other' AS resource,
               NULL::VARCHAR AS activity_type,
               (100000 + hash(p.provider_code || c.cost_centre || e.expense_type)
                   % 100000000)::BIGINT AS amount_pence,
               '2023/24' AS financial_year, c.kind AS cost_centre_type
        FROM {provider} p,
             (SELECT cost_centre, 'patient_facing' AS kind FROM centre
              UNION ALL SELECT cost_centre, 'support' FROM support) c,
             expense e
        ) TO '{folder / "ledger.parquet"}' (FORMAT parquet)"""
    )
    con.raw_sql(
        f"""COPY (
        SELECT p.provider_code, '2023/24' AS financial_year, c.cost_centre, b.basis,
               (1 + hash(p.provider_code || c.cost_centre || b.basis) % 100000) / 100.0 AS value
        FROM {provider} p, centre c,
             (VALUES ('floor_area_m2'), ('it_devices'), ('staff_wte')) b(basis)
        ) TO '{folder / "basis.parquet"}' (FORMAT parquet)"""
    )
    con.raw_sql(
        f"""COPY (
        SELECT range::VARCHAR AS activity_id, 'feed' AS source,
               CASE WHEN hash(range * 7) % {UNMATCHED_ONE_IN} = 0 THEN NULL
                    ELSE 'e' || (range // {RECORDS_PER_ENCOUNTER})::VARCHAR END AS encounter_id,
               CASE WHEN hash(range * 7) % {UNMATCHED_ONE_IN} = 0 THEN 'unmatched'
                    ELSE 'key' END AS match_rule,
               'P' || lpad((range % {PROVIDERS})::VARCHAR, 2, '0') AS provider_code,
               c.activity_type, c.cost_centre,
               (1 + hash(range * 3) % 600)::DOUBLE AS quantity,
               (5 + hash(range * 5) % 26) / 10.0 AS weight,
               NULL::BIGINT AS cost_pence,
               DATE '2023-04-01' + (hash(range * 11) % 366)::INTEGER AS activity_date,
               NULL::TIMESTAMP AS start_time, NULL::TIMESTAMP AS end_time
        FROM range({rows}) r JOIN centre c ON c.idx = hash(r.range) % {FACING}
        ) TO '{folder / "activity.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"""
    )
    counts = {
        name: int(con.sql(f"SELECT count(*) AS n FROM '{folder / name}.parquet'").execute().n[0])
        for name in ("ledger", "basis", "activity")
    }
    engine.close(con)
    return counts


# --- the children ---------------------------------------------------------------------


def openphm_child(folder: Path, timing: Path) -> None:
    from openphm import engine
    from openphm.cost import rules
    from openphm.cost.stage import cost_ledgers

    started = time.perf_counter()
    con = engine.connect()
    n = itertools.count()

    def keep(name, table):
        return engine.scratch_table(con, f"_bench_{name}_{next(n)}", table)

    out = cost_ledgers(
        engine.read_parquet(con, folder / "ledger.parquet"),
        engine.read_parquet(con, folder / "basis.parquet"),
        engine.read_parquet(con, folder / "activity.parquet"),
        rules.load(),
        keep,
    )
    b = out["allocated"]
    b = b.filter(b.encounter_id.notnull())
    per = b.group_by("encounter_id", "resource", "activity_type").aggregate(pence=b.pence.sum())
    engine.write_parquet(con, per, folder / "openphm.parquet")
    rows = int(con.read_parquet(str(folder / "openphm.parquet")).count().execute())
    engine.close(con)
    timing.write_text(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))


def floor_child(folder: Path, timing: Path) -> None:
    from openphm import engine

    started = time.perf_counter()
    con = engine.connect()
    a = engine.read_parquet(con, folder / "activity.parquet")
    ledger = engine.read_parquet(con, folder / "ledger.parquet")
    t = a.join(ledger, ["provider_code", "cost_centre"])
    per = t.group_by("encounter_id", "expense_type", "activity_type").aggregate(
        money=(t.amount_pence * t.quantity * t.weight).sum()
    )
    engine.write_parquet(con, per, folder / "floor.parquet")
    rows = int(con.read_parquet(str(folder / "floor.parquet")).count().execute())
    engine.close(con)
    timing.write_text(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))


CHILDREN = {"openphm": openphm_child, "floor": floor_child}


def _run(what: str, folder: Path) -> dict:
    timing = folder / f"{what}.json"
    argv = [sys.executable, "-m", "bench.cost", "--child", what, str(folder), str(timing)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench.cost: the {what} child failed")
    return {**json.loads(timing.read_text()), "peak_mib": usage.ru_maxrss / MIB}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost")
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measured thing")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        what, folder, timing = args.child
        CHILDREN[what](Path(folder), Path(timing))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="openphm-bench-cost-"))
    try:
        started = time.perf_counter()
        counts = write_data(folder, args.rows)
        print(
            f"bench.cost: {counts['activity']:,} activity records, {counts['ledger']:,} ledger "
            f"lines, {counts['basis']:,} basis values written in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        results = {}
        for what in ("floor", "openphm"):
            runs = [_run(what, folder) for _ in range(args.repeats)]
            results[what] = {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_mib": max(r["peak_mib"] for r in runs),
                "rows": runs[-1]["rows"],
                "runs": [round(r["seconds"], 2) for r in runs],
            }
            print(f"  {what}: {results[what]['runs']} s", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours, floor = results["openphm"], results["floor"]
    print(
        f"\nmedian of {args.repeats} runs, each in its own process; {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end: other jobs share them)"
    )
    print(f"{'what':>10} {'seconds':>8} {'records/s':>12} {'peak MiB':>9} {'rows out':>11}")
    for what, m in results.items():
        print(
            f"{what:>10} {m['seconds']:>8.2f} {counts['activity'] / m['seconds']:>12,.0f} "
            f"{m['peak_mib']:>9.0f} {m['rows']:>11,}"
        )
    ratio = ours["seconds"] / floor["seconds"]
    print(
        f"openphm costs {counts['activity']:,} records against {counts['ledger']:,} ledger "
        f"lines in {ours['seconds']:.1f} s, {ratio:.2f}x the plain join + group-by floor "
        f"({floor['seconds']:.1f} s); peak {ours['peak_mib']:.0f} MiB vs {floor['peak_mib']:.0f} "
        f"MiB (aim: under 3x and under 120 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
