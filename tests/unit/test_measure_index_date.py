"""The measure's index date when none is configured: from the days the data cover.

The rule (``measure.periods.index_date_from_data``): the end of the last financial year
(1 April to 31 March) the data cover completely; with none, the end of the last month
they cover completely. Data ending within four days of a month's end reach it (an
extract cut on the last working day).
"""

from __future__ import annotations

from datetime import date

import pytest

from openphm.measure.periods import index_date_from_data, measurement_periods


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # Ending mid-year: back to the last 31 March, never a year the data only start.
        (date(2001, 4, 1), date(2003, 9, 15), date(2003, 3, 31)),
        # Ending exactly on 31 March: that year is complete.
        (date(2001, 4, 1), date(2003, 3, 31), date(2003, 3, 31)),
        # Cut on the last working day before it (Good Friday 2002 fell on 29 March, and
        # Easter Monday on 1 April): that year still counts.
        (date(2000, 4, 1), date(2002, 3, 28), date(2002, 3, 31)),
        # Five days short of it: the year before.
        (date(2001, 4, 1), date(2003, 3, 26), date(2002, 3, 31)),
        # Exactly one financial year.
        (date(2002, 4, 1), date(2003, 3, 31), date(2003, 3, 31)),
        # Over a year, but starting after 1 April: no whole financial year, so the month.
        (date(2001, 6, 1), date(2002, 11, 20), date(2002, 10, 31)),
        # Less than a year: the last complete month...
        (date(2002, 6, 1), date(2003, 1, 20), date(2002, 12, 31)),
        (date(2002, 6, 1), date(2003, 1, 26), date(2002, 12, 31)),
        (date(2002, 6, 1), date(2003, 1, 27), date(2003, 1, 31)),  # four days short
        # ...which is the data's own last month when they end on its last day.
        (date(2002, 6, 1), date(2003, 1, 31), date(2003, 1, 31)),
        (date(2024, 1, 1), date(2024, 2, 29), date(2024, 2, 29)),  # leap year
        # Under a month of data: their last day.
        (date(2002, 6, 10), date(2002, 6, 20), date(2002, 6, 20)),
    ],
)
def test_index_date_from_the_data(first, last, expected):
    assert index_date_from_data(first, last) == expected


def test_every_reported_year_ends_within_the_data():
    first, last = date(2001, 4, 1), date(2004, 2, 10)
    index = index_date_from_data(first, last)
    years = [p for p in measurement_periods(index, 2) if p.kind == "year"]
    assert [p.label for p in years] == ["2001/02", "2002/03"]
    assert max(p.end for p in years) <= last


def test_data_that_end_before_they_start_are_refused():
    with pytest.raises(ValueError, match="before they start"):
        index_date_from_data(date(2003, 1, 1), date(2002, 1, 1))
