"""The statistics on the aggregated indicator tables: intervals, DSRs, funnels, SPC.

The engine has already reduced the data to counts (``aggregate``), a few thousand rows
per indicator; these are pandas functions over those small tables, using
``openphm.stats`` for every published method:

- ``values``: each count's value with its 95% and 99.8% limits: Byar (exact below 10
  events) for rates, Wilson for proportions, and the normal approximation for means
  (from the sum and sum of squares of the unit values);
- ``standardised``: directly age-sex standardised rates on the European Standard
  Population 2013 with Dobson limits; each age band's ESP weight is split equally
  between the sexes, so a group of one sex is age standardised. Cells of unknown age or
  sex, or with no registered population, cannot be standardised: their events are
  counted in ``events_not_standardised``. Standardised proportions (readmissions) are
  indirectly standardised instead (method "indirect, byar"), as NHS Digital publishes them;
- ``funnels``: each year's practices, PCNs and places (and providers, for proportions)
  against the ICS. Standardised indicators use the indirectly standardised ratio
  (observed over the events expected at the ICS's own age-sex rates that year, and for
  readmissions its rates by admission method group too), as SHMI does, on the log
  scale; other proportions are compared with the pooled proportion. Over-dispersion
  is allowed for (additive random effects, 10% trimming) only when there are at least
  ``MIN_UNITS_FOR_OVERDISPERSION`` units: with a handful of places, tau squared cannot
  be estimated, and a real difference between them would be explained away;
- ``spc``: an XmR chart (Making Data Count rules) of each monthly series of the ICS, its
  places and its providers, on the current organisations so boundaries do not move.

Every output is sorted by its keys and rounded to ``DECIMALS`` places, so DuckDB and
Spark give the same files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm import stats
from openphm.measure import periods as P
from openphm.measure.aggregate import CELL_KEYS, KEYS
from openphm.measure.attribution import AGE_BAND, SEX, UNKNOWN
from openphm.measure.definitions import MEAN, PROPORTION, RATE, Definitions
from openphm.measure.organisations import CURRENT, ICS, PCN, PLACE, PRACTICE, PROVIDER
from openphm.measure.units import ALL_UNITS, STRATUM
from openphm.stats.levels import z_value

CONFIDENCE = (0.95, 0.998)
LIMITS = [c for level in CONFIDENCE for c in stats.limit_columns(level)]
DECIMALS = 6
STANDARD_SEXES = {"1": 0.5, "2": 0.5}  # each ESP 2013 band's weight, split between the sexes
FUNNEL_UNITS = (PRACTICE, PCN, PLACE)
FUNNEL_PROPORTION_UNITS = (*FUNNEL_UNITS, PROVIDER)
MIN_FUNNEL_UNITS = 3
MIN_UNITS_FOR_OVERDISPERSION = 20
SPC_BREAKDOWNS = (ICS, PLACE, PROVIDER)
MIN_SPC_POINTS = 12  # Making Data Count: fewer points give unreliable limits
NO_INTERVAL = "none"
INDIRECT = "indirect"  # the method of an indirectly standardised value: "indirect, byar"
NORMAL = "normal"
RATIO = "ratio"

VALUE_COLUMNS = (
    *KEYS,
    "numerator",
    "denominator",
    "numerator_squares",
    "value",
    *LIMITS,
    "method",
)
DSR_COLUMNS = (
    *KEYS,
    "total_count",
    "total_pop",
    "events_not_standardised",
    "value",
    *LIMITS,
    "method",
    "suppression_reason",
)
FUNNEL_LIMITS = [c for level in CONFIDENCE for c in stats.limit_columns(level, suffix="")]
FUNNEL_FLAGS = [
    f"flag{stats.limit_columns(level, suffix='')[0].removeprefix('lower')}" for level in CONFIDENCE
]
FUNNEL_COLUMNS = (
    *KEYS,
    "comparison",
    "observed",
    "expected",
    "value",
    "z",
    *FUNNEL_LIMITS,
    *FUNNEL_FLAGS,
    "target",
    "adjustment",
    "phi",
    "tau2",
)
SPC_COLUMNS = (
    *KEYS,
    "numerator",
    "denominator",
    "value",
    "mean",
    "lower_limit",
    "upper_limit",
    "rule",
    "point_type",
)


def values(counts: pd.DataFrame, definitions: Definitions) -> pd.DataFrame:
    """Each row of counts with its value, limits and method (``VALUE_COLUMNS``)."""
    out = _sorted(counts, KEYS)
    out["value"] = np.nan
    for column in LIMITS:
        out[column] = np.nan
    out["method"] = None
    for ind in definitions.indicators:
        rows = (out.indicator == ind.id) & (out.denominator > 0)
        if not rows.any():
            continue
        num = out.loc[rows, "numerator"].astype(float)
        den = out.loc[rows, "denominator"].astype(float)
        if ind.kind == RATE and ind.intervals:
            _put(out, rows, stats.crude_rate(num, den, multiplier=ind.per, confidence=CONFIDENCE))
        elif ind.kind == PROPORTION:
            within = rows & (out.numerator <= out.denominator)
            if within.any():
                table = stats.proportion(
                    out.loc[within, "numerator"].astype(float),
                    out.loc[within, "denominator"].astype(float),
                    multiplier=ind.per,
                    confidence=CONFIDENCE,
                )
                _put(out, within, table)
            beyond = rows & ~within  # a conversion rate above 100: a ratio, no interval
            out.loc[beyond, "value"] = num[beyond[rows]] / den[beyond[rows]] * ind.per
            out.loc[beyond, "method"] = RATIO
        elif ind.kind == MEAN:
            _put(out, rows, _mean(num, den, out.loc[rows, "numerator_squares"].astype(float)))
        else:
            out.loc[rows, "value"] = num / den * ind.per
            out.loc[rows, "method"] = NO_INTERVAL
    return _rounded(out[list(VALUE_COLUMNS)])


def _put(out: pd.DataFrame, rows: pd.Series, table: pd.DataFrame) -> None:
    for column in ("value", *LIMITS, "method"):
        out.loc[rows, column] = table[column].to_numpy()


def _mean(total: pd.Series, n: pd.Series, squares: pd.Series) -> pd.DataFrame:
    """Mean with normal-approximation limits from the sum and sum of squares."""
    mean = total / n
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = ((squares - total**2 / n) / (n - 1)).clip(lower=0)
        error = np.sqrt(variance / n)
    table = pd.DataFrame({"value": mean, "method": NORMAL}, index=total.index)
    for level in CONFIDENCE:
        lower, upper = stats.limit_columns(level)
        half = z_value(level) * error
        table[lower] = np.where(n > 1, mean - half, np.nan)
        table[upper] = np.where(n > 1, mean + half, np.nan)
    return table


def standardised(cells: pd.DataFrame, definitions: Definitions) -> pd.DataFrame:
    """Standardised rates per group, years (``DSR_COLUMNS``); ``method`` says which kind.

    Rates per registered population are directly age-sex standardised (ESP 2013, Dobson
    limits). Standardised proportions (readmissions) are indirectly standardised, as NHS
    Digital publishes its readmissions indicator: the ratio of the group's events to
    those expected at the rates of all the breakdown's groups together, by age band, sex
    and stratum (the admission method group), times that reference percentage, with
    Byar limits (exact below 10 events).
    """
    rates = [ind for ind in definitions.indicators if ind.standardise and ind.per_population]
    shares = [ind for ind in definitions.indicators if ind.standardise and ind.kind == PROPORTION]
    frames = [
        _direct(cells[cells.indicator.isin([ind.id for ind in rates])], rates),
        _indirect(cells[cells.indicator.isin([ind.id for ind in shares])], shares),
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(DSR_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    for column in ("total_count", "total_pop", "events_not_standardised"):
        out[column] = out[column].astype("int64")
    return _rounded(_sorted(out, KEYS)[list(DSR_COLUMNS)])


def _direct(cells: pd.DataFrame, indicators) -> pd.DataFrame:
    """Directly age-sex standardised rates (ESP 2013, Dobson limits)."""
    weights = {
        (band, sex): weight * share
        for band, weight in zip(stats.ESP2013_AGE_BANDS, stats.ESP2013, strict=True)
        for sex, share in STANDARD_SEXES.items()
    }
    keys = list(KEYS)
    # Rates per population have one stratum; summing over it keeps one row per band and sex.
    cells = cells.groupby([*keys, AGE_BAND, SEX], as_index=False, sort=False)[
        ["numerator", "population"]
    ].sum()
    cells["weight"] = [weights.get(k) for k in zip(cells[AGE_BAND], cells[SEX], strict=True)]
    usable = cells.weight.notna() & (cells.population > 0)
    dropped = (
        cells[~usable].groupby(keys, dropna=False).numerator.sum().rename("events_not_standardised")
    )
    frames = []
    for ind in indicators:
        rows = cells[usable & (cells.indicator == ind.id)]
        if rows.empty:
            continue
        rows = _sorted(rows, [*keys, AGE_BAND, SEX])
        table = stats.directly_standardised_rate(
            rows,
            count="numerator",
            population="population",
            by=keys,
            standard_population="weight",
            multiplier=ind.per,
            confidence=CONFIDENCE,
        )
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=list(DSR_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    out = out.merge(dropped.reset_index(), on=keys, how="left")
    out["events_not_standardised"] = out.events_not_standardised.fillna(0)
    return out


def _indirect(cells: pd.DataFrame, indicators) -> pd.DataFrame:
    """Indirectly standardised proportions: ratio times the breakdown's own proportion."""
    frames = []
    for ind in indicators:
        mine = cells[(cells.indicator == ind.id) & (cells.group_code != UNKNOWN)]
        units = _expected(mine)
        units = units[units.expected > 0].reset_index(drop=True)
        if units.empty:
            continue
        line = ["indicator", "period_type", "period", "org_basis", "breakdown"]
        sums = units.groupby(line)[["observed", "population"]].transform("sum")
        reference = sums.observed / sums.population * ind.per
        ratio = stats.standardised_ratio(units.observed, units.expected, confidence=CONFIDENCE)
        out = units[list(KEYS)].copy()
        out["total_count"] = units.observed
        out["total_pop"] = units.population
        out["events_not_standardised"] = units.not_standardised
        for column in ("value", *LIMITS):
            out[column] = ratio[column].to_numpy() * reference.to_numpy()
        out["method"] = [f"{INDIRECT}, {m}" for m in ratio.method]
        out["suppression_reason"] = None
        frames.append(out)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def funnels(counts: pd.DataFrame, cells: pd.DataFrame, definitions: Definitions) -> pd.DataFrame:
    """Each year's funnel plot of practices, PCNs, places (and providers) (``FUNNEL_COLUMNS``)."""
    frames = []
    # Rates per population have no provider cells; standardised proportions do.
    expected = _expected(cells[cells.breakdown.isin(FUNNEL_PROPORTION_UNITS)])
    for ind in definitions.indicators:
        if ind.standardise:  # a rate per population or a proportion: the ISR
            mine = expected[expected.indicator == ind.id]
            comparison = RATIO
        elif ind.kind == PROPORTION:
            mine = counts[
                (counts.indicator == ind.id)
                & (counts.period_type == P.YEAR)
                & counts.breakdown.isin(FUNNEL_PROPORTION_UNITS)
                & (counts.group_code != UNKNOWN)
                & (counts.denominator > 0)
                & (counts.numerator <= counts.denominator)
            ].rename(columns={"numerator": "observed", "denominator": "expected"})
            comparison = "proportion"
        else:
            continue
        for key, units in mine.groupby(["period", "org_basis", "breakdown"], sort=True):
            frames.append(_funnel(ind, key, units, comparison))
    frames = [f for f in frames if f is not None]
    if not frames:
        return pd.DataFrame(columns=list(FUNNEL_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    return _rounded(_sorted(out, KEYS)[list(FUNNEL_COLUMNS)])


def _expected(cells: pd.DataFrame) -> pd.DataFrame:
    """Observed and expected events per unit, expected at the year's own rates.

    The reference rates are those of all the units of the breakdown together (the ICS
    as registered), in each age band, sex and stratum, so observed and expected events
    add up to the same total. Also ``population`` (the units' people, or their
    discharges for a proportion) and ``not_standardised`` (events of unknown age or sex).
    """
    cells = cells[cells.group_code != UNKNOWN]
    if STRATUM not in cells:  # cells by age band and sex alone: one stratum
        cells = cells.assign(**{STRATUM: ALL_UNITS})
    # Expected counts are sums of floats: summed in one order, whatever order the engine
    # returned the cells in, so DuckDB and Spark round them alike.
    cells = _sorted(cells, [*KEYS, AGE_BAND, SEX, STRATUM])
    standard = cells[SEX].isin(list(STANDARD_SEXES)) & cells[AGE_BAND].isin(stats.ESP2013_AGE_BANDS)
    known = cells[standard]
    line = ["indicator", "period_type", "period", "org_basis", "breakdown", AGE_BAND, SEX]
    line.append(STRATUM)
    totals = known.groupby(line)[["numerator", "population"]].transform("sum")
    rate = (totals.numerator / totals.population.where(totals.population > 0)).fillna(0)
    known = known.assign(_expected=known.population * rate)
    units = known.groupby(list(KEYS), sort=True).agg(
        observed=("numerator", "sum"),
        expected=("_expected", "sum"),
        population=("population", "sum"),
    )
    unknown = cells[~standard].groupby(list(KEYS)).numerator.sum().rename("not_standardised")
    units = units.join(unknown, how="left")
    units["not_standardised"] = units.not_standardised.fillna(0)
    return units.reset_index()


def _funnel(ind, key, units: pd.DataFrame, comparison: str) -> pd.DataFrame | None:
    units = units[units.expected > 0].sort_values("group_code").reset_index(drop=True)
    if len(units) < MIN_FUNNEL_UNITS:
        return None
    if comparison == "proportion":
        pooled = units.observed.sum() / units.expected.sum()
        if not 0 < pooled < 1:
            return None
    adjustment = "additive" if len(units) >= MIN_UNITS_FOR_OVERDISPERSION else "none"
    fitted = stats.funnel(
        units.observed.astype(float),
        units.expected.astype(float),
        kind=RATIO if comparison == RATIO else "proportion",
        adjustment=adjustment,
        multiplier=1 if comparison == RATIO else ind.per,
        confidence=CONFIDENCE,
    )
    points = fitted.points
    prefix = "od_" if fitted.adjusted else ""
    # One frame from whole columns: adding them one by one costs pandas a copy each, and
    # there is a funnel per indicator, year, basis and breakdown.
    columns = {k: units[k].to_numpy() for k in KEYS}
    columns.update(
        comparison=comparison,
        observed=units.observed.to_numpy().astype("int64"),
        expected=units.expected.to_numpy().astype(float),
        value=points.value.to_numpy(),
        z=points.z_adjusted.to_numpy(),
        **{column: points[prefix + column].to_numpy() for column in FUNNEL_LIMITS},
        **{column: points[column].to_numpy().astype("int64") for column in FUNNEL_FLAGS},
        target=fitted.target * fitted.multiplier,
        adjustment=fitted.adjustment if fitted.adjusted else "none",
        phi=fitted.phi,
        tau2=fitted.tau2,
    )
    return pd.DataFrame(columns, columns=list(FUNNEL_COLUMNS))


def spc(value_table: pd.DataFrame, definitions: Definitions) -> pd.DataFrame:
    """XmR charts of each monthly series of the ICS, places and providers (``SPC_COLUMNS``)."""
    monthly = value_table[
        (value_table.period_type == P.MONTH)
        & (value_table.org_basis == CURRENT)
        & value_table.breakdown.isin(SPC_BREAKDOWNS)
        & (value_table.group_code != UNKNOWN)
        & value_table.value.notna()
    ]
    frames = []
    for ind in definitions.indicators:
        mine = monthly[monthly.indicator == ind.id]
        for _, series in mine.groupby(["breakdown", "group_code"], sort=True):
            series = series.sort_values("period").reset_index(drop=True)
            if len(series) < MIN_SPC_POINTS or series.value.nunique() < 2:
                continue  # too short for reliable limits, or flat: nothing to chart
            chart = stats.xmr(series.value.astype(float), improvement=ind.improvement)
            out = series[[*KEYS, "numerator", "denominator", "value"]].copy()
            for column in ("mean", "lower_limit", "upper_limit", "rule", "point_type"):
                out[column] = chart[column].to_numpy()
            frames.append(out)
    if not frames:
        return pd.DataFrame(columns=list(SPC_COLUMNS))
    return _rounded(_sorted(pd.concat(frames, ignore_index=True), KEYS)[list(SPC_COLUMNS)])


def _sorted(frame: pd.DataFrame, keys) -> pd.DataFrame:
    return frame.sort_values(list(keys), kind="stable").reset_index(drop=True)


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    frame = frame.copy()
    frame[floats] = frame[floats].round(DECIMALS)
    return frame


__all__ = ["CELL_KEYS", "funnels", "spc", "standardised", "values"]
