"""Clinical definitions as data: versioned code lists with their sources and weights.

Each definition (Charlson, Elixhauser, the Hospital Frailty Risk Score, ...) is a
TOML file of metadata beside a CSV of codes and a CSV of categories and weights, in
this folder; ``openphm.need`` scores any of them with one engine. See ``loader`` for
the file formats.
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

__all__ = [
    "Band",
    "CodeListError",
    "CodeRule",
    "Definition",
    "WeightSet",
    "available",
    "load",
    "load_all",
]
