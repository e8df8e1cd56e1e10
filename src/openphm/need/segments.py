"""Bridges to Health segments: one per person, the first in priority order they qualify for.

The segments and their order are data (``codelists/bridges_to_health.rules.toml``):
each names its Lynn et al. number, a label and its criteria (``need.criteria``), most
need first; the last has no criteria and takes everyone the others leave. So however
many segments a person qualifies for, they are counted once, in the segment of
greatest need.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import ibis
import ibis.expr.types as ir

from openphm.codelists import RuleSet, load_rules
from openphm.need.criteria import Criteria, CriteriaError, holds

__all__ = ["RULES", "SEGMENT", "SEGMENT_NUMBER", "Segment", "assign", "load"]

RULES = "bridges_to_health"
SEGMENT = "segment"
SEGMENT_NUMBER = "segment_number"
_KEYS = ("name", "number", "label")


@dataclasses.dataclass(frozen=True)
class Segment:
    name: str
    number: int
    label: str
    criteria: Criteria


def load(rules: RuleSet | None = None, folder: Path | str | None = None) -> tuple[Segment, ...]:
    """The segments in priority order, checked: unique names and numbers, one catch-all, last."""
    rules = rules or load_rules(RULES, folder)
    where = f"{rules.name}.rules.toml"
    raw = rules.body.get("segments")
    if not isinstance(raw, list) or len(raw) < 2:
        raise CriteriaError(f"{where}: needs two or more [[segments]] tables, in priority order")
    segments = []
    for n, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict) or not all(k in entry for k in _KEYS):
            raise CriteriaError(f"{where}: segment {n} needs a name, a number and a label")
        named = f"{where}, segment {entry['name']!r}"
        if not isinstance(entry["number"], int) or isinstance(entry["number"], bool):
            raise CriteriaError(f"{named}: number must be a whole number")
        criteria = Criteria.parse(entry, named, extra=_KEYS)
        segments.append(Segment(entry["name"], entry["number"], entry["label"], criteria))
    for field in ("name", "number"):
        values = [getattr(s, field) for s in segments]
        if len(set(values)) != len(values):
            raise CriteriaError(f"{where}: two segments have the same {field}")
    catch_all = [s.name for s in segments if s.criteria.empty]
    if catch_all != [segments[-1].name]:
        raise CriteriaError(
            f"{where}: the last segment, and only it, must have no criteria (it takes "
            f"everyone left); segments without criteria: {catch_all}"
        )
    return tuple(segments)


def assign(people: ir.Table, segments: tuple[Segment, ...] | None = None) -> ir.Table:
    """``people`` plus ``segment`` and ``segment_number``: the first segment that applies."""
    segments = segments or load()
    *ranked, rest = segments
    tests = [(holds(people, s.criteria), s) for s in ranked]
    # A CASE takes its first true branch: the priority order.
    name = ibis.cases(*((t, s.name) for t, s in tests), else_=rest.name)
    number = ibis.cases(*((t, s.number) for t, s in tests), else_=rest.number)
    return people.mutate(**{SEGMENT: name, SEGMENT_NUMBER: number.cast("int8")})
