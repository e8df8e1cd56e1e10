"""The risk stage's index dates: when to train, test and score, from what the data cover.

- **test**: the latest 1 April (else month) whose 12 months of follow-up the data
  cover, or ``[stages.risk] test_index_date``;
- **training**: the latest ``training_index_dates`` months whose follow-up ends by the
  test date (temporal validation: never a random split of one window), each with
  ``min_history_months`` of data before it;
- **scoring**: the first of the month after the data, or ``[stages.risk] index_date``.

Where the data start is read from the encounters (``data_start``), not assumed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis.expr.types as ir
import pandas as pd

from openphm.config import RiskOptions
from openphm.measure.periods import financial_year_of
from openphm.risk import labels
from openphm.risk.features import add_months
from openphm.runner import StageError

__all__ = ["Dates", "NotEnoughData", "choose_dates", "data_start", "first_of_next_month"]


class NotEnoughData(StageError):
    """Valid data too thin to model (too short, too few outcomes): the stage is skipped,
    its tables written empty, and the message, a plain sentence, becomes its note."""


#: A month counts as covered by the data once it has this share of the busiest month's
#: encounters: the first weeks of an extract do not, nor years of a few long-running
#: social care services that started before it (which outnumber the covered months, so
#: a median month would be one of them).
COVERED_MONTH_SHARE = 0.25


@dataclass(frozen=True)
class Dates:
    training: tuple[dt.date, ...]
    test: dt.date
    scoring: dt.date


def first_of_next_month(day: dt.date) -> dt.date:
    return add_months(day.replace(day=1), 1)


def choose_dates(data_start: dt.date, data_end: dt.date, options: RiskOptions) -> Dates:
    """The index dates, from the first and last days the data cover."""
    scoring = options.index_date or first_of_next_month(data_end)
    covered = first_of_next_month(data_end)  # a follow-up ending here is complete
    if options.test_index_date is not None:
        test = options.test_index_date
        if add_months(test, labels.FOLLOW_UP_MONTHS) > covered:
            raise StageError(
                f"[stages.risk] test_index_date {test.isoformat()}: its 12-month follow-up "
                f"runs past the end of the data ({data_end.isoformat()})"
            )
    else:
        latest = add_months(covered, -labels.FOLLOW_UP_MONTHS)
        april = dt.date(financial_year_of(latest), 4, 1)
        test = april if april >= data_start else latest
    earliest = add_months(data_start.replace(day=1), options.min_history_months)
    if data_start.day != 1:
        earliest = add_months(earliest, 1)
    candidates = []
    d = add_months(test, -labels.FOLLOW_UP_MONTHS)
    while d >= earliest and len(candidates) < options.training_index_dates:
        candidates.append(d)
        d = add_months(d, -1)
    if not candidates:
        raise NotEnoughData(
            f"Risk was not modelled: the data ({data_start.isoformat()} to "
            f"{data_end.isoformat()}) are too short for a training index date "
            f"{options.min_history_months} months after their start whose 12-month follow-up "
            f"ends by the test index date ({test.isoformat()}). Load more years, or lower "
            "[stages.risk] min_history_months."
        )
    return Dates(tuple(sorted(candidates)), test, scoring)


def data_start(encounter: ir.Table) -> dt.date | None:
    """The first month with at least ``COVERED_MONTH_SHARE`` of the busiest month's encounters."""
    months = encounter.group_by(m=encounter.start_date.truncate("M")).aggregate(n=encounter.count())
    frame = months.filter(months.m.notnull()).execute().sort_values("m")
    if frame.empty:
        return None
    enough = frame[frame.n >= COVERED_MONTH_SHARE * frame.n.max()]
    return pd.Timestamp(enough.m.iloc[0]).date()
