"""The report's closing sections: methods, the audit summary, and what was suppressed and why.

Methods are generated from what the run actually used: the audit records name each
clinical definition and rule set with its version and the fingerprint of its files
(the need stage writes them), which are matched to the definitions' sources here;
the indicators' definitions come from the published ``indicator_definitions.csv``.
Nothing here shows a count of people: the audit's row counts stay in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openphm import codelists
from openphm.audit import AuditError, AuditLog
from openphm.config import Config, ConfigError
from openphm.publish.cells import INVALID_VALUE
from openphm.report.blocks import Table, Text, plain_table, table_of
from openphm.report.published import Published

RULES_TEXT = (
    "Counts from 1 to {threshold} are suppressed (shown as *), every other count is rounded "
    "to the nearest {multiple}, rates and percentages are recomputed from the rounded counts "
    "and suppressed with them, and further cells are suppressed where a suppressed one could "
    "be recovered by subtracting the others from a total (secondary suppression)."
)


def _source_text(source: Any) -> str:
    def text(value: Any) -> str:
        return (
            "; ".join(map(str, value)) if isinstance(value, list) else " ".join(str(value).split())
        )

    if isinstance(source, Mapping):
        return " | ".join(f"{key}: {text(value)}" for key, value in source.items())
    return text(source)


def used_definitions(records: Sequence[dict]) -> dict[str, dict]:
    """The definitions and rule sets of the latest need run, as its audit record names them."""
    for rec in reversed(records):
        need = (rec.get("counts") or {}).get("need") if rec.get("action") == "stage:need" else None
        if need:
            used = {n: {**v, "kind": "code list"} for n, v in need.get("definitions", {}).items()}
            used.update({n: {**v, "kind": "rule set"} for n, v in need.get("rules", {}).items()})
            return used
    return {}


def _lookup(name: str, kind: str, folder: Path | None):
    """The definition as this openphm reads it (the workspace's own folder first)."""
    load = codelists.load if kind == "code list" else codelists.load_rules
    for where in (folder, None) if folder else (None,):
        try:
            return load(name, where)
        except (codelists.CodeListError, OSError):
            continue
    return None


def methods(pub: Published, config: Config, records: Sequence[dict], root: Path) -> list:
    blocks: list = [
        Text(
            f"Purpose: {config.governance.purpose}; lawful basis: "
            f"{config.governance.lawful_basis}; data controller: {config.governance.controller}."
        )
    ]
    policy = config.disclosure
    if policy.enabled:
        blocks.append(
            Text(
                "Disclosure control: "
                + RULES_TEXT.format(
                    threshold=policy.suppression_threshold, multiple=policy.rounding_multiple
                )
            )
        )
        if policy.weakened:
            blocks.append(
                Text(
                    "These rules are weaker than NHS Digital's (counts of 1 to 7 suppressed, "
                    f"others rounded to 5), for this reason: {policy.weakened_reason}"
                )
            )
    else:
        blocks.append(Text(f"Disclosure control was turned off: {policy.disabled_reason}"))
    used = used_definitions(records)
    folder = config.stages.need.codelists
    folder = (root / folder) if folder is not None and not folder.is_absolute() else folder
    rows = []
    for name, info in sorted(used.items()):
        d = _lookup(name, info["kind"], folder)
        if d is None:
            rows.append(
                [
                    name,
                    info["kind"],
                    info.get("version"),
                    info.get("fingerprint"),
                    "(not found in this installation)",
                    "",
                ]
            )
            continue
        same = "" if d.fingerprint == info.get("fingerprint") else " (files differ from the run's)"
        rows.append(
            [
                f"{name}: {d.title}",
                info["kind"],
                info.get("version"),
                f"{info.get('fingerprint')}{same}",
                _source_text(d.source),
                " ".join(d.licence.split()),
            ]
        )
    if rows:
        blocks.append(
            plain_table(
                "Clinical code lists and rule sets used by the need stage (from the audit trail)",
                ["definition", "kind", "version", "fingerprint", "source", "licence"],
                rows,
            )
        )
    else:
        blocks.append(Text("The need stage has not run: no code lists were used."))
    if "indicator_definitions" in pub:
        pt = pub["indicator_definitions"]
        blocks.append(
            table_of(
                pt,
                caption="Indicators: definitions and sources",
                columns=["indicator", "title", "kind", "per", "improvement", "source"],
                kinds={"per": "meta"},
            )
        )
    blocks.append(
        Text(
            "Statistics: crude rates with Byar's (exact Poisson below 10 events) limits, "
            "proportions with Wilson score limits, directly standardised rates on the 2013 "
            "European Standard Population with Dobson limits, funnel plots after "
            "Spiegelhalter, and SPC (XmR) charts with the Making Data Count rules "
            "(openphm.stats)."
        )
    )
    return blocks


def audit_summary(log: AuditLog) -> list:
    """Who ran what, when, for what purpose, under which lawful basis, with which code."""
    try:
        verification = log.verify()
        records = log.records()
    except (AuditError, ConfigError) as exc:  # ConfigError: the audit key cannot be read
        return [Text(f"The audit log could not be checked: {exc}")]
    state = (
        f"The audit log verifies: {verification.records} records, head hash "
        f"{verification.head_hash}"
        + (
            ", authenticated with the audit key."
            if verification.authenticated
            else f". It is not authenticated: {verification.reason}."
        )
        if verification.ok
        else f"The audit log does NOT verify: {verification.reason}."
    )
    rows = [
        [
            r.get("seq"),
            r.get("time"),
            r.get("action"),
            r.get("user"),
            r.get("purpose"),
            r.get("lawful_basis"),
            r.get("code_version"),
            ", ".join(p.get("file", "") for p in r.get("published", [])) or "",
        ]
        for r in records
    ]
    table = plain_table(
        "The audit trail",
        [
            "#",
            "time (UTC)",
            "action",
            "user",
            "purpose",
            "lawful basis",
            "code version",
            "files published",
        ],
        rows,
    )
    return [Text(state), table]


def suppression_summary(pub: Published) -> list[Table | Text]:
    """Per published table: cells, and cells suppressed per count, first or second-hand."""
    rows = []
    for name in pub:
        d = pub[name].decisions
        if not d:
            rows.append([f"{name}.csv", "", "no disclosure record", ""])
            continue
        if not d.get("enabled", True):
            rows.append(
                [
                    f"{name}.csv",
                    d.get("cells", ""),
                    "disclosure control off",
                    d.get("disabled_reason", ""),
                ]
            )
            continue
        tallies = d.get("suppressed", {})
        counts = sorted({k.rsplit("_", 1)[0] for k in tallies})
        why = (
            "; ".join(
                f"{c}: {tallies.get(f'{c}_primary', 0)} primary (1 to "
                f"{d.get('suppression_threshold')}), {tallies.get(f'{c}_secondary', 0)} secondary"
                for c in counts
            )
            or "no counts"
        )
        rows.append(
            [
                f"{name}.csv",
                d.get("cells", ""),
                why,
                f"rounded to the nearest {d.get('rounding_multiple')}",
            ]
        )
    return [
        Text(
            "Primary suppression hides a small count; secondary suppression hides another cell "
            "in the same row or column so the first cannot be worked out from a total."
        ),
        plain_table(
            "Suppressed cells by published table",
            ["table", "cells", "suppressed", "rounding"],
            rows,
        ),
        Text(withheld_values(pub)),
    ]


def withheld_values(pub: Published) -> str:
    """A sentence on the key cells published as 'invalid value' (publish/cells.py): how
    many, in which tables and columns; the values themselves are in no record."""
    found = [
        f"{name}.csv {column} ({count})"
        for name in pub
        for column, count in sorted((pub[name].decisions or {}).get("invalid_values", {}).items())
        if count
    ]
    if not any("invalid_values" in (pub[name].decisions or {}) for name in pub):
        return (
            "These tables were published before openphm checked labels for identifiers; "
            "publish again (openphm run --stage publish) to have them checked."
        )
    if not found:
        return (
            "No label was withheld: every code and name in a published table had its expected "
            "shape and nothing in one looked like an identifier."
        )
    return (
        f"Labels withheld as '{INVALID_VALUE}' because they looked like an identifier (an NHS "
        f"number, postcode, date, pseudonym or record key) or were not a code of their "
        f"column's shape, by table and column (cells): {'; '.join(found)}. Their rows' counts "
        "are kept; the source files hold the values to correct."
    )
