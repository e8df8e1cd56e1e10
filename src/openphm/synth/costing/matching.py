"""Matching levels of feed rows: how each row can be tied back to its source record."""

from __future__ import annotations

import numpy as np

from openphm import codes
from openphm.synth.costing.common import _BIG, _day, _days
from openphm.synth.output import PERSON, SynthContext

MATCH_SHARES = (0.88, 0.10, 0.02)  # direct key; NHS number + date only; nothing
MATCH_NAMES = np.array(["key", "nhs_date", "none"], dtype=object)
FAR_DAYS = 60
FOREIGN_NHS_PREFIX = "990"  # valid numbers nobody in the ICS has (the pool uses 999..996)


def _match(raw: dict, spans, rng, ctx: SynthContext, pool: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each row's matching level (0 key, 1 NHS number and date, 2 nothing) and its NHS
    number, day, start and end, moved or replaced so that a level-2 row matches nothing."""
    n, day = len(raw["key"]), raw["day"]
    start, end, nhs = raw["start"], raw["end"], raw["nhs"]
    u = rng.random(n)
    level = (u >= MATCH_SHARES[0]).astype(np.int8) + (u >= 1 - MATCH_SHARES[2])
    level[(level == 1) & (nhs == "")] = 0
    try_moving = rng.random(n) < 0.5
    moves = rng.integers(FAR_DAYS, 4 * FAR_DAYS, n) * rng.choice([-1, 1], n)
    foreign = codes.digit_strings(pool[rng.integers(0, pool.size, n)], 10)
    lo, hi = _day(ctx.start), _day(ctx.end)
    span = np.where(start >= 0, (end - start) // 1440, 0)
    moved = np.minimum(np.maximum(day + moves, lo), hi - 1 - span)
    far = ~_near(spans, raw["person"], moved - FAR_DAYS, moved + span + FAR_DAYS)
    shift = np.where((level == 2) & try_moving & far, moved - day, 0)
    nhs = np.where((level == 2) & (shift == 0), foreign, nhs)
    day = day + shift
    start = np.where(start >= 0, start + shift * 1440, -1)
    end = np.where(end >= 0, end + shift * 1440, -1)
    return level, nhs, day, start, end


def _encounter_spans(frames: dict) -> tuple[np.ndarray, np.ndarray]:
    """Every encounter as person * _BIG + day ranges, sorted by start, with the latest end."""
    parts = []
    if "truth/apc_spells" in frames:
        s = frames["truth/apc_spells"]
        parts.append((s["person_index"], _days(s["admission_date"]), _days(s["discharge_date"])))
        for name, col in (("extracts/hes_op", "APPTDATE"), ("extracts/ecds", "ARRIVAL_DATE")):
            parts.append((frames[name][PERSON], _days(frames[name][col]), None))
    if "truth/care_minutes" in frames:
        cm = frames["truth/care_minutes"]
        cm = cm[cm["file"] != "extracts/gp_events"]
        parts.append((cm["person_index"], _days(cm["activity_date"]), None))
    lo = [np.asarray(p, np.int64) * _BIG + a for p, a, _ in parts] or [np.zeros(0, np.int64)]
    hi = [np.asarray(p, np.int64) * _BIG + (a if b is None else b) for p, a, b in parts]
    lo, hi = np.concatenate(lo), np.concatenate(hi or [np.zeros(0, np.int64)])
    order = np.argsort(lo, kind="stable")
    return lo[order], np.maximum.accumulate(hi[order]) if hi.size else hi


def _near(spans, person: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the person has an encounter overlapping days [a, b]."""
    lo, latest = spans
    if not lo.size:
        return np.zeros(person.shape, bool)
    i = np.searchsorted(lo, person * _BIG + b, side="right") - 1
    return (i >= 0) & (latest[np.maximum(i, 0)] >= person * _BIG + a)
