"""openphm.stats: the statistics public health teams publish, as small pure functions.

Use it on your own pandas tables, in a notebook, without a workspace. Every function
takes arrays, Series or a DataFrame and returns a DataFrame (or, for funnels, a
``Funnel`` holding one), and is checked against published worked examples
(PHEindicatormethods, FunnelPlotR, NHSRplotthedots) in ``tests/reference``.

Intervals and standardisation (PHEindicatormethods' methods, Fingertips' conventions):

    crude_rate(numerator, denominator, multiplier=100_000)     Byar; exact below 10 events
    proportion(numerator, denominator, multiplier=1)            Wilson score
    directly_standardised_rate(data, count=, population=, by=)  ESP 2013, Dobson limits;
        not shown below 10 events; event_frequency=/age_band= for repeat events
    standardised_ratio(observed, expected)                      O/E with Byar or exact limits
    indirectly_standardised_ratio(data, count=, population=, reference_count=,
        reference_population=, by=, reference_value=1)
    indirectly_standardised_rate(..., multiplier=100_000)

Columns: ``value``, and per confidence level a ``lower95_0cl``/``upper95_0cl`` pair
(``lower99_8cl``/``upper99_8cl`` for 99.8%); ``confidence`` takes one level or several,
as fractions from 0.9 up to 1, default (0.95, 0.998). Bad input (negative counts, a
numerator above its denominator, a level of 95 instead of 0.95, mismatched lengths, the
wrong number of age bands) raises ValueError naming the argument and the value.

Funnel plots (Spiegelhalter 2005; FunnelPlotR's formulas):

    funnel(numerator, denominator, kind="ratio"|"rate"|"proportion", method="shmi"|"cqc",
           adjustment="additive"|"multiplicative"|"none", trim=0.1) -> Funnel
    funnel_limits(denominator, kind=, target=, tau2=, ...)      lines for drawing

Statistical process control (NHS England's Making Data Count; NHSRplotthedots):

    xmr(values, improvement="increase"|"decrease"|"neutral", rebase=[...],
        screen_outliers=True, trend_length=7, shift_length=7)

See each module's docstring for the formulas and the conventions followed.
"""

from openphm.stats.crude import crude_rate, proportion
from openphm.stats.dsr import DSR_MIN_EVENTS, directly_standardised_rate
from openphm.stats.funnels import Funnel, funnel, funnel_limits, outlier_flags
from openphm.stats.intervals import (
    BYAR_MIN_EVENTS,
    byar_lower,
    byar_upper,
    exact_poisson_lower,
    exact_poisson_upper,
    poisson_limits,
    wilson_lower,
    wilson_upper,
)
from openphm.stats.isr import (
    indirectly_standardised_rate,
    indirectly_standardised_ratio,
    standardised_ratio,
)
from openphm.stats.levels import DEFAULT_CONFIDENCE, limit_columns
from openphm.stats.spc import xmr
from openphm.stats.standard_populations import ESP2013, ESP2013_AGE_BANDS

__all__ = [
    "BYAR_MIN_EVENTS",
    "DEFAULT_CONFIDENCE",
    "DSR_MIN_EVENTS",
    "ESP2013",
    "ESP2013_AGE_BANDS",
    "Funnel",
    "byar_lower",
    "byar_upper",
    "crude_rate",
    "directly_standardised_rate",
    "exact_poisson_lower",
    "exact_poisson_upper",
    "funnel",
    "funnel_limits",
    "indirectly_standardised_rate",
    "indirectly_standardised_ratio",
    "limit_columns",
    "outlier_flags",
    "poisson_limits",
    "proportion",
    "standardised_ratio",
    "wilson_lower",
    "wilson_upper",
    "xmr",
]
