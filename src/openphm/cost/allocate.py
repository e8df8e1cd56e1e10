"""CP3 and CP4: cost pools, shared over their activity records by a named driver.

A **pool** is one provider's cost in one financial year for one patient-facing cost
centre and resource: the centre's ledger lines mapped to that resource, or (resource
``overheads``) what the step-down cascade spread onto the centre. Each pool takes the
driver of the first ``drivers.toml`` rule for its activity type (and resource).

Every activity record part (see ``periods``) at the pool's provider, year and cost
centre carries driver **units**: the driver's measure (quantity x weight, quantity,
the feed's cost or one per record) times the part's share of the record, in integer
units (``rounding.UNITS_PER_ONE`` to one; a negative or missing measure counts 0).
Records are put in one order (activity_id, then source) and each gets its running-total
share of the pool (``rounding``): allocated + unmatched + excluded = the pool, to the
penny. Records matched to no encounter take their share like any other, and it goes
to the unmatched bucket, never onto a patient. With a practical capacity (time-driven
costing) the unused capacity is the excluded part.

A pool with cost and no driver volume, a negative pool, or volumes too large to add
exactly stop the run with the pool named (``check_pools``).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm.cost.errors import CostError
from openphm.cost.mapping import COSTED, OVERHEADS, activity_of
from openphm.cost.rounding import MAX_UNITS, as_units, floor_share, running_share
from openphm.cost.rules import CostRules

__all__ = [
    "CENTRE",
    "POOL",
    "UNIT_COLUMNS",
    "allocate",
    "check_pools",
    "driver_totals",
    "driver_units",
    "pool_summary",
    "pools",
]

CENTRE = ("provider_code", "financial_year", "cost_centre")
POOL = (*CENTRE, "resource")
UNIT_COLUMNS = (
    "activity_id",
    "source",
    *CENTRE,
    "driver",
    "encounter_id",
    "match_rule",
    "units",
    "cum_units",
)


def pools(mapped: ir.Table, received: ir.Table, rules: CostRules) -> ir.Table:
    """One row per pool: its amount, activity and driver (capacity_units NULL)."""
    lines = mapped.filter((mapped.line == COSTED) & (mapped.cost_centre_type == "patient_facing"))
    direct = lines.group_by(
        *CENTRE,
        resource=lines.mapped_resource,
        activity_type=lines.mapped_activity_type,
        activity=lines.activity,
    ).aggregate(amount_pence=lines.amount_pence.sum())
    kind, name = activity_of(received.cost_centre, rules)
    over = received.select(
        *CENTRE,
        resource=ibis.literal(OVERHEADS),
        activity_type=kind,
        activity=name,
        amount_pence=received.pence,
    )
    # A centre with overheads but no direct lines still needs its activity: from its
    # direct lines where it has them (the ledger's own activity_type), else the rules.
    known = direct.select(*CENTRE, _k=direct.activity_type, _a=direct.activity).distinct()
    over = over.left_join(known, list(CENTRE)).select(
        *CENTRE,
        resource=over.resource,
        activity_type=ibis.coalesce(over.activity_type, known._k),
        activity=ibis.coalesce(over.activity, known._a),
        amount_pence=over.amount_pence,
    )
    t = direct.union(over)
    driver, measure = _driver(t, rules)
    return t.mutate(
        amount_pence=t.amount_pence.cast("int64"),
        driver=driver,
        measure=measure,
        capacity_units=ibis.null("int64"),
    )


def _driver(t: ir.Table, rules: CostRules) -> tuple[ir.Value, ir.Value]:
    def applies(d):
        hit = t.activity_type == d.activity_type
        return hit & (t.resource == d.resource) if d.resource else hit

    name = ibis.cases(*[(applies(d), d.name) for d in rules.drivers], else_=ibis.null("string"))
    measure = ibis.cases(
        *[(applies(d), d.measure) for d in rules.drivers], else_=ibis.null("string")
    )
    return name, measure


def driver_units(parts: ir.Table, pools: ir.Table) -> ir.Table:
    """Each record part's units, and their running total, under each driver of its centre."""
    drivers = pools.select(*CENTRE, "driver", "measure").distinct()
    # Parts at a centre with no pool keep a NULL driver and 0 units: the stage buckets them.
    t = parts.left_join(drivers, list(CENTRE)).select(parts, drivers.driver, drivers.measure)
    share = t.fraction.cast("float64")
    measure = ibis.cases(
        (t.measure == "weighted_quantity", t.quantity * share * t.weight),
        (t.measure == "quantity", t.quantity * share),
        (t.measure == "cost", t.cost_pence.cast("float64") * share),
        else_=share,
    )
    units = as_units(ibis.greatest(measure.fill_null(0.0), 0.0))
    t = t.mutate(units=units)
    order = ibis.cumulative_window(
        group_by=[t[c] for c in (*CENTRE, "driver")], order_by=[t.activity_id, t.source]
    )
    return t.select(*[t[c] for c in UNIT_COLUMNS[:-1]], cum_units=t.units.sum().over(order))


def driver_totals(units: ir.Table) -> ir.Table:
    """Driver volume per centre and driver: total_units and the number of record parts."""
    units = units.filter(units.driver.notnull())
    return units.group_by(*CENTRE, "driver").aggregate(
        total_units=units.units.sum(), records=units.count()
    )


def check_pools(pools: ir.Table, totals: ir.Table, *, without_volume: str = "error") -> None:
    """Stop on a pool that cannot be shared out (runs one small query).

    ``without_volume="unallocated"`` lets a pool with cost but no driver volume through:
    its cost stays off patients (``pool_summary``'s ``unallocated_pence``).
    """
    t = pools.left_join(totals, [*CENTRE, "driver"]).select(pools, totals.total_units)
    volume = t.total_units.fill_null(0)
    stop_on_volume = without_volume == "error"
    problem = ibis.cases(
        (t.driver.isnull(), "driver"),
        (t.amount_pence < 0, "negative"),
        ((t.amount_pence != 0) & (volume == 0) & stop_on_volume, "volume"),
        (volume >= MAX_UNITS, "large"),
        else_=ibis.null("string"),
    )
    bad = (
        t.mutate(problem=problem, volume=volume)
        .filter(lambda s: s.problem.notnull())
        .order_by(["problem", *POOL])
        .limit(5)
        .execute()
    )
    if bad.empty:
        return
    why = {
        "driver": "no [[driver]] in drivers.toml serves activity type {activity_type!r}",
        "negative": "the pool is {amount_pence} pence, below zero: map the credit lines to "
        "another resource, or net them off in the ledger",
        "volume": "{amount_pence} pence but no driver volume ({driver}) in the year: no "
        "activity records at this cost centre carry any; check the feeds' cost_centre, or "
        "map the cost centre's lines elsewhere",
        "large": "driver volume {volume} units is too large to add exactly",
    }
    lines = [
        f"pool {r.provider_code} {r.financial_year} {r.cost_centre!r} resource {r.resource!r}: "
        + why[r.problem].format(**r._asdict())
        for r in bad.itertuples(index=False)
    ]
    raise CostError("cost: cost pools that cannot be allocated:\n  " + "\n  ".join(lines))


def _denominator(total: ir.IntegerValue, capacity: ir.IntegerValue) -> ir.IntegerValue:
    return ibis.ifelse(capacity.notnull() & (capacity > total), capacity, total)


def allocate(units: ir.Table, pools: ir.Table, totals: ir.Table) -> ir.Table:
    """Every record part x pool of its centre and driver, with its pence."""
    p = pools.join(totals, [*CENTRE, "driver"]).select(pools, totals.total_units)
    t = units.join(p, [*CENTRE, "driver"])
    denominator = _denominator(t.total_units, t.capacity_units)
    return t.select(
        "activity_id",
        "source",
        *CENTRE,
        "resource",
        "activity_type",
        "driver",
        "encounter_id",
        "match_rule",
        pence=running_share(t.amount_pence, t.cum_units, t.units, denominator),
    )


def pool_summary(pools: ir.Table, totals: ir.Table, allocated: ir.Table) -> ir.Table:
    """Per pool: amount, driver volume, and allocated + unmatched + excluded (unused
    capacity) + unallocated (no driver volume, where allowed) pence.

    ``allocated`` is :func:`allocate`'s output (one row per record part and pool).
    """
    # The shares of all a pool's records add up to F(D) (the running totals telescope),
    # so only the unmatched records (a few percent) need summing; the stage checks the
    # allocated pence against the encounters' own sum.
    a = allocated.filter(allocated.encounter_id.isnull())
    got = a.group_by(*POOL).aggregate(unmatched_pence=a.pence.sum())
    t = pools.left_join(totals, [*CENTRE, "driver"]).select(
        pools, total_units=totals.total_units.fill_null(0), records=totals.records.fill_null(0)
    )
    t = t.left_join(got, list(POOL)).select(
        t, unmatched_pence=got.unmatched_pence.fill_null(0).cast("int64")
    )
    denominator = _denominator(t.total_units, t.capacity_units)
    used = ibis.ifelse(
        t.total_units > 0, floor_share(t.amount_pence, t.total_units, denominator), 0
    )
    idle = t.total_units == 0
    return t.mutate(
        allocated_pence=(used - t.unmatched_pence).cast("int64"),
        excluded_pence=ibis.ifelse(idle, 0, t.amount_pence - used).cast("int64"),
        unallocated_pence=ibis.ifelse(idle, t.amount_pence, 0).cast("int64"),
    )
