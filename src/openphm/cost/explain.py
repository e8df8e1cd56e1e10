"""``openphm cost explain ENCOUNTER_OR_PERSON``: every penny back to ledger lines and rules.

For an encounter (or each encounter of a person) it shows, per financial year, resource
and activity, the pence and where they came from:

- ledger-allocated cost: each feed record matched to the encounter (with the matching
  rule), the pool it drew on (provider, year, cost centre, resource), the driver and the
  record's units of the pool's total, and the pence recomputed from them by the same
  running-total rounding the stage used; then the pool's ledger lines (cost centre,
  expense type, amount), and, for overheads, the support centres stepped down onto the
  cost centre and their bases;
- unit-cost cost: the unit-cost item and its source.

It reads the cost stage's tables only (``cost_encounter``, ``cost_activity``,
``cost_pool``, ``cost_ledger_map``, ``cost_overhead_flow``) and is meant for an
authorised analyst at the workspace: it shows one patient's costs, so its output is
never published or logged.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis.expr.types as ir
import pandas as pd

from openphm.cost import allocate
from openphm.cost.mapping import OVERHEADS

__all__ = ["explain", "render"]


def _pounds(pence: int) -> str:
    return f"£{pence / 100:,.2f}"


def explain(table: Callable[[str], ir.Table], key: str) -> dict[str, pd.DataFrame] | None:
    """The trace of one encounter or person, as frames; None if neither is costed."""
    enc = table("cost_encounter")
    rows = enc.filter((enc.encounter_id == key) | (enc.person_id == key)).to_pandas()
    if rows.empty:
        return None
    ids = sorted(rows.encounter_id.unique())
    units = table("cost_activity")
    units = units.filter(units.encounter_id.isin(ids))
    pools = table("cost_pool")
    totals = pools.select(*allocate.CENTRE, "driver", "total_units").distinct()
    pool_columns = [*allocate.POOL, "activity_type", "amount_pence", "driver", "capacity_units"]
    records = allocate.allocate(units, pools.select(*pool_columns), totals)
    records = records.join(
        units.select("activity_id", "source", "driver", "units", "cum_units"),
        ["activity_id", "source", "driver"],
    ).join(
        pools.select(*allocate.POOL, "amount_pence", "total_units", "capacity_units"),
        list(allocate.POOL),
    )
    records = records.to_pandas()
    used = records[list(allocate.POOL)].drop_duplicates()
    ledger = table("cost_ledger_map").to_pandas()
    lines = ledger.merge(
        used.rename(columns={"resource": "mapped_resource"}),
        on=["provider_code", "financial_year", "cost_centre", "mapped_resource"],
    )
    flows = table("cost_overhead_flow").to_pandas()
    over = used[used.resource == OVERHEADS]
    flows = flows.merge(
        over.rename(columns={"cost_centre": "to_cost_centre"}).drop(columns="resource"),
        on=["provider_code", "financial_year", "to_cost_centre"],
    )
    return {"encounters": rows, "records": records, "lines": lines, "flows": flows}


def render(trace: dict[str, pd.DataFrame]) -> str:
    rows, records = trace["encounters"], trace["records"]
    lines, flows = trace["lines"], trace["flows"]
    out = []
    for (eid, person, setting), e in rows.groupby(["encounter_id", "person_id", "setting"]):
        out.append(
            f"encounter {eid} ({setting}) of person {person}: {_pounds(int(e.cost_pence.sum()))}"
        )
        for r in e.sort_values(["financial_year", "basis", "resource"]).itertuples():
            out.append(
                f"  {r.financial_year} {r.provider_code} {r.resource} / {r.activity_type} "
                f"[{r.basis}]: {r.cost_pence} pence"
            )
            if r.basis != "ledger":
                continue
            mine = records[
                (records.encounter_id == eid)
                & (records.financial_year == r.financial_year)
                & (records.resource == r.resource)
                & (records.activity_type == r.activity_type)
            ]
            for x in mine.sort_values(["cost_centre", "activity_id"]).itertuples():
                denominator = x.total_units
                if pd.notna(x.capacity_units) and x.capacity_units > x.total_units:
                    denominator = int(x.capacity_units)
                out.append(
                    f"    record {x.activity_id} ({x.source}, matched by {x.match_rule}): "
                    f"{x.units} of {denominator} units of {x.driver} in pool "
                    f"'{x.cost_centre}' / {x.resource} of {x.amount_pence} pence "
                    f"(running total {x.cum_units}) -> {x.pence} pence"
                )
            centres = set(mine.cost_centre)
            for c in sorted(centres):
                if r.resource == OVERHEADS:
                    f = flows[
                        (flows.to_cost_centre == c)
                        & (flows.financial_year == r.financial_year)
                        & (flows.provider_code == r.provider_code)
                    ]
                    for y in f.sort_values("step").itertuples():
                        out.append(
                            f"      overheads of '{c}': step {y.step}, {y.pence} pence from "
                            f"'{y.from_cost_centre}' by {y.basis} ({y.basis_units} units)"
                        )
                    continue
                mine_lines = lines[
                    (lines.cost_centre == c)
                    & (lines.financial_year == r.financial_year)
                    & (lines.provider_code == r.provider_code)
                    & (lines.mapped_resource == r.resource)
                ]
                for y in mine_lines.sort_values("expense_type").itertuples():
                    out.append(
                        f"      ledger line '{c}' {y.expense_type}: {y.amount_pence} pence "
                        f"(resource {y.mapped_resource}, activity {y.activity})"
                    )
    return "\n".join(out)
