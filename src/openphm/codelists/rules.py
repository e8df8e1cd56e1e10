"""Rule sets: clinical definitions that sort people rather than match codes, as data.

A rule set is one TOML file beside the code lists, ``<name>.rules.toml``: the
Bridges to Health segments and Core20PLUS5. Like a code list it says what it is and
where it comes from (``name``, ``title``, ``version``, ``licence``, ``[source]``); the
rest of the file is its rules, which the module that applies them checks
(``openphm.need.segments``, ``openphm.need.core20plus5``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from openphm.codelists.loader import _NAME, RULES_SUFFIX, CodeListError, _folder, read_metadata

__all__ = ["RuleSet", "available_rules", "load_rules"]

_METADATA = ("name", "title", "version", "licence", "source")


@dataclasses.dataclass(frozen=True)
class RuleSet:
    """A rule file's metadata, its rules (``body``) and a fingerprint of its text."""

    name: str
    title: str
    version: str
    licence: str
    source: Mapping[str, Any]
    body: Mapping[str, Any]
    fingerprint: str


def available_rules(folder: Path | str | None = None) -> tuple[str, ...]:
    """Names of the rule sets in a folder (the shipped ones by default), sorted."""
    base = _folder(folder)
    return tuple(
        sorted(p.name.removesuffix(RULES_SUFFIX) for p in base.iterdir() if _is_rules(p.name))
    )


def load_rules(name: str, folder: Path | str | None = None) -> RuleSet:
    """A rule set by name, from a folder (the shipped rule sets by default)."""
    return _load_shipped(name) if folder is None else _read(name, folder)


@functools.cache
def _load_shipped(name: str) -> RuleSet:
    return _read(name, None)


def _is_rules(filename: str) -> bool:
    return filename.endswith(RULES_SUFFIX)


def _read(name: str, folder: Path | str | None) -> RuleSet:
    base = _folder(folder)
    file = base.joinpath(f"{name}{RULES_SUFFIX}")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or not file.is_file():
        raise CodeListError(f"no rule set {name!r}; available: {list(available_rules(folder))}")
    text = file.read_text(encoding="utf-8")
    raw = read_metadata(file.name, text, name, _METADATA)
    return RuleSet(
        name=name,
        title=raw["title"],
        version=raw["version"],
        licence=raw["licence"],
        source=MappingProxyType(dict(raw["source"])),
        body=MappingProxyType({k: v for k, v in raw.items() if k not in _METADATA}),
        fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16],
    )
