"""The printed table and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.timing import Result


def _si(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.2f}{suffix}"
    return f"{value:.1f}"


def _notes(result: Result) -> str:
    d = result.details
    notes = []
    if "suppressed" in d:
        s = d["suppressed"]
        notes.append(
            f"{d['cells']} cells, primary {s.get('population_primary', 0)}, "
            f"secondary {s.get('population_secondary', 0)}"
        )
    elif "registered" in d:
        notes.append(f"{d['cells']} cells, {d['registered']:,} registered")
    if "peak_rss_mib" in d:
        notes.append(f"peak RSS {d['peak_rss_mib']:.0f} MiB")
    early = [k for k in d if k.startswith("ms_per_append_first_")]
    late = [k for k in d if k.startswith("ms_per_append_last_")]
    if early and late:
        notes.append(f"{d[early[0]]:.1f} -> {d[late[0]]:.1f} ms/append")
    return "; ".join(notes)


def print_table(console: Console, results: Sequence[Result], title: str) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("benchmark", no_wrap=True)
    table.add_column("engine", no_wrap=True)
    table.add_column("median s", justify="right")
    table.add_column("n", justify="right")
    table.add_column("min-max s", justify="right")
    table.add_column("ratio", justify="right", no_wrap=True)
    table.add_column("throughput", justify="right")
    table.add_column("notes")
    for r in results:
        runs = r.timing.runs
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x {r.ratio_of}"
        throughput = "" if r.throughput is None else f"{_si(r.throughput)} {r.throughput_unit}"
        table.add_row(
            r.name,
            r.engine or "",
            f"{r.timing.median:.4f}",
            str(r.timing.repeats),
            f"{min(runs):.3f}-{max(runs):.3f}",
            ratio,
            throughput,
            _notes(r),
        )
    console.print(table)


def write_json(path: Path, meta: dict[str, Any], results: Sequence[Result]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    gitignore = path.parent / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*.json\n")
    payload = {"meta": meta, "results": [r.as_json() for r in results]}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
