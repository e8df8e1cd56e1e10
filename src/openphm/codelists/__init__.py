"""Clinical definitions as data: versioned code lists with their sources and weights.

Each definition (Charlson, Elixhauser, the Hospital Frailty Risk Score, ...) is a
TOML file of metadata beside a CSV of codes and a CSV of categories and weights, in
this folder; ``openphm.need`` scores any of them with one engine. See ``loader`` for
the file formats. Rule sets that sort people rather than match codes (the Bridges to
Health segments, Core20PLUS5) are ``<name>.rules.toml`` files here (``rules``).
"""

from openphm.codelists.loader import (
    Band,
    CodeListError,
    CodeRule,
    Definition,
    WeightSet,
    available,
    load,
    load_all,
)
from openphm.codelists.rules import RuleSet, available_rules, load_rules

__all__ = [
    "Band",
    "CodeListError",
    "CodeRule",
    "Definition",
    "RuleSet",
    "WeightSet",
    "available",
    "available_rules",
    "load",
    "load_all",
    "load_rules",
]
