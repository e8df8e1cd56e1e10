"""Ingest: delivered files (SUS/HES-like extracts, GP, community, OMOP CDM, costing) in,
checked and staged canonical tables out, every row accounted for."""
