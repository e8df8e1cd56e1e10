"""Which pounds are reconciled to a ledger, which are estimates from unit costs, and which
encounters carry no cost at all, in figures and in the words of the stage's notes.

Most ICSs hold no patient-level costing ledgers: then every encounter is priced from the
national unit costs and nothing is reconciled. Where some providers send ledgers, their
encounters are costed from them (reconciled to the penny) and everyone else's are
estimates. The notes say which, with the counts, so nobody reads an estimate as a
reconciled figure; encounters that carry no cost are counted by reason, never dropped
silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from openphm.cost.periods import financial_year
from openphm.cost.rollup import LEDGER, UNIT_COST
from openphm.cost.unit_costs import GP_CONTACT_PREFIX

__all__ = ["Coverage", "measure", "notes", "uncosted"]

#: Why an encounter carries no cost (``uncosted``), in the order they are tested.
NO_START_DATE = "no start date"
NOT_ATTENDED = "not attended"
NO_FEED_RECORD = "no feed record matched it at a provider with a ledger for the year"
NO_UNIT_COST = "no row of the unit-cost table prices its setting"
REASONS = (NO_START_DATE, NOT_ATTENDED, NO_FEED_RECORD, NO_UNIT_COST)


@dataclasses.dataclass(frozen=True)
class Coverage:
    """The stage's costing in figures: what came from ledgers, unit costs, or nowhere."""

    ledger_providers: tuple[str, ...]  # providers with at least one ledger line
    ledger_years: tuple[str, ...]  # the financial years those ledgers cover
    ledger_encounters: int  # encounters with cost allocated from a ledger
    ledger_pence: int
    unit_cost_encounters: int  # encounters (and GP contacts) priced from unit costs
    unit_cost_pence: int
    gp_contacts: int  # of the unit-costed: GP contacts counted from coded GP events
    # reason -> setting -> encounters with no cost
    uncosted: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)

    def as_counts(self) -> dict:
        """The figures for the stage summary and the audit record."""
        return dataclasses.asdict(self) | {
            "ledger_providers": list(self.ledger_providers),
            "ledger_years": list(self.ledger_years),
            "uncosted": {r: dict(s) for r, s in self.uncosted.items()},
        }


def uncosted(encounter: ir.Table, cost_encounter: ir.Table, ledger: ir.Table) -> ir.Table:
    """reason, setting, encounters: the encounters with no row in ``cost_encounter``.

    A dated, attended encounter at a provider with no ledger for its year is priced from
    unit costs unless no row of the table fits it, so each has exactly one reason.
    """
    costed = cost_encounter.select(_e=cost_encounter.encounter_id).distinct()
    e = encounter.anti_join(costed, encounter.encounter_id == costed._e)
    lp = ledger.select(_p=ledger.provider_code, _y=ledger.financial_year, _has=ibis.literal(True))
    lp = lp.distinct()
    e = e.mutate(_fy=financial_year(e.start_date))
    e = e.left_join(lp, [e.provider_code == lp._p, e._fy == lp._y])
    reason = ibis.cases(
        (e.start_date.isnull(), NO_START_DATE),
        (e.attended == False, NOT_ATTENDED),  # noqa: E712 (an Ibis expression)
        (e._has.fill_null(False), NO_FEED_RECORD),
        else_=NO_UNIT_COST,
    )
    e = e.mutate(reason=reason)
    return e.group_by("reason", "setting").aggregate(encounters=e.count().cast("int64"))


def measure(cost_encounter: ir.Table, encounter: ir.Table, ledger: ir.Table) -> Coverage:
    """The figures of ``Coverage``, in three small queries."""
    c = cost_encounter
    gp = c.encounter_id.startswith(GP_CONTACT_PREFIX)
    by = c.group_by("basis").aggregate(
        encounters=c.encounter_id.nunique(),
        pence=c.cost_pence.sum(),
        gp_contacts=c.encounter_id.nunique(where=gp),
    )
    by = by.execute().set_index("basis")

    def figure(basis: str, column: str) -> int:
        return int(by.at[basis, column]) if basis in by.index else 0

    years = ledger.select("provider_code", "financial_year").distinct().execute()
    missing = uncosted(encounter, cost_encounter, ledger).execute()
    reasons: dict[str, dict[str, int]] = {}
    for row in missing.sort_values(["reason", "setting"], na_position="last").itertuples():
        setting = row.setting if isinstance(row.setting, str) else "unknown"
        reasons.setdefault(row.reason, {})[setting] = int(row.encounters)
    return Coverage(
        ledger_providers=tuple(sorted(set(years.provider_code.dropna()))),
        ledger_years=tuple(sorted(set(years.financial_year.dropna()))),
        ledger_encounters=figure(LEDGER, "encounters"),
        ledger_pence=figure(LEDGER, "pence"),
        unit_cost_encounters=figure(UNIT_COST, "encounters"),
        unit_cost_pence=figure(UNIT_COST, "pence"),
        gp_contacts=figure(UNIT_COST, "gp_contacts"),
        uncosted={r: reasons[r] for r in REASONS if r in reasons},
    )


def _pounds(pence: int) -> str:
    return f"£{(pence + 50) // 100:,}"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def notes(c: Coverage, unit_costs_file: str = "unit_costs.csv") -> list[str]:
    """The stage's notes: what is reconciled, what is estimated, and what is not costed."""
    out = []
    gp = (
        f" (including {c.gp_contacts:,} GP contacts counted from coded GP events)"
        if c.gp_contacts
        else ""
    )
    if not c.ledger_providers:
        out.append(
            f"No costing ledgers were given: all {c.unit_cost_encounters:,} costed "
            f"encounters{gp} were priced from national unit costs ({unit_costs_file}): "
            f"{_pounds(c.unit_cost_pence)} of estimates, none of it reconciled to a ledger."
        )
    elif c.unit_cost_encounters:
        total = c.ledger_pence + c.unit_cost_pence
        share = c.unit_cost_pence / total if total else 0.0
        out.append(
            f"Costing ledgers were given for {len(c.ledger_providers):,} provider(s) "
            f"({', '.join(c.ledger_providers)}) in {_listed(list(c.ledger_years))}: "
            f"{c.ledger_encounters:,} encounters were costed from them, reconciled to the "
            f"ledgers ({_pounds(c.ledger_pence)}); {c.unit_cost_encounters:,} encounters at "
            f"providers or in years with no ledger{gp} were priced from national unit costs "
            f"({unit_costs_file}): {_pounds(c.unit_cost_pence)} of estimates, not "
            f"reconciled, {share:.0%} of the {_pounds(total)} costed."
        )
    for reason, settings in c.uncosted.items():
        n = sum(settings.values())
        by = _listed([f"{s} {k:,}" for s, k in settings.items()])
        if reason == NO_UNIT_COST:
            out.append(
                f"{n:,} encounters were not costed: they have no ledger and no row of "
                f"{unit_costs_file} prices their setting ({by}); add a row for the setting "
                "(with its source) to price them."
            )
        elif reason == NO_FEED_RECORD:
            out.append(
                f"{n:,} encounters at providers with a ledger for their year carry no cost: "
                f"no feed record was matched to them ({by}); cost_match_rates shows the "
                "matching by feed."
            )
        elif reason == NOT_ATTENDED:
            out.append(
                f"{n:,} encounters the patient did not attend were not costed ({by}): "
                "the unit costs are of care given."
            )
        else:
            out.append(
                f"{n:,} encounters with no start date were not costed ({by}): "
                "a cost needs a financial year."
            )
    return out
