"""``python -m bench.ingest``: ingest and link of a synthetic ICS at 100k and 1M people.

The ICS is generated first (not timed here; ``bench.synth`` times that), then
``openphm run --stage ingest`` and ``--stage link`` each run in their own process
on a fresh DuckDB workspace, so each stage's wall time and peak memory
(``os.wait4``'s maximum resident set) are its own. The ratio of seconds per
person between sizes shows whether the stages stay linear. Aim: 1M people's
three years of care through both stages in under 5 minutes on 2 cores, under 6 GiB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openphm.ingest.sources import synth_sources
from openphm.workspace import Workspace

OPENPHM = str(Path(sys.executable).parent / "openphm")
KEY = "bench-key-not-for-real-data-0123456789abcdef"
# DuckDB's working memory in the benchmark: the aim is under 6 GiB in all, Python included.
MEMORY_LIMIT = "3GB"


def _child(args: list[str], env: dict) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([OPENPHM, *args], stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"openphm {' '.join(args)} failed")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def run(people: int, seed: int, keep: Path | None, memory_limit: str) -> dict:
    base = Path(tempfile.mkdtemp(prefix="openphm-bench-ingest-"))
    synth = keep / f"synth-{people}-{seed}" if keep else base / "synth"
    try:
        env = {**os.environ, "OPENPHM_PSEUDONYM_KEY": KEY}
        if not (synth / "manifest.json").exists():
            _child(
                ["synth", "--out", str(synth), "--people", str(people), "--seed", str(seed)], env
            )
        ws = Workspace.init(base / "ws")
        config = ws.root / "openphm.toml"
        text = config.read_text().replace(
            "[stages.link]", '[stages.ingest]\nextract_date = "2026-11-22"\n\n[stages.link]'
        )
        text = text.replace('# memory_limit = "4GB"', f'memory_limit = "{memory_limit}"')
        config.write_text(text + "\n" + synth_sources(ws.root, synth))
        ingest = _child(["run", "-w", str(ws.root), "--stage", "ingest"], env)
        link = _child(["run", "-w", str(ws.root), "--stage", "link"], env)
        return {"people": people, "ingest": ingest, "link": link}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated people")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) generated ICSs here")
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT, help="[engine] memory_limit")
    args = parser.parse_args(argv)
    print(f"DuckDB memory_limit {args.memory_limit}")
    sizes = args.sizes.split(",")
    results = [run(int(n), args.seed, args.keep, args.memory_limit) for n in sizes]
    header = ("people", "ingest s", "peak MiB", "link s", "peak MiB", "total s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (10, 9, 9, 8, 9, 8), strict=True)))
    for r in results:
        (i_s, i_m), (l_s, l_m) = r["ingest"], r["link"]
        print(
            f"{r['people']:>10,} {i_s:>9.1f} {i_m:>9.0f} {l_s:>8.1f} {l_m:>9.0f} {i_s + l_s:>8.1f}"
        )
    if len(results) > 1:
        a, b = results[0], results[-1]
        per = [(r["ingest"][0] + r["link"][0]) / r["people"] for r in (a, b)]
        print(
            f"seconds per person, {b['people']:,} vs {a['people']:,}: ratio {per[1] / per[0]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
