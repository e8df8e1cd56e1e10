"""Who and where each counted unit belongs to, on its own date: the breakdown columns.

Every unit (an admission, a discharge, an attendance) and every registered person in a
denominator is described on the day that places it in its period:

- the practice the person was registered with that day (the same rule as the
  registered population: most recent start, then the lower practice code), and from
  it the PCN, place and ICS, on both organisation bases (``organisations``);
- the provider, on both bases;
- age band (ESP 2013 five-year bands), sex, ethnic group (``definitions/ethnic_groups.csv``)
  and IMD quintile of the person's LSOA (1 = most deprived fifth);
- the person's segment, when a ``segment`` table is given (issue 5 will provide it: one
  row per person, ``person_id`` and ``segment``).

Anything that cannot be found (no registration that day, no LSOA) is ``UNKNOWN``, so
breakdowns always add up to the whole.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import ibis
import ibis.expr.types as ir

from openphm import dates, engine
from openphm.measure import organisations
from openphm.measure.definitions import CodeList
from openphm.measure.organisations import AT_TIME, BASES, CURRENT, HIERARCHY, PRACTICE, PROVIDER

UNKNOWN = "Unknown"
IMD_QUINTILE = "imd_quintile"
AGE_BAND = "age_band"
SEX = "sex"
ETHNIC_GROUP = "ethnic_group"
SEGMENT = "segment"
ORG_BREAKDOWNS = (*(name for name, _ in HIERARCHY), PROVIDER)
PERSON_BREAKDOWNS = (IMD_QUINTILE, AGE_BAND, SEX, ETHNIC_GROUP)


def org_column(breakdown: str, basis: str) -> str:
    """The column holding an organisation breakdown on one basis: ``place__current``."""
    return f"{breakdown}__{basis}"


def registered_practice(pairs: ir.Table, registration: ir.Table) -> ir.Table:
    """``pairs`` (person_id, on) plus the ``practice_code`` registered that day (or NULL)."""
    reg = registration.select(
        _person=registration.person_id,
        _practice=registration.practice_code,
        _start=registration.start_date,
        _end=registration.end_date,
    )
    # An equality join, then the date test: engines plan this as a hash join.
    candidates = pairs.select(_p=pairs.person_id, _on=pairs.on).distinct()
    candidates = candidates.join(reg, candidates._p == reg._person)
    candidates = candidates.filter(dates.covers(candidates._start, candidates._end, candidates._on))
    chosen = _latest(candidates, ["_p", "_on"])
    joined = pairs.left_join(chosen, (pairs.person_id == chosen._p) & (pairs.on == chosen._on))
    return joined.select(*pairs.columns, practice_code=joined._practice)


def registered_on_days(person: ir.Table, registration: ir.Table, days: ir.Table) -> ir.Table:
    """Everyone alive and registered on each day of ``days`` (``on`` plus labels).

    The registered population's rule (``population.registered_on``) for many days at
    once: a practice whose registration covers the day, the most recent start then the
    lower practice code winning; alive on the day (death after it) and already born.
    Columns: person_id, practice_code and the columns of ``days``.
    """
    reg = registration.select(
        _person=registration.person_id,
        _practice=registration.practice_code,
        _start=registration.start_date,
        _end=registration.end_date,
    )
    # Most people have one registration and need no ranking: only the others are ranked,
    # which keeps the work linear in people times days.
    counts = reg.group_by(_who=reg._person).aggregate(_registrations=reg._person.count())
    reg = reg.join(counts, reg._person == counts._who).drop("_who")
    candidates = reg.cross_join(days)
    candidates = candidates.filter(dates.covers(candidates._start, candidates._end, candidates.on))
    single = candidates.filter(candidates._registrations == 1)
    several = _latest(candidates.filter(candidates._registrations > 1), ["_person", "on"]).drop(
        "_rank"
    )
    chosen = ibis.union(single, several)
    people = person.select(
        _p=person.person_id,
        _yob=person.year_of_birth,
        _mob=person.month_of_birth,
        _death=person.date_of_death,
    )
    alive = chosen.join(people, chosen._person == people._p)
    alive = alive.filter(
        (alive._death.isnull() | (alive._death > alive.on))
        & (dates.age_on(alive._yob, alive._mob, alive.on) >= 0)
    )
    return alive.select(
        person_id=alive._person,
        practice_code=alive._practice,
        **{c: alive[c] for c in days.columns},
    )


def _latest(candidates: ir.Table, group: list[str]) -> ir.Table:
    """The registration that wins on a day: most recent start, then lower practice code."""
    ranked = candidates.mutate(
        _rank=engine.row_number(
            [candidates[g] for g in group],
            engine.sort_keys(candidates._start, descending=True),
            [candidates._practice],
        )
    )
    return ranked.filter(ranked._rank == 1)


def demographics(
    pairs: ir.Table, person: ir.Table, lsoa: ir.Table | None, ethnic_groups: CodeList
) -> ir.Table:
    """``pairs`` (person_id, on) plus age_band, sex, ethnic_group and imd_quintile."""
    people = person.select(
        _person=person.person_id,
        _yob=person.year_of_birth,
        _mob=person.month_of_birth,
        _sex=person.sex,
        _ethnic=person.ethnic_category,
        _lsoa=person.lsoa_code,
    )
    t = pairs.left_join(people, pairs.person_id == people._person)
    groups = ibis.memtable(
        {
            "_category": ethnic_groups.column("ethnic_category"),
            "_group": ethnic_groups.column("ethnic_group"),
        }
    )
    t = t.left_join(groups, t._ethnic == groups._category)
    if lsoa is not None:
        areas = lsoa.select(_area=lsoa.lsoa_code, _decile=lsoa.imd_decile)
        t = t.left_join(areas, t._lsoa == areas._area)
        quintile = ((t._decile.cast("int64") + 1) // 2).cast("string")
    else:
        quintile = ibis.null("string")
    age = dates.age_on(t._yob, t._mob, t.on)
    band = ibis.ifelse(age >= 0, dates.esp2013_band(age), ibis.null("string"))
    return t.select(
        *pairs.columns,
        **{
            AGE_BAND: band.fill_null(UNKNOWN),
            SEX: t._sex.fill_null(UNKNOWN),
            ETHNIC_GROUP: t._group.fill_null(UNKNOWN),
            IMD_QUINTILE: quintile.fill_null(UNKNOWN),
        },
    )


def organisation_lookups(
    organisation: ir.Table,
    first_day: date,
    last_day: date,
    index_date: date,
    keep: Callable[[ir.Table], ir.Table] | None = None,
) -> dict[str, ir.Table]:
    """Lineage tables to join events to, one per (level, basis), keyed by code and day.

    ``at_time`` tables hold every organisation on every day measured (``on``);
    ``current`` ones hold each organisation once, resolved on the index date. ``keep``
    materialises the successor chains and the two walks (practices, providers) the four
    tables are taken from.
    """
    # Both bases in one walk (the days measured and the index date, flagged): on Spark
    # the walk is dozens of stages whatever its rows, so it is planned once, not twice.
    count = last_day.toordinal() - first_day.toordinal() + 1
    every = [date.fromordinal(first_day.toordinal() + i) for i in range(count)]
    days = ibis.memtable(
        {
            "on": [*every, index_date],
            "_today": [False] * len(every) + [True],
        },
        schema=ibis.schema({"on": "date", "_today": "boolean"}),
    )
    names = [name for name, _ in HIERARCHY]
    walks = organisations.chains(organisation, keep) if keep is not None else None
    kept = keep or (lambda table: table)
    practices = organisations.codes_on(organisation, "practice", "practice_code", days)
    practices = kept(organisations.lineage(practices, organisation, walks))
    providers = organisations.codes_on(organisation, "provider", "provider_code", days)
    providers = kept(organisations.providers(providers, organisation, walks))
    lookups = {}
    for basis, today in ((AT_TIME, False), (CURRENT, True)):
        lines = practices.filter(practices._today == today).drop("_today")
        lookups[f"practice__{basis}"] = lines.rename(**{org_column(n, basis): n for n in names})
        lines = providers.filter(providers._today == today).drop("_today")
        lookups[f"provider__{basis}"] = lines.rename(**{org_column(PROVIDER, basis): PROVIDER})
    return lookups


def with_organisations(
    t: ir.Table, lookups: dict[str, ir.Table] | None, providers: bool = True
) -> ir.Table:
    """``t`` (practice_code, [provider_code,] on) plus every organisation breakdown column.

    ``at_time`` columns are the organisations on the row's own day, ``current`` ones on
    the index date. A code the organisation table does not know stands for itself at
    its own level and ``UNKNOWN`` above it.
    """
    names = [name for name, _ in HIERARCHY]
    levels = [(PRACTICE, "practice_code")] + ([(PROVIDER, "provider_code")] if providers else [])
    for level, code in levels:
        for basis in BASES:
            columns = [org_column(n, basis) for n in (names if level == PRACTICE else [level])]
            if lookups is None:
                t = t.mutate(**{c: ibis.null("string") for c in columns})
                continue
            table = lookups[f"{level}__{basis}"].rename(_code=code, _on="on")
            match = t[code] == table._code
            if basis == AT_TIME:
                match &= t.on == table._on
            else:
                table = table.drop("_on")
            t = t.left_join(table, match).drop(*[c for c in ("_code", "_on") if c in table.columns])
            t = t.mutate(**{columns[0]: t[columns[0]].fill_null(t[code])})
    return t.mutate(
        **{
            org_column(name, basis): t[org_column(name, basis)].fill_null(UNKNOWN)
            for name in ORG_BREAKDOWNS
            if providers or name != PROVIDER
            for basis in BASES
        }
    )


def with_segment(t: ir.Table, segment: ir.Table | None) -> ir.Table:
    """The segment hook: ``t`` plus ``segment`` from issue 5's table, when there is one."""
    if segment is None:
        return t
    missing = {"person_id", SEGMENT} - set(segment.columns)
    if missing:
        raise ValueError(
            f"the segment table needs columns person_id and segment (one row per person); "
            f"it lacks {sorted(missing)} and has {list(segment.columns)}"
        )
    # One segment per person, whatever the table holds: the lowest, the same on every engine.
    seg = segment.group_by(_person=segment.person_id).aggregate(
        _segment=segment[SEGMENT].cast("string").min()
    )
    joined = t.left_join(seg, t.person_id == seg._person)
    return joined.mutate(**{SEGMENT: joined._segment.fill_null(UNKNOWN)}).drop(
        "_person", "_segment"
    )
