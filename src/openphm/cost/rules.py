"""The costing rules, read from data and checked before any costing starts.

Three files beside this module, each replaceable by a workspace's own (``[stages.cost]
rules = "folder"``):

``mapping.toml``
    CP1 exclusions (ledger lines taken out of the ledger total to reach the costed
    quantum), CP2 resources (expense type -> resource) and activities (patient-facing
    cost centre -> activity type and activity name).
``overheads.toml``
    the step-down cascade: the order in which support cost centres are closed and the
    basis each is spread by.
``drivers.toml``
    the driver each cost pool is allocated by (activity type, optionally resource ->
    measure).

Every problem names the file, the entry and the field, and says what to write instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

from openphm.model import ACTIVITY_TYPES

__all__ = [
    "COST_CENTRE_TYPES",
    "COSTED_TYPES",
    "MEASURES",
    "ActivityRule",
    "CostRuleError",
    "CostRules",
    "DriverRule",
    "ExclusionRule",
    "StepRule",
    "load",
]

HERE = Path(__file__).parent
FILES = ("mapping.toml", "overheads.toml", "drivers.toml")
#: Ledger cost-centre types (model ``ledger.cost_centre_type``).
COST_CENTRE_TYPES = ("patient_facing", "support", "non_patient_care", "income")
#: The types whose lines make up the costed quantum.
COSTED_TYPES = ("patient_facing", "support")
#: How a driver measures a record: quantity x weight, quantity, the feed's cost, one each.
MEASURES = ("weighted_quantity", "quantity", "cost", "records")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CostRuleError(ValueError):
    """A costing rules file that cannot be used; names the file, entry and field."""


@dataclasses.dataclass(frozen=True)
class ExclusionRule:
    line: str
    cost_centre_type: str
    cost_centre: str | None  # a regular expression, or any


@dataclasses.dataclass(frozen=True)
class ActivityRule:
    cost_centre: str
    activity_type: str
    activity: str


@dataclasses.dataclass(frozen=True)
class StepRule:
    cost_centre: str
    basis: str


@dataclasses.dataclass(frozen=True)
class DriverRule:
    name: str
    activity_type: str
    measure: str
    resource: str | None = None


@dataclasses.dataclass(frozen=True)
class CostRules:
    exclusions: tuple[ExclusionRule, ...]
    resources: dict[str, str]
    activities: tuple[ActivityRule, ...]
    steps: tuple[StepRule, ...]
    drivers: tuple[DriverRule, ...]
    provenance: dict[str, dict[str, str]]  # file -> version, source, fingerprint


def load(folder: Path | None = None) -> CostRules:
    """The shipped rules, each file replaced by the folder's own where it has one."""
    raw, provenance = {}, {}
    for name in FILES:
        path = folder / name if folder is not None and (folder / name).is_file() else HERE / name
        text = path.read_text(encoding="utf-8")
        try:
            raw[name] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CostRuleError(f"{path}: not valid TOML: {exc}") from None
        provenance[name] = {
            "file": str(path),
            "version": str(raw[name].get("version", "")),
            "source": str(raw[name].get("source", "")),
            "fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16],
        }
    mapping, overheads, drivers = (raw[n] for n in FILES)
    files = {n: provenance[n]["file"] for n in FILES}
    return CostRules(
        exclusions=tuple(
            _exclusion(files["mapping.toml"], n, e)
            for n, e in enumerate(_list(files["mapping.toml"], mapping, "exclusion"), 1)
        ),
        resources=_resources(files["mapping.toml"], mapping.get("resources", {})),
        activities=tuple(
            _activity(files["mapping.toml"], n, e)
            for n, e in enumerate(_list(files["mapping.toml"], mapping, "activity"), 1)
        ),
        steps=tuple(
            _step(files["overheads.toml"], n, e)
            for n, e in enumerate(_list(files["overheads.toml"], overheads, "step"), 1)
        ),
        drivers=_drivers(files["drivers.toml"], _list(files["drivers.toml"], drivers, "driver")),
        provenance=provenance,
    )


def _list(file: str, data: dict, key: str) -> list:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CostRuleError(f"{file}: {key} must be a list of tables, written [[{key}]]")
    return entries


def _text(where: str, entry: dict, field: str, *, required: bool = True) -> str | None:
    value = entry.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CostRuleError(f"{where}: {field} = {value!r}; give a non-empty string")
    return value


def _pattern(where: str, entry: dict, field: str, *, required: bool = True) -> str | None:
    value = _text(where, entry, field, required=required)
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise CostRuleError(
                f"{where}: {field} = {value!r} is not a regular expression ({exc})"
            ) from None
    return value


def _known(where: str, entry: dict, allowed: set[str]) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CostRuleError(
            f"{where}: unknown field(s) {unknown}; the fields are {sorted(allowed)}"
        )


def _one_of(where: str, field: str, value: str, allowed) -> str:
    if value not in allowed:
        raise CostRuleError(f"{where}: {field} = {value!r}; use one of {', '.join(allowed)}")
    return value


def _exclusion(file: str, n: int, e: dict) -> ExclusionRule:
    where = f"{file}, exclusion {n}"
    _known(where, e, {"line", "cost_centre_type", "cost_centre"})
    line = _text(where, e, "line")
    if not _NAME.match(line):
        raise CostRuleError(f"{where}: line = {line!r}; use lower case letters, digits and _")
    kind = _one_of(
        where, "cost_centre_type", _text(where, e, "cost_centre_type"), COST_CENTRE_TYPES
    )
    if kind in COSTED_TYPES:
        raise CostRuleError(
            f"{where}: cost_centre_type = {kind!r} is the costed quantum itself; exclusions "
            "take out non_patient_care or income lines"
        )
    return ExclusionRule(line, kind, _pattern(where, e, "cost_centre", required=False))


def _resources(file: str, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise CostRuleError(f"{file}: [resources] must be a table of expense_type = resource")
    for key, value in table.items():
        if not isinstance(value, str) or not _NAME.match(value):
            raise CostRuleError(
                f"{file}, [resources]: {key} = {value!r}; a resource is lower case letters, "
                "digits and _"
            )
    return dict(table)


def _activity(file: str, n: int, e: dict) -> ActivityRule:
    where = f"{file}, activity {n}"
    _known(where, e, {"cost_centre", "activity_type", "activity"})
    kind = _one_of(where, "activity_type", _text(where, e, "activity_type"), ACTIVITY_TYPES)
    return ActivityRule(_pattern(where, e, "cost_centre"), kind, _text(where, e, "activity"))


def _step(file: str, n: int, e: dict) -> StepRule:
    where = f"{file}, step {n}"
    _known(where, e, {"cost_centre", "basis"})
    return StepRule(_pattern(where, e, "cost_centre"), _text(where, e, "basis"))


def _drivers(file: str, entries: list) -> tuple[DriverRule, ...]:
    out, names = [], set()
    for n, e in enumerate(entries, 1):
        where = f"{file}, driver {n}"
        _known(where, e, {"name", "activity_type", "resource", "measure"})
        name = _text(where, e, "name")
        if not _NAME.match(name) or name in names:
            raise CostRuleError(
                f"{where}: name = {name!r}; give a unique name of lower case letters, digits, _"
            )
        names.add(name)
        kind = _one_of(where, "activity_type", _text(where, e, "activity_type"), ACTIVITY_TYPES)
        measure = _one_of(where, "measure", _text(where, e, "measure"), MEASURES)
        out.append(DriverRule(name, kind, measure, _text(where, e, "resource", required=False)))
    missing = [
        a for a in ACTIVITY_TYPES if not any(d.activity_type == a and not d.resource for d in out)
    ]
    if missing:
        raise CostRuleError(
            f"{file}: no driver for activity type(s) {missing} (a [[driver]] without a "
            "resource, which serves every resource of that activity)"
        )
    return tuple(out)
