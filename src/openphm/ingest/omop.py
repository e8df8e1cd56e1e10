"""OMOP CDM v5.4 tables as staged canonical tables (placeholder: mappers arrive next)."""

from __future__ import annotations

OMOP_MAPPERS: dict = {}
