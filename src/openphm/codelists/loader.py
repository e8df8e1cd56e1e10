"""Clinical definitions read from data files and checked before any scoring starts.

Each definition is three files in one folder, named after it:

``<name>.toml``
    metadata: title, version, code system, how codes match, lookback window, age
    restriction, hierarchy, licence, sources, and one ``[weight_sets.<set>]`` table
    per weight set (its source, and optionally its bands). A definition without
    weight sets only flags who has each category (long-term conditions, pregnancy).
``<name>.codes.csv``
    ``category,code`` (and optionally ``match`` and ``code_system``): a code, or the
    start of one, that puts a person in a category. An empty ``match`` or
    ``code_system`` cell takes the TOML's, so one list can hold ICD-10 codes and SNOMED
    CT concept ids side by side. A SNOMED CT id only ever matches exactly: part of an
    id means nothing.
``<name>.categories.csv``
    ``category`` (optionally ``label``), then one column of weights per weight set.

Rule sets that work on people rather than codes (segments, Core20PLUS5) live beside
them as ``<name>.rules.toml`` (see ``openphm.codelists.rules``); they are not code lists.

Only code strings, short category names and weights are shipped, never ICD-10
descriptions or SNOMED CT release text: their licences forbid redistribution.
Every problem is reported with the file, the line and what to write instead.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from openphm import codes, model

__all__ = [
    "CODE_SYSTEMS",
    "EXACT_ONLY",
    "MATCHES",
    "MAX_WEIGHT_DECIMALS",
    "RULES_SUFFIX",
    "Band",
    "CodeListError",
    "CodeRule",
    "Definition",
    "WeightSet",
    "available",
    "check_distinct_columns",
    "load",
    "load_all",
    "read_metadata",
]

#: How a listed code matches a recorded one: the whole code, or its start.
MATCHES = ("prefix", "exact")
#: Code systems a definition can be written in (those the diagnosis table holds).
CODE_SYSTEMS = tuple(model.DIAGNOSIS_CODE_SYSTEMS)
#: Weights are summed as whole numbers of 10**-MAX_WEIGHT_DECIMALS, exact on every engine.
MAX_WEIGHT_DECIMALS = 2

_PACKAGE = "openphm.codelists"
_NAME = re.compile(r"[a-z][a-z0-9_]*")  # definitions and weight sets (they name columns)
_CATEGORY = re.compile(r"[A-Za-z0-9_]+")
_REQUIRED_KEYS = ("name", "title", "version", "code_system", "licence", "source")
_OPTIONAL_KEYS = ("match", "hierarchy", "lookback_months", "min_age", "weight_sets")
_TEXT_KEYS = ("title", "version", "code_system", "licence")
_CODE_COLUMNS = ("match", "code_system")  # optional columns of <name>.codes.csv
#: Files named <name>.rules.toml are rule sets, not code lists.
RULES_SUFFIX = ".rules.toml"
#: Concept ids only match whole: SNOMED CT's hierarchy is not in the digits.
EXACT_ONLY = ("snomed",)
_WEIGHT_SET_KEYS = ("source", "note", "bands")


class CodeListError(ValueError):
    """A code list or its metadata that openphm cannot use."""


@dataclasses.dataclass(frozen=True)
class Band:
    """A named range of scores: below ``below``, or at most ``at_most``, or (last) the rest."""

    label: str
    below: Decimal | None = None
    at_most: Decimal | None = None

    @property
    def bound(self) -> Decimal | None:
        return self.below if self.below is not None else self.at_most


@dataclasses.dataclass(frozen=True)
class WeightSet:
    """One column of weights: its name is the score's output column."""

    name: str
    weights: Mapping[str, Decimal]
    source: str
    note: str = ""
    bands: tuple[Band, ...] = ()

    @property
    def scale(self) -> int:
        """10 to the most decimal places any weight has: 1 for whole-number weights."""
        places = max((max(0, -w.as_tuple().exponent) for w in self.weights.values()), default=0)
        return 10**places

    def units(self, value: Decimal) -> int:
        """A weight as a whole number of 1/scale, so sums are exact."""
        return int(value * self.scale)

    @property
    def band_column(self) -> str | None:
        return f"{self.name}_band" if self.bands else None


@dataclasses.dataclass(frozen=True)
class CodeRule:
    category: str
    code: str
    match: str
    code_system: str


@dataclasses.dataclass(frozen=True)
class Definition:
    """A clinical definition: codes into categories, a hierarchy, weights, a window.

    Frozen and checked on construction, so ``dataclasses.replace(hfrs, min_age=65)``
    or ``replace(charlson, lookback_months=12)`` is a checked variant.
    """

    name: str
    title: str
    version: str
    code_system: str  # the default; each code carries its own (``code_systems``)
    licence: str
    source: Mapping[str, Any]
    categories: tuple[str, ...]
    codes: tuple[CodeRule, ...]
    weight_sets: tuple[WeightSet, ...]
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    hierarchy: tuple[tuple[str, ...], ...] = ()
    lookback_months: int | None = None
    min_age: int | None = None
    fingerprint: str = ""

    def __post_init__(self) -> None:
        where = f"code list {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise CodeListError(f"{where}: name must be lower case letters, digits and _")
        if self.code_system not in CODE_SYSTEMS:
            raise CodeListError(
                f"{where}: code_system {self.code_system!r} is not one of {list(CODE_SYSTEMS)}"
            )
        for key in ("lookback_months", "min_age"):
            value = getattr(self, key)
            least = 1 if key == "lookback_months" else 0
            if value is not None and (type(value) is not int or value < least):
                raise CodeListError(
                    f"{where}: {key} must be a whole number of at least {least}, or absent "
                    f"(None) for no limit; got {value!r}"
                )
        known = set(self.categories)
        if len(known) != len(self.categories):
            raise CodeListError(f"{where}: a category is listed twice")
        for rule in self.codes:
            _check_rule(rule, known, where)
        coded = {rule.category for rule in self.codes}
        if missing := [c for c in self.categories if c not in coded]:
            raise CodeListError(f"{where}: categories {missing} have no codes")
        for chain in self.hierarchy:
            _check_chain(chain, known, where)
        for ws in self.weight_sets:
            if set(ws.weights) != known:
                raise CodeListError(
                    f"{where}: weight set {ws.name!r} must weigh every category exactly once"
                )

    @property
    def code_systems(self) -> tuple[str, ...]:
        """The code systems its codes are written in, sorted."""
        return tuple(sorted({rule.code_system for rule in self.codes}))

    @property
    def score_columns(self) -> tuple[str, ...]:
        """The output columns: a score per weight set, and a band where it has bands."""
        names: list[str] = []
        for ws in self.weight_sets:
            names.append(ws.name)
            if ws.band_column:
                names.append(ws.band_column)
        return tuple(names)

    def ranked_pairs(self) -> list[tuple[str, str]]:
        """Every (stronger, weaker) pair the hierarchy implies: each chain runs strongest first."""
        return [
            (chain[i], chain[j])
            for chain in self.hierarchy
            for i in range(len(chain))
            for j in range(i + 1, len(chain))
        ]


def _check_rule(rule: CodeRule, known: set[str], where: str) -> None:
    if rule.category not in known:
        raise CodeListError(f"{where}: code {rule.code!r} is in unknown category {rule.category!r}")
    if rule.match not in MATCHES:
        raise CodeListError(f"{where}: match {rule.match!r} is not one of {list(MATCHES)}")
    problem = _system_problem(rule.code_system) or _code_problem(rule.code, rule.code_system)
    if not problem and rule.code_system in EXACT_ONLY and rule.match != "exact":
        problem = f"{rule.code!r}: a {rule.code_system} code can only match exactly"
    if problem:
        raise CodeListError(f"{where}: {problem}")


def _system_problem(system: str) -> str | None:
    if system not in CODE_SYSTEMS:
        return f"code_system {system!r} is not one of {list(CODE_SYSTEMS)}"
    return None


def _code_problem(code: str, system: str) -> str | None:
    """Why a listed code is unusable, or None: lists hold codes in their one clean spelling."""
    if system == "icd10":
        if not codes.is_valid_icd10(code):
            return f"{code!r} is not an ICD-10 code (a letter, two digits, up to two more)"
        clean = codes.normalise_icd10(code)
        if clean != code:
            return f"{code!r} must be written {clean!r} (upper case, no dot or filler)"
        return None
    if system == "snomed" and not codes.is_valid_sctid(code):
        return f"{code!r} is not a SNOMED CT concept id"
    return None


def _check_chain(chain: tuple[str, ...], known: set[str], where: str) -> None:
    if len(chain) < 2 or len(set(chain)) != len(chain):
        raise CodeListError(
            f"{where}: hierarchy {list(chain)} must name at least two different categories, "
            "strongest first"
        )
    if unknown := [c for c in chain if c not in known]:
        raise CodeListError(f"{where}: hierarchy {list(chain)} names unknown categories {unknown}")


# --- reading the files --------------------------------------------------------


def _folder(folder: Path | str | None) -> Traversable:
    return resources.files(_PACKAGE) if folder is None else Path(folder)


def available(folder: Path | str | None = None) -> tuple[str, ...]:
    """Names of the definitions in a folder (the shipped ones by default), sorted."""
    return _names_in(_folder(folder))


def load(name: str, folder: Path | str | None = None) -> Definition:
    """A definition by name, from a folder of code lists (the shipped ones by default)."""
    if folder is None:
        return _load_shipped(name)
    return _read(name, _folder(folder))


@functools.cache
def _load_shipped(name: str) -> Definition:
    return _read(name, _folder(None))


def load_all(folder: Path | str | None = None) -> tuple[Definition, ...]:
    """Every definition in a folder, sorted by name, with no output column used twice."""
    definitions = tuple(load(name, folder) for name in available(folder))
    check_distinct_columns(definitions)
    return definitions


def check_distinct_columns(definitions: tuple[Definition, ...]) -> None:
    """Refuse definitions that would make the same output column twice."""
    seen: dict[str, str] = {}
    for d in definitions:
        for column in d.score_columns:
            if column in seen:
                raise CodeListError(
                    f"code lists {seen[column]!r} and {d.name!r} both make a column {column!r}: "
                    "rename one weight set"
                )
            seen[column] = d.name


def _read(name: str, base: Traversable) -> Definition:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CodeListError(f"{name!r} is not a code list name (lower case letters, digits, _)")
    toml_file = base.joinpath(f"{name}.toml")
    if not toml_file.is_file():
        raise CodeListError(f"no code list {name!r}; available: {list(_names_in(base))}")
    files = [toml_file, base.joinpath(f"{name}.codes.csv"), base.joinpath(f"{name}.categories.csv")]
    texts = [_text(f) for f in files]
    meta = _metadata(files[0].name, texts[0], name)
    match = meta.get("match", "prefix")
    if match not in MATCHES:
        raise CodeListError(f"{files[0].name}: match = {match!r} must be one of {list(MATCHES)}")
    categories, labels, weights = _categories(files[2].name, texts[2], meta)
    rules = _codes(files[1].name, texts[1], match, meta["code_system"], set(categories))
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
    return Definition(
        name=name,
        title=meta["title"],
        version=meta["version"],
        code_system=meta["code_system"],
        licence=meta["licence"],
        source=MappingProxyType(dict(meta["source"])),
        categories=tuple(categories),
        labels=MappingProxyType(labels),
        codes=tuple(rules),
        weight_sets=tuple(
            _weight_set(files[0].name, ws, meta["weight_sets"][ws], weights[ws]) for ws in weights
        ),
        hierarchy=tuple(tuple(chain) for chain in meta.get("hierarchy", [])),
        lookback_months=meta.get("lookback_months"),
        min_age=meta.get("min_age"),
        fingerprint=digest,
    )


def _names_in(base: Traversable) -> tuple[str, ...]:
    names = (
        p.name.removesuffix(".toml")
        for p in base.iterdir()
        if p.name.endswith(".toml") and not p.name.endswith(RULES_SUFFIX)
    )
    return tuple(sorted(names))


def _text(file: Traversable) -> str:
    if not file.is_file():
        raise CodeListError(f"code list file {file.name} is missing")
    return file.read_text(encoding="utf-8")


def read_metadata(
    filename: str,
    text: str,
    name: str,
    required: tuple[str, ...],
    optional: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """A definition's TOML with what every definition shares checked: the required keys
    (and, unless ``optional`` is None, no others), the name matching the file, non-empty
    text for title, version and licence (and code_system if required), and a [source]."""
    try:
        meta = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CodeListError(f"{filename}: not valid TOML ({exc})") from exc
    if missing := [k for k in required if k not in meta]:
        raise CodeListError(f"{filename}: missing {missing}")
    if optional is not None and (unknown := sorted(set(meta) - set(required) - set(optional))):
        allowed = sorted(required + optional)
        raise CodeListError(f"{filename}: unknown keys {unknown}; allowed keys are {allowed}")
    if meta["name"] != name:
        raise CodeListError(f"{filename}: name = {meta['name']!r} must match the file name")
    for key in [k for k in _TEXT_KEYS if k in required]:
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise CodeListError(f"{filename}: {key} must be a non-empty string")
    if not isinstance(meta["source"], dict) or not meta["source"]:
        raise CodeListError(f"{filename}: [source] must say where the definition comes from")
    return meta


def _metadata(filename: str, text: str, name: str) -> dict[str, Any]:
    meta = read_metadata(filename, text, name, _REQUIRED_KEYS, _OPTIONAL_KEYS)
    if meta["code_system"] not in CODE_SYSTEMS:
        raise CodeListError(
            f"{filename}: code_system = {meta['code_system']!r} must be one of {list(CODE_SYSTEMS)}"
        )
    if meta.get("match") == "prefix" and meta["code_system"] in EXACT_ONLY:
        raise CodeListError(
            f'{filename}: match = "prefix" cannot apply to {meta["code_system"]} codes; '
            'write match = "exact" or leave it out'
        )
    weight_sets = meta.setdefault("weight_sets", {})
    if not isinstance(weight_sets, dict) or any(
        not isinstance(v, dict) for v in weight_sets.values()
    ):
        raise CodeListError(
            f"{filename}: weight sets are [weight_sets.<name>] tables (or none, for a "
            "definition that only flags its categories)"
        )
    for key in ("lookback_months", "min_age"):
        if key in meta and type(meta[key]) is not int:
            raise CodeListError(f"{filename}: {key} = {meta[key]!r} must be a whole number")
    chains = meta.get("hierarchy", [])
    if not isinstance(chains, list) or not all(
        isinstance(c, list) and all(isinstance(x, str) for x in c) for c in chains
    ):
        raise CodeListError(
            f'{filename}: hierarchy must be a list of lists of categories, e.g. [["msld", "mld"]]'
        )
    return meta


def _rows(
    filename: str, text: str, required: list[str]
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    lines = list(csv.reader(io.StringIO(text)))
    header = [cell.strip() for cell in lines[0]] if lines else []
    if header[: len(required)] != required:
        raise CodeListError(
            f"{filename}: the header must start {','.join(required)}; it is {','.join(header)}"
        )
    rows = []
    for line, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(header):
            raise CodeListError(
                f"{filename} line {line}: {len(cells)} cells, but the header has {len(header)}"
            )
        rows.append((line, {k: v.strip() for k, v in zip(header, cells, strict=True)}))
    return header, rows


def _categories(
    filename: str, text: str, meta: dict[str, Any]
) -> tuple[list[str], dict[str, str], dict[str, dict[str, Decimal]]]:
    header, rows = _rows(filename, text, ["category"])
    has_label = len(header) > 1 and header[1] == "label"
    sets = header[2:] if has_label else header[1:]
    declared = list(meta["weight_sets"])
    if sorted(sets) != sorted(declared):
        raise CodeListError(
            f"{filename}: weight columns {sets} must match the TOML's weight sets {declared}"
        )
    categories: list[str] = []
    labels: dict[str, str] = {}
    weights: dict[str, dict[str, Decimal]] = {ws: {} for ws in sets}
    for line, row in rows:
        category = row["category"]
        if not _CATEGORY.fullmatch(category):
            raise CodeListError(
                f"{filename} line {line}: category {category!r} must be letters, digits or _"
            )
        if category in categories:
            raise CodeListError(f"{filename} line {line}: category {category!r} is listed twice")
        categories.append(category)
        if has_label and row["label"]:
            labels[category] = row["label"]
        for ws in sets:
            weights[ws][category] = _weight(f"{filename} line {line}, column {ws}", row[ws])
    if not categories:
        raise CodeListError(f"{filename}: no categories")
    return categories, labels, weights


def _weight(where: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CodeListError(f"{where}: {text!r} is not a number (write 0 for no weight)") from None
    if not value.is_finite() or -value.as_tuple().exponent > MAX_WEIGHT_DECIMALS:
        raise CodeListError(
            f"{where}: {text!r} must be a finite number with at most {MAX_WEIGHT_DECIMALS} decimals"
        )
    return value


def _codes(
    filename: str, text: str, match: str, system: str, categories: set[str]
) -> list[CodeRule]:
    header, rows = _rows(filename, text, ["category", "code"])
    if extra := [c for c in header[2:] if c not in _CODE_COLUMNS]:
        allowed = ",".join(("category", "code", *_CODE_COLUMNS))
        raise CodeListError(f"{filename}: unknown columns {extra}; allowed: {allowed}")
    rules: list[CodeRule] = []
    seen: set[tuple[str, str, str]] = set()
    for line, row in rows:
        category, code = row["category"], row["code"]
        if category not in categories:
            raise CodeListError(
                f"{filename} line {line}: category {category!r} is not in the categories file"
            )
        rule_system = row.get("code_system") or system
        problem = _system_problem(rule_system) or _code_problem(code, rule_system)
        if problem:
            raise CodeListError(f"{filename} line {line}: {problem}")
        exact_only = rule_system in EXACT_ONLY
        rule_match = row.get("match") or ("exact" if exact_only else match)
        if rule_match not in MATCHES:
            raise CodeListError(
                f"{filename} line {line}: match {rule_match!r} must be one of {list(MATCHES)}"
            )
        if exact_only and rule_match != "exact":
            raise CodeListError(
                f"{filename} line {line}: {code!r} is a {rule_system} code, which can only "
                "match exactly (leave match empty or write exact)"
            )
        if (category, code, rule_system) in seen:
            raise CodeListError(f"{filename} line {line}: {category},{code} is listed twice")
        seen.add((category, code, rule_system))
        rules.append(CodeRule(category, code, rule_match, rule_system))
    return rules


def _weight_set(filename: str, name: str, meta: Any, weights: dict[str, Decimal]) -> WeightSet:
    where = f"{filename} [weight_sets.{name}]"
    if not _NAME.fullmatch(name):
        raise CodeListError(f"{where}: the name must be lower case letters, digits and _")
    if not isinstance(meta, dict) or not isinstance(meta.get("source"), str):
        raise CodeListError(f'{where}: needs source = "<the publication the weights come from>"')
    if unknown := sorted(set(meta) - set(_WEIGHT_SET_KEYS)):
        raise CodeListError(f"{where}: unknown keys {unknown}; allowed: {list(_WEIGHT_SET_KEYS)}")
    return WeightSet(
        name=name,
        weights=MappingProxyType(weights),
        source=meta["source"],
        note=meta.get("note", ""),
        bands=_bands(where, meta.get("bands", [])),
    )


def _bands(where: str, raw: Any) -> tuple[Band, ...]:
    hint = 'e.g. [{ label = "low", below = 5 }, { label = "high" }]'
    if not isinstance(raw, list) or any(not isinstance(b, dict) for b in raw):
        raise CodeListError(f"{where}: bands must be a list of tables, {hint}")
    bands: list[Band] = []
    for n, b in enumerate(raw):
        last = n == len(raw) - 1
        bounds = [k for k in ("below", "at_most") if k in b]
        if set(b) - {"label", "below", "at_most"} or not isinstance(b.get("label"), str):
            raise CodeListError(f"{where}: band {n + 1} needs a label and below or at_most, {hint}")
        if len(bounds) != (0 if last else 1):
            raise CodeListError(
                f"{where}: band {b['label']!r} needs "
                + ("no bound (it takes the rest)" if last else "exactly one of below, at_most")
            )
        values = {k: _weight(f"{where} band {b['label']!r}", str(b[k])) for k in bounds}
        bands.append(Band(b["label"], values.get("below"), values.get("at_most")))
    if len(bands) == 1:
        raise CodeListError(f"{where}: one band is no banding; give two or more, {hint}")
    bounds_in_order = [band.bound for band in bands[:-1]]
    if any(a >= b for a, b in zip(bounds_in_order, bounds_in_order[1:], strict=False)):
        raise CodeListError(f"{where}: band bounds must rise from the first band to the last")
    if len({band.label for band in bands}) != len(bands):
        raise CodeListError(f"{where}: band labels must differ")
    return tuple(bands)
