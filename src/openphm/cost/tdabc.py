"""Optional time-driven activity-based costing: capacity cost rates and unused capacity.

With a practical capacity for a cost centre (and optionally one resource of it), in the
units of the centre's driver (minutes for a ward, theatre or contact centre), a pool's
capacity cost rate is its cost divided by that capacity, not by the volume used. The
records then take ``rate x their units`` and what the unused capacity would have taken
stays off the patients: it is the pool's ``excluded`` pence, a line of its own in the
reconciliation. Where the records used more than the stated capacity, the capacity is
ignored (the rate falls back to cost / volume used) rather than costing more than the pool.

The capacity file (CSV): provider_code, financial_year, cost_centre, resource (empty:
every resource of the centre), practical_capacity.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from openphm.cost.allocate import CENTRE
from openphm.cost.errors import CostError
from openphm.cost.rounding import as_units

__all__ = ["COLUMNS", "read_capacity", "with_capacity"]

COLUMNS = ("provider_code", "financial_year", "cost_centre", "resource", "practical_capacity")


def read_capacity(path: Path) -> pd.DataFrame:
    """The capacity file, checked: every column present, capacities positive numbers."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except OSError as exc:
        raise CostError(f"[stages.cost] capacity: cannot read {path} ({exc.strerror})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise CostError(f"{path}: column(s) {missing} missing; the columns are {list(COLUMNS)}")
    values = pd.to_numeric(frame["practical_capacity"], errors="coerce")
    bad = frame.index[~(values > 0)]
    if len(bad):
        line = int(bad[0]) + 2
        raise CostError(
            f"{path} line {line}, column practical_capacity: "
            f"{frame['practical_capacity'].iat[bad[0]]!r} is not a positive number"
        )
    out = frame[list(COLUMNS)].copy()
    out["practical_capacity"] = values.astype(float)
    out["resource"] = out["resource"].replace("", None)
    return out


def with_capacity(pools: ir.Table, capacity: ir.Table) -> ir.Table:
    """Pools with capacity_units set where the capacity table names their centre."""
    c = capacity.select(
        **{f"_{k}": capacity[k] for k in CENTRE},
        _r=capacity.resource,
        _units=as_units(capacity.practical_capacity),
    )
    t = pools.left_join(
        c,
        [
            *[pools[k] == c[f"_{k}"] for k in CENTRE],
            c._r.isnull() | (c._r == pools.resource),
        ],
    )
    # A resource-specific row wins over a whole-centre one.
    t = t.mutate(_rank=ibis.ifelse(t._r.isnull(), 1, 0))
    best = t.group_by([t[k] for k in (*CENTRE, "resource")]).aggregate(_best=t._rank.min())
    t = t.join(best, [*CENTRE, "resource"]).filter(
        lambda s: s._units.isnull() | (s._rank == s._best)
    )
    return t.select(
        *[c for c in pools.columns if c != "capacity_units"], capacity_units=t._units.cast("int64")
    )
