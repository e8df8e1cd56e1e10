"""``python -m bench.need``: Charlson, Elixhauser and HFRS for 1M and 5M people, against
comorbidipy 0.8.0 on the same diagnoses in the same run.

The diagnoses are long (person id, ICD-10 code), about 8 rows per person, generated
from a fixed seed and written once to Parquet (not timed). Codes come from the three
lists (often with a 4th character) and from outside them, spelt as extracts spell
them: plain, dotted, lower case, space-padded, with ``X`` or ``-`` filler.

Each measured thing runs in its own child process, so its peak memory (``os.wait4``'s
maximum resident set) is its own: openphm's three scores in one pass (``need.scores``
on an in-memory DuckDB reading the Parquet and writing one row per person to
Parquet), and comorbidipy's ``comorbidity(score="charlson")``,
``comorbidity(score="elixhauser", weighting="van_walraven")`` and ``hfrs`` (in its
Python 3.13 sidecar, ``bench.comorbidipy_sidecar``), each reading the same Parquet and
writing its result to Parquet. Seconds are timed inside the child, from reading to
written (interpreter start and imports excluded); the median of ``--repeats`` runs.

comorbidipy scores uncleaned codes (it misses lower-case, padded and dotted spellings),
so it does less work than openphm here; the scores are not compared (the reference
tests do that). Aim: all three for 5M people in one pass in under 10 s, at least 4x
comorbidipy's total for the three, peak under 2.5 GiB, and 25M people without running
out of memory (``--sizes 25000000``). comorbidipy is not run above
``COMORBIDIPY_MAX_PEOPLE`` (it holds every row and match in memory: about 9.4 GiB for
HFRS at 5M people, so a 24 GiB machine runs out at about 12M); the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MIB = 1024
ROWS_PER_PERSON = 8  # on average: 1 + Poisson(7)
CHUNK_PEOPLE = 1_000_000  # people written per Parquet row group batch
LISTED_SHARE = 0.6  # the rest are codes in no list
# How extracts spell a code, and how often: plain, dotted, lower, padded, X filler, dash.
SPELLINGS = ("plain", "dotted", "lower", "padded", "x_filler", "dash_filler")
SPELLING_WEIGHTS = (0.40, 0.20, 0.10, 0.10, 0.12, 0.08)
#: DuckDB's working memory for openphm's run: the aim's peak (2.5 GiB) less Python's
#: share. Below it nothing spills at 5M people; at 25M the per-person aggregate spills.
DUCKDB_MEMORY = "2GB"
#: comorbidipy runs only up to this many people (beyond, it would exhaust the memory).
COMORBIDIPY_MAX_PEOPLE = 10_000_000
SCORES = {
    "charlson": {"score": "charlson", "weighting": "charlson"},
    "elixhauser": {"score": "elixhauser", "weighting": "van_walraven"},
    "hfrs": {"score": "hfrs"},
}

# Runs inside the comorbidipy sidecar: read, score, write; the seconds go to a JSON file.
DRIVER = """
import json, sys, time
import polars as pl
from comorbidipy import comorbidity, hfrs
started = time.perf_counter()
source, out, timing, score = sys.argv[1:5]
extra = json.loads(sys.argv[5])
df = pl.read_parquet(source)
if score == "hfrs":
    result = hfrs(df, id_col="person_id", code_col="code")
else:
    result = comorbidity(df, id_col="person_id", code_col="code", score=score, **extra)
result.write_parquet(out)
json.dump({"seconds": time.perf_counter() - started, "people": result.height}, open(timing, "w"))
"""


# --- the diagnoses --------------------------------------------------------------------


def _spell(code: str, how: str) -> str:
    if how == "dotted":
        return f"{code[:3]}.{code[3:]}" if len(code) > 3 else f"{code}.-"
    if how == "lower":
        return code.lower()
    if how == "padded":
        return f" {code} "
    if how == "x_filler":
        return code + "X" if len(code) == 3 else code
    if how == "dash_filler":
        return code + "-" if len(code) == 3 else code
    return code


def code_pool(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Distinct spellings, and each one's probability of being drawn."""
    from openphm.need import resolve

    listed = sorted({r.code for d in resolve() for r in d.codes})
    # Listed codes as recorded: the listed code, or it with a further character.
    recorded = listed + [f"{c}{d}" for c in listed if len(c) == 3 for d in "0189"]
    letters = list("ABDHLOQTVYZ")
    n = 3000
    drawn = zip(
        rng.choice(letters, n), rng.integers(0, 100, n), rng.integers(0, 10, n), strict=True
    )
    other = sorted({f"{a}{b:02d}{c}" for a, b, c in drawn} - set(recorded))
    weights = np.array(SPELLING_WEIGHTS) / sum(SPELLING_WEIGHTS)
    pool, probability = [], []
    for codes, share in ((recorded, LISTED_SHARE), (other, 1 - LISTED_SHARE)):
        # Uneven frequencies, as real codes have: a few common, many rare.
        freq = rng.pareto(1.5, len(codes)) + 1
        freq = share * freq / freq.sum()
        for code, f in zip(codes, freq, strict=True):
            for how, w in zip(SPELLINGS, weights, strict=True):
                pool.append(_spell(code, how))
                probability.append(f * w)
    return pool, np.array(probability) / sum(probability)


def write_diagnoses(path: Path, people: int, seed: int) -> int:
    """Long diagnoses for ``people`` people to Parquet; returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    pool, probability = code_pool(rng)
    pool_arrow = pa.array(pool, pa.string())
    schema = pa.schema([("person_id", pa.string()), ("code", pa.string())])
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, people, CHUNK_PEOPLE):
            n = min(CHUNK_PEOPLE, people - start)
            per = 1 + rng.poisson(ROWS_PER_PERSON - 1, n)
            person = np.repeat(np.arange(start, start + n, dtype=np.int64), per)
            order = rng.permutation(len(person))  # extracts are not sorted by person
            ids = pa.array(9_000_000_000 + person[order]).cast(pa.string())
            codes = pool_arrow.take(pa.array(rng.choice(len(pool), len(person), p=probability)))
            writer.write_table(pa.table({"person_id": ids, "code": codes}, schema=schema))
            rows += len(person)
    return rows


# --- the children ---------------------------------------------------------------------


def openphm_child(source: Path, out: Path, timing: Path) -> None:
    """In a child: the three scores in one pass, Parquet in, Parquet out."""
    from openphm import engine
    from openphm.need import scores

    started = time.perf_counter()
    con = engine.connect(memory_limit=DUCKDB_MEMORY)
    # Beyond the limit DuckDB spills, here beside the bench's files, not in the checkout.
    con.raw_sql(f"SET temp_directory = '{out.parent / 'spill'}'")
    table = engine.read_parquet(con, source)
    result = scores(table)  # charlson, elixhauser, hfrs
    engine.write_parquet(con, result, out)
    people = con.read_parquet(str(out)).count().execute()
    engine.close(con)
    timing.write_text(json.dumps({"seconds": time.perf_counter() - started, "people": people}))


def _wait(argv: list[str], timing: Path) -> dict:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed")
    return {**json.loads(timing.read_text()), "peak_mib": usage.ru_maxrss / MIB}


def run_openphm(source: Path, folder: Path) -> dict:
    out, timing = folder / "openphm.parquet", folder / "openphm.json"
    argv = [sys.executable, "-m", "bench.need", "--child", str(source), str(out), str(timing)]
    return _wait(argv, timing)


def run_comorbidipy(python: Path, source: Path, folder: Path, name: str) -> dict:
    out, timing = folder / f"{name}.parquet", folder / f"{name}.json"
    args = dict(SCORES[name])
    score = args.pop("score")
    argv = [str(python), "-c", DRIVER, str(source), str(out), str(timing), score, json.dumps(args)]
    return _wait(argv, timing)


def _median(runs: list[dict]) -> dict:
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
        "people": runs[-1]["people"],
    }


def run(people: int, seed: int, repeats: int, python: Path) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="openphm-bench-need-"))
    try:
        source = folder / "diagnoses.parquet"
        started = time.perf_counter()
        rows = write_diagnoses(source, people, seed)
        print(
            f"{people:,} people: {rows:,} diagnosis rows written in "
            f"{time.perf_counter() - started:.1f} s ({source.stat().st_size / 2**20:.0f} MiB)",
            flush=True,
        )
        result: dict = {"people": people, "rows": rows}
        result["openphm"] = _median([run_openphm(source, folder) for _ in range(repeats)])
        print(f"  openphm (3 scores, one pass): {result['openphm']['seconds']:.1f} s", flush=True)
        if people > COMORBIDIPY_MAX_PEOPLE:
            print(
                f"  comorbidipy not run: above {COMORBIDIPY_MAX_PEOPLE:,} people it would "
                "exhaust the memory",
                flush=True,
            )
            return result
        for name in SCORES:
            runs = [run_comorbidipy(python, source, folder, name) for _ in range(repeats)]
            result[name] = _median(runs)
            print(f"  comorbidipy {name}: {result[name]['seconds']:.1f} s", flush=True)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(results: list[dict], repeats: int) -> None:
    print()
    print(
        f"median of {repeats} runs, each in its own process; {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end: other jobs share them)"
    )
    header = ("people", "rows", "what", "seconds", "rows/s", "peak MiB", "people out")
    widths = (10, 11, 30, 8, 12, 9, 11)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for r in results:
        lines = [("openphm: all three, one pass", r["openphm"])]
        if "hfrs" not in r:
            _line(r, *lines[0])
            print(
                f"{r['people']:,} people: comorbidipy not run (above "
                f"{COMORBIDIPY_MAX_PEOPLE:,} people it would exhaust the memory)"
            )
            continue
        lines += [(f"comorbidipy {name}", r[name]) for name in SCORES]
        total = sum(r[name]["seconds"] for name in SCORES)
        lines.append(
            (
                "comorbidipy: the three",
                {
                    "seconds": total,
                    "peak_mib": max(r[name]["peak_mib"] for name in SCORES),
                    "people": r["hfrs"]["people"],
                },
            )
        )
        for what, m in lines:
            _line(r, what, m)
        ours = r["openphm"]
        peak_theirs = max(r[name]["peak_mib"] for name in SCORES)
        print(
            f"{r['people']:,} people: openphm {total / ours['seconds']:.1f}x comorbidipy's "
            f"total for the three ({ours['seconds']:.1f} s vs {total:.1f} s); peak "
            f"{ours['peak_mib']:.0f} MiB vs {peak_theirs:.0f} MiB "
            f"(comorbidipy/openphm {peak_theirs / ours['peak_mib']:.2f})"
        )


def _line(r: dict, what: str, m: dict) -> None:
    print(
        f"{r['people']:>10,} {r['rows']:>11,} {what:>30} {m['seconds']:>8.2f} "
        f"{r['rows'] / m['seconds']:>12,.0f} {m['peak_mib']:>9.0f} {m['people']:>11,}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.need")
    parser.add_argument("--sizes", default="1000000,5000000", help="comma-separated people")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measured thing")
    parser.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        openphm_child(*args.child)
        return 0
    from bench.comorbidipy_sidecar import sidecar_python

    python = sidecar_python()
    sizes = [int(n.replace("_", "")) for n in args.sizes.split(",")]
    results = [run(n, args.seed, args.repeats, python) for n in sizes]
    report(results, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
