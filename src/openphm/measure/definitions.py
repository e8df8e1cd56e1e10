"""The indicator definitions and their code lists, read from ``indicators.toml``.

Clinical definitions are data: ``indicators.toml`` says what each indicator counts,
over what, per how many and where the definition comes from; the code lists it names
are CSV files under ``definitions/``, each with a ``[codelists.NAME]`` entry giving its
source, version and code system. This module only reads and checks them; what the
counting units and flags mean is ``units.py``'s business.

Kept self-contained (no dependency on ``openphm.codelists``) so it can move there
when the shared loader lands.
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFINITIONS = Path(__file__).with_name("indicators.toml")

RATE = "rate"
PROPORTION = "proportion"
MEAN = "mean"
KINDS = (RATE, PROPORTION, MEAN)
IMPROVEMENTS = ("decrease", "increase", "neutral")
POPULATION = "registered_population"  # a denominator: the registered population
SAME_UNITS = "units"  # a denominator: the indicator's own unit set
CODELIST_PREFIX = "codelist:"

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE = re.compile(r"^[A-Z0-9]+$")
_CODELIST_COLUMNS = {
    "icd10": ("condition", "code", "with_secondary", "without_secondary", "without_procedure"),
    "mixed": ("reason", "field", "code"),
    "ethnic_category": ("ethnic_category", "ethnic_group"),
}
# Where a readmission exclusion looks: the spell's diagnoses, procedures, episodes' main
# specialties or admission methods.
EXCLUSION_FIELDS = ("diagnosis", "procedure", "main_specialty", "admission_method")
_REQUIRED_FIELDS = ("id", "title", "source", "kind", "units", "denominator", "per")
_INDICATOR_FIELDS = {
    "id",
    "title",
    "source",
    "kind",
    "units",
    "where",
    "value",
    "denominator",
    "per",
    "intervals",
    "standardise",
    "improvement",
}


class DefinitionError(ValueError):
    """An indicator or code list that cannot be used, named with its file."""


@dataclass(frozen=True)
class CodeList:
    """One code list: its rows (column -> text) and where it comes from."""

    name: str
    title: str
    source: str
    version: str
    code_system: str
    rows: tuple[Mapping[str, str], ...] = field(repr=False)

    def column(self, name: str) -> list[str]:
        return [row[name] for row in self.rows]


@dataclass(frozen=True)
class Indicator:
    id: str
    title: str
    source: str
    kind: str
    units: str
    denominator: str
    per: float
    improvement: str
    where: str | None = None
    value: str | None = None
    intervals: bool = True
    standardise: bool = False

    @property
    def codelist(self) -> str | None:
        """The code list selecting the numerator, when ``where`` names one."""
        if self.where and self.where.startswith(CODELIST_PREFIX):
            return self.where.removeprefix(CODELIST_PREFIX)
        return None

    @property
    def per_population(self) -> bool:
        return self.denominator == POPULATION


@dataclass(frozen=True)
class Definitions:
    indicators: tuple[Indicator, ...]
    codelists: Mapping[str, CodeList]
    years: int
    readmission_window_days: int

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        known = ", ".join(i.id for i in self.indicators)
        raise KeyError(f"no indicator {indicator_id!r}; the indicators are: {known}")


def load(path: Path = DEFINITIONS) -> Definitions:
    """Read and check ``indicators.toml`` and every code list it names."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path.name}: not valid TOML: {exc}") from None
    settings = data.get("settings", {})
    codelists = {
        name: _codelist(path, name, entry) for name, entry in data.get("codelists", {}).items()
    }
    indicators = tuple(
        _indicator(path, n, entry, codelists) for n, entry in enumerate(data.get("indicator", []))
    )
    ids = [i.id for i in indicators]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise DefinitionError(f"{path.name}: indicator id(s) {repeated} defined more than once")
    return Definitions(
        indicators=indicators,
        codelists=MappingProxyType(codelists),
        years=_positive_int(path, "settings.years", settings.get("years")),
        readmission_window_days=_positive_int(
            path, "settings.readmission_window_days", settings.get("readmission_window_days")
        ),
    )


def _positive_int(path: Path, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DefinitionError(f"{path.name}: {name} must be a whole number from 1, not {value!r}")
    return value


def _indicator(path: Path, n: int, entry: dict, codelists: Mapping[str, CodeList]) -> Indicator:
    where = f"{path.name}: [[indicator]] number {n + 1} ({entry.get('id', 'no id')!r})"
    unknown = sorted(set(entry) - _INDICATOR_FIELDS)
    if unknown:
        known = sorted(_INDICATOR_FIELDS)
        raise DefinitionError(f"{where}: unknown field(s) {unknown}; the fields are {known}")
    missing = [f for f in _REQUIRED_FIELDS if f not in entry]
    if missing:
        raise DefinitionError(f"{where}: missing field(s) {missing}")
    if not _ID.match(entry["id"]):
        raise DefinitionError(f"{where}: id must be lower snake case, not {entry['id']!r}")
    if entry["kind"] not in KINDS:
        raise DefinitionError(f"{where}: kind {entry['kind']!r} is not one of {list(KINDS)}")
    improvement = entry.get("improvement", "neutral")
    if improvement not in IMPROVEMENTS:
        raise DefinitionError(
            f"{where}: improvement {improvement!r} is not one of {list(IMPROVEMENTS)}"
        )
    per = entry["per"]
    if isinstance(per, bool) or not isinstance(per, int | float) or per <= 0:
        raise DefinitionError(f"{where}: per must be a number above zero, not {per!r}")
    indicator = Indicator(
        id=entry["id"],
        title=entry["title"],
        source=entry["source"],
        kind=entry["kind"],
        units=entry["units"],
        denominator=entry["denominator"],
        per=float(per),
        improvement=improvement,
        where=entry.get("where"),
        value=entry.get("value"),
        intervals=bool(entry.get("intervals", True)),
        standardise=bool(entry.get("standardise", False)),
    )
    if indicator.codelist is not None and indicator.codelist not in codelists:
        raise DefinitionError(
            f"{where}: where = {indicator.where!r} names no [codelists] entry; "
            f"the code lists are {sorted(codelists)}"
        )
    if indicator.standardise and not (
        indicator.per_population
        or (indicator.kind == PROPORTION and indicator.denominator == SAME_UNITS)
    ):
        raise DefinitionError(
            f"{where}: standardise needs denominator = {POPULATION!r} (a rate, directly "
            f"standardised) or kind = {PROPORTION!r} with denominator = {SAME_UNITS!r} "
            f"(indirectly standardised in its units), not {indicator.kind!r} over "
            f"{indicator.denominator!r}"
        )
    return indicator


def _codelist(path: Path, name: str, entry: dict) -> CodeList:
    where = f"{path.name}: [codelists.{name}]"
    for key in ("file", "code_system", "title", "source", "version"):
        if not str(entry.get(key, "")).strip():
            raise DefinitionError(
                f"{where}: {key} is missing; every code list says where it is from"
            )
    system = entry["code_system"]
    if system not in _CODELIST_COLUMNS:
        raise DefinitionError(
            f"{where}: code_system {system!r} is not one of {sorted(_CODELIST_COLUMNS)}"
        )
    file = path.parent / entry["file"]
    if not file.is_file():
        raise DefinitionError(f"{where}: file {entry['file']!r} does not exist beside {path.name}")
    with file.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        expected = _CODELIST_COLUMNS[system]
        if tuple(reader.fieldnames or ()) != expected:
            raise DefinitionError(
                f"{file.name}: header is {reader.fieldnames}, expected {list(expected)}"
            )
        rows = []
        for line, row in enumerate(reader, start=2):
            _check_row(file.name, line, system, row)
            rows.append(MappingProxyType(dict(row)))
    if not rows:
        raise DefinitionError(f"{file.name}: no codes")
    return CodeList(name, entry["title"], entry["source"], entry["version"], system, tuple(rows))


def _check_row(file: str, line: int, system: str, row: dict[str, str]) -> None:
    codes = [row["code"]] if "code" in row else []
    for column in ("with_secondary", "without_secondary", "without_procedure"):
        if row.get(column):
            codes += row[column].split("|")
    for code in codes:
        if not _CODE.match(code):
            raise DefinitionError(
                f"{file} line {line}: code {code!r} is not a code as stored (upper case, "
                "no dots: 'E119', 'X70')"
            )
    if system == "mixed" and row["field"] not in EXCLUSION_FIELDS:
        raise DefinitionError(
            f"{file} line {line}: field {row['field']!r} is not one of {list(EXCLUSION_FIELDS)}"
        )
