"""Registered population: the denominator for every per-population indicator.

A person counts once on the index date: alive, and registered with a practice
whose registration covers the date. Overlapping registrations (a move recorded
before the old one closed) are settled by the most recent start, then the
practice code, the same way on every engine.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm import dates, engine


def registered_on(person: ir.Table, registration: ir.Table, index_date: ibis.Scalar) -> ir.Table:
    """One row per person registered and alive on the index date, with age band."""
    on = ibis.literal(index_date, type="date")
    reg = registration.filter(dates.covers(registration.start_date, registration.end_date, on))
    reg = reg.mutate(
        _rank=engine.row_number(
            [reg.person_id],
            engine.sort_keys(reg.start_date, descending=True),
            [reg.practice_code],
        )
    ).filter(ibis._._rank == 1)
    alive = person.filter(person.date_of_death.isnull() | (person.date_of_death > on))
    joined = reg.join(alive, "person_id")
    age = dates.age_on(joined.year_of_birth, joined.month_of_birth, on)
    return joined.select(
        "person_id",
        "practice_code",
        "sex",
        age=age,
        age_band=dates.esp2013_band(age),
    ).filter(ibis._.age >= 0)


def population_by_practice(registered: ir.Table) -> ir.Table:
    """Counts of registered people by practice, ESP 2013 age band and sex."""
    return registered.group_by(["practice_code", "age_band", "sex"]).aggregate(
        population=ibis._.count()
    )
