"""What the models learn to predict, for each person and index date.

- ``outcome``: SPARRA v4's (Liley et al., npj Digital Medicine 2024): an emergency
  admission or death in the ``FOLLOW_UP_MONTHS`` from the index date (the index date
  included, the same day a year on excluded). An emergency admission is a continuous
  inpatient spell admitted as an emergency and not a transfer in, as the indicators
  count it (``measure.admissions``).
- ``next_year_cost``: the person's cost in the financial year starting on the index
  date (a 1 April), from the cost stage's ``cost_person_year``; no row means no cost.

An index date whose follow-up runs past the end of the data has no label: the caller
only asks for windows the data cover (``windows.complete``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from openphm.measure import admissions
from openphm.measure.periods import financial_year
from openphm.risk.features import INDEX_DATE, add_months

__all__ = ["FOLLOW_UP_MONTHS", "OUTCOME", "next_year_cost", "outcome"]

FOLLOW_UP_MONTHS = 12
OUTCOME = "outcome"
COST = "next_year_cost_pounds"


def _windows(index_dates: Sequence[dt.date]) -> ir.Table:
    rows = {
        INDEX_DATE: list(index_dates),
        "_until": [add_months(d, FOLLOW_UP_MONTHS) for d in index_dates],
    }
    return ibis.memtable(rows, schema=ibis.schema({INDEX_DATE: "date", "_until": "date"}))


def outcome(
    encounter: ir.Table,
    person: ir.Table,
    index_dates: Sequence[dt.date],
    spells: ir.Table | None = None,
) -> ir.Table:
    """person_id, index_date for everyone with an emergency admission or death in follow-up.

    ``spells``: ``measure.admissions.cip_spells(encounter)`` when already built.
    """
    windows = _windows(index_dates)
    spells = admissions.cip_spells(encounter) if spells is None else spells
    spells = spells.filter(admissions.is_emergency_admission(spells))
    events = ibis.union(
        spells.select("person_id", day=spells.start_date),
        person.filter(person.date_of_death.notnull()).select("person_id", day=person.date_of_death),
    )
    hits = events.cross_join(windows)
    hits = hits.filter((hits.day >= hits[INDEX_DATE]) & (hits.day < hits._until))
    return hits.select("person_id", INDEX_DATE).distinct().mutate(**{OUTCOME: ibis.literal(True)})


def with_outcome(features: ir.Table, outcomes: ir.Table) -> ir.Table:
    """``features`` plus ``outcome`` (true or false) for each person and index date."""
    o = outcomes.rename(_p="person_id", _d=INDEX_DATE)
    joined = features.left_join(o, [features.person_id == o._p, features[INDEX_DATE] == o._d])
    return joined.mutate(**{OUTCOME: joined[OUTCOME].fill_null(False)}).drop("_p", "_d")


def next_year_cost(features: ir.Table, cost_person_year: ir.Table, index_date: dt.date) -> ir.Table:
    """``features`` at one index date (a 1 April) plus ``next_year_cost_pounds``."""
    if (index_date.month, index_date.day) != (4, 1):
        raise ValueError(
            f"a next-year cost label needs an index date on 1 April (a financial year's "
            f"start), not {index_date.isoformat()}"
        )
    year = financial_year(index_date.year).label
    costs = cost_person_year.filter(cost_person_year.financial_year == year)
    costs = costs.group_by(_p=costs.person_id).aggregate(_pence=costs.cost_pence.sum())
    rows = features.filter(features[INDEX_DATE] == index_date)
    joined = rows.left_join(costs, rows.person_id == costs._p)
    pounds = joined._pence.fill_null(0).cast("float64") / 100.0
    return joined.mutate(**{COST: pounds}).drop("_p", "_pence")
