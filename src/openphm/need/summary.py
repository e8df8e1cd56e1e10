"""Need by place and segment: the aggregate the publish stage puts through the disclosure gate.

Place is where a person lives: their LSOA's place (sub-ICB location), ``Unknown``
without one. Counts only; the gate rounds, suppresses and recomputes the percentages.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm.disclosure import Rate
from openphm.need.core20plus5 import CORE20
from openphm.need.scores import PERSON
from openphm.need.segments import SEGMENT

__all__ = [
    "COUNTS",
    "GATE",
    "KEYS",
    "MULTIMORBID",
    "PLACE",
    "TABLE",
    "UNKNOWN",
    "by_place_and_segment",
]

TABLE = "need_summary"
PLACE = "place_code"
UNKNOWN = "Unknown"
#: People with this many long-term conditions or more are counted as multimorbid.
MULTIMORBIDITY = 2
MULTIMORBID = f"ltc_{MULTIMORBIDITY}_or_more"
KEYS = (PLACE, SEGMENT)
COUNTS = ("people", CORE20, MULTIMORBID)
#: How the publish stage gates it: totals over places and segments, percentages of people.
GATE = {
    "keys": list(KEYS),
    "counts": list(COUNTS),
    "margins": list(KEYS),
    "rates": {f"{c}_percent": Rate(c, "people") for c in COUNTS[1:]},
}


def by_place_and_segment(
    person_need: ir.Table, person: ir.Table, lsoa: ir.Table | None
) -> ir.Table:
    """place_code, segment, people, core20, ltc_2_or_more."""
    homes = person.select(_p=person.person_id, _lsoa=person.lsoa_code)
    t = person_need.left_join(homes, person_need[PERSON] == homes._p)
    if lsoa is not None:
        places = lsoa.select(_l=lsoa.lsoa_code, _place=lsoa.place_code)
        t = t.left_join(places, t._lsoa == places._l)
        place = t._place.fill_null(UNKNOWN)
    else:
        place = ibis.literal(UNKNOWN)
    t = t.mutate(**{PLACE: place})
    return t.group_by(*KEYS).aggregate(
        people=t.count(),
        **{CORE20: t[CORE20].fill_null(False).cast("int64").sum()},
        **{MULTIMORBID: (t.ltc_count >= MULTIMORBIDITY).cast("int64").sum()},
    )
