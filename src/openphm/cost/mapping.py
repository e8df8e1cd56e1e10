"""CP1 and CP2: each ledger line to its reconciliation line, resource and activity.

``map_ledger`` adds to every ledger line:

- ``line``: ``costed`` for patient-facing and support lines (the costed quantum), or
  the name of the first exclusion rule it meets (education and training, research and
  development, other non-patient care, income);
- ``mapped_resource``: the resource its expense type buys (``[resources]``; the ledger's
  own resource where the expense type is not listed), ``overheads`` on support lines;
- ``mapped_activity_type`` and ``activity``: for patient-facing lines, from the first
  activity rule whose pattern the cost centre meets (the ledger's own activity_type
  where none does).

``check_mapping`` stops the run on a line it could not place, naming the provider, year
and cost centre and the rule to add.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm.cost.errors import CostError
from openphm.cost.rules import COST_CENTRE_TYPES, COSTED_TYPES, CostRules

__all__ = ["COSTED", "OVERHEADS", "activity_of", "check_mapping", "map_ledger"]

COSTED = "costed"
#: The resource support costs become once spread onto patient-facing centres.
OVERHEADS = "overheads"


def activity_of(cost_centre: ir.StringValue, rules: CostRules) -> tuple[ir.Value, ir.Value]:
    """(activity_type, activity) of a patient-facing cost centre, by the first rule it meets."""
    kind = ibis.cases(
        *[(cost_centre.re_search(r.cost_centre), r.activity_type) for r in rules.activities],
        else_=ibis.null("string"),
    )
    name = ibis.cases(
        *[(cost_centre.re_search(r.cost_centre), r.activity) for r in rules.activities],
        else_=ibis.null("string"),
    )
    return kind, name


def map_ledger(ledger: ir.Table, rules: CostRules) -> ir.Table:
    kind = ledger.cost_centre_type
    excluded = [
        (
            (kind == r.cost_centre_type)
            & (ledger.cost_centre.re_search(r.cost_centre) if r.cost_centre else True),
            r.line,
        )
        for r in rules.exclusions
    ]
    line = ibis.cases((kind.isin(COSTED_TYPES), COSTED), *excluded, else_=ibis.null("string"))
    resource = ibis.cases(
        *[(ledger.expense_type == e, r) for e, r in rules.resources.items()],
        else_=ledger.resource,
    )
    activity_type, activity = activity_of(ledger.cost_centre, rules)
    facing = kind == "patient_facing"
    return ledger.mutate(
        line=line,
        mapped_resource=ibis.ifelse(kind == "support", OVERHEADS, resource),
        mapped_activity_type=ibis.ifelse(
            facing, activity_type.fill_null(ledger.activity_type), ibis.null("string")
        ),
        activity=ibis.ifelse(facing, activity.fill_null(ledger.activity_type), ibis.null("string")),
    )


def check_mapping(mapped: ir.Table, file: str = "mapping.toml") -> None:
    """Stop on any ledger line the rules could not place (runs one small query)."""
    t = mapped
    problem = ibis.cases(
        (~t.cost_centre_type.isin(COST_CENTRE_TYPES) | t.cost_centre_type.isnull(), "type"),
        (t.line.isnull(), "line"),
        ((t.line == COSTED) & t.mapped_resource.isnull(), "resource"),
        ((t.cost_centre_type == "patient_facing") & t.mapped_activity_type.isnull(), "activity"),
        else_=ibis.null("string"),
    )
    bad = (
        t.mutate(problem=problem)
        .filter(lambda s: s.problem.notnull())
        .select(
            "problem",
            "provider_code",
            "financial_year",
            "cost_centre",
            "cost_centre_type",
            "expense_type",
        )
        .distinct()
        .order_by(["problem", "provider_code", "financial_year", "cost_centre", "expense_type"])
        .limit(5)
        .execute()
    )
    if bad.empty:
        return
    messages = {
        "type": "cost_centre_type {cost_centre_type!r} is not one of "
        + ", ".join(COST_CENTRE_TYPES),
        "line": "no [[exclusion]] in {file} takes this {cost_centre_type} line; add one",
        "resource": "expense type {expense_type!r} has no resource: add it under [resources] "
        "in {file}",
        "activity": "no [[activity]] pattern in {file} matches this patient-facing cost "
        "centre; add one naming its activity_type",
    }
    lines = [
        f"ledger {r.provider_code} {r.financial_year}, cost centre {r.cost_centre!r}: "
        + messages[r.problem].format(file=file, **r._asdict())
        for r in bad.itertuples(index=False)
    ]
    raise CostError("cost: ledger lines the costing rules cannot place:\n  " + "\n  ".join(lines))
