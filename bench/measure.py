"""``python -m bench.measure``: every indicator for a synthetic ICS of 100k and 1M people.

The ICS is generated and taken through ingest and link first (not timed here;
``bench.synth`` and ``bench.ingest`` time those), with the sources the indicators
read. Then ``openphm run --stage measure`` runs in its own process on the DuckDB
workspace, so its wall time and peak memory (``os.wait4``'s maximum resident set) are
its own: three financial years of emergency admissions, readmissions, ACSC, length of
stay, A&E and outpatient indicators, by month, year and every breakdown, with their
intervals, standardised rates, funnels and SPC. ``--publish`` times the publish stage
too (the disclosure gate and the writer). DuckDB's working memory is capped with the
workspace's ``[engine] memory_limit`` (``--memory-limit``, as ``bench.ingest``). Aim: 1M
people in under 5 minutes on 2 cores, under 6 GiB.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path

from bench.ingest import KEY, MEMORY_LIMIT, _child
from openphm.ingest.sources import synth_sources
from openphm.measure import INDICATOR_SOURCES
from openphm.workspace import Workspace


def _workspace(root: Path, synth: Path, memory_limit: str) -> Workspace:
    ws = Workspace.init(root)
    config = ws.root / "openphm.toml"
    text = config.read_text().replace(
        "[stages.link]", '[stages.ingest]\nextract_date = "2026-11-22"\n\n[stages.link]'
    )
    text = text.replace('# memory_limit = "4GB"', f'memory_limit = "{memory_limit}"')
    blocks = re.split(r"\n(?=\[sources\.)", synth_sources(ws.root, synth))
    kept = [b for b in blocks if b.split("]", 1)[0].removeprefix("[sources.") in INDICATOR_SOURCES]
    config.write_text(text + "\n" + "\n".join(kept))
    return ws


def run(people: int, seed: int, keep: Path | None, publish: bool, memory_limit: str) -> dict:
    base = Path(tempfile.mkdtemp(prefix="openphm-bench-measure-"))
    synth = keep / f"synth-{people}-{seed}" if keep else base / "synth"
    try:
        env = {**os.environ, "OPENPHM_PSEUDONYM_KEY": KEY}
        if not (synth / "manifest.json").exists():
            _child(
                ["synth", "--out", str(synth), "--people", str(people), "--seed", str(seed)], env
            )
        ws = _workspace(base / "ws", synth, memory_limit)
        for stage in ("ingest", "link"):
            _child(["run", "-w", str(ws.root), "--stage", stage], env)
        result = {"people": people}
        result["measure"] = _child(["run", "-w", str(ws.root), "--stage", "measure"], env)
        if publish:
            result["publish"] = _child(["run", "-w", str(ws.root), "--stage", "publish"], env)
        return result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.measure")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated people")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) generated ICSs here")
    parser.add_argument("--publish", action="store_true", help="time the publish stage too")
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT, help="[engine] memory_limit")
    args = parser.parse_args(argv)
    print(f"DuckDB memory_limit {args.memory_limit}")
    sizes = args.sizes.split(",")
    results = [run(int(n), args.seed, args.keep, args.publish, args.memory_limit) for n in sizes]
    stages = ["measure", *(["publish"] if args.publish else [])]
    header = ["people", *[f"{s} {unit}" for s in stages for unit in ("s", "peak MiB")]]
    print(" ".join(f"{h:>14}" for h in header))
    for r in results:
        cells = [f"{r['people']:>14,}"]
        for s in stages:
            seconds, mib = r[s]
            cells += [f"{seconds:>14.1f}", f"{mib:>14.0f}"]
        print(" ".join(cells))
    if len(results) > 1:
        a, b = results[0], results[-1]
        per = [r["measure"][0] / r["people"] for r in (a, b)]
        print(
            f"measure seconds per person, {b['people']:,} vs {a['people']:,}: "
            f"ratio {per[1] / per[0]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
