"""Core20PLUS5 flags: the most deprived 20%, the PLUS groups and the five clinical areas.

The rules are data (``codelists/core20plus5.rules.toml``): the IMD deciles that make the
Core20 (1 and 2: the most deprived fifth of England's LSOAs), default PLUS groups and
the five clinical areas, each as criteria (``need.criteria``). PLUS groups are a local
choice: the groups in ``[stages.need.plus_groups]`` replace the defaults.

Each person gets ``core20`` (NULL where their LSOA, so their deprivation, is unknown),
``plus_<group>`` for each group and ``clinical_<area>`` for each area (true or false).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from openphm.codelists import RuleSet, load_rules
from openphm.need.criteria import Criteria, CriteriaError, holds

__all__ = [
    "AREA_PREFIX",
    "CORE20",
    "IMD_DECILE",
    "PLUS_PREFIX",
    "RULES",
    "Core20Plus5",
    "flag",
    "load",
]

RULES = "core20plus5"
CORE20 = "core20"
IMD_DECILE = "imd_decile"
PLUS_PREFIX = "plus_"
AREA_PREFIX = "clinical_"
_NAME = re.compile(r"[a-z][a-z0-9_]*")  # group and area names become column names
IMD_DECILES = range(1, 11)


@dataclasses.dataclass(frozen=True)
class Core20Plus5:
    core20_deciles: tuple[int, ...]
    plus_groups: tuple[tuple[str, Criteria], ...]
    clinical_areas: tuple[tuple[str, Criteria], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (
            CORE20,
            *(PLUS_PREFIX + name for name, _ in self.plus_groups),
            *(AREA_PREFIX + name for name, _ in self.clinical_areas),
        )


def load(
    rules: RuleSet | None = None,
    plus_groups: Mapping[str, Mapping[str, Any]] | None = None,
    folder: Path | str | None = None,
) -> Core20Plus5:
    """The rules, checked; ``plus_groups`` (from openphm.toml) replace the file's groups."""
    rules = rules or load_rules(RULES, folder)
    where = f"{rules.name}.rules.toml"
    deciles = rules.body.get("core20_imd_deciles")
    if not isinstance(deciles, list) or not deciles or not set(deciles) <= set(IMD_DECILES):
        raise CriteriaError(f"{where}: core20_imd_deciles must list IMD deciles (1-10)")
    if plus_groups is None:
        groups = _named(rules.body.get("plus_groups", {}), f"{where} [plus_groups]")
    else:
        groups = _named(plus_groups, "openphm.toml [stages.need.plus_groups]")
    areas = _named(rules.body.get("clinical_areas"), f"{where} [clinical_areas]")
    if not areas:
        raise CriteriaError(f"{where}: needs [clinical_areas.<name>] tables")
    return Core20Plus5(tuple(sorted(deciles)), groups, areas)


def _named(raw: Any, where: str) -> tuple[tuple[str, Criteria], ...]:
    if not isinstance(raw, Mapping):
        raise CriteriaError(f"{where}: must be tables of criteria, one per name")
    named = []
    for name, criteria in raw.items():
        if not _NAME.fullmatch(name):
            raise CriteriaError(f"{where}: {name!r} must be lower case letters, digits and _")
        parsed = Criteria.parse(criteria, f"{where} {name}")
        if parsed.empty:
            raise CriteriaError(f"{where} {name}: has no criteria, so it would flag nobody")
        named.append((name, parsed))
    return tuple(named)


def flag(people: ir.Table, rules: Core20Plus5 | None = None) -> ir.Table:
    """``people`` (with ``imd_decile``) plus ``core20``, ``plus_*`` and ``clinical_*``."""
    rules = rules or load()
    if IMD_DECILE not in people.columns:
        raise CriteriaError(
            f"Core20 needs an {IMD_DECILE!r} column (from the person's LSOA); the people "
            f"table has {list(people.columns)}"
        )
    decile = people[IMD_DECILE]
    core20 = ibis.ifelse(
        decile.isnull(), ibis.null("boolean"), decile.isin(list(rules.core20_deciles))
    )
    return people.mutate(
        **{CORE20: core20},
        **{PLUS_PREFIX + name: holds(people, c) for name, c in rules.plus_groups},
        **{AREA_PREFIX + name: holds(people, c) for name, c in rules.clinical_areas},
    )
