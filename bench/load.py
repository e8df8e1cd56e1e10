"""A bounded load test of the dashboard on loopback: 50 clients for 30 seconds.

    python -m bench.load [--dir WORKSPACE] [--clients 50] [--seconds 30]

Serves the workspace with ``openphm serve`` in its own process (so the clients do not
share its interpreter), then runs the clients with httpx's async client, each keeping
its session cookie and alternating between the summary page (``/``) and one API
endpoint (``/api/tables/indicator_emergency_admissions?limit=100&period=...``). Prints the
throughput, p50 and p99 latency and the error count, per endpoint and overall.
Without --dir it builds a 2,000-person demo workspace in a temporary folder first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PAGE = "/"
API = "/api/tables/indicator_emergency_admissions?limit=100"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def client(base: str, stop: float, paths: list[str], results: dict) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        i = 0
        while time.perf_counter() < stop:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            try:
                response = await http.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            results[path].append((time.perf_counter() - started, ok))


async def run(base: str, clients: int, seconds: float, paths: list[str]) -> dict:
    results: dict[str, list] = {p: [] for p in paths}
    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(client(base, stop, paths[i % 2 :] + paths[: i % 2], results) for i in range(clients))
    )
    return results


def report(results: dict, seconds: float, clients: int) -> None:
    print(f"{clients} clients for {seconds:.0f} s on loopback")
    print(
        f"{'endpoint':<70} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    everything = []
    for path, rows in results.items():
        everything += rows
        _line(path, rows, seconds)
    _line("all", everything, seconds)


def _line(label: str, rows: list, seconds: float) -> None:
    times = [t * 1000 for t, _ in rows]
    errors = sum(not ok for _, ok in rows)
    print(
        f"{label:<70} {len(rows):>9,} {len(rows) / seconds:>8.1f} "
        f"{statistics.median(times):>8.1f} {percentile(times, 0.99):>8.1f} {errors:>7}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="a workspace that has run (default: a demo)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    openphm = Path(sys.executable).with_name("openphm")
    temp = None
    root = args.dir
    if root is None:
        temp = Path(tempfile.mkdtemp(prefix="openphm-load-"))
        root = temp / "demo"
        subprocess.run(
            [openphm, "demo", "--dir", root, "--people", "2000"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [openphm, "serve", "--dir", root, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/static/app.css", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the dashboard did not start")
            time.sleep(0.2)
        period = httpx.get(base + "/api/summary").json().get("period") or ""
        api = f"{API}&period={period}" if period else API
        paths = [PAGE, api]
        asyncio.run(run(base, 2, 2.0, paths))  # warm the caches (charts are cached per filter)
        results = asyncio.run(run(base, args.clients, args.seconds, paths))
        report(results, args.seconds, args.clients)
    finally:
        server.terminate()
        server.wait(10)
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
