"""Overheads: support cost centres spread onto the others by a step-down cascade.

Per provider and financial year, support centres are closed one at a time in the order
of ``overheads.toml`` (the rule each matches, then the cost centre). The centre being
closed spreads its own cost plus everything it has received over every centre not yet
closed that holds some of its basis in ``overhead_basis`` (floor area, staff WTE, IT
devices, patient meals...), in integer pence by running-total rounding (receivers in
cost-centre order). A closed centre receives nothing more, so when the last one is
closed no indirect cost is left: each support centre's own cost plus receipts equals
what it spread, to the penny, or the stage stops naming the centre.

``step_down`` returns the flows (provider, year, step, from, to, basis, units, pence):
the trace ``openphm cost explain`` follows from a patient's overheads back to the
support centres' ledger lines. ``receipts`` sums what each patient-facing centre got.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from openphm import engine
from openphm.cost.errors import CostError
from openphm.cost.mapping import COSTED
from openphm.cost.rounding import as_units, running_share
from openphm.cost.rules import StepRule

__all__ = ["FLOW_COLUMNS", "receipts", "step_down", "support_centres"]

_YEAR = ("provider_code", "financial_year")
FLOW_COLUMNS = (
    *_YEAR,
    "step",
    "from_cost_centre",
    "to_cost_centre",
    "basis",
    "basis_units",
    "pence",
)
#: A cascade longer than this is surely a configuration mistake (one step per centre).
MAX_STEPS = 200


def support_centres(mapped: ir.Table, steps: tuple[StepRule, ...]) -> ir.Table:
    """Each support centre's own cost, basis and step number within its provider-year."""
    lines = mapped.filter((mapped.line == COSTED) & (mapped.cost_centre_type == "support"))
    own = lines.group_by(*_YEAR, "cost_centre").aggregate(own_pence=lines.amount_pence.sum())
    rule = ibis.cases(
        *[(own.cost_centre.re_search(s.cost_centre), i) for i, s in enumerate(steps)],
        else_=ibis.null("int64"),
    )
    basis = ibis.cases(
        *[(own.cost_centre.re_search(s.cost_centre), s.basis) for s in steps],
        else_=ibis.null("string"),
    )
    own = own.mutate(_rule=rule, basis=basis)
    step = engine.row_number(
        [own.provider_code, own.financial_year], engine.sort_keys(own._rule), [own.cost_centre]
    )
    return own.mutate(step=step.cast("int64"))


def step_down(
    mapped: ir.Table,
    basis: ir.Table,
    steps: tuple[StepRule, ...],
    keep: Callable[[str, ir.Table], ir.Table] | None = None,
    file: str = "overheads.toml",
) -> ir.Table:
    """The cascade's flows. Runs a few small queries (one per step) on the engine.

    ``keep(name, table)`` materialises the small tables each step reads (the stage's
    scratch tables); by default Ibis's cache.
    """
    keep = keep or (lambda name, table: table.cache())
    centres = keep("support", support_centres(mapped, steps))
    unruled = centres.filter(centres.basis.isnull()).limit(5).execute()
    if not unruled.empty:
        named = ", ".join(
            f"{r.provider_code} {r.financial_year} {r.cost_centre!r}" for r in unruled.itertuples()
        )
        raise CostError(
            f"cost: support cost centre(s) {named} meet no [[step]] in {file}; add a step "
            "naming the basis each is spread by"
        )
    most = centres.step.max().execute()
    n_steps = 0 if most is None or most != most else int(most)  # None or NaN: no centres
    if n_steps > MAX_STEPS:
        raise CostError(
            f"cost: {n_steps} support centres in one provider-year; at most {MAX_STEPS}"
        )
    held = basis.filter(basis.value > 0).select(
        *_YEAR,
        to_cost_centre=basis.cost_centre,
        basis=basis.basis,
        basis_units=as_units(basis.value),
    )
    held = held.filter(held.basis_units > 0)
    closed_at = centres.select(*_YEAR, _c=centres.cost_centre, _closed=centres.step)
    flows: ir.Table | None = None
    for k in range(1, n_steps + 1):
        spreaders = centres.filter(centres.step == k)
        if flows is not None:
            got = flows.group_by(*_YEAR, _to=flows.to_cost_centre).aggregate(_got=flows.pence.sum())
            spreaders = spreaders.left_join(
                got,
                [
                    spreaders.provider_code == got.provider_code,
                    spreaders.financial_year == got.financial_year,
                    spreaders.cost_centre == got._to,
                ],
            ).select(spreaders, _got=got._got)
            amount = spreaders.own_pence + spreaders._got.fill_null(0)
        else:
            amount = spreaders.own_pence
        spreaders = spreaders.select(
            *_YEAR,
            from_cost_centre=spreaders.cost_centre,
            spread_basis=spreaders.basis,
            spread_pence=amount,
        )
        pairs = spreaders.join(held, [*_YEAR, spreaders.spread_basis == held.basis]).select(
            spreaders, held.to_cost_centre, held.basis, held.basis_units
        )
        # Receivers: not the spreader, and no support centre closed at or before this step.
        pairs = pairs.left_join(
            closed_at,
            [
                pairs.provider_code == closed_at.provider_code,
                pairs.financial_year == closed_at.financial_year,
                pairs.to_cost_centre == closed_at._c,
            ],
        ).select(pairs, _closed=closed_at._closed)
        pairs = pairs.filter(pairs._closed.isnull() | (pairs._closed > k))
        group = [pairs.provider_code, pairs.financial_year, pairs.from_cost_centre]
        cum = pairs.basis_units.sum().over(
            ibis.cumulative_window(group_by=group, order_by=[pairs.to_cost_centre])
        )
        total = pairs.basis_units.sum().over(group_by=group)
        step_flows = pairs.select(
            *_YEAR,
            step=ibis.literal(k, "int64"),
            from_cost_centre=pairs.from_cost_centre,
            to_cost_centre=pairs.to_cost_centre,
            basis=pairs.basis,
            basis_units=pairs.basis_units,
            pence=running_share(pairs.spread_pence, cum, pairs.basis_units, total),
        )
        # Spreaders with cost but nobody holding their basis: the cost would be stranded.
        stranded = spreaders.anti_join(
            step_flows,
            [
                spreaders.provider_code == step_flows.provider_code,
                spreaders.financial_year == step_flows.financial_year,
                spreaders.from_cost_centre == step_flows.from_cost_centre,
            ],
        ).filter(lambda s: s.spread_pence != 0)
        stuck = stranded.limit(5).execute()
        if not stuck.empty:
            named = ", ".join(
                f"{r.provider_code} {r.financial_year} {r.from_cost_centre!r} "
                f"({r.spread_pence} pence by {r.spread_basis})"
                for r in stuck.itertuples()
            )
            raise CostError(
                f"cost: support cost centre(s) {named} cannot be spread: no centre still open "
                "holds any of the basis in overhead_basis; add basis values, or change the "
                f"centre's step in {file}"
            )
        step_flows = keep(f"step{k}", step_flows)
        flows = step_flows if flows is None else keep(f"flows{k}", flows.union(step_flows))
    if flows is None:
        return ibis.memtable(
            {c: [] for c in FLOW_COLUMNS},
            schema={
                "provider_code": "string",
                "financial_year": "string",
                "step": "int64",
                "from_cost_centre": "string",
                "to_cost_centre": "string",
                "basis": "string",
                "basis_units": "int64",
                "pence": "int64",
            },
        )
    return flows.select(*FLOW_COLUMNS)


def receipts(flows: ir.Table, mapped: ir.Table) -> ir.Table:
    """Overheads received by each non-support centre: provider, year, cost_centre, pence."""
    support = (
        mapped.filter(mapped.cost_centre_type == "support")
        .select(*_YEAR, _c=mapped.cost_centre)
        .distinct()
    )
    t = flows.anti_join(
        support,
        [
            flows.provider_code == support.provider_code,
            flows.financial_year == support.financial_year,
            flows.to_cost_centre == support._c,
        ],
    )
    return t.group_by(*_YEAR, cost_centre=t.to_cost_centre).aggregate(pence=t.pence.sum())
