"""The cohort builder: declarative filters over the scored population.

Filters are data (a TOML file or a dict); every one given must hold:

```toml
tier = ["top_0.5%", "0.5-2%"]          # risk tiers (risk_score.tier)
segment = ["frailty_dementia"]         # Bridges to Health segments
conditions = ["heart_failure", "copd"] # long-term conditions, all of them recorded
practice = ["Z90001"]                  # registered practice on the scoring date
min_emergency_admissions_12m = 1       # recent use: emergency admissions in the last year
```

``build`` returns the cohort's **profile** (people by tier, segment, practice, age band
and IMD quintile), which passes the disclosure gate like any published table, and,
**only** for a caller whose role is direct care, the list of pseudonymised ids (the
people a care team can act for). For planning or research the list is never made.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from openphm import dates
from openphm.config import Governance
from openphm.disclosure import DisclosurePolicy, GatedTable, gate
from openphm.governance import releases_ids

__all__ = ["Cohort", "Filters", "build", "load_filters", "select"]

PROFILE = "cohort_profile"
LISTS = ("tier", "segment", "conditions", "practice")
NUMBERS = ("min_emergency_admissions_12m",)


class CohortError(ValueError):
    """Filters that cannot be applied; the message names the key and the fix."""


@dataclass(frozen=True)
class Filters:
    tier: tuple[str, ...] = ()
    segment: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    practice: tuple[str, ...] = ()
    min_emergency_admissions_12m: int | None = None


def load_filters(source: Path | str | Mapping[str, Any], where: str | None = None) -> Filters:
    """Filters from a TOML file (a path) or a dict, checked."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        where = where or str(path)
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise CohortError(f"{path}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise CohortError(f"{path}: not valid TOML: {exc}") from None
    else:
        raw, where = dict(source), where or "filters"
    unknown = sorted(set(raw) - set(LISTS) - set(NUMBERS))
    if unknown:
        raise CohortError(
            f"{where}: unknown filter(s) {unknown}; the filters are {[*LISTS, *NUMBERS]}"
        )
    values: dict[str, Any] = {}
    for key in LISTS:
        given = raw.get(key, [])
        if isinstance(given, str):
            given = [given]
        if not isinstance(given, list) or not all(isinstance(v, str) for v in given):
            raise CohortError(f'{where}: {key} must be a list of names, such as ["a", "b"]')
        values[key] = tuple(given)
    n = raw.get("min_emergency_admissions_12m")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise CohortError(f"{where}: min_emergency_admissions_12m must be a whole number >= 0")
    return Filters(**values, min_emergency_admissions_12m=n)


def select(risk_score: ir.Table, person_need: ir.Table, filters: Filters) -> ir.Table:
    """The cohort, one row per person: person_id, practice_code, tier, probability,
    segment, age, imd_decile."""
    need = person_need
    missing = [f"ltc_{c}" for c in filters.conditions if f"ltc_{c}" not in need.columns]
    if missing:
        known = sorted(
            c.removeprefix("ltc_")
            for c in need.columns
            if c.startswith("ltc_") and not c.endswith("_first") and c != "ltc_count"
        )
        raise CohortError(f"conditions {missing} are not long-term conditions; known: {known}")
    n = need.select(
        _p=need.person_id,
        segment=need.segment,
        age=need.age,
        imd_decile=need.imd_decile,
        _emergencies=need.emergency_admissions_12m,
        **{f"_c_{c}": need[f"ltc_{c}"] for c in filters.conditions},
    )
    t = risk_score.join(n, risk_score.person_id == n._p)
    keep = ibis.literal(True)
    if filters.tier:
        keep &= t.tier.isin(filters.tier)
    if filters.segment:
        keep &= t.segment.isin(filters.segment)
    if filters.practice:
        keep &= t.practice_code.isin(filters.practice)
    for c in filters.conditions:
        keep &= t[f"_c_{c}"].fill_null(False)
    if filters.min_emergency_admissions_12m is not None:
        keep &= t._emergencies >= filters.min_emergency_admissions_12m
    t = t.filter(keep)
    return t.select(
        "person_id", "practice_code", "tier", "probability", "segment", "age", "imd_decile"
    )


@dataclass(frozen=True)
class Cohort:
    profile: GatedTable
    ids: list[str] | None  # only for direct care


def profile_table(cohort: ir.Table) -> ir.Table:
    """characteristic, value, people: the cohort described, one characteristic at a time."""
    quintile = ((cohort.imd_decile.cast("int64") + 1) // 2).cast("string").fill_null("Unknown")
    described = cohort.mutate(
        age_band=dates.esp2013_band(cohort.age.cast("int64")).fill_null("Unknown"),
        imd_quintile=quintile,
        practice_code=cohort.practice_code.fill_null("Unknown"),
    )
    parts = [
        described.group_by(value=described[c].cast("string"))
        .aggregate(people=ibis._.count())
        .mutate(characteristic=ibis.literal(c))
        for c in ("tier", "segment", "practice_code", "age_band", "imd_quintile")
    ]
    union = ibis.union(*parts)
    return union.select("characteristic", "value", people=union.people.cast("int64"))


def build(
    risk_score: ir.Table,
    person_need: ir.Table,
    filters: Filters,
    *,
    governance: Governance,
    policy: DisclosurePolicy | None = None,
) -> Cohort:
    """The cohort's gated profile, and its ids only when the workspace's purpose is direct
    care (``governance.releases_ids``)."""
    cohort = select(risk_score, person_need, filters)
    profile = gate(
        PROFILE,
        profile_table(cohort),
        keys=["characteristic", "value"],
        counts=["people"],
        margins=["value"],
        policy=policy,
    )
    ids = None
    if releases_ids(governance):
        ids = sorted(cohort.select("person_id").to_pandas().person_id.tolist())
    return Cohort(profile, ids)
