"""Comorbidity and frailty scores for a whole population, in one pass over its diagnoses.

One engine serves every definition in ``openphm/codelists``; adding a score means
adding data. The input is a long diagnosis table: ``person_id`` and ``code``, and
optionally ``code_system``, ``diagnosis_date`` and ``age`` (the person's age on the
index date). Each step is a pure Ibis transform:

1. **window**: with an index date, a row counts if it is dated on or before the index
   date and, for a definition with a lookback, on or after the day that many months
   before it (so HFRS's two years include the index admission). Undated rows then
   count for nothing. Without an index date every row counts: the caller chose them.
2. **match**: each distinct code is cleaned and matched once (``need.matching``).
3. **hierarchy**: where a person has several categories of one chain, only the
   strongest counts (metastatic cancer, not also any malignancy).
4. **weigh and sum**: per weight set, in whole units so sums are exact on every
   engine; a weight set with bands also gets a band column.

``scores`` does steps 3 and 4 after one per-person aggregate: each category is a bit
(``WORD_BITS`` to an int64 word), each person's distinct categories are summed into
their words, and the hierarchy and weights are arithmetic on those words, row by row.
5. **everyone**: each person in the population gets a row; no matching codes scores
   0, and a person younger than a definition's ``min_age`` gets NULL for its scores
   (an unknown age is scored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR

import ibis
import ibis.expr.types as ir

from openphm import codelists
from openphm.codelists import Definition, WeightSet
from openphm.codelists.loader import check_distinct_columns
from openphm.need.lookup import lookup
from openphm.need.matching import code_categories

__all__ = [
    "AGE",
    "CODE",
    "DATE",
    "DEFAULT_SCORES",
    "FIRST",
    "PERSON",
    "conditions",
    "first_recorded",
    "resolve",
    "scores",
    "window_start",
]

PERSON = "person_id"
CODE = "code"
DATE = "diagnosis_date"
AGE = "age"

FIRST = "first_date"
#: What ``scores`` computes unless told: the comorbidity and frailty scores. The other
#: shipped lists (long-term conditions, maternity) flag people (``first_recorded``).
DEFAULT_SCORES = ("charlson", "elixhauser", "hfrs")

DefinitionsArg = Sequence[Definition | str] | None


def resolve(definitions: DefinitionsArg = None) -> tuple[Definition, ...]:
    """Definitions from names or objects; None means ``DEFAULT_SCORES``."""
    if definitions is None:
        definitions = DEFAULT_SCORES
    if isinstance(definitions, (str, Definition)):
        definitions = [definitions]
    chosen = tuple(codelists.load(d) if isinstance(d, str) else d for d in definitions)
    if not chosen:
        raise codelists.CodeListError(
            f"no definitions to score; choose from {list(codelists.available())}"
        )
    if len({d.name for d in chosen}) != len(chosen):
        raise codelists.CodeListError(f"a definition is given twice: {[d.name for d in chosen]}")
    check_distinct_columns(chosen)
    return chosen


def window_start(index_date: dt.date, months: int) -> dt.date:
    """The first day of a lookback of ``months`` calendar months ending on ``index_date``.

    The same day of the month, ``months`` earlier; where that month is shorter, its
    last day (24 months before 2024-02-29 is 2022-02-28).
    """
    total = index_date.year * 12 + index_date.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(index_date.day, last_day))


def conditions(
    diagnoses: ir.Table,
    *,
    definitions: DefinitionsArg = None,
    index_date: dt.date | None = None,
) -> ir.Table:
    """Each category each person has: ``person_id, definition, category``.

    After the window and the hierarchy: what the scores weigh.
    """
    chosen = resolve(definitions)
    found = _found(diagnoses, chosen, index_date, dated=index_date is not None)
    present = found.select(PERSON, "definition", "category").distinct()
    return _keep_strongest(present, chosen)


def first_recorded(
    diagnoses: ir.Table,
    *,
    definitions: DefinitionsArg = None,
    index_date: dt.date | None = None,
) -> ir.Table:
    """Each category each person has, and the day it was first recorded in the window:
    ``person_id, definition, category, first_date``.

    As ``conditions``, for a dated diagnosis table: with an index date, the first record
    on or before it (and, for a definition with a lookback, within it).
    """
    chosen = resolve(definitions)
    if DATE not in diagnoses.columns:
        raise ValueError(
            f"first recorded dates need a {DATE!r} column; the diagnosis table has "
            f"{list(diagnoses.columns)}"
        )
    found = _found(diagnoses, chosen, index_date, dated=True)
    present = found.group_by(PERSON, "definition", "category").aggregate(
        **{FIRST: found[DATE].min()}
    )
    return _keep_strongest(present, chosen)


def scores(
    diagnoses: ir.Table,
    *,
    definitions: DefinitionsArg = None,
    index_date: dt.date | None = None,
    people: ir.Table | None = None,
) -> ir.Table:
    """One row per person: ``person_id`` and a column per score (and band) of each definition.

    The population, and each person's age (an optional ``age`` column), come from
    ``people`` if given, else from ``diagnoses``. Whole-number weight sets give int64
    scores; others float64.
    """
    chosen = resolve(definitions)
    if PERSON in {c for d in chosen for c in d.score_columns}:
        raise codelists.CodeListError(f"no weight set may be called {PERSON!r}")
    bits = _bits(chosen)
    found = _found(diagnoses, chosen, index_date, dated=index_date is not None, bits=bits)
    # Each category a person has, once: its bit summed per word is the bits or-ed.
    held = found.select(PERSON, "word", "mask").distinct()
    words = sorted({word for word, _ in bits.values()})
    masks = held.group_by(PERSON).aggregate(
        **{_word(w): _whole_sum(held.mask, held.word == w) for w in words}
    )
    population = _population(diagnoses, people)
    joined = population.left_join(masks, PERSON)
    age = joined[AGE] if AGE in population.columns else None
    columns: dict[str, ir.Value] = {PERSON: joined[PERSON]}
    for d in chosen:
        counted = _counted(joined, d, bits)
        for ws in d.weight_sets:
            # A flag cast to int64 times the units: an int64 sum on every engine (Ibis
            # writes bare literals, which DuckDB types INTEGER).
            terms = [(c, ws.units(w)) for c, w in ws.weights.items()]
            units = _balanced_sum([counted[c].cast("int64") * u for c, u in terms if u != 0])
            if d.min_age is not None and age is not None:
                units = ibis.ifelse(age < d.min_age, ibis.null("int64"), units)
            columns[ws.name] = units if ws.scale == 1 else units.cast("float64") / ws.scale
            if ws.bands:
                columns[ws.band_column] = _band(units, ws)
    return joined.select(**columns)


# --- the steps ------------------------------------------------------------------


def _found(
    diagnoses: ir.Table,
    chosen: Sequence[Definition],
    index_date: dt.date | None,
    dated: bool,
    bits: Bits | None = None,
) -> ir.Table:
    """Every row's (definition, category) matches inside its window: person_id,
    definition, category (and the row's date when ``dated``); with ``bits``, each
    category's word and mask in place of definition and category."""
    _check_input(diagnoses, index_date)
    keys = [CODE, "code_system"] if "code_system" in diagnoses.columns else [CODE]
    rows = diagnoses.select(PERSON, *keys, *([DATE] if dated else []))
    if index_date is not None:
        rows = _up_to(rows, chosen, index_date)
    categories = code_categories(rows, chosen)
    if bits is not None:  # tag the few distinct codes, not the many rows
        categories = categories.join(_bit_table(bits), ["definition", "category"])
    found = rows.join(categories, keys)
    if index_date is not None:
        found = _in_lookback(found, chosen, index_date)
    named = ["word", "mask"] if bits is not None else ["definition", "category"]
    return found.select(PERSON, *named, *([DATE] if dated else []))


def _check_input(diagnoses: ir.Table, index_date: dt.date | None) -> None:
    missing = [c for c in (PERSON, CODE) if c not in diagnoses.columns]
    if missing:
        raise ValueError(
            f"the diagnosis table needs columns {PERSON!r} and {CODE!r}; it lacks {missing} "
            f"(it has {list(diagnoses.columns)})"
        )
    if index_date is None:
        return
    if not isinstance(index_date, dt.date) or isinstance(index_date, dt.datetime):
        raise TypeError(f"index_date must be a datetime.date, got {type(index_date).__name__}")
    if DATE not in diagnoses.columns:
        raise ValueError(
            f"an index date was given but the diagnosis table has no {DATE!r} column to "
            f"place each row before or after it (it has {list(diagnoses.columns)})"
        )
    if not diagnoses[DATE].type().is_date():
        raise TypeError(f"{DATE} must be a date column, not {diagnoses[DATE].type()}")


def _up_to(rows: ir.Table, chosen: Sequence[Definition], index_date: dt.date) -> ir.Table:
    """Rows on or before the index date, and no earlier than the longest lookback needs."""
    keep = rows[DATE] <= index_date
    if all(d.lookback_months is not None for d in chosen):
        earliest = min(window_start(index_date, d.lookback_months) for d in chosen)
        keep &= rows[DATE] >= earliest
    return rows.filter(keep)


def _in_lookback(found: ir.Table, chosen: Sequence[Definition], index_date: dt.date) -> ir.Table:
    starts = [
        (found.definition == d.name, ibis.literal(window_start(index_date, d.lookback_months)))
        for d in chosen
        if d.lookback_months is not None
    ]
    if not starts:
        return found
    start = ibis.cases(*starts, else_=ibis.null("date"))
    return found.filter(start.isnull() | (found[DATE] >= start))


def _keep_strongest(present: ir.Table, chosen: Sequence[Definition]) -> ir.Table:
    """Drop each category a stronger category of its hierarchy chain outranks."""
    pairs = [(d.name, strong, weak) for d in chosen for strong, weak in d.ranked_pairs()]
    if not pairs:
        return present
    ranks = lookup(pairs, {"definition": "string", "category": "string", "weaker": "string"})
    outranked = present.join(ranks, ["definition", "category"]).select(
        PERSON, "definition", category="weaker"
    )
    return present.anti_join(outranked, [PERSON, "definition", "category"])


#: Bits per word of a person's category mask: summed as float64, exact below 2**53.
WORD_BITS = 52

Bits = dict[tuple[str, str], tuple[int, int]]


def _bits(chosen: Sequence[Definition]) -> Bits:
    """(definition, category) -> (word, mask): one bit per category, WORD_BITS a word."""
    pairs = [(d.name, c) for d in chosen for c in d.categories]
    return {pair: (i // WORD_BITS, 1 << (i % WORD_BITS)) for i, pair in enumerate(pairs)}


def _bit_table(bits: Bits) -> ir.Table:
    rows = [(d, c, word, mask) for (d, c), (word, mask) in bits.items()]
    schema = {"definition": "string", "category": "string", "word": "int64", "mask": "int64"}
    return lookup(rows, schema)


def _word(word: int) -> str:
    return f"_held_{word}"


def _counted(joined: ir.Table, d: Definition, bits: Bits) -> dict[str, ir.BooleanValue]:
    """Each category that counts: held, and no stronger category of its chain held."""

    def held(category: str) -> ir.BooleanValue:
        word, mask = bits[(d.name, category)]
        return (joined[_word(word)].fill_null(0) & mask) != 0

    counted = {c: held(c) for c in d.categories}
    for strong, weak in d.ranked_pairs():
        counted[weak] &= ~held(strong)
    return counted


def _balanced_sum(terms: list[ir.IntegerValue]) -> ir.IntegerValue:
    """A sum of many terms as a balanced tree, so the SQL nests shallowly."""
    if not terms:
        return ibis.literal(False).cast("int64")
    while len(terms) > 1:
        terms = [a + b for a, b in zip(terms[::2], terms[1::2], strict=False)] + (
            [terms[-1]] if len(terms) % 2 else []
        )
    return terms[0]


def _whole_sum(units: ir.IntegerColumn, where: ir.BooleanValue) -> ir.IntegerScalar:
    """An exact int64 sum of whole numbers on every engine.

    DuckDB sums BIGINT as HUGEINT, which its Parquet writer turns into DOUBLE, and Ibis
    drops a cast to the int64 it believes the sum already is. Summed as float64 (exact
    for whole numbers below 2**53) the cast back to int64 is kept.
    """
    return units.cast("float64").sum(where=where).cast("int64")


def _population(diagnoses: ir.Table, people: ir.Table | None) -> ir.Table:
    source = diagnoses if people is None else people
    if PERSON not in source.columns:
        raise ValueError(
            f"the people table needs a {PERSON!r} column (it has {list(source.columns)})"
        )
    if AGE in source.columns:
        # One age per person: the age on the index date; if rows differ, the largest.
        return source.group_by(PERSON).aggregate(**{AGE: source[AGE].max()})
    return source.select(PERSON).distinct()


def _band(units: ir.IntegerValue, ws: WeightSet) -> ir.StringValue:
    """The band of a score, compared in whole units so a score on a bound falls as written."""
    branches = []
    for band in ws.bands[:-1]:
        if band.below is not None:
            bound = (band.below * ws.scale).to_integral_value(rounding=ROUND_CEILING)
            branches.append((units < int(bound), band.label))
        else:
            bound = (band.at_most * ws.scale).to_integral_value(rounding=ROUND_FLOOR)
            branches.append((units <= int(bound), band.label))
    label = ibis.cases(*branches, else_=ibis.literal(ws.bands[-1].label))
    return ibis.ifelse(units.isnull(), ibis.null("string"), label)
