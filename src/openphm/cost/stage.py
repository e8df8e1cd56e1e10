"""The cost stage: every pound in the providers' ledgers, traced to the patients it paid for.

Patient-level costing as NHS England's Healthcare Costing Standards describe it:

1. CP1/CP2 (``mapping``): each ledger line to its reconciliation line (costed quantum or
   an exclusion), resource and activity, by rules kept as data.
2. Overheads (``overheads``): support centres spread by the step-down cascade.
3. Pools (``allocate.pools``): each patient-facing centre's cost by resource, with its driver.
4. Matching (``matching``): feed records to encounters by a hierarchy of rules.
5. Periods (``periods``): records cut at the financial-year boundary.
6. CP3/CP4 (``allocate``): each pool shared over its records by driver, in integer pence;
   time-driven costing (``tdabc``) where a capacity file is given.
7. Unit costs (``unit_costs``): every encounter at a provider with no ledger for its
   year, and every encounter when no ledgers were given at all (most ICSs have none).
8. Outputs and CP5 (``rollup``, ``quantum``): cost per encounter and per person-year,
   the unmatched bucket, the reconciliation statement and roll-ups for the gate, each
   cost row with its basis (``ledger``: reconciled; ``unit_cost``: an estimate).
9. Notes (``coverage``): how many encounters and pounds are reconciled to a ledger and
   how many are estimates, and the encounters that carry no cost, by reason.

The stage checks as it goes and stops with the provider, year and pool named when a
line cannot be placed, a pool has no driver volume, or the quantum does not reconcile.
Its audit record names every rules file with its version and fingerprint.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import ibis
import ibis.expr.types as ir

from openphm import engine, model
from openphm.cost import (
    allocate,
    coverage,
    mapping,
    overheads,
    periods,
    quantum,
    rollup,
    rules,
    tdabc,
)
from openphm.cost.errors import CostError
from openphm.runner import Stage, StageError, StageInput, StageOutput

__all__ = ["OUTPUTS", "STAGE", "build"]

OUTPUTS = (
    "cost_encounter",
    "cost_person_year",
    "cost_unmatched",
    "cost_reconciliation",
    "cost_pool",
    "cost_ledger_map",
    "cost_overhead_flow",
    "cost_activity",
    "cost_match_rates",
    *rollup.ROLLUPS,
    rollup.BY_BASIS,
)


#: The columns of a matched activity record that costing reads.
PART_COLUMNS = (
    "activity_id",
    "source",
    "encounter_id",
    "match_rule",
    "provider_code",
    "cost_centre",
    "quantity",
    "weight",
    "cost_pence",
    "activity_date",
    "start_time",
    "end_time",
)


def _empty(name: str) -> ir.Table:
    import pandas as pd

    schema = model.table_spec(name).schema()
    return model.memtable(name, pd.DataFrame({c: [] for c in schema.names}))


def _folder(inp: StageInput, folder: Path | None) -> Path | None:
    if folder is None:
        return None
    if not folder.is_absolute() and inp.workspace is not None:
        folder = inp.workspace.root / folder
    if not folder.is_dir():
        raise StageError(f"[stages.cost] rules: {folder} is not a folder")
    return folder


def _own(folder: Path | None, name: str) -> Path | None:
    return folder / name if folder is not None and (folder / name).is_file() else None


def build(inp: StageInput) -> StageOutput:
    options = inp.config.stages.cost
    t = inp.tables
    folder = _folder(inp, options.rules)
    con = inp.workspace.con if inp.workspace is not None else t["encounter"]._find_backend()
    scratch: list[str] = []

    def keep(name: str, table: ir.Table) -> ir.Table:
        physical = f"_cost_{name}_{uuid.uuid4().hex[:8]}"
        scratch.append(physical)
        return engine.scratch_table(con, physical, table)

    from openphm.cost.matching import MatchRulesError
    from openphm.cost.unit_costs import UnitCostsError

    try:
        out, counts, notes = _build(inp, folder, options, keep)
    except (CostError, rules.CostRuleError, MatchRulesError, UnitCostsError) as exc:
        for name in reversed(scratch):
            engine.drop_scratch(con, name)
        raise StageError(str(exc)) from None
    return StageOutput(
        tables=out,
        counts={"cost": counts},
        notes=notes,
        cleanup=[lambda: [engine.drop_scratch(con, n) for n in reversed(scratch)]],
    )


def _build(inp: StageInput, folder: Path | None, options, keep) -> tuple[dict, dict, list]:
    from openphm.cost import matching, unit_costs  # helper B's modules

    t = inp.tables
    ledger = t.get("ledger", _empty("ledger"))
    activity = t.get("activity", _empty("activity"))
    basis = t.get("overhead_basis", _empty("overhead_basis"))
    encounter = t["encounter"]
    cost_rules = rules.load(folder)
    match_rules = matching.load_rules(_own(folder, "matching.toml"))
    prices = unit_costs.load_unit_costs(_own(folder, "unit_costs.csv"))

    capacity = None
    if options.capacity is not None:
        path = options.capacity
        if not path.is_absolute() and inp.workspace is not None:
            path = inp.workspace.root / path
        capacity = ibis.memtable(tdabc.read_capacity(path))
    matched = matching.match_feeds(activity, encounter, match_rules, episode=t.get("episode"))
    matched = keep("matched", matched)
    c = cost_ledgers(
        ledger, basis, matched, cost_rules, keep, capacity, options.pool_without_volume
    )
    mapped, flows = c["mapped"], c["flows"]
    units, allocated, summary = c["units"], c["allocated"], c["summary"]
    statement = c["statement"]

    # Encounters with no ledger for their provider and year: priced from unit costs, in
    # every year the care or the ledgers cover (ingest writes a ledger table even when
    # no ledger was given, so its years alone would price nothing).
    with_ledger = ledger.select("provider_code", "financial_year").distinct()
    priced = encounter
    if "gp_event" in t:  # GP care arrives as coded events: a contact per person and day
        priced = unit_costs.with_gp_contacts(encounter, t["gp_event"])
    # The years the care records cover: not GP history (coded events go back decades),
    # nor a social care package's start (one started in 2013 still runs); those are
    # costed for their contacts and days inside the years the rest of the care covers.
    contacts = encounter.filter(encounter.setting != "social_care")
    years = (
        costing_years(contacts, with_ledger)
        or costing_years(encounter, with_ledger)
        or costing_years(priced, with_ledger)
    )
    unit_costed = unit_costs.cost_by_unit(priced, prices, with_ledger, years=years)
    cost_encounter = keep("encounter", rollup.encounter_costs(allocated, encounter, unit_costed))
    person_year = keep("person_year", rollup.person_year(cost_encounter))
    check_allocated(statement, cost_encounter)
    no_pool = units.filter(units.driver.isnull())
    outside = periods.outside_years(matched, units)
    attrs = rollup.person_year_attributes(
        person_year,
        t["person"],
        t.get("lsoa"),
        t.get("registration"),
        t.get("organisation"),
        t.get("segment"),
    )
    care = rollup.encounter_attributes(cost_encounter, encounter)

    rates = matching.match_rates(matched)
    rates = rates.mutate(
        feed_rows=rates.rows.sum().over(group_by=[rates.provider_code, rates.source]).cast("int64"),
        rows=rates.rows.cast("int64"),
    )
    tables = {
        "cost_encounter": cost_encounter,
        "cost_person_year": person_year,
        "cost_unmatched": rollup.unmatched(allocated, no_pool, outside),
        "cost_reconciliation": statement,
        "cost_pool": summary,
        "cost_ledger_map": mapped,
        "cost_overhead_flow": flows,
        "cost_activity": units.filter(units.driver.notnull()),
        "cost_match_rates": rates,
        **{name: rollup.rollup(care, key) for name, key in rollup.BY_CARE.items()},
        **{name: rollup.rollup(attrs, key) for name, key in rollup.BY_PERSON.items()},
        rollup.BY_BASIS: rollup.by_basis(cost_encounter),
    }
    covered = coverage.measure(cost_encounter, encounter, ledger)
    counts = {
        "rules": cost_rules.provenance,
        "matching": {"file": match_rules.file, "fingerprint": match_rules.fingerprint},
        "unit_costs": {"file": prices.file, "fingerprint": prices.fingerprint},
        "capacity": str(options.capacity) if options.capacity else None,
        "pool_without_volume": options.pool_without_volume,
        "pools_without_volume": int(
            summary.filter(summary.unallocated_pence != 0).count().execute()
        ),
        "coverage": covered.as_counts(),
    }
    return tables, counts, coverage.notes(covered, prices.file)


def costing_years(encounter: ir.Table, ledger_years: ir.Table) -> list[str]:
    """The financial years from the first an encounter starts in or a ledger covers to
    the last, every one between included (a service can run through a year in which no
    record starts), oldest first."""
    fy = periods.financial_year(encounter.start_date)
    care = encounter.select(fy=fy.cast("string")).filter(ibis._.fy.notnull())
    covered = ledger_years.select(fy=ledger_years.financial_year.cast("string"))
    both = care.union(covered).distinct().execute().fy.dropna()
    if both.empty:
        return []
    first, last = int(both.min()[:4]), int(both.max()[:4])
    return [f"{y}/{(y + 1) % 100:02d}" for y in range(first, last + 1)]


def cost_ledgers(
    ledger: ir.Table,
    basis: ir.Table,
    matched: ir.Table,
    cost_rules: rules.CostRules,
    keep,
    capacity: ir.Table | None = None,
    pool_without_volume: str = "error",
) -> dict[str, ir.Table]:
    """Ledgers to pence per pool, feed and encounter, with every step's table.

    ``matched`` is the activity table with ``encounter_id`` and ``match_rule`` filled by
    feed matching; ``keep(name, table)`` materialises a table the later steps read more
    than once. Raises CostError naming the provider, year and pool it cannot cost.
    """
    mapped = keep("ledger_map", mapping.map_ledger(ledger, cost_rules))
    mapping.check_mapping(mapped)
    flows = keep("flows", overheads.step_down(mapped, basis, cost_rules.steps, keep))
    pools = allocate.pools(mapped, overheads.receipts(flows, mapped), cost_rules)
    if capacity is not None:
        pools = tdabc.with_capacity(pools, capacity)
    pools = keep("pools", pools)
    needed = matched.select(*PART_COLUMNS)
    parts = periods.year_parts(needed, periods.ledger_years(ledger))
    units = keep("units", allocate.driver_units(parts, pools))
    totals = keep("totals", allocate.driver_totals(units))
    allocate.check_pools(pools, totals, without_volume=pool_without_volume)
    # One row per record part and pool: never stored (pools x records is the largest
    # table there is); each aggregate below reads it in one streaming pass.
    allocated = allocate.allocate(units, pools, totals)
    summary = keep("summary", allocate.pool_summary(pools, totals, allocated))
    statement = keep("statement", quantum.reconciliation(mapped, summary, cost_rules))
    quantum.check(statement)
    return {
        "mapped": mapped,
        "flows": flows,
        "pools": pools,
        "parts": parts,
        "units": units,
        "totals": totals,
        "allocated": allocated,
        "by_encounter": rollup.by_pool_encounter(allocated),
        "summary": summary,
        "statement": statement,
    }


def check_allocated(statement: ir.Table, cost_encounter: ir.Table) -> None:
    """Stop unless each provider-year's allocated pence are on its encounters, exactly."""
    e = cost_encounter.filter(cost_encounter.basis == rollup.LEDGER)
    on = e.group_by("provider_code", "financial_year").aggregate(_on=e.cost_pence.sum())
    s = statement.filter(statement.line == "allocated_to_patients")
    t = s.left_join(on, ["provider_code", "financial_year"])
    gaps = t.filter(t.pence != t._on.fill_null(0)).limit(5).execute()
    if not gaps.empty:
        raise CostError(
            "cost: allocated pence differ from the encounters' for "
            + ", ".join(f"{r.provider_code} {r.financial_year}" for r in gaps.itertuples())
            + "; this is a bug in openphm, please report it"
        )


STAGE = Stage(
    name="cost",
    description=(
        "patient-level costing: ledger to costed quantum, overheads stepped down, pools "
        "allocated to matched feed records by driver, unit costs where there is no ledger"
    ),
    inputs=("encounter", "person"),
    outputs=OUTPUTS,
    build=build,
    optional=(
        "ledger",
        "overhead_basis",
        "activity",
        "episode",
        "lsoa",
        "gp_event",
        "registration",
        "organisation",
        "segment",
    ),
)
