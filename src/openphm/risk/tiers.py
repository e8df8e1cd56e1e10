"""Risk tiers: the top 0.5%, 2%, 5% and 20% of a population by predicted risk.

People are ranked by prediction, highest first (ties by person_id, so every engine
ranks alike); a person's tier is the first cut their rank falls within. The cuts
are data (``tiers.toml``) and can be set per workspace. Tier names say what they
hold: ``top_0.5%``, ``0.5-2%``, ``2-5%``, ``5-20%`` and ``rest``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from importlib import resources

import ibis
import ibis.expr.types as ir

from openphm import engine

__all__ = ["default_cuts", "names", "ranked", "tier_of_rank"]

REST = "rest"


def default_cuts() -> tuple[float, ...]:
    text = resources.files("openphm.risk").joinpath("tiers.toml").read_text("utf-8")
    return tuple(float(c) for c in tomllib.loads(text)["cuts_percent"])


def check(cuts: Sequence[float]) -> tuple[float, ...]:
    cuts = tuple(float(c) for c in cuts)
    if not cuts or any(c <= 0 or c >= 100 for c in cuts) or list(cuts) != sorted(set(cuts)):
        raise ValueError(
            f"tiers {list(cuts)}: give increasing percentages between 0 and 100, "
            "such as [0.5, 2, 5, 20]"
        )
    return cuts


def _fmt(c: float) -> str:
    return f"{c:g}"


def names(cuts: Sequence[float]) -> tuple[str, ...]:
    """The tier names, highest risk first, ``rest`` last."""
    cuts = check(cuts)
    out = [f"top_{_fmt(cuts[0])}%"]
    out += [f"{_fmt(a)}-{_fmt(b)}%" for a, b in zip(cuts, cuts[1:], strict=False)]
    return (*out, REST)


def tier_of_rank(rank: ir.IntegerValue, people: ir.IntegerValue, cuts: Sequence[float]):
    """The tier of a rank (1 = highest risk) among ``people``: rank <= cut% of people."""
    labels = names(cuts)
    # rank / people <= cut / 100, in whole numbers: rank * 100000 <= cut * 1000 * people.
    branches = [
        (rank.cast("int64") * 100_000 <= people.cast("int64") * int(round(c * 1000)), label)
        for c, label in zip(check(cuts), labels, strict=False)
    ]
    return ibis.cases(*branches, else_=ibis.literal(REST))


def ranked(table: ir.Table, score: str, cuts: Sequence[float], by: Sequence[str] = ()) -> ir.Table:
    """``table`` plus ``rank`` (1 = highest ``score``) and ``tier``, within ``by`` if given."""
    group = [table[b] for b in by]
    rank = engine.row_number(
        group, engine.sort_keys(table[score], descending=True), [table.person_id]
    )
    people = table.count().over(group_by=group) if group else table.count().over()
    t = table.mutate(rank=rank, _people=people)
    return t.mutate(tier=tier_of_rank(t["rank"], t._people, cuts)).drop("_people")
