"""The report's cost section says which pounds are reconciled and which are estimated.

The published tables go through the real gate and writer; the wording is read from
``cost_by_basis`` only, so the report never claims a reconciliation that did not happen.
"""

from __future__ import annotations

import ibis
import pandas as pd

from openphm.cost.rollup import BY_BASIS, GATES, RECONCILIATION_GATE
from openphm.disclosure import gate
from openphm.publish.writer import write_published
from openphm.report.published import read_published
from openphm.report.sections import Text, cost_basis_text, render_sections

RECONCILED = "reconciled to those ledgers"


def published(tmp_path, rows: list[tuple[str, str, int, int, int]], reconciliation=()):
    by_basis = pd.DataFrame(
        rows, columns=["financial_year", "basis", "encounters", "people", "cost_pounds"]
    )
    schema = {"financial_year": "string", "basis": "string"} | {
        c: "int64" for c in ("encounters", "people", "cost_pounds")
    }
    write_published(
        tmp_path, gate(BY_BASIS, ibis.memtable(by_basis, schema=schema), **GATES[BY_BASIS])
    )
    statement = pd.DataFrame(
        list(reconciliation), columns=["provider_code", "financial_year", "step", "line", "pence"]
    )
    schema = {c: "string" for c in statement.columns} | {"pence": "int64"}
    table = ibis.memtable(statement, schema=schema)
    write_published(tmp_path, gate("cost_reconciliation", table, **RECONCILIATION_GATE))
    return read_published(tmp_path)


def test_with_no_ledgers_every_pound_is_an_estimate(tmp_path):
    pub = published(
        tmp_path,
        [("2023/24", "unit_cost", 900, 400, 250_000), ("2024/25", "unit_cost", 950, 420, 262_040)],
    )
    text = cost_basis_text(pub)
    assert text.startswith(
        "No costing ledgers were given: every cost in this section is an estimate"
    )
    assert "none of it is reconciled" in text
    assert "In 2024/25, £262,040 of estimated cost." in text  # the latest year, as published
    assert RECONCILED not in text and "reconciled to the providers' ledgers" not in text
    (section,) = [s for s in render_sections(pub) if s.id == "costs"]
    words = " ".join(b.text for b in section.blocks if isinstance(b, Text))
    assert "No reconciliation statement: no costing ledger was given" in words
    assert "reconciled to the providers' ledgers" not in section.intro


def test_with_some_ledgers_the_split_is_given_for_the_latest_year(tmp_path):
    pub = published(
        tmp_path,
        [
            ("2024/25", "ledger", 500, 300, 750_000),
            ("2024/25", "unit_cost", 900, 400, 250_000),
            ("2023/24", "ledger", 400, 200, 1_000),
        ],
        reconciliation=[("RZ1", "2024/25", "CP5", "costed_quantum", 75_000_000)],
    )
    text = cost_basis_text(pub)
    assert RECONCILED in text
    assert (
        "In 2024/25, £750,000 reconciled to ledgers and £250,000 estimated from unit "
        "costs (25% of the total)" in text
    )


def test_with_only_ledgers_every_pound_is_reconciled(tmp_path):
    pub = published(tmp_path, [("2024/25", "ledger", 500, 300, 750_000)])
    assert cost_basis_text(pub).startswith("Every cost in this section is reconciled")


def test_a_published_folder_without_the_basis_table_claims_nothing(tmp_path):
    pub = published(tmp_path, [("2024/25", "ledger", 500, 300, 750_000)])
    pub = type(pub)({k: v for k, v in pub.items() if k != BY_BASIS}, tmp_path)
    text = cost_basis_text(pub)
    assert "do not say which costs are reconciled" in text and RECONCILED not in text
