"""The equity audit: would ranking by cost leave out people the need label finds?

Obermeyer et al. (Science 2019) showed that a model trained to predict cost ranks
people who receive less care for the same illness as lower risk than they are. So
the same features are fitted to two labels on the same training windows:

- ``need``: the risk model's own outcome, an emergency admission or death in the
  next 12 months;
- ``cost``: next year's cost from the cost stage (``cost_person_year``);

and, on the test index date, each model's top tiers are compared with where the need
actually fell. For each IMD quintile and ethnic group, its share of the people in the
top 0.5%, 2%, 5% and 20% is set beside:

- ``share_of_need_percent``: its share of everyone who had the outcome;
- ``share_of_top_by_need_percent``: its share of the same top tier when people are
  ranked by the need they turned out to have (the outcome first, then the number of
  active long-term conditions at the end of the year): Obermeyer's benchmark. Need is
  concentrated (the most deprived have more of the highest-need people), so a fair
  share of a top tier is this, not the share of all need.

A group below its benchmark in a top tier is one the ranking misses. ``gap`` and
``closure`` give the summary figures.

``conditions_by_percentile`` gives the Obermeyer figure: the mean number of active
long-term conditions at the end of the follow-up year, by risk percentile band of each
model and group. Groups that are sicker at the same percentile are under-ranked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["AUDIT_GROUPS", "audit_table", "closure", "conditions_by_percentile", "gap"]

AUDIT_GROUPS = ("imd_quintile", "ethnic_group")
ALL = "all"
MIN_PEOPLE = 10  # a share or mean of fewer people is left blank
BAND_PERCENT = 5  # percentile bands of the Obermeyer figure
NEED_WEIGHT = 1000  # in the realised-need ranking, the outcome counts before any conditions


def _top(score: pd.Series, cut: float) -> pd.Series:
    """In the top ``cut`` percent by score (ties by position, as tiers rank them)."""
    order = np.argsort(-score.to_numpy(), kind="stable")
    position = np.empty(len(score), dtype=np.int64)
    position[order] = np.arange(1, len(score) + 1)
    return pd.Series(position * 100 <= cut * len(score), index=score.index)


def tier_label(cut: float) -> str:
    return f"top_{cut:g}%"


def audit_table(
    frame: pd.DataFrame,
    scores: Mapping[str, str],
    cuts: Sequence[float],
    *,
    need: str = "outcome",
    conditions: str = "active_conditions",
    group_types: Sequence[str] = AUDIT_GROUPS,
) -> pd.DataFrame:
    """label, group_type, group, tier, people, need_people, share_in_tier_percent,
    share_of_need_percent, share_of_top_by_need_percent: one row per label, group and
    cumulative tier (and ``all``)."""
    total_need = max(int(frame[need].sum()), 1)
    # Realised need, ranked: the outcome outweighs any number of conditions.
    realised = frame[need].astype(float) * NEED_WEIGHT + frame[conditions].astype(float)
    benchmark = {tier_label(c): _top(realised, c) for c in cuts}
    rows = []
    for label, column in scores.items():
        tiers = {tier_label(c): _top(frame[column], c) for c in cuts}
        tiers[ALL] = pd.Series(True, index=frame.index)
        for gt in group_types:
            groups = frame[gt].fillna("Unknown").astype(str)
            for tier, inside in tiers.items():
                in_tier = int(inside.sum())
                best = benchmark.get(tier)
                for g in sorted(groups.unique()):
                    mine = groups == g
                    people = int((inside & mine).sum())
                    need_people = int(frame.loc[mine, need].sum())
                    best_people = int((best & mine).sum()) if best is not None else people
                    rows.append(
                        {
                            "label": label,
                            "group_type": gt,
                            "group": g,
                            "tier": tier,
                            "people": people,
                            "need_people": need_people,
                            "share_in_tier_percent": 100 * people / in_tier
                            if people >= MIN_PEOPLE
                            else np.nan,
                            "share_of_need_percent": 100 * need_people / total_need
                            if need_people >= MIN_PEOPLE
                            else np.nan,
                            "share_of_top_by_need_percent": 100 * best_people / in_tier
                            if best_people >= MIN_PEOPLE
                            else np.nan,
                        }
                    )
    return pd.DataFrame(rows)


def gap(
    audit: pd.DataFrame,
    label: str,
    group: str,
    tier: str = "top_5%",
    group_type: str = "imd_quintile",
    benchmark: str = "share_of_top_by_need_percent",
) -> float:
    """The benchmark share minus the share of the tier, in percentage points (positive:
    the group is missed)."""
    row = audit[
        (audit.label == label)
        & (audit.group_type == group_type)
        & (audit.group == group)
        & (audit.tier == tier)
    ]
    if len(row) != 1:
        raise KeyError(f"the audit has no single row for {label}, {group_type} {group}, {tier}")
    return float(row[benchmark].iloc[0] - row.share_in_tier_percent.iloc[0])


def closure(
    audit: pd.DataFrame, group: str, tier: str = "top_5%", group_type: str = "imd_quintile"
) -> float:
    """How much of the cost label's gap the need label closes (1 = all of it)."""
    cost_gap = gap(audit, "cost", group, tier, group_type)
    return 1 - gap(audit, "need", group, tier, group_type) / cost_gap


def conditions_by_percentile(
    frame: pd.DataFrame,
    scores: Mapping[str, str],
    *,
    conditions: str = "active_conditions",
    group_types: Sequence[str] = AUDIT_GROUPS,
) -> pd.DataFrame:
    """label, group_type, group, percentile_band, people, mean_active_conditions."""
    rows = []
    for label, column in scores.items():
        pct = frame[column].rank(method="first", pct=True) * 100
        band = np.ceil(pct / BAND_PERCENT).astype(int).clip(1, 100 // BAND_PERCENT)
        names = band.map(lambda b: f"{(b - 1) * BAND_PERCENT:02d}-{b * BAND_PERCENT:02d}")
        for gt in group_types:
            groups = frame[gt].fillna("Unknown").astype(str)
            for (g, b), part in frame.groupby([groups, names], sort=True):
                people = len(part)
                rows.append(
                    {
                        "label": label,
                        "group_type": gt,
                        "group": g,
                        "percentile_band": b,
                        "people": people,
                        "mean_active_conditions": part[conditions].mean()
                        if people >= MIN_PEOPLE
                        else np.nan,
                    }
                )
    return pd.DataFrame(rows)
