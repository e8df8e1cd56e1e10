"""Directly standardised rates with Dobson confidence limits.

A directly standardised rate (DSR) weights each age band's rate by a standard
population (the European Standard Population 2013 by default), so areas with
different age structures can be compared:

    DSR = sum(count_i * w_i / population_i) / sum(w_i) * multiplier

Its limits are Dobson's (Dobson et al. 1991): Byar's limits for the total count O,
scaled by the DSR's variance, var = sum(count_i * (w_i / population_i)^2) / sum(w_i)^2:

    limit = DSR + sqrt(var / O) * (byar_limit(O) - O) * multiplier

as PHEindicatormethods' ``calculate_dsr`` computes them. A DSR from fewer than
``DSR_MIN_EVENTS`` (10) events is unreliable and is not shown: its value and limits are
NaN and ``suppression_reason`` says why.

Non-independent events (people with repeat admissions) follow ``calculate_dsr`` with
``independent_events = FALSE``: the rows are then counts of *people* by the number of
events each had (``event_frequency``); the DSR is computed from the events
(frequency * people), and the variance sums the people's variance terms times the
frequency squared, which widens the limits when events cluster in the same people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from openphm.stats import _checks
from openphm.stats.intervals import byar_lower, byar_upper
from openphm.stats.levels import DEFAULT_CONFIDENCE, confidence_levels, limit_columns
from openphm.stats.standard_populations import ESP2013

DSR_MIN_EVENTS = 10  # fewer events than this and a DSR is not shown
PER_100000 = 100_000
SUPPRESSED = f"not shown: fewer than {DSR_MIN_EVENTS} events"
INDEPENDENT = "dobson"
NON_INDEPENDENT = "dobson, non-independent events"
_ALL = "__all__"  # the one group when no `by` is given


def directly_standardised_rate(
    data: pd.DataFrame,
    *,
    count: str,
    population: str,
    by: str | Sequence[str] | None = None,
    standard_population: Sequence[float] | str = ESP2013,
    multiplier: float = PER_100000,
    confidence: float | Iterable[float] = DEFAULT_CONFIDENCE,
    event_frequency: str | None = None,
    age_band: str | None = None,
) -> pd.DataFrame:
    """DSR and Dobson limits for each group of ``data``.

    ``data`` has one row per age band per group (``by`` names the group columns; omit it
    for a single group), rows in the order of ``standard_population``, which is either
    the weights (default ``ESP2013``: 19 bands) or the name of a column of weights. A
    missing count counts as zero; populations must be present and above zero.

    For non-independent events, pass ``event_frequency`` (the column holding how many
    events each person had) and ``age_band``: each row is then one age band and one
    frequency, ``count`` is the number of people in that band with that many events,
    and the standard weights are matched to the age bands in the order they first
    appear in each group.

    Columns: the ``by`` columns, ``total_count`` (events), ``total_pop``, ``value``, a
    ``lower..cl``/``upper..cl`` pair per confidence level, ``method`` and
    ``suppression_reason`` (None when the DSR is shown).
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    _checks.columns_present(data, count=count, population=population)
    _checks.columns_present(data, event_frequency=event_frequency, age_band=age_band)
    for key in keys:
        _checks.columns_present(data, by=key)
    levels = confidence_levels(confidence)
    multiplier = _checks.positive_number("multiplier", multiplier)
    independent = event_frequency is None
    if not independent and age_band is None:
        raise ValueError("event_frequency needs age_band as well, to gather each band's people")

    _checks.no_missing_keys(data, [*keys, *([age_band] if age_band else [])])
    group = keys or [_ALL]
    rows = _rows(data, group, count, population, event_frequency, age_band)
    bands = rows if independent else _bands(rows, group)
    bands["weight"] = _weights(data, bands, group, standard_population, independent)
    if independent:
        terms = bands.assign(variance=bands.events * (bands.weight / bands.population) ** 2)
    else:
        rows = rows.merge(bands[[*group, "band", "weight"]], on=[*group, "band"], how="left")
        squared = (rows.weight / rows.population) ** 2
        terms = rows.assign(variance=rows.frequency**2 * rows.people * squared)
    summary = _summarise(bands, terms, group)
    table = _limits(summary, group, levels, multiplier, independent)
    return table.drop(columns=_ALL) if not keys else table


def _rows(data, group, count, population, event_frequency, age_band) -> pd.DataFrame:
    counts = _checks.as_floats(count, data[count])
    _checks.not_negative(count, counts)
    populations = _checks.as_floats(population, data[population])
    _checks.no_missing(population, populations)
    _checks.positive(
        population,
        populations,
        what="an age band's population",
        fix="merge the band with a neighbour, or leave the group out",
    )
    rows = pd.DataFrame(
        {key: data[key].to_numpy() if key != _ALL else 0 for key in group},
        index=pd.RangeIndex(len(data)),
    )
    rows["population"] = populations
    if event_frequency is None:
        rows["events"] = np.nan_to_num(counts)  # a missing count is zero, as in PHE
        return rows
    frequency = _checks.as_floats(event_frequency, data[event_frequency])
    _checks.no_missing(event_frequency, frequency)
    _checks.positive(
        event_frequency, frequency, what="an event frequency", fix="people with no events add none"
    )
    rows["people"] = np.nan_to_num(counts)
    rows["frequency"] = frequency
    rows["band"] = data[age_band].to_numpy()
    return rows


def _bands(rows: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """One row per group and age band: its population and events (frequency * people)."""
    rows = rows.assign(events=rows.frequency * rows.people)
    bands = (
        rows.groupby([*group, "band"], sort=False)
        .agg(
            population=("population", "first"),
            distinct=("population", "nunique"),
            events=("events", "sum"),
        )
        .reset_index()
    )
    varying = bands[bands.distinct > 1]
    if len(varying):
        raise ValueError(
            f"population must be the same on every row of an age band, but age band "
            f"{varying.band.iloc[0]!r} has {int(varying.distinct.iloc[0])} different values"
        )
    return bands.drop(columns="distinct")


def _weights(data, bands, group, standard_population, independent) -> np.ndarray:
    """Each band's standard weight: a column of data, or matched by position in its group."""
    if isinstance(standard_population, str):
        if not independent:
            raise ValueError(
                "standard_population must be a sequence of weights for non-independent "
                "events, one per age band in the order the bands first appear"
            )
        _checks.columns_present(data, standard_population=standard_population)
        weights = _checks.as_floats(standard_population, data[standard_population])
        _checks.no_missing(standard_population, weights)
        _checks.not_negative(standard_population, weights, what="a standard population")
        return weights
    standard = _checks.as_floats("standard_population", standard_population)
    _checks.no_missing("standard_population", standard)
    _checks.not_negative("standard_population", standard, what="a standard population")
    sizes = bands.groupby(group, sort=False).size()
    wrong = sizes[sizes != len(standard)]
    if len(wrong):
        where = "" if group == [_ALL] else f" (group {wrong.index[0]!r})"
        raise ValueError(
            f"each group needs one row per age band of standard_population "
            f"({len(standard)} bands), but a group has {int(wrong.iloc[0])}{where}: add "
            "the missing bands with a zero count, or pass a standard population that "
            "matches the bands"
        )
    return standard[bands.groupby(group, sort=False).cumcount().to_numpy()]


def _summarise(bands: pd.DataFrame, terms: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    bands = bands.assign(weighted=bands.events * bands.weight / bands.population)
    summary = bands.groupby(group, sort=False).agg(
        total_count=("events", "sum"),
        total_pop=("population", "sum"),
        weighted=("weighted", "sum"),
        standard_total=("weight", "sum"),
    )
    variance = terms.groupby(group, sort=False)["variance"].sum()
    return summary.join(variance).reset_index()


def _limits(summary, group, levels, multiplier, independent) -> pd.DataFrame:
    total = summary.total_count.to_numpy()
    standard_total = summary.standard_total.to_numpy()
    value = summary.weighted.to_numpy() / standard_total
    shown = total >= DSR_MIN_EVENTS
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.sqrt(summary.variance.to_numpy() / standard_total**2 / total)
    table = summary[[*group, "total_count", "total_pop"]].copy()
    table["value"] = np.where(shown, value * multiplier, np.nan)
    for level in levels:
        lower_name, upper_name = limit_columns(level)
        lower = value + scale * (byar_lower(total, level) - total)
        upper = value + scale * (byar_upper(total, level) - total)
        table[lower_name] = np.where(shown, lower * multiplier, np.nan)
        table[upper_name] = np.where(shown, upper * multiplier, np.nan)
    table["method"] = INDEPENDENT if independent else NON_INDEPENDENT
    table["suppression_reason"] = pd.Series(
        [None if ok else SUPPRESSED for ok in shown], index=table.index, dtype=object
    )
    return table
