"""CP1 and CP5: from each provider's ledger total to the costed quantum, and where it went.

The reconciliation statement, one provider and financial year at a time, line by line
(``step`` orders them):

1. ``ledger_total``: every ledger line, income included (negative);
2. ``less_<exclusion>``: each exclusion of ``mapping.toml`` in its order (education and
   training, research and development, other non-patient care, income), as the amount
   taken out (the negative of those lines);
3. ``costed_quantum``: what is left, the patient-facing and support lines;
4. ``of_which_direct`` and ``of_which_overheads``: patient-facing lines and the support
   lines the step-down spread onto them;
5. ``allocated_to_patients``, ``unmatched``, ``excluded_unused_capacity`` and
   ``unallocated_no_driver_volume`` (pools with no records, where the configuration
   allows them): where the quantum went. They add up to the quantum to the penny
   (``check``).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm.cost.errors import CostError
from openphm.cost.mapping import COSTED
from openphm.cost.rules import CostRules

__all__ = ["check", "reconciliation"]

_YEAR = ("provider_code", "financial_year")


def reconciliation(mapped: ir.Table, summary: ir.Table, rules: CostRules) -> ir.Table:
    """provider_code, financial_year, step, line, pence."""
    m = mapped
    exclusions = list(dict.fromkeys(r.line for r in rules.exclusions))
    ledger = m.group_by(*_YEAR).aggregate(
        ledger_total=m.amount_pence.sum(),
        **{f"less_{x}": -m.amount_pence.sum(where=m.line == x) for x in exclusions},
        costed_quantum=m.amount_pence.sum(where=m.line == COSTED),
        of_which_direct=m.amount_pence.sum(
            where=(m.line == COSTED) & (m.cost_centre_type == "patient_facing")
        ),
        of_which_overheads=m.amount_pence.sum(
            where=(m.line == COSTED) & (m.cost_centre_type == "support")
        ),
    )
    s = summary
    went = s.group_by(*_YEAR).aggregate(
        allocated_to_patients=s.allocated_pence.sum(),
        unmatched=s.unmatched_pence.sum(),
        excluded_unused_capacity=s.excluded_pence.sum(),
        unallocated_no_driver_volume=s.unallocated_pence.sum(),
    )
    t = ledger.left_join(went, list(_YEAR)).select(ledger, *[went[c] for c in went.columns[2:]])
    lines = [c for c in t.columns if c not in _YEAR]
    parts = [
        t.select(
            *_YEAR,
            step=ibis.literal(i, "int64"),
            line=ibis.literal(name),
            pence=t[name].fill_null(0).cast("int64"),
        )
        for i, name in enumerate(lines, 1)
    ]
    return ibis.union(*parts)


def check(statement: ir.Table) -> None:
    """Stop if any provider-year's quantum is not where it went, exactly."""
    sign = {"costed_quantum": 1, "allocated_to_patients": -1, "unmatched": -1}
    sign["excluded_unused_capacity"] = sign["unallocated_no_driver_volume"] = -1
    t = statement.filter(statement.line.isin(list(sign)))
    signed = ibis.cases(*[(t.line == k, t.pence * v) for k, v in sign.items()], else_=0)
    gaps = (
        t.group_by(*_YEAR)
        .aggregate(gap=signed.sum())
        .filter(lambda g: g.gap != 0)
        .limit(5)
        .execute()
    )
    if not gaps.empty:
        named = ", ".join(
            f"{r.provider_code} {r.financial_year} ({r.gap} pence)" for r in gaps.itertuples()
        )
        raise CostError(
            f"cost: the costed quantum of {named} is not allocated + unmatched + excluded; "
            "this is a bug in openphm, please report it"
        )
