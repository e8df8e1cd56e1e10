"""The disclosure gate: the one place that decides what counts may be published.

Rules (NHS Digital's for HES, on by default):

- a count from 1 to ``SUPPRESSION_THRESHOLD`` (7) is suppressed;
- every other count is rounded to the nearest ``ROUNDING_MULTIPLE`` (5); 0 stays 0;
- rates and percentages are recomputed from the rounded counts and suppressed
  with them;
- secondary suppression: the gate adds the totals itself, and in every line of
  the table (the cells that share all keys but one, plus their total) either
  nothing or at least two entries are suppressed, so no suppressed cell can be
  recovered by subtracting the others from a total.

Turning the rules off is an explicit call (``enabled = false`` with a reason in
the configuration) and is recorded in the audit trail with every publication.
Every transform here is an Ibis expression, so the gate runs on every engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, model_validator

from openphm import engine

SUPPRESSION_THRESHOLD = 7
ROUNDING_MULTIPLE = 5
TOTAL = "Total"  # key value of the margin rows the gate adds
PRIMARY = "primary"
SECONDARY = "secondary"
FLAG_SUFFIX = "_flag"


class DisclosurePolicy(BaseModel):
    """The disclosure rules as configured; the defaults are NHS Digital's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    suppression_threshold: int = Field(SUPPRESSION_THRESHOLD, ge=1)
    rounding_multiple: int = Field(ROUNDING_MULTIPLE, ge=1)
    disabled_reason: str | None = None
    # Why the threshold or the rounding is below NHS Digital's: required when either is.
    weakened_reason: str | None = None

    @model_validator(mode="after")
    def _off_only_with_reason(self) -> DisclosurePolicy:
        if not self.enabled and not (self.disabled_reason or "").strip():
            raise ValueError(
                "disclosure control can only be turned off with a disabled_reason "
                "(for example: outputs stay inside the trusted research environment)"
            )
        if self.weakened and not (self.weakened_reason or "").strip():
            raise ValueError(
                f"suppression_threshold below {SUPPRESSION_THRESHOLD} or rounding_multiple "
                f"below {ROUNDING_MULTIPLE} publishes smaller counts than NHS Digital's rules "
                "allow: give weakened_reason (it is audited and shown in the report's methods)"
            )
        return self

    @property
    def weakened(self) -> bool:
        """Below the defaults: counts smaller than NHS Digital's rules allow can be published."""
        return (
            self.suppression_threshold < SUPPRESSION_THRESHOLD
            or self.rounding_multiple < ROUNDING_MULTIPLE
        )


@dataclass(frozen=True)
class Rate:
    """A rate or percentage recomputed from the gated counts: numerator / denominator * per."""

    numerator: str
    denominator: str
    per: float = 100.0


@dataclass(frozen=True)
class GatedTable:
    """A table that passed the gate; the publish writer accepts nothing else."""

    name: str
    table: ir.Table
    keys: tuple[str, ...]
    counts: tuple[str, ...]
    rates: Mapping[str, Rate]
    decisions: Mapping[str, Any]
    _token: object = field(repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self._token is not _GATE_TOKEN:
            raise TypeError("a GatedTable can only be made by disclosure.gate()")


_GATE_TOKEN = object()


def round_count(count: ir.IntegerValue, multiple: int = ROUNDING_MULTIPLE) -> ir.IntegerValue:
    """Round to the nearest multiple (no ties arise for integers and odd multiples)."""
    return ((count + multiple // 2) // multiple) * multiple


def is_primary(count: ir.IntegerValue, threshold: int = SUPPRESSION_THRESHOLD) -> ir.BooleanValue:
    return (count >= 1) & (count <= threshold)


def gate(
    name: str,
    table: ir.Table,
    *,
    keys: Sequence[str],
    counts: Sequence[str],
    margins: Sequence[str] = (),
    rates: Mapping[str, Rate] | None = None,
    guarded_by: Mapping[str, str] | None = None,
    policy: DisclosurePolicy | None = None,
) -> GatedTable:
    """Pass an aggregate table through disclosure control.

    ``keys`` identify a cell (each combination at most once); ``counts`` are the
    integer columns to protect; ``margins`` are the keys to add totals over (the
    gate computes them from the unrounded cells, so published totals and cells
    agree before rounding); ``rates`` are recomputed from the rounded counts.
    ``guarded_by`` maps a count that describes people (money, bed days) to the count
    of those people: it is suppressed wherever theirs is, so a total for one to seven
    people is never shown, and then protected from subtraction like any count.
    The result has, for each count, a ``<count>_flag`` column: 'primary',
    'secondary' or NULL.
    """
    policy = policy or DisclosurePolicy()
    rates = dict(rates or {})
    guarded_by = dict(guarded_by or {})
    _check_columns(name, table, keys, counts, margins, rates)
    _check_guards(name, counts, guarded_by)
    cells = table.select(*keys, *[table[c].cast("int64").name(c) for c in counts])
    cube = _with_margins(cells, keys, counts, margins) if margins else cells
    if not policy.enabled:
        out = cube.mutate(**{f"{c}{FLAG_SUFFIX}": ibis.null("string") for c in counts})
        out = _with_rates(out, rates)
        decisions = {"enabled": False, "disabled_reason": policy.disabled_reason}
        return GatedTable(
            name, out.cache(), tuple(keys), tuple(counts), rates, decisions, _token=_GATE_TOKEN
        )

    flagged = cube.mutate(
        **{
            f"{c}{FLAG_SUFFIX}": ibis.ifelse(
                is_primary(cube[c], policy.suppression_threshold), PRIMARY, ibis.null("string")
            )
            for c in counts
        }
    ).cache()
    # The people counts settle first; the counts they guard then inherit their flags.
    for c in sorted(counts, key=lambda c: c in guarded_by):
        if c in guarded_by:
            flagged = _inherit(flagged, c, guarded_by[c])
        flagged = _secondary(flagged, keys, c, margins)
    out = flagged.mutate(
        **{
            c: ibis.ifelse(
                flagged[f"{c}{FLAG_SUFFIX}"].isnull(),
                round_count(flagged[c], policy.rounding_multiple),
                ibis.null("int64"),
            ).cast("int64")
            for c in counts
        }
    )
    out = _with_rates(out, rates).cache()
    decisions = _decisions(out, counts, policy)
    return GatedTable(name, out, tuple(keys), tuple(counts), rates, decisions, _token=_GATE_TOKEN)


def _check_columns(name, table, keys, counts, margins, rates) -> None:
    missing = [c for c in [*keys, *counts] if c not in table.columns]
    if missing:
        raise KeyError(
            f"disclosure gate for {name!r}: column(s) {missing} not in the table; "
            f"it has {list(table.columns)}"
        )
    for c in counts:
        if not table[c].type().is_integer():
            raise TypeError(
                f"disclosure gate for {name!r}: count column {c!r} is {table[c].type()}, "
                "not an integer; gate counts, then derive rates with rates=..."
            )
    for m in margins:
        if m not in keys:
            raise KeyError(f"disclosure gate for {name!r}: margin {m!r} is not one of keys {keys}")
    for rname, r in rates.items():
        for c in (r.numerator, r.denominator):
            if c not in counts:
                raise KeyError(
                    f"disclosure gate for {name!r}: rate {rname!r} uses {c!r}, "
                    f"which is not a gated count {list(counts)}"
                )


def _check_guards(name, counts, guarded_by: Mapping[str, str]) -> None:
    bad = {c: g for c, g in guarded_by.items() if c not in counts or g not in counts}
    if bad:
        raise KeyError(f"disclosure gate for {name!r}: guarded_by {bad} must name counts {counts}")
    chained = [c for c, g in guarded_by.items() if g in guarded_by]
    if chained:
        raise KeyError(f"disclosure gate for {name!r}: guards of guards are not allowed: {chained}")


def _inherit(flagged: ir.Table, count: str, guard: str) -> ir.Table:
    """``count`` suppressed (secondary) wherever the count of its people is."""
    flag, guard_flag = f"{count}{FLAG_SUFFIX}", f"{guard}{FLAG_SUFFIX}"
    inherited = ibis.ifelse(flagged[guard_flag].notnull(), SECONDARY, ibis.null("string"))
    return flagged.mutate(**{flag: flagged[flag].fill_null(inherited)}).cache()


def _with_margins(cells: ir.Table, keys, counts, margins) -> ir.Table:
    """The cells plus totals over every subset of the margin keys (a cube)."""
    cells = cells.mutate(**{m: cells[m].cast("string") for m in margins})
    parts = []
    for mask in range(1 << len(margins)):
        totalled = [m for i, m in enumerate(margins) if mask >> i & 1]
        kept = [k for k in keys if k not in totalled]
        if not totalled:
            parts.append(cells)
            continue
        sums = {c: cells[c].sum() for c in counts}
        agg = cells.group_by(kept).aggregate(**sums) if kept else cells.aggregate(**sums)
        agg = agg.mutate(**{m: ibis.literal(TOTAL) for m in totalled})
        parts.append(agg.select(*keys, *counts))
    return ibis.union(*parts)


def _secondary(flagged: ir.Table, keys, count: str, margins) -> ir.Table:
    """Suppress more cells until no line has exactly one suppressed entry.

    In a line with one suppressed entry, the smallest other non-zero entry is
    suppressed too (ties broken by key, so every engine picks the same cell);
    a line whose other entries are all zero gives up its total instead. Repeats
    until nothing changes, since a new suppression can expose another line.
    """
    flag = f"{count}{FLAG_SUFFIX}"
    for _ in range(100):
        changed = False
        for m in margins:
            line = [k for k in keys if k != m]
            t = flagged
            suppressed = t[flag].notnull()
            n_suppressed = suppressed.cast("int64").sum().over(group_by=line)
            # Zeros are structural and their suppression protects nothing.
            candidate = ~suppressed & ((t[count] > 0) | (t[m] == TOTAL))
            rank = engine.row_number(
                line,
                [*engine.sort_keys((~candidate).cast("int8")), *engine.sort_keys(t[count])],
                [t[k] for k in keys],
            )
            marked = t.mutate(_pick=(n_suppressed == 1) & candidate & (rank == 1)).cache()
            if marked.filter(marked._pick).count().execute():
                changed = True
                flagged = (
                    marked.mutate(**{flag: ibis.ifelse(marked._pick, SECONDARY, marked[flag])})
                    .drop("_pick")
                    .cache()
                )
        if not changed:
            return flagged
    raise RuntimeError(f"secondary suppression of {count!r} did not settle in 100 passes")


def _with_rates(table: ir.Table, rates: Mapping[str, Rate]) -> ir.Table:
    return table.mutate(
        **{
            name: ibis.ifelse(
                table[r.denominator] > 0,
                table[r.numerator].cast("float64") / table[r.denominator] * r.per,
                ibis.null("float64"),
            )
            for name, r in rates.items()
        }
    )


def _decisions(out: ir.Table, counts, policy: DisclosurePolicy) -> dict[str, Any]:
    tallies = out.aggregate(
        cells=ibis._.count(),
        **{
            f"{c}_{kind}": (out[f"{c}{FLAG_SUFFIX}"] == kind).cast("int64").sum()
            for c in counts
            for kind in (PRIMARY, SECONDARY)
        },
    ).execute()
    row = {k: int(v) for k, v in tallies.iloc[0].fillna(0).items()}
    decisions = {
        "enabled": True,
        "suppression_threshold": policy.suppression_threshold,
        "rounding_multiple": policy.rounding_multiple,
        "cells": row.pop("cells"),
        "suppressed": row,
    }
    if policy.weakened:
        decisions["weakened_reason"] = policy.weakened_reason
    return decisions
