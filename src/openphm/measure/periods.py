"""The periods indicators are reported for: NHS financial years and calendar months.

A financial year runs 1 April to 31 March and is labelled "2024/25"; a month is
labelled "2024-04". The measure covers the ``years`` financial years up to the last
one ending on or before the index date, and every month inside them, so every period
reported is complete.

Each period has a census day for its denominator: the registered population on
1 October, the middle of the financial year, the usual stand-in for the mid-year
population when rates are computed from list sizes. A month takes its financial year's
census, so monthly rates of a year share one denominator (as monthly NHS indicators
per head of population do) and a month-on-month change is a change in events.

The index date, unless configured, comes from the data (``index_date_from_data``): the
end of the last financial year the data cover completely, or, when they cover none,
the end of the last complete month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

YEAR = "year"
MONTH = "month"
FINANCIAL_YEAR_START_MONTH = 4
YEAR_CENSUS = (10, 1)  # 1 October: the middle of a financial year


@dataclass(frozen=True)
class Period:
    kind: str  # YEAR or MONTH
    label: str
    start: date
    end: date  # inclusive
    census: date  # the day its registered population is counted on


def financial_year_of(day: date) -> int:
    """The calendar year a date's financial year starts in (2024 for 2024/25)."""
    return day.year if day.month >= FINANCIAL_YEAR_START_MONTH else day.year - 1


def financial_year(start_year: int) -> Period:
    return Period(
        YEAR,
        f"{start_year}/{(start_year + 1) % 100:02d}",
        date(start_year, FINANCIAL_YEAR_START_MONTH, 1),
        _day_before(date(start_year + 1, FINANCIAL_YEAR_START_MONTH, 1)),
        date(start_year, *YEAR_CENSUS),
    )


def month(year: int, number: int) -> Period:
    start = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return Period(
        MONTH,
        f"{year}-{number:02d}",
        start,
        _day_before(following),
        financial_year(financial_year_of(start)).census,
    )


def measurement_periods(index_date: date, years: int) -> tuple[Period, ...]:
    """The complete financial years up to the index date, then their months, in order."""
    if years < 1:
        raise ValueError(f"years must be 1 or more, not {years!r}")
    last = financial_year_of(index_date)
    if financial_year(last).end > index_date:
        last -= 1  # the index date's own year is not complete yet
    fys = [financial_year(y) for y in range(last - years + 1, last + 1)]
    months = [
        month(fy.start.year + (m - 1) // 12, (m - 1) % 12 + 1)
        for fy in fys
        for m in range(FINANCIAL_YEAR_START_MONTH, FINANCIAL_YEAR_START_MONTH + 12)
    ]
    return (*fys, *months)


def index_date_from_data(first: date, last: date) -> date:
    """The measure's index date when none is configured, from the days the data cover.

    - the last 31 March whose whole financial year (1 April to 31 March) lies within
      ``first`` .. ``last``: data from 2001-04-01 to 2003-09-15 give 2003-03-31, and
      data ending on 2003-03-31 give that day;
    - data ending within ``MONTH_END_GRACE_DAYS`` of a month's last day reach it: an
      extract cut on the last working day of March (31 March a Sunday, or Easter) still
      holds that financial year, at the cost of a day or so of its events;
    - else (less than a whole financial year) the last day of the last month the data
      cover completely: data from 2002-06-01 to 2003-01-20 give 2002-12-31 (and data
      of less than a month, their last day).

    Every reported period then ends on or before the last day of the data (or within
    the grace before it), so no indicator is counted over months the extract never held.
    """
    if last < first:
        raise ValueError(f"the data end ({last}) is before they start ({first})")
    last = _reached_month_end(last)
    end_year = financial_year_of(last + _ONE_DAY) - 1  # the last year ending by ``last``
    if financial_year(end_year).start >= first:
        return financial_year(end_year).end
    month_end = _day_before(date(last.year, last.month, 1))
    if (last + _ONE_DAY).month != last.month:  # ``last`` is itself a month's last day
        month_end = last
    return month_end if month_end >= first else last  # under a month: the last day


_ONE_DAY = timedelta(days=1)
# The days between the last working day and the end of a month at most: a Friday
# Good Friday before an Easter Monday on the 31st leaves four.
MONTH_END_GRACE_DAYS = 4


def _reached_month_end(last: date) -> date:
    """``last``, or its month's last day when the data stop within the grace before it."""
    month_end = _day_before(date(last.year + last.month // 12, last.month % 12 + 1, 1))
    return month_end if (month_end - last).days <= MONTH_END_GRACE_DAYS else last


def _day_before(day: date) -> date:
    return date.fromordinal(day.toordinal() - 1)


def window(periods: tuple[Period, ...]) -> tuple[date, date]:
    """The first and last day the periods cover."""
    return min(p.start for p in periods), max(p.end for p in periods)


def calendar(periods: tuple[Period, ...]) -> ir.Table:
    """One row per month: its first day, its label and its financial year's label.

    Events join it on the first day of their month, so a month and its year are found
    with one equality join on every engine.
    """
    years = {p.start.year: p.label for p in periods if p.kind == YEAR}
    rows = [
        {"month_start": p.start, "month": p.label, "year": years[financial_year_of(p.start)]}
        for p in periods
        if p.kind == MONTH
    ]
    schema = ibis.schema({"month_start": "date", "month": "string", "year": "string"})
    return ibis.memtable(rows, schema=schema)


def month_start(day: ir.DateValue) -> ir.DateValue:
    """The first day of a date's month."""
    return day.truncate("M")
