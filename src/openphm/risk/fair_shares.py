"""Fair shares: a needs-weighted capitation index by place and practice.

Each person registered on the scoring date carries two weights:

- an **age-sex weight**: the mean predicted risk of everyone in the ICS of their age
  band and sex (what a purely demographic formula would give them);
- a **need weight**: their own predicted risk from the model, which adds
  deprivation, conditions and prior use to age and sex.

For an area (a place, where people live; a practice, where they are registered):

- ``age_sex_index`` and ``needs_index``: its mean weight over the ICS's mean (1 =
  average need per head); ``need_adjustment`` is their ratio, what need adds to
  demography;
- ``fair_share``: a fixed ICS budget divided in proportion to the summed need
  weights, in whole pence by the largest remainder so the shares add up exactly;
- ``actual_spend``: what the costing stage found was spent on its people in the
  latest financial year;
- a **shock**: one place's need weights rise (a surge in emergency demand, say) while
  the budget stays fixed: ``shock_fair_share`` and ``shock_change`` show what every
  area gets then, and what the others lose. Unless one is named, the shocked place is
  the one with the most people (``shock_target``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["allocate", "fair_shares", "shock_target"]

LEVELS = ("place", "practice")
UNKNOWN = "Unknown"


def shock_target(cells: pd.DataFrame, named: str | None) -> str | None:
    """The place the shock hits: the one named, else the one with the most people."""
    if named is not None:
        return named
    places = cells[cells.place_code.fillna(UNKNOWN) != UNKNOWN].groupby("place_code").people.sum()
    if places.empty:
        return None
    return str(places.sort_index().idxmax())


def allocate(total_pence: int, weights: Sequence[float]) -> np.ndarray:
    """Whole pence in proportion to ``weights``, adding up to ``total_pence`` exactly."""
    w = np.asarray(weights, dtype=float)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("fair shares need non-negative weights with a positive total")
    exact = total_pence * w / w.sum()
    floor = np.floor(exact).astype(np.int64)
    short = int(total_pence - floor.sum())
    order = np.argsort(-(exact - floor), kind="stable")  # largest remainders first
    floor[order[:short]] += 1
    return floor


def fair_shares(
    cells: pd.DataFrame,
    spend: pd.DataFrame | None,
    budget_pence: int,
    shock_place: str | None,
    shock_uplift: float,
) -> pd.DataFrame:
    """The fair shares table.

    ``cells``: place_code, practice_code, age_band, sex, people, need (summed
    predicted risk); ``spend``: level, code, actual_spend_pence (or None).
    """
    by_age_sex = cells.groupby(["age_band", "sex"])[["people", "need"]].sum()
    rate = (by_age_sex.need / by_age_sex.people).rename("_rate")
    cells = cells.join(rate, on=["age_band", "sex"])
    cells["age_sex"] = cells.people * cells._rate
    per_head = cells.need.sum() / cells.people.sum()
    out = []
    for level in LEVELS:
        column = f"{level}_code"
        areas = cells.groupby(cells[column].fillna("Unknown"))[["people", "age_sex", "need"]].sum()
        areas = areas.reset_index().rename(columns={column: "code"})
        areas.insert(0, "level", level)
        areas["age_sex_index"] = areas.age_sex / areas.people / per_head
        areas["needs_index"] = areas.need / areas.people / per_head
        areas["need_adjustment"] = areas.needs_index / areas.age_sex_index
        areas["fair_share_pence"] = allocate(budget_pence, areas.need)
        if level == "place" and shock_place is not None:
            if shock_place not in set(areas.code):
                raise ValueError(
                    f"[stages.risk] shock_place {shock_place!r} is not a place of the ICS; "
                    f"the places are {sorted(areas.code)}"
                )
            factor = np.where(areas.code == shock_place, 1 + shock_uplift, 1.0)
            areas["shock_fair_share_pence"] = allocate(budget_pence, areas.need * factor)
        elif level == "place":
            areas["shock_fair_share_pence"] = areas.fair_share_pence
        else:
            # A practice takes its people's share of each place's shocked allocation.
            areas["shock_fair_share_pence"] = _practice_shock(
                cells, areas, budget_pence, shock_place, shock_uplift
            )
        areas["shock_change_pence"] = areas.shock_fair_share_pence - areas.fair_share_pence
        out.append(areas)
    table = pd.concat(out, ignore_index=True)
    if spend is not None and len(spend):
        table = table.merge(spend, on=["level", "code"], how="left")
    else:
        table["actual_spend_pence"] = np.nan
    table["actual_spend_pence"] = table.actual_spend_pence.fillna(0).astype("int64")
    table["people"] = table.people.astype("int64")
    return table[
        [
            "level",
            "code",
            "people",
            "age_sex_index",
            "needs_index",
            "need_adjustment",
            "fair_share_pence",
            "actual_spend_pence",
            "shock_fair_share_pence",
            "shock_change_pence",
        ]
    ]


def _practice_shock(cells, practices, budget_pence, shock_place, uplift) -> np.ndarray:
    factor = np.where(cells.place_code.fillna("Unknown") == shock_place, 1 + uplift, 1.0)
    shocked = cells.assign(_w=cells.need * factor)
    weights = shocked.groupby(shocked.practice_code.fillna("Unknown"))._w.sum()
    return allocate(budget_pence, weights.reindex(practices.code).fillna(0).to_numpy())
