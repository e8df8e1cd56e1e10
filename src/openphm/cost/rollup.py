"""The cost stage's outputs: cost per encounter, per person-year, the unmatched bucket and
the roll-ups the publish stage puts through the disclosure gate.

- ``cost_encounter``: one row per encounter x financial year x resource x activity type
  x basis (``ledger``: allocated from a provider's ledger; ``unit_cost``: priced from
  the unit-cost table where the workspace has no ledger), in integer pence.
- ``cost_person_year``: each person's cost in each financial year, and how much of it
  came from ledgers and from unit costs: the risk stage's cost label reads this.
- ``cost_unmatched``: cost of feed records matched to no encounter, by provider, year,
  pool and feed; and records in no pool at all (pence 0) with the reason.
- roll-ups: people, total pounds, the pounds of them estimated from unit costs (not
  reconciled to any ledger) and (in the gate) the mean per person and the share
  estimated; a person is counted once per year in each cell. By what the care was
  (setting, provider, treatment function, HRG: a person can fall in several cells, so
  these have no totals) and by who the person is (practice, PCN, place, IMD quintile,
  age band, segment: one cell a year each, with totals).
- ``cost_by_basis``: encounters, people and pounds each year by basis, so a reader sees
  at once how much was reconciled to a ledger and how much is an estimate.

Age is taken on the first day of the financial year (1 April), and the practice (with
its PCN, as the organisation table had it then) is the one registered that day; place
and deprivation come from the person's LSOA now, the segment from the need stage's
index date (``Unknown`` where there is none).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm import dates
from openphm.cost.allocate import POOL
from openphm.disclosure import Rate
from openphm.measure import attribution, organisations

__all__ = [
    "ENCOUNTER_COLUMNS",
    "GATES",
    "ROLLUPS",
    "UNKNOWN",
    "by_basis",
    "by_pool_encounter",
    "encounter_costs",
    "person_year",
    "person_year_attributes",
    "rollup",
    "unmatched",
]

LEDGER, UNIT_COST = "ledger", "unit_cost"
UNKNOWN = "Unknown"
ENCOUNTER_COLUMNS = (
    "encounter_id",
    "person_id",
    "provider_code",
    "setting",
    "financial_year",
    "resource",
    "activity_type",
    "cost_pence",
    "basis",
)
UNMATCHED_REASON = "no encounter matched the record (feed matching rules)"
NO_POOL_REASON = "no ledger pool for the record's cost centre in its financial year"
OUTSIDE_REASON = "outside every ledger financial year of its provider"


def by_pool_encounter(allocated: ir.Table) -> ir.Table:
    """Pence per pool, feed and encounter (encounter NULL: unmatched records)."""
    a = allocated
    return a.group_by(*POOL, "activity_type", "source", "encounter_id").aggregate(
        pence=a.pence.sum().cast("int64"), records=a.count()
    )


def encounter_costs(
    allocated: ir.Table, encounter: ir.Table, unit_costed: ir.Table | None
) -> ir.Table:
    """cost_encounter: ledger-allocated cost per encounter, and unit costs where no ledger.

    ``allocated``: pence per record part and pool (``allocate.allocate``).
    """
    t = allocated.filter(allocated.encounter_id.notnull())
    t = t.group_by(
        "encounter_id", "provider_code", "financial_year", "resource", "activity_type"
    ).aggregate(cost_pence=t.pence.sum().cast("int64"))
    enc = encounter.select(_e=encounter.encounter_id, _p=encounter.person_id, _s=encounter.setting)
    t = t.join(enc, t.encounter_id == enc._e).select(
        "encounter_id",
        person_id=enc._p,
        provider_code=t.provider_code,
        setting=enc._s,
        financial_year=t.financial_year,
        resource=t.resource,
        activity_type=t.activity_type,
        cost_pence=t.cost_pence,
        basis=ibis.literal(LEDGER),
    )
    if unit_costed is None:
        return t
    u = unit_costed.select(*[unit_costed[c].cast(t.schema()[c]).name(c) for c in ENCOUNTER_COLUMNS])
    return t.union(u)


def by_basis(cost_encounter: ir.Table) -> ir.Table:
    """cost_by_basis: financial_year, basis, encounters, people, cost_pounds."""
    c = cost_encounter
    return c.group_by("financial_year", "basis").aggregate(
        encounters=c.encounter_id.nunique().cast("int64"),
        people=c.person_id.nunique().cast("int64"),
        cost_pounds=_pounds(c.cost_pence.sum()),
    )


def _pounds(pence: ir.IntegerValue) -> ir.IntegerValue:
    """Whole pounds, half a pound up: integers, the same on every engine."""
    return ((pence + 50) // 100).cast("int64")


def person_year(cost_encounter: ir.Table) -> ir.Table:
    """person_id, financial_year, cost_pence, ledger_pence, unit_cost_pence."""
    c = cost_encounter
    return c.group_by("person_id", "financial_year").aggregate(
        cost_pence=c.cost_pence.sum().cast("int64"),
        ledger_pence=c.cost_pence.sum(where=c.basis == LEDGER).fill_null(0).cast("int64"),
        unit_cost_pence=c.cost_pence.sum(where=c.basis == UNIT_COST).fill_null(0).cast("int64"),
    )


def unmatched(allocated: ir.Table, no_pool: ir.Table, outside: ir.Table) -> ir.Table:
    """cost_unmatched: provider, year, pool, feed, reason, records, pence."""
    t = by_pool_encounter(allocated.filter(allocated.encounter_id.isnull()))
    costed = t.select(
        *POOL,
        "activity_type",
        feed=t.source,
        reason=ibis.literal(UNMATCHED_REASON),
        records=t.records.cast("int64"),
        pence=t.pence,
    )
    n = no_pool.group_by("provider_code", "financial_year", "cost_centre", feed=no_pool.source)
    n = n.aggregate(records=no_pool.count())
    n = n.select(
        "provider_code",
        "financial_year",
        "cost_centre",
        resource=ibis.null("string"),
        activity_type=ibis.null("string"),
        feed=n.feed,
        reason=ibis.literal(NO_POOL_REASON),
        records=n.records.cast("int64"),
        pence=ibis.literal(0, "int64"),
    )
    o = outside.group_by("provider_code", feed=outside.source).aggregate(records=outside.count())
    o = o.select(
        "provider_code",
        financial_year=ibis.null("string"),
        cost_centre=ibis.null("string"),
        resource=ibis.null("string"),
        activity_type=ibis.null("string"),
        feed=o.feed,
        reason=ibis.literal(OUTSIDE_REASON),
        records=o.records.cast("int64"),
        pence=ibis.literal(0, "int64"),
    )
    return costed.union(n).union(o)


def encounter_attributes(cost_encounter: ir.Table, encounter: ir.Table) -> ir.Table:
    """Each encounter's cost with its treatment function and HRG (``Unknown`` if none)."""
    e = encounter.select(
        _e=encounter.encounter_id, _tf=encounter.treatment_function, _hrg=encounter.hrg
    )
    t = cost_encounter.left_join(e, cost_encounter.encounter_id == e._e)
    return t.select(
        "person_id",
        "financial_year",
        "cost_pence",
        "setting",
        "provider_code",
        unit_cost_pence=ibis.ifelse(t.basis == UNIT_COST, t.cost_pence, 0).cast("int64"),
        treatment_function=t._tf.fill_null(UNKNOWN),
        hrg=t._hrg.fill_null(UNKNOWN),
    )


def person_year_attributes(
    cost_person_year: ir.Table,
    person: ir.Table,
    lsoa: ir.Table | None,
    registration: ir.Table | None = None,
    organisation: ir.Table | None = None,
    segment: ir.Table | None = None,
) -> ir.Table:
    """Each person-year's cost with practice, PCN, place, IMD quintile, age band, segment."""
    # The practice first, on the person-years alone: Ibis merges a self-join over a
    # select of a join chain into that chain, which multiplies the rows.
    c = cost_person_year
    first = c.financial_year.substr(0, 4).cast("int64")
    c = _practice_and_pcn(c.mutate(on=ibis.date(first, 4, 1)), registration, organisation)
    p = person.select(
        _p=person.person_id,
        _yob=person.year_of_birth,
        _mob=person.month_of_birth,
        _lsoa=person.lsoa_code,
    )
    t = c.left_join(p, c.person_id == p._p)
    if lsoa is not None:
        areas = lsoa.select(_l=lsoa.lsoa_code, _place=lsoa.place_code, _imd=lsoa.imd_decile)
        t = t.left_join(areas, t._lsoa == areas._l)
        place = t._place.fill_null(UNKNOWN)
        quintile = ((t._imd.cast("int64") + 1) // 2).cast("string").fill_null(UNKNOWN)
    else:
        place, quintile = ibis.literal(UNKNOWN), ibis.literal(UNKNOWN)
    age = dates.age_on(t._yob, t._mob.fill_null(1), t.on)
    band = ibis.ifelse(t._yob.isnull(), UNKNOWN, dates.esp2013_band(age).fill_null(UNKNOWN))
    t = t.select(
        "person_id",
        "financial_year",
        "cost_pence",
        "unit_cost_pence",
        "practice_code",
        "pcn_code",
        place_code=place,
        imd_quintile=quintile,
        age_band=band,
    )
    if segment is None:
        return t.mutate(segment=ibis.literal(UNKNOWN))
    return attribution.with_segment(t, segment)


def _practice_and_pcn(
    t: ir.Table, registration: ir.Table | None, organisation: ir.Table | None
) -> ir.Table:
    """The practice registered on 1 April of the year, and its PCN as recorded that day."""
    if registration is None:
        return t.mutate(practice_code=ibis.literal(UNKNOWN), pcn_code=ibis.literal(UNKNOWN))
    t = attribution.registered_practice(t, registration)
    if organisation is None:
        pcn = ibis.literal(UNKNOWN)
    else:
        # Every practice on every 1 April: small, and not built from ``t`` (a self-join
        # of a join chain that Ibis can resolve against the wrong side).
        practices = organisation.filter(organisation.kind == "practice")
        codes = (
            practices.select(code=practices.code)
            .distinct()
            .cross_join(t.select(on=t.on).distinct())
        )
        parents = organisations.parent(codes, organisation, "practice")
        parents = parents.select(_c=parents.code, _on=parents.on, _pcn=parents.parent)
        t = t.left_join(parents, [t.practice_code == parents._c, t.on == parents._on])
        pcn = t._pcn.fill_null(UNKNOWN)
    return t.mutate(practice_code=t.practice_code.fill_null(UNKNOWN), pcn_code=pcn).select(
        "person_id",
        "financial_year",
        "cost_pence",
        "unit_cost_pence",
        "on",
        "practice_code",
        "pcn_code",
    )


def rollup(t: ir.Table, key: str) -> ir.Table:
    """financial_year, key, people, cost_pounds and unit_cost_pounds (the part of it
    estimated from unit costs), in whole pounds for the gate."""
    return t.group_by("financial_year", key).aggregate(
        people=t.person_id.nunique().cast("int64"),
        cost_pounds=_pounds(t.cost_pence.sum()),
        unit_cost_pounds=_pounds(t.unit_cost_pence.sum()),
    )


#: Published roll-ups by what the care was: table -> the encounter attribute it is by.
BY_CARE = {
    "cost_by_setting": "setting",
    "cost_by_provider": "provider_code",
    "cost_by_treatment_function": "treatment_function",
    "cost_by_hrg": "hrg",
}
#: Published roll-ups by who the person is: table -> the person-year attribute.
BY_PERSON = {
    "cost_by_practice": "practice_code",
    "cost_by_pcn": "pcn_code",
    "cost_by_place": "place_code",
    "cost_by_imd_quintile": "imd_quintile",
    "cost_by_age_band": "age_band",
    "cost_by_segment": "segment",
}
ROLLUPS = {**BY_CARE, **BY_PERSON}
#: Pounds by basis: how much of each year's cost is reconciled to a ledger (``ledger``)
#: and how much is estimated from unit costs (``unit_cost``).
BY_BASIS = "cost_by_basis"
_MEAN = {
    "mean_cost_pounds": Rate("cost_pounds", "people", per=1),
    "unit_cost_percent": Rate("unit_cost_pounds", "cost_pounds"),  # the share estimated
}
#: How the publish stage gates each: people and pounds are both protected as counts
#: (rounded, small values suppressed), pounds also wherever their people are, and the
#: mean recomputed from the rounded figures.
#: A person falls in one practice, place, quintile, band and segment a year, so those
#: have totals; a person can use many settings, providers, specialties and HRGs, so
#: people by those do not add up and get none.
GATES = {
    name: {
        "keys": ["financial_year", key],
        "counts": ["people", "cost_pounds", "unit_cost_pounds"],
        "margins": [] if name in BY_CARE else [key],
        "rates": _MEAN,
        # No cost for one to seven people.
        "guarded_by": {"cost_pounds": "people", "unit_cost_pounds": "people"},
    }
    for name, key in ROLLUPS.items()
} | {
    # A person whose care was costed both ways is in both cells: no totals.
    BY_BASIS: {
        "keys": ["financial_year", "basis"],
        "counts": ["encounters", "people", "cost_pounds"],
        "rates": {"mean_cost_pounds": Rate("cost_pounds", "people", per=1)},
        "guarded_by": {"cost_pounds": "people"},
    }
}
#: The reconciliation statement: money lines of a provider, not counts of patients, but
#: the gate is the only way out; pence are rounded to 5 and small values suppressed.
RECONCILIATION_GATE = {
    "keys": ["provider_code", "financial_year", "step", "line"],
    "counts": ["pence"],
}
#: Match rates per feed: rows matched by each rule, and the share of the feed's rows.
MATCH_RATES_GATE = {
    "keys": ["provider_code", "source", "match_rule"],
    "counts": ["rows", "feed_rows"],
    "rates": {"percent": Rate("rows", "feed_rows")},
}
