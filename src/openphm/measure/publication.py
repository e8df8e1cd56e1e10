"""How the measure stage's indicator tables pass the disclosure gate to be published.

The counts are the disclosure risk, and the gate owns them: each indicator is published
as ``indicator_<id>.csv``, its numerators and denominators suppressed (1 to 7) and
rounded (to 5) by ``disclosure.gate``, with totals over the groups of every breakdown
(so secondary suppression protects them) and the value recomputed from the rounded
counts. Years are published for every breakdown, months for the organisations
(``MONTHLY_BREAKDOWNS``).

The statistics (confidence limits, standardised rates, funnels, SPC) are computed from
the exact counts, as Fingertips and NHS Digital compute theirs, and are published
beside them in ``indicator_intervals``, ``indicator_dsr``, ``indicator_funnel`` and
``indicator_spc``, only where their counts were published: a statistic is blanked
wherever the gate suppressed its numerator or denominator in the indicator's file, and
wherever it rests on fewer than ``MIN_EVENTS_FOR_STATISTICS`` events, so no statistic
can give back a count the gate withheld. Their own counts pass the gate again.

The gate knows counts, keys and rates only, so the statistics travel as key columns;
blanking them here first is what keeps that safe.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from openphm.disclosure import FLAG_SUFFIX, DisclosurePolicy, GatedTable, Rate, gate
from openphm.measure import indicators as I
from openphm.measure import statistics as S
from openphm.measure.aggregate import KEYS
from openphm.measure.attribution import ORG_BREAKDOWNS
from openphm.measure.definitions import Definitions, load
from openphm.measure.periods import YEAR

MIN_EVENTS_FOR_STATISTICS = 10  # the DSR rule, applied to every published statistic
# Months are published for the organisation breakdowns only. Months add up to years, a
# total the gate cannot see, so small monthly cells of a person breakdown (an age band
# of a year's admissions) could be recovered from the yearly figure; and most would
# be suppressed anyway. The warehouse table keeps them for analysts with access.
MONTHLY_BREAKDOWNS = ORG_BREAKDOWNS
INTERVALS = "indicator_intervals"
CELL_KEYS = tuple(k for k in KEYS if k != "indicator")
GROUP = "group_code"
NOT_SHOWN = "not shown: count suppressed or fewer than 10 events"

# Per statistics table: the source table, its counts, the count that must reach
# MIN_EVENTS_FOR_STATISTICS, and the statistic columns blanked when it is not shown.
STATISTICS = {
    INTERVALS: dict(
        source=I.VALUES,
        counts=("numerator", "denominator"),
        events="numerator",
        columns=("value", *S.LIMITS, "method"),
    ),
    I.DSR: dict(
        source=I.DSR,
        counts=("total_count", "total_pop", "events_not_standardised"),
        events="total_count",
        columns=("value", *S.LIMITS, "method", "suppression_reason"),
    ),
    I.FUNNEL: dict(
        source=I.FUNNEL,
        counts=("observed", "denominator"),
        events="observed",
        columns=(
            "expected",
            "value",
            "z",
            *S.FUNNEL_LIMITS,
            *S.FUNNEL_FLAGS,
            "target",
            "adjustment",
            "phi",
            "tau2",
        ),
    ),
    I.SPC: dict(
        source=I.SPC,
        counts=("numerator", "denominator"),
        events="numerator",
        columns=("value", "mean", "lower_limit", "upper_limit", "rule", "point_type"),
    ),
}
TABLES = (I.VALUES, I.DSR, I.FUNNEL, I.SPC, I.DEFINITIONS)  # what publish reads


def gated(
    tables: Mapping[str, ir.Table],
    policy: DisclosurePolicy,
    definitions: Definitions | None = None,
) -> list[GatedTable]:
    """Every indicator file, the statistics files and the definitions, through the gate."""
    if I.VALUES not in tables:
        return []
    definitions = definitions or load()
    values = tables[I.VALUES]
    measured = set(values.select("indicator").distinct().indicator.to_pyarrow().to_pylist())
    out: list[GatedTable] = []
    shown = []
    for ind in definitions.indicators:
        if ind.id not in measured:
            continue
        mine = values.filter(
            (values.indicator == ind.id)
            & ((values.period_type == YEAR) | values.breakdown.isin(MONTHLY_BREAKDOWNS))
        )
        table = gate(
            f"indicator_{ind.id}",
            mine,
            keys=list(CELL_KEYS),
            counts=["numerator", "denominator"],
            margins=[GROUP],
            rates={"value": Rate("numerator", "denominator", per=ind.per)},
            policy=policy,
        )
        out.append(table)
        t = table.table
        shown.append(
            t.filter(t[GROUP] != "Total").select(
                *[t[k].name(f"_{k}") for k in CELL_KEYS],
                _indicator=ibis.literal(ind.id),
                _shown=t[f"numerator{FLAG_SUFFIX}"].isnull()
                & t[f"denominator{FLAG_SUFFIX}"].isnull(),
            )
        )
    if not shown:
        return out
    visible = ibis.union(*shown)
    for name, spec in STATISTICS.items():
        if spec["source"] not in tables:
            continue
        source = _prepared(name, tables[spec["source"]], spec)
        if source.count().execute() == 0:
            continue
        masked = _masked(source, visible, spec)
        keys = [c for c in source.columns if c not in spec["counts"]]
        out.append(gate(name, masked, keys=keys, counts=list(spec["counts"]), policy=policy))
    if I.DEFINITIONS in tables:
        out.append(_definitions(tables[I.DEFINITIONS], policy))
    return out


def _prepared(name: str, source: ir.Table, spec: dict) -> ir.Table:
    """The columns a statistics file publishes, counts as counts and flags as text."""
    if name == INTERVALS:
        # Years only: monthly series are judged by their SPC limits (indicator_spc), and
        # the values table also holds sums of squares, which are not published.
        years = source.filter(source.period_type == YEAR)
        return years.select(*KEYS, *spec["counts"], *spec["columns"])
    if name != I.FUNNEL:
        return source
    # A proportion's 'expected' is its denominator, a count: publish it as one.
    proportion = source.comparison == "proportion"
    return source.mutate(
        denominator=ibis.ifelse(proportion, source.expected, ibis.null("float64"))
        .round(0)
        .cast("int64"),
        expected=ibis.ifelse(proportion, ibis.null("float64"), source.expected),
        **{flag: source[flag].cast("string") for flag in S.FUNNEL_FLAGS},
    )


def _masked(source: ir.Table, visible: ir.Table, spec: dict) -> ir.Table:
    joined = source.left_join(
        visible,
        [source.indicator == visible._indicator]
        + [source[k] == visible[f"_{k}"] for k in CELL_KEYS],
    )
    shown = joined._shown.fill_null(False)
    ok = shown & (joined[spec["events"]] >= MIN_EVENTS_FOR_STATISTICS).fill_null(False)
    blanked = {c: ibis.ifelse(ok, joined[c], ibis.null(joined[c].type())) for c in spec["columns"]}
    # The counts too, where the indicator's own file withheld them: a count the gate
    # suppressed there must not come back here, rounded.
    for c in spec["counts"]:
        blanked[c] = ibis.ifelse(shown, joined[c], ibis.null(joined[c].type()))
    return joined.select(*[blanked.get(c, joined[c]).name(c) for c in source.columns])


def _definitions(table: ir.Table, policy: DisclosurePolicy) -> GatedTable:
    """The definitions hold no counts of people: every column is a key."""
    return gate(I.DEFINITIONS, table, keys=list(table.columns), counts=[], policy=policy)
