"""Ages and dates, computed once, here, so every stage agrees.

The canonical person holds year and month of birth only (day of birth is more
identifying than analysis needs), so age on a date counts the birthday as the
first of the birth month.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm.model import AGE_BANDS_ESP2013

_BAND_WIDTH = 5
_TOP_BAND_START = 90


def age_on(
    year_of_birth: ir.IntegerValue, month_of_birth: ir.IntegerValue, on: ir.DateValue
) -> ir.IntegerValue:
    """Completed years of age on a date."""
    before_birthday = (on.month() < month_of_birth).cast("int64")
    return (on.year() - year_of_birth - before_birthday).cast("int64")


def esp2013_band(age: ir.IntegerValue) -> ir.StringValue:
    """Five-year age band of the European Standard Population 2013 ('0-4' ... '90+')."""
    index = (ibis.least(age, _TOP_BAND_START) // _BAND_WIDTH).cast("int64")
    cases = [(index == i, band) for i, band in enumerate(AGE_BANDS_ESP2013)]
    return ibis.cases(*cases, else_=ibis.null("string"))


def covers(start: ir.DateValue, end: ir.DateValue, on: ir.DateValue) -> ir.BooleanValue:
    """Whether a period (end NULL = ongoing) includes a date, both ends inclusive."""
    return (start <= on) & (end.isnull() | (end >= on))
