"""The report's sections as a registry: each names the published tables it needs and a renderer.

A section renders when at least one of its tables is published and says "not run"
otherwise (naming the stage that would publish them). Tables a section knows by
name get purpose-built charts; any other table it lists gets the generic renderer
(a bar chart of its first count over its one varying label, and the table), so a
stage can change its columns without breaking the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from openphm.report import charts
from openphm.report.blocks import Figure, Section, Table, Text, table_of
from openphm.report.published import TOTAL, Published, PublishedTable

GENERIC_MAX_CATEGORIES = 30  # more labels than this and a bar chart stops being readable
EXCLUDED_GROUPS = (TOTAL, "Unknown", "")


@dataclass(frozen=True)
class SectionSpec:
    id: str
    title: str
    intro: str
    stage: str  # the stage that publishes its tables, for the "not run" message
    tables: tuple[str, ...]  # published tables it shows, in order
    render: Callable[[Published, SectionSpec], list] | None = None  # None: generic per table
    chart_values: tuple[tuple[str, str], ...] = ()  # (table, column to chart) for generic


# --- the generic renderer ---------------------------------------------------------------------


def _label_columns(pt: PublishedTable) -> list[str]:
    counts, flags = set(pt.counts), set(pt.flags)
    out = []
    for c in pt.frame.columns:
        if c in counts or c in flags:
            continue
        values = pt.frame[c][(pt.frame[c] != "") & (pt.frame[c] != "*")]
        if values.empty or pd.to_numeric(values, errors="coerce").isna().any():
            out.append(c)  # text: a label
    return out


PERIOD_WORDS = ("year", "period", "month", "date")


def generic(pt: PublishedTable, caption: str | None = None, value: str | None = None) -> list:
    """A bar chart of a count (or figure) by the one label that varies, and the table.

    ``value`` names the column to chart (default: the first count). Every other label
    is held at its total (the gate's margin) or, for a period, at the latest one.
    """
    caption = caption or pt.name.replace("_", " ")
    blocks: list = []
    labels = _label_columns(pt)
    values = [c for c in pt.visible_columns if c not in labels]
    if value not in pt.frame.columns:
        value = pt.counts[0] if pt.counts else (values[0] if values else None)
    frame = pt.frame
    varying = [c for c in labels if frame[c].nunique() > 1]
    category, held = None, []

    def is_period(column: str) -> bool:
        return any(w in column for w in PERIOD_WORDS)

    # Periods last: a chart over places for the latest year says more than one over years.
    for c in sorted(varying, key=lambda c: (is_period(c), frame[c].nunique())):
        rows, fixed = frame, []
        for o in (o for o in varying if o != c):
            if (rows[o] == TOTAL).any():
                rows = rows[rows[o] == TOTAL]
                fixed.append(f"{o} {TOTAL}")
            elif is_period(o):
                latest = max(set(rows[o]) - {""}, default="")
                rows = rows[rows[o] == latest]
                fixed.append(f"{o} {latest}")
        rows = rows[~rows[c].isin(EXCLUDED_GROUPS)]
        if 1 < rows[c].nunique() <= GENERIC_MAX_CATEGORIES and len(rows) == rows[c].nunique():
            category, frame, held = c, rows, fixed
            break
    if value is not None and category is not None:
        data = frame.assign(**{value: pt.numeric(value).reindex(frame.index)}).dropna(
            subset=[value]
        )
        if not data.empty:
            alt_text = (
                f"Bar chart of {value.replace('_', ' ')} by {category.replace('_', ' ')}"
                + (f" ({', '.join(held)})" if held else "")
                + f", from published/{pt.name}.csv; the table below holds the figures."
            )
            chart = charts.render(
                charts.bars(data, category=category, value=value, title=value.replace("_", " ")),
                alt_text,
            )
            table = table_of(pt, frame, caption=f"{caption}: the figures behind the chart")
            blocks.append(Figure(chart, table, caption))
            if len(frame) < len(pt.frame):
                blocks.append(table_of(pt, caption=f"{caption}: the whole table"))
            return blocks
    blocks.append(table_of(pt, caption=caption))
    return blocks


def _generic_section(pub: Published, spec: SectionSpec) -> list:
    blocks: list = []
    chosen = dict(spec.chart_values)
    for name in spec.tables:
        if name in pub:
            blocks.extend(generic(pub[name], value=chosen.get(name)))
    return blocks


# --- population and need ----------------------------------------------------------------------


def _age_order(bands: pd.Series) -> list[str]:
    def start(b: str) -> int:
        digits = "".join(ch if ch.isdigit() else " " for ch in b).split()
        return int(digits[0]) if digits else 999

    return sorted(bands.unique(), key=start)


def _population(pub: Published, spec: SectionSpec) -> list:
    blocks: list = []
    if "registered_population" in pub:
        pt = pub["registered_population"]
        ics = pt.frame[
            (pt.frame["practice_code"] == TOTAL)
            & (pt.frame["age_band"] != TOTAL)
            & pt.frame["sex"].isin(["1", "2"])
        ]
        data = ics.assign(population=pt.numeric("population").reindex(ics.index)).dropna(
            subset=["population"]
        )
        order = _age_order(ics["age_band"])
        if not data.empty:
            oldest = order[-1] if order else ""
            chart = charts.render(
                charts.pyramid(data, age="age_band", sex="sex", value="population", order=order),
                f"Age-sex pyramid of the registered population, males left and females right, "
                f"in {len(order)} age bands from {order[0]} to {oldest}; the table below holds "
                "the figures.",
            )
            table = table_of(
                pt,
                ics,
                caption="Registered population by age band and sex (all practices)",
                limit=len(ics),
            )
            blocks.append(Figure(chart, table, "Registered population by age and sex"))
        practices = pt.frame[(pt.frame["age_band"] == TOTAL) & (pt.frame["sex"] == TOTAL)]
        blocks.append(table_of(pt, practices, caption="Registered population by practice"))
    if "need_summary" in pub:
        blocks.extend(_need(pub["need_summary"]))
    for name in spec.tables:
        if name not in ("registered_population", "need_summary") and name in pub:
            blocks.extend(generic(pub[name]))
    return blocks


def _need(pt: PublishedTable) -> list:
    blocks: list = []
    f = pt.frame
    segments = f[(f["place_code"] == TOTAL) & (f["segment"] != TOTAL)]
    data = segments.assign(people=pt.numeric("people").reindex(segments.index)).dropna(
        subset=["people"]
    )
    if not data.empty:
        chart = charts.render(
            charts.bars(data, category="segment", value="people", title="people"),
            "Bar chart of people in each Bridges to Health segment across the ICS, largest "
            "first; the table below holds the figures.",
        )
        table = table_of(pt, segments, caption="People by Bridges to Health segment (all places)")
        blocks.append(Figure(chart, table, "Population segments (Bridges to Health)"))
    places = f[(f["segment"] == TOTAL) & ~f["place_code"].isin(["", TOTAL])]
    if "core20_percent" in f.columns:
        data = places.assign(core20_percent=pt.numeric("core20_percent").reindex(places.index))
        data = data.dropna(subset=["core20_percent"])
        if not data.empty:
            chart = charts.render(
                charts.bars(
                    data,
                    category="place_code",
                    value="core20_percent",
                    title="% living in the most deprived 20% (Core20)",
                ),
                "Bar chart of the percentage of each place's people living in the most deprived "
                "fifth of England (Core20PLUS5's Core20); the table below holds the figures.",
            )
            table = table_of(
                pt,
                places,
                caption="Core20 and multimorbidity (2 or more long-term conditions) by place",
            )
            blocks.append(Figure(chart, table, "Core20PLUS5: deprivation by place"))
    return blocks


# --- risk and the equity audit ------------------------------------------------------------------

EQUITY_TIER = "top_20%"  # the widest top tier: the one with the most people in each group
EQUITY_MEASURES = {
    "share_in_tier_percent": "ranked by the model",
    "share_of_top_by_need_percent": "ranked by need (fair)",
}


def _equity(pt: PublishedTable) -> list:
    """Obermeyer's comparison: each group's share of the model's top tier against its share
    of the same tier ranked by need, for each model (label) and grouping."""
    needed = {"label", "group_type", "group", "tier", *EQUITY_MEASURES}
    if not needed <= set(pt.frame.columns):
        return []
    blocks: list = []
    f = pt.frame[pt.frame["tier"] == EQUITY_TIER]
    for group_type in sorted(set(f["group_type"])):
        rows = f[(f["group_type"] == group_type) & ~f["group"].isin(EXCLUDED_GROUPS)]
        long = rows.melt(
            id_vars=["label", "group"], value_vars=list(EQUITY_MEASURES), var_name="measure"
        )
        long["value"] = pd.to_numeric(long["value"].replace("", None), errors="coerce")
        long = long.dropna(subset=["value"])
        if long.empty:
            continue
        long["measure"] = long["measure"].map(EQUITY_MEASURES)
        what = group_type.replace("_", " ")
        chart = charts.render(
            charts.grouped_bars(
                long,
                group="group",
                measure="measure",
                value="value",
                facet="label",
                title="percent of the top 20%",
                group_title=what,
            ),
            f"Grouped bar charts, one panel per model ({', '.join(sorted(set(long['label'])))}), "
            f"of each {what}'s share of the model's top 20% beside its share of the top 20% "
            "ranked by need; a group whose first bar is lower than its second is under-ranked. "
            "The table below holds the figures.",
        )
        table = table_of(pt, rows, caption=f"Equity audit by {what}, {EQUITY_TIER}")
        blocks.append(Figure(chart, table, f"Equity audit: who the top 20% misses, by {what}"))
    return blocks


def _risk(pub: Published, spec: SectionSpec) -> list:
    blocks: list = []
    for name in spec.tables:
        if name not in pub:
            continue
        if name == "equity_audit":
            blocks.extend(_equity(pub[name]))
        blocks.extend(generic(pub[name]))
    return blocks


# --- indicators: yearly tables, funnel plots, SPC charts ------------------------------------------


def _indicator_title(pub: Published, indicator: str) -> str:
    if "indicator_definitions" in pub:
        d = pub["indicator_definitions"].frame
        hit = d[d["indicator"] == indicator]
        if not hit.empty:
            return str(hit["title"].iat[0])
    return indicator.replace("_", " ")


def _indicator_blocks(pub: Published, indicator: str) -> list:
    blocks: list = []
    title = _indicator_title(pub, indicator)
    name = f"indicator_{indicator}"
    if name in pub:
        pt = pub[name]
        f = pt.frame
        yearly = f[
            (f["period_type"] == "year")
            & (f["breakdown"].isin(["ics", "place"]))
            & (f["org_basis"].isin(["current", "not_applicable"]) | (f["breakdown"] == "ics"))
            & (f["group_code"] != "Unknown")
        ]
        blocks.append(
            table_of(
                pt,
                yearly,
                caption=f"{title}: by financial year, ICS and place",
                columns=["period", "breakdown", "group_code", "numerator", "denominator", "value"],
            )
        )
    if "indicator_funnel" in pub:
        blocks.extend(_funnel(pub["indicator_funnel"], indicator, title))
    if "indicator_spc" in pub:
        blocks.extend(_spc(pub["indicator_spc"], indicator, title))
    return blocks


def _funnel(pt: PublishedTable, indicator: str, title: str) -> list:
    f = pt.frame[(pt.frame["indicator"] == indicator) & (pt.frame["value"] != "")]
    if f.empty:
        return []
    latest = sorted(f["period"].unique())[-1]
    f = f[f["period"] == latest]
    # The finest breakdown the funnel has: practices, else PCNs, else places.
    finest = [b for b in ("practice", "pcn", "place") if b in set(f["breakdown"])]
    if not finest:
        return []
    breakdown = finest[0]
    rows = f[f["breakdown"] == breakdown]
    basis = "current" if "current" in set(rows["org_basis"]) else rows["org_basis"].iat[0]
    rows = rows[rows["org_basis"] == basis]
    numeric = ["expected", "value", "lower95_0", "upper95_0", "lower99_8", "upper99_8", "target"]
    data = rows.copy()
    for c in numeric:
        data[c] = pd.to_numeric(data[c], errors="coerce")
    data = data.dropna(subset=["expected", "value"])
    if data.empty:
        return []
    outside = int((data["flag99_8"].isin(["1", "-1"])).sum())
    kind = "ratio to expected" if data["comparison"].iat[0] == "ratio" else "proportion"
    chart = charts.render(
        charts.funnel(data, label="group_code", title=kind),
        f"Funnel plot of {title} for {len(data)} {breakdown} groups in {latest}: each point's "
        f"{kind} against its expected count, with 95% and 99.8% limits; {outside} outside the "
        "99.8% limits. The table below holds the figures.",
    )
    table = table_of(
        pt,
        rows,
        caption=f"{title}: funnel plot figures by {breakdown}, {latest}",
        columns=[
            "group_code",
            "observed",
            "denominator",
            "expected",
            "value",
            "lower99_8",
            "upper99_8",
            "flag99_8",
        ],
    )
    return [Figure(chart, table, f"{title}: funnel plot by {breakdown}, {latest}")]


def _spc(pt: PublishedTable, indicator: str, title: str) -> list:
    f = pt.frame[(pt.frame["indicator"] == indicator) & (pt.frame["value"] != "")]
    if f.empty:
        return []
    # The series with the most published months (an ICS series may be mostly suppressed).
    sizes = f.groupby(["breakdown", "group_code"]).size().sort_values(ascending=False)
    breakdown, group = sizes.index[0]
    rows = f[(f["breakdown"] == breakdown) & (f["group_code"] == group)].sort_values("period")
    data = rows.copy()
    for c in ("value", "mean", "lower_limit", "upper_limit"):
        data[c] = pd.to_numeric(data[c], errors="coerce")
    data["point_type"] = data["point_type"].replace("", "common_cause")
    special = int((data["point_type"] != "common_cause").sum())
    chart = charts.render(
        charts.spc(data, title=title),
        f"Statistical process control (XmR) chart of {title} for {breakdown} {group}, "
        f"{len(data)} months from {data['period'].iat[0]} to {data['period'].iat[-1]}, with "
        f"mean and process limits; {special} months show special cause variation. The table "
        "below holds the figures.",
    )
    table = table_of(
        pt,
        rows,
        caption=f"{title}: SPC figures for {breakdown} {group}",
        columns=[
            "period",
            "numerator",
            "denominator",
            "value",
            "mean",
            "lower_limit",
            "upper_limit",
            "point_type",
            "rule",
        ],
        limit=len(rows),
    )
    return [Figure(chart, table, f"{title}: SPC chart, {breakdown} {group}")]


def _indicators(*indicators: str) -> Callable[[Published, SectionSpec], list]:
    def render(pub: Published, spec: SectionSpec) -> list:
        blocks: list = []
        for indicator in indicators:
            blocks.extend(_indicator_blocks(pub, indicator))
        return blocks

    return render


def _data_quality(pub: Published, spec: SectionSpec) -> list:
    blocks: list = []
    if "dq_files" in pub:
        blocks.extend(generic(pub["dq_files"], "Files read, rows accepted and quarantined"))
    if "dq_validity" in pub:
        pt = pub["dq_validity"]
        totals = pt.frame[pt.frame["reason"] != TOTAL]
        blocks.append(
            table_of(
                pt,
                totals,
                caption="Values that failed their checks, by source, provider, column and "
                "reason: the row quarantined, or the value nulled and the row kept",
            )
        )
    if "dq_completeness" in pub:
        pt = pub["dq_completeness"]
        pct = pt.numeric("percent_complete")
        worst = pt.frame.loc[pct.sort_values(na_position="last").index].head(20)
        blocks.append(table_of(pt, worst, caption="The 20 least complete fields"))
    if "dq_timeliness" in pub:
        pt = pub["dq_timeliness"]
        totals = pt.frame[pt.frame["month"] == TOTAL]
        blocks.append(table_of(pt, totals, caption="Rows by source and provider, all months"))
    if "link_summary" in pub:
        blocks.extend(generic(pub["link_summary"], "Encounters by how they were linked"))
    return blocks


COST_ROLLUPS = ("cost_by_setting", "cost_by_place", "cost_by_imd_quintile", "cost_by_age_band")
#: Where the unit costs come from, named when the report says a figure is an estimate.
UNIT_COST_SOURCES = (
    "national unit costs (NHS England's National Cost Collection, PSSRU/CHE Unit Costs of "
    "Health and Social Care, the Adult Social Care Activity and Finance Report)"
)


# --- costs ------------------------------------------------------------------------------------


def _pounds(value: float) -> str:
    return "a suppressed figure" if pd.isna(value) else f"£{value:,.0f}"


def cost_basis_text(pub: Published) -> str:
    """Which pounds are reconciled to a ledger and which are estimates, from cost_by_basis.

    Never claims reconciliation the published tables do not show: with no ledger rows,
    every pound is called an estimate; with no ``cost_by_basis``, the report says it
    cannot tell.
    """
    if "cost_by_basis" not in pub:
        return (
            "The published tables do not say which costs are reconciled to a provider's "
            "ledger and which are estimates (there is no cost_by_basis.csv): run the cost "
            "and publish stages again to find out."
        )
    pt = pub["cost_by_basis"]
    f = pt.frame.assign(_pounds=pt.numeric("cost_pounds"))
    latest = max(set(f["financial_year"]) - {""}, default=None)
    if latest is None:
        return "No care was costed: cost_by_basis.csv is empty."
    year = f[f["financial_year"] == latest]
    ledger = year[year["basis"] == "ledger"]["_pounds"].sum(min_count=1)
    estimated = year[year["basis"] == "unit_cost"]["_pounds"].sum(min_count=1)
    has_ledger = (f["basis"] == "ledger").any()
    has_estimate = (f["basis"] == "unit_cost").any()
    if not has_ledger:
        return (
            "No costing ledgers were given: every cost in this section is an estimate, "
            f"priced from {UNIT_COST_SOURCES}, and none of it is reconciled to a "
            f"provider's ledger. In {latest}, {_pounds(estimated)} of estimated cost."
        )
    if not has_estimate:
        return (
            "Every cost in this section is reconciled to the ledger of the provider that "
            f"gave the care (the reconciliation statement below). In {latest}, "
            f"{_pounds(ledger)}."
        )
    total = ledger + estimated
    share = f" ({estimated / total:.0%} of the total)" if total and not pd.isna(total) else ""
    return (
        "Costs at providers that sent costing ledgers are reconciled to those ledgers "
        "(the reconciliation statement below); all other care (GP practices, social care, "
        "and providers or years with no ledger) is an estimate priced from "
        f"{UNIT_COST_SOURCES}, not reconciled. In {latest}, {_pounds(ledger)} reconciled "
        f"to ledgers and {_pounds(estimated)} estimated from unit costs{share}; each "
        "table's unit_cost_percent column gives the share estimated in each row."
    )


def _costs(pub: Published, spec: SectionSpec) -> list:
    blocks: list = [Text(cost_basis_text(pub))]
    chosen = dict(spec.chart_values)
    for name in spec.tables:
        if name not in pub:
            continue
        if name == "cost_reconciliation" and pub[name].frame.empty:
            blocks.append(
                Text("No reconciliation statement: no costing ledger was given to reconcile to.")
            )
        elif not pub[name].frame.empty:
            blocks.extend(generic(pub[name], value=chosen.get(name)))
    return blocks


INDICATOR_TABLES = ("indicator_definitions", "indicator_funnel", "indicator_spc")

SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(
        "population",
        "Population and need",
        "Who is registered with the ICS's practices, and what they need: the age-sex "
        "structure, Bridges to Health segments, long-term conditions and Core20PLUS5.",
        "measure and need",
        ("registered_population", "need_summary", "need_conditions"),
        _population,
    ),
    SectionSpec(
        "risk",
        "Risk of emergency admission and the equity audit",
        "How well the risk model ranks people, the tiers it puts them in, and whether "
        "people with the same need are found at the same rate whatever their deprivation, "
        "ethnicity, age or sex.",
        "risk",
        ("risk_tiers", "risk_performance", "risk_calibration", "equity_audit", "equity_conditions"),
        _risk,
    ),
    SectionSpec(
        "costs",
        "Costs of care and fair shares",
        "What the population's care cost, by setting, place, deprivation and age, and each "
        "place's fair share of the budget; the first paragraph says which pounds come from "
        "providers' costing ledgers and which are estimates from national unit costs.",
        "cost",
        (
            "cost_by_basis",
            "cost_by_setting",
            "cost_by_place",
            "cost_by_imd_quintile",
            "cost_by_age_band",
            "fair_shares",
            "cost_reconciliation",
            "cost_match_rates",
        ),
        _costs,
        chart_values=(
            *((t, "cost_pounds") for t in ("cost_by_basis", *COST_ROLLUPS)),
            ("fair_shares", "fair_share_pounds"),
        ),
    ),
    SectionSpec(
        "emergency",
        "Emergency admissions",
        "Emergency admissions per 1,000 registered people, by place, with the funnel plot "
        "comparing practices and the SPC chart of the monthly series.",
        "measure",
        ("indicator_emergency_admissions", *INDICATOR_TABLES),
        _indicators("emergency_admissions"),
    ),
    SectionSpec(
        "readmissions",
        "Emergency readmissions within 30 days",
        "Emergency readmissions within 30 days of discharge (NHS Digital I02040 method).",
        "measure",
        ("indicator_emergency_readmissions_30d", *INDICATOR_TABLES),
        _indicators("emergency_readmissions_30d"),
    ),
    SectionSpec(
        "avoidable",
        "Avoidable emergency admissions",
        "Emergency admissions for ambulatory care sensitive conditions: chronic (NHS OF "
        "2.3.i), acute and vaccine-preventable.",
        "measure",
        (
            "indicator_acsc_chronic",
            "indicator_acsc_acute",
            "indicator_acsc_vaccine_preventable",
            *INDICATOR_TABLES,
        ),
        _indicators("acsc_chronic", "acsc_acute", "acsc_vaccine_preventable"),
    ),
    SectionSpec(
        "data_quality",
        "Data quality",
        "What was read, what was set aside and why, how complete and timely the files were, "
        "and how records were linked to people.",
        "ingest and link",
        ("dq_files", "dq_validity", "dq_completeness", "dq_timeliness", "link_summary"),
        _data_quality,
    ),
)


def render_sections(pub: Published) -> list[Section]:
    out = []
    for spec in SECTIONS:
        present = [t for t in spec.tables if t in pub]
        section = Section(spec.id, spec.title, spec.intro, stage=spec.stage)
        section.missing = [t for t in spec.tables if t not in pub]
        if not present:
            section.status = "not run"
            section.blocks = [
                Text(
                    f"Not run: the {spec.stage} stage has not published its tables "
                    f"({', '.join(t + '.csv' for t in spec.tables)}) in this workspace."
                )
            ]
        else:
            section.blocks = (spec.render or _generic_section)(pub, spec)
        out.append(section)
    return out


__all__ = ["SECTIONS", "SectionSpec", "Table", "generic", "render_sections"]
