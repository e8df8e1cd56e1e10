"""Warm-up, then the median of N timed runs."""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Timing:
    warmup: float
    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def repeats(self) -> int:
        return len(self.runs)


@dataclass
class Result:
    """One row of the report."""

    name: str
    engine: str | None
    timing: Timing
    ratio: float | None = None
    ratio_of: str | None = None  # what the ratio divides, e.g. "spark/duckdb"
    throughput: float | None = None
    throughput_unit: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": self.engine,
            "median_s": round(self.timing.median, 6),
            "repeats": self.timing.repeats,
            "runs_s": [round(t, 6) for t in self.timing.runs],
            "warmup_s": round(self.timing.warmup, 6),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "ratio_of": self.ratio_of,
            "throughput": None if self.throughput is None else round(self.throughput, 1),
            "throughput_unit": self.throughput_unit,
            **({"details": self.details} if self.details else {}),
        }


def measure(
    run: Callable[[Any], Any],
    repeats: int,
    fixture: Callable[[], AbstractContextManager[Any]] | None = None,
) -> tuple[Timing, Any]:
    """Time ``run(fixture_value)`` once to warm up, then ``repeats`` times.

    ``fixture`` makes a fresh context (a temp dir, say) for each run; entering
    and leaving it is not timed. Returns the timing and the last run's result.
    """
    times: list[float] = []
    result: Any = None
    for _ in range(repeats + 1):
        with (fixture or nullcontext)() as value:
            gc.collect()
            started = time.perf_counter()
            result = run(value)
            times.append(time.perf_counter() - started)
    return Timing(warmup=times[0], runs=tuple(times[1:])), result


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss), in MiB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
