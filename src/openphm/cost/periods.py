"""Financial years: each activity record costed against the ledger of the year it fell in.

A ledger covers one provider's financial year (1 April to 31 March, labelled
``2023/24``). A record with a start and end time (a ward stay, theatre or critical
care, an A&E attendance) that straddles 1 April is cut at the boundary: each part is
costed in its own year for the share of its minutes inside it (``fraction``); a part
in a year with no ledger is left out. Any other record falls in the year of its
start time, or of its activity date. Records with no part in any ledger year are
returned by ``outside_years``, never dropped silently.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["financial_year", "ledger_years", "outside_years", "year_parts"]

FIRST_MONTH = 4  # April


def financial_year(when: ir.DateValue | ir.TimestampValue) -> ir.StringValue:
    """'2023/24' for any day from 1 April 2023 to 31 March 2024."""
    first = when.year() - (when.month() < FIRST_MONTH).cast("int64")
    second = ((first + 1) % 100).cast("string").lpad(2, "0")
    return first.cast("string").concat("/", second)


def _first_year(when: ir.DateValue) -> ir.IntegerValue:
    """2023 for any day from 1 April 2023 to 31 March 2024."""
    return (when.year() - (when.month() < FIRST_MONTH).cast("int64")).cast("int64")


def ledger_years(ledger: ir.Table) -> ir.Table:
    """provider_code, financial_year, its first calendar year, and its first and last
    instants (epoch seconds)."""
    years = ledger.select("provider_code", "financial_year").distinct()
    first = years.financial_year.substr(0, 4).cast("int64")
    start = ibis.date(first, FIRST_MONTH, 1)
    end = ibis.date(first + 1, FIRST_MONTH, 1)
    return years.mutate(
        _fy1=first,
        _ys=start.cast("timestamp").epoch_seconds(),
        _ye=end.cast("timestamp").epoch_seconds(),
    )


def _spans(activity: ir.Table) -> ir.Table:
    s, e = activity.start_time, activity.end_time
    timed = s.notnull() & e.notnull() & (e > s)
    anchor = ibis.coalesce(s.date(), activity.activity_date)
    return activity.mutate(
        _timed=timed.fill_null(False),
        _y=_first_year(anchor),
        _s=s.epoch_seconds(),
        _e=e.epoch_seconds(),
        # The year of the last instant of the stay (the end itself belongs to no minute).
        _y_end=_first_year((e - ibis.interval(seconds=1)).date()),
    )


def year_parts(activity: ir.Table, years: ir.Table) -> ir.Table:
    """The records' parts in ledger years: every column, plus financial_year and fraction."""
    columns = activity.columns
    t = _spans(activity)
    straddles = t._timed & (t._y_end != t._y)
    whole = t.filter(~straddles)
    whole = whole.join(
        years,
        [whole.provider_code == years.provider_code, whole._y == years._fy1],
    ).select(
        *[whole[c] for c in columns],
        financial_year=years.financial_year,
        fraction=ibis.literal(1.0, "float64"),
    )
    cut = t.filter(straddles)
    cut = cut.join(
        years,
        [cut.provider_code == years.provider_code, cut._s < years._ye, cut._e > years._ys],
    )
    overlap = ibis.least(cut._e, cut._ye) - ibis.greatest(cut._s, cut._ys)
    cut = cut.select(
        *[cut[c] for c in columns],
        financial_year=cut.financial_year,
        fraction=overlap.cast("float64") / (cut._e - cut._s).cast("float64"),
    )
    return whole.union(cut)


def outside_years(activity: ir.Table, parts: ir.Table) -> ir.Table:
    """Records with no part in any of their provider's ledger years (``parts``: the
    records' parts, or anything with their activity_id and source)."""
    inside = parts.select(_id=parts.activity_id, _src=parts.source).distinct()
    return activity.anti_join(
        inside, [activity.activity_id == inside._id, activity.source == inside._src]
    )
