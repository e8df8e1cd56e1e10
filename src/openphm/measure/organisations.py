"""Which practice, PCN, place, ICS and provider an event belongs to, on a given day.

The ``organisation`` table holds each organisation over its validity periods, with its
parent and, once it closes, its successor. Boundaries change: two places merge into
one, a practice joins another PCN. Indicators can be reported two ways, and say which
in their ``org_basis`` column:

- ``at_time``: against the organisations as they were on the day of the event;
- ``current``: recast onto today's organisations (those in force on the index date)
  through the recorded successors, so a time series runs on one set of boundaries.

Both are the same walk with a different day: take the code, follow successors while
it had closed by that day, then step to the parent its row on that day names, and
repeat up the hierarchy (practice -> PCN -> sub-ICB location (place) -> ICB).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import ibis
import ibis.expr.types as ir

from openphm import dates, engine

AT_TIME = "at_time"
CURRENT = "current"
BASES = (CURRENT, AT_TIME)
PRACTICE = "practice"
PCN = "pcn"
PLACE = "place"
ICS = "ics"
PROVIDER = "provider"
# Breakdown name -> organisation kind in the canonical table, bottom of the hierarchy first.
HIERARCHY = ((PRACTICE, "practice"), (PCN, "pcn"), (PLACE, "sub_icb"), (ICS, "icb"))
MAX_SUCCESSORS = 5  # successor chains longer than this are data errors, not history
KINDS = (*(kind for _, kind in HIERARCHY), "provider")


def _as_is(table: ir.Table) -> ir.Table:
    return table


def successors(
    organisation: ir.Table, kind: str, keep: Callable[[ir.Table], ir.Table] = _as_is
) -> ir.Table:
    """Each code of ``kind`` with every code it became: code, member, depth, closes.

    Depth 0 is the code itself, 1 its successor, and so on; ``closes`` is the last
    day the member was in force (NULL while any of its rows is still open). ``keep``
    materialises the codes, which each step of the walk reads: Spark plans a table once
    per use, and the walk reads them ``MAX_SUCCESSORS`` times over.
    """
    orgs = organisation.filter(organisation.kind == kind)
    codes = orgs.group_by(_c=orgs.code).aggregate(
        _closes=ibis.ifelse(orgs.valid_to.isnull().any(), ibis.null("date"), orgs.valid_to.max()),
        _next=orgs.successor_code.min(),
    )
    codes = keep(codes)
    level = codes.select(
        code=codes._c.cast("string"),
        member=codes._c.cast("string"),
        depth=ibis.literal(0, type="int64"),
    )
    levels = [level]
    for depth in range(1, MAX_SUCCESSORS + 1):
        step = level.join(codes, level.member == codes._c).filter(codes._next.notnull())
        level = step.select(
            code=step.code.cast("string"),
            member=step._next.cast("string"),
            depth=ibis.literal(depth, type="int64"),
        )
        levels.append(level)
    chain = ibis.union(*levels)
    return keep(
        chain.left_join(codes, chain.member == codes._c).select(
            "code", "member", "depth", closes=codes._closes
        )
    )


def chains(
    organisation: ir.Table, keep: Callable[[ir.Table], ir.Table] = _as_is
) -> dict[str, ir.Table]:
    """``successors`` of every kind, each built once (and kept) for every lookup."""
    return {kind: successors(organisation, kind, keep) for kind in KINDS}


def resolve(
    codes: ir.Table,
    organisation: ir.Table,
    kind: str,
    walks: Mapping[str, ir.Table] | None = None,
) -> ir.Table:
    """``codes`` (code, on) plus ``resolved``: what ``code`` was, or had become, on ``on``.

    The nearest of the code and its successors still open on the day; when all had
    closed, the last of them. Codes not in the table stand for themselves. ``walks``
    are the successor chains by kind (``chains``), when already built.
    """
    chain = walks[kind] if walks else successors(organisation, kind)
    chain = chain.rename(_code="code")
    keys = list(codes.columns)
    joined = codes.left_join(chain, codes.code == chain._code)
    closed = (joined.closes < joined.on).fill_null(False)
    joined = joined.mutate(
        _rank=engine.row_number(
            [joined[k] for k in keys],
            [
                *engine.sort_keys(closed.cast("int8")),
                *engine.sort_keys(ibis.ifelse(closed, -joined.depth, joined.depth)),
            ],
            [joined.member],
        )
    )
    first = joined.filter(joined._rank == 1)
    return first.select(*keys, resolved=first.member.fill_null(first.code))


def parent(codes: ir.Table, organisation: ir.Table, kind: str) -> ir.Table:
    """``codes`` (code, on) plus ``parent``: the parent named by the code's row on ``on``.

    The row in force on the day is preferred; failing one, the latest row that started
    by then, then the earliest (so a practice recorded a day late still has a PCN).
    """
    orgs = organisation.filter(organisation.kind == kind)
    rows = orgs.select(
        _code=orgs.code, _from=orgs.valid_from, _to=orgs.valid_to, _parent=orgs.parent_code
    )
    keys = list(codes.columns)
    joined = codes.left_join(rows, codes.code == rows._code)
    open_on = dates.covers(joined._from, joined._to, joined.on).fill_null(False)
    started = (joined._from <= joined.on).fill_null(False)
    joined = joined.mutate(
        _rank=engine.row_number(
            [joined[k] for k in keys],
            [
                *engine.sort_keys((~open_on).cast("int8")),
                *engine.sort_keys((~started).cast("int8")),
                *engine.sort_keys(
                    ibis.ifelse(
                        started, -engine.epoch_days(joined._from), engine.epoch_days(joined._from)
                    )
                ),
            ],
            [joined._parent],
        )
    )
    first = joined.filter(joined._rank == 1)
    return first.select(*keys, parent=first._parent)


def lineage(
    practices: ir.Table, organisation: ir.Table, walks: Mapping[str, ir.Table] | None = None
) -> ir.Table:
    """``practices`` (practice_code, on) plus practice, pcn, place and ics on ``on``."""
    t = practices.mutate(code=practices.practice_code)
    for i, (name, kind) in enumerate(HIERARCHY):
        t = resolve(t, organisation, kind, walks)
        t = t.mutate(**{name: t.resolved}).drop("resolved")
        if i + 1 < len(HIERARCHY):
            t = parent(t.mutate(code=t[name]), organisation, kind)
            t = t.mutate(code=t.parent).drop("parent")
    return t.select(*practices.columns, *[name for name, _ in HIERARCHY])


def providers(
    codes: ir.Table, organisation: ir.Table, walks: Mapping[str, ir.Table] | None = None
) -> ir.Table:
    """``codes`` (provider_code, on) plus ``provider``, resolved through successors."""
    t = resolve(codes.mutate(code=codes.provider_code), organisation, "provider", walks)
    return t.select(*codes.columns, provider=t.resolved)


def days(first_day: date, last_day: date) -> ir.Table:
    """One row per day from ``first_day`` to ``last_day``: the ``on`` column."""
    count = last_day.toordinal() - first_day.toordinal() + 1
    every = [date.fromordinal(first_day.toordinal() + i) for i in range(count)]
    return ibis.memtable({"on": every}, schema=ibis.schema({"on": "date"}))


def codes_on(organisation: ir.Table, kind: str, column: str, on: ir.Table) -> ir.Table:
    """Every code of ``kind`` in the table, on every day of ``on``: (column, on).

    Lineage is resolved for these, not for each event, so its size depends on the
    organisations and the days measured, never on the volume of activity.
    """
    codes = organisation.filter(organisation.kind == kind).select(**{column: "code"}).distinct()
    return codes.cross_join(on)
