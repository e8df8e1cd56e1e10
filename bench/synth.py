"""``python -m bench.synth``: the synthetic ICS at 100k and 1M people.

Each size runs in its own process (``openphm synth``), so its peak memory is its
own: ``os.wait4`` gives the child's maximum resident set. One run per size (1M
takes minutes); the ratio of seconds per person between sizes shows whether
generation stays linear, which is what streaming in chunks promises.
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

OPENPHM = str(Path(sys.executable).parent / "openphm")


def run(people: int, seed: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="openphm-bench-synth-"))
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [OPENPHM, "synth", "--out", str(out), "--people", str(people), "--seed", str(seed)],
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"openphm synth --people {people} failed")
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        return {
            "people": people,
            "seconds": seconds,
            "peak_mib": usage.ru_maxrss / 1024,
            "bytes": size,
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated people")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [run(n, args.seed) for n in sizes]
    print(f"{'people':>10} {'seconds':>9} {'people/s':>10} {'peak MiB':>9} {'output MiB':>11}")
    for r in results:
        print(
            f"{r['people']:>10,} {r['seconds']:>9.1f} {r['people'] / r['seconds']:>10,.0f} "
            f"{r['peak_mib']:>9.0f} {r['bytes'] / 2**20:>11.0f}"
        )
    if len(results) > 1:
        a, b = results[0], results[-1]
        per_person = (b["seconds"] / b["people"]) / (a["seconds"] / a["people"])
        memory, scale = b["peak_mib"] / a["peak_mib"], b["people"] / a["people"]
        print(
            f"seconds per person, {b['people']:,} vs {a['people']:,}: {per_person:.2f}x; "
            f"peak memory {memory:.2f}x for {scale:.0f}x the people"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
