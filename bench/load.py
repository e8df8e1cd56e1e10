"""A bounded load test of the dashboard on loopback: 50 clients for 30 seconds.

    python -m bench.load [--dir WORKSPACE] [--clients 50] [--seconds 30] [--during-run]

Serves the workspace with ``openphm serve`` in its own process (so the clients do not
share its interpreter), then runs the clients with httpx's async client, each keeping
its session cookie and alternating between the summary page (``/``) and one API
endpoint (``/api/tables/indicator_emergency_admissions?limit=100&period=...``). Prints the
throughput, p50 and p99 latency and the error count, per endpoint and overall.
Without --dir it builds a 2,000-person demo workspace in a temporary folder first.

``--during-run`` (issue 16) loads the dashboard while ``openphm run`` rewrites the same
workspace, started again whenever it finishes: the workspace's purpose is set to direct
care, one client in five signs in as a care team and asks for its practice's cohort
list (which the run's warehouse lock once turned into 500s), and 5xx answers are counted
apart, since none is acceptable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

from openphm.web.accounts import CARE_TEAM as CARE_TEAM_ROLE
from openphm.web.accounts import Accounts

PAGE = "/"
API = "/api/tables/indicator_emergency_admissions?limit=100"
CARE_TEAM = "/api/care-team/cohort"
CARE_TEAM_EVERY = 5  # one client in five is a signed-in care team under --during-run
PASSWORD = "load test care team passphrase"
SIGN_IN = asyncio.Semaphore(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def client(
    base: str, stop: float, paths: list[str], results: dict, user: str | None = None
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        if user is not None:
            async with SIGN_IN:  # one at a time: the server checks at most 4 passwords at once
                await sign_in(http, user)
        i = 0
        while time.perf_counter() < stop:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            try:
                status = (await http.get(path)).status_code
            except httpx.HTTPError:
                status = 0  # no answer at all
            results[path].append((time.perf_counter() - started, status))


async def sign_in(http: httpx.AsyncClient, user: str) -> None:
    form = (await http.get("/signin")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = await http.post(
        "/signin", data={"username": user, "password": PASSWORD, "csrf_token": token}
    )
    if answer.status_code != 303:
        raise SystemExit(f"{user} could not sign in (HTTP {answer.status_code})")


async def run(
    base: str, clients: int, seconds: float, paths: list[str], care_team: str | None = None
) -> dict:
    results: dict[str, list] = {p: [] for p in (*paths, CARE_TEAM)}
    stop = time.perf_counter() + seconds
    tasks = []
    for i in range(clients):
        if care_team is not None and i % CARE_TEAM_EVERY == 0:
            tasks.append(client(base, stop, [CARE_TEAM], results, care_team))
        else:
            tasks.append(client(base, stop, paths[i % 2 :] + paths[: i % 2], results))
    await asyncio.gather(*tasks)
    return {path: rows for path, rows in results.items() if rows}


def report(results: dict, seconds: float, clients: int) -> int:
    """Print the table; returns the number of 5xx answers."""
    print(f"{clients} clients for {seconds:.0f} s on loopback")
    print(
        f"{'endpoint':<70} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'5xx':>5}"
    )
    everything = []
    for path, rows in results.items():
        everything += rows
        _line(path, rows, seconds)
    return _line("all", everything, seconds)


def _line(label: str, rows: list, seconds: float) -> int:
    times = [t * 1000 for t, _ in rows]
    errors = sum(status != 200 for _, status in rows)
    server_errors = sum(status >= 500 for _, status in rows)
    print(
        f"{label:<70} {len(rows):>9,} {len(rows) / seconds:>8.1f} "
        f"{statistics.median(times):>8.1f} {percentile(times, 0.99):>8.1f} {errors:>7} "
        f"{server_errors:>5}"
    )
    return server_errors


def prepare_for_care_teams(root: Path) -> str:
    """Direct care as the purpose, and a care-team account for a practice with people on
    the risk list; returns the account's name."""
    config = root / "openphm.toml"
    text = re.sub(r'purpose = "[a-z_]+"', 'purpose = "direct_care"', config.read_text(), count=1)
    config.write_text(text)
    snapshot = root / "quarantine" / "risk" / "risk_score.parquet"
    practices = pd.read_parquet(snapshot, columns=["practice_code"]).practice_code.dropna()
    Accounts(root).add("loadcare", CARE_TEAM_ROLE, PASSWORD, practice=practices.mode()[0])
    return "loadcare"


class Runs:
    """``openphm run`` on the workspace, started again whenever it ends, until stopped."""

    def __init__(self, openphm: Path, root: Path) -> None:
        self.command = [str(openphm), "run", "--dir", str(root)]
        self.codes: list[int] = []
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def poll(self) -> None:
        if self.process.poll() is not None:
            self.codes.append(self.process.returncode)
            self.process = self._start()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="a workspace that has run (default: a demo)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--during-run", action="store_true", help="while openphm run rewrites the workspace"
    )
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
    care_team = prepare_for_care_teams(root) if args.during_run else None
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
        if not args.during_run:
            report(
                asyncio.run(run(base, args.clients, args.seconds, paths)),
                args.seconds,
                args.clients,
            )
            return
        runs = Runs(openphm, root)
        try:
            time.sleep(3)  # into the run's ingest: the warehouse is locked from here on
            results = asyncio.run(
                during(runs, run(base, args.clients, args.seconds, paths, care_team))
            )
        finally:
            runs.stop()
        print(
            f"openphm run during the load: {len(runs.codes)} finished, exit codes {runs.codes}"
            " (the last one, still running, was stopped)"
        )
        server_errors = report(results, args.seconds, args.clients)
        print(f"5xx during the run: {server_errors} (must be 0)")
        if server_errors or any(runs.codes):
            raise SystemExit(1)
    finally:
        server.terminate()
        server.wait(10)
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


async def during(runs: Runs, load) -> dict:
    """The load, with the run restarted whenever it ends."""
    task = asyncio.ensure_future(load)
    while not task.done():
        runs.poll()
        await asyncio.sleep(0.5)
    return task.result()


if __name__ == "__main__":
    main()
