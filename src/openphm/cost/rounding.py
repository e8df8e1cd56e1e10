"""Integer pence shares that add up: running-total (cumulative) rounding.

A pool of ``A`` pence is shared over records in a fixed order by integer driver units
``u_i`` (total ``D``). With ``c_i`` the running total of units up to and including
record ``i``, record ``i`` gets ``F(c_i) - F(c_i - u_i)`` where ``F(c) = floor(A c / D)``
and ``F(D) = A``. Why this and not largest remainders:

- the shares add up to ``A`` exactly whatever the floating point does (the sum
  telescopes to ``F(D) - F(0) = A``);
- no share is negative: ``A c / D`` is computed as ``fl(fl(A * c) / D)`` on integers
  below 2**53, and correctly rounded multiplication and division are monotone, so
  ``F`` never decreases (for ``A >= 0``);
- each share is within a penny of its exact value ``A u_i / D``;
- every pool sharing the same records and driver shares one running total, so one
  ordered pass serves all of them (largest remainders would need one ranking per pool);
- DuckDB and Spark give the same pennies: integer inputs, IEEE doubles, one order.

Time-driven costing passes a practical capacity ``C >= D`` as the denominator: the
records then take ``F(D)`` and ``A - F(D)`` is the unused capacity, shown as its own line.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: Driver and basis quantities are fixed-point integers: this many units to one.
UNITS_PER_ONE = 1000
#: Running totals must stay exact in a double: below 2**53.
MAX_UNITS = 2**53


def as_units(value: ir.NumericValue) -> ir.IntegerValue:
    """A non-negative quantity as integer units (nearest, halves up), NULL as 0."""
    return (value.cast("float64").fill_null(0.0) * UNITS_PER_ONE + 0.5).floor().cast("int64")


def floor_share(
    amount: ir.IntegerValue, upto: ir.IntegerValue, total: ir.IntegerValue
) -> ir.IntegerValue:
    """``F(upto) = floor(amount * upto / total)``, exactly ``amount`` when upto == total."""
    share = (amount.cast("float64") * upto.cast("float64") / total.cast("float64")).floor()
    return ibis.ifelse(upto == total, amount, share.cast("int64")).cast("int64")


def running_share(
    amount: ir.IntegerValue,
    cum: ir.IntegerValue,
    units: ir.IntegerValue,
    total: ir.IntegerValue,
) -> ir.IntegerValue:
    """A record's pence: ``F(cum) - F(cum - units)`` (zero when the total is zero)."""
    pence = floor_share(amount, cum, total) - floor_share(amount, cum - units, total)
    return ibis.ifelse(total > 0, pence, 0).cast("int64")
