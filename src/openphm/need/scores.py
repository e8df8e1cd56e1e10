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

``scores`` does steps 1 to 4 as one pass: each category is a bit (``WORD_BITS`` to an
int64 word); each distinct code gets the words of its categories; the rows take them by
one join on the code and one GROUP BY person ORs them (``engine.bit_or``), each word
only over the rows inside its definition's window; then the hierarchy clears outranked
bits and each weight set is a few table lookups per person, a byte of a word at a time.
No per-row-per-category table is ever made. ``conditions`` and ``first_recorded``
(which need each category's first date) keep one row per person and category.

5. **everyone**: each person in the population gets a row; no matching codes scores
   0, and a person younger than a definition's ``min_age`` gets NULL for its scores
   (an unknown age is scored).

A score of 0 does not say whether anything matched (Elixhauser's van Walraven weights
include 0 and negatives), so ``scores(matched=True)`` also says, per definition, whether
the person holds any of its categories: the stage counts them to say when a definition
matched no one.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR

import ibis
import ibis.expr.types as ir

from openphm import codelists, engine
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
    "matched_column",
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
    matched: bool = False,
) -> ir.Table:
    """One row per person: ``person_id`` and a column per score (and band) of each definition.

    The population, and each person's age (an optional ``age`` column), come from
    ``people`` if given, else from ``diagnoses``. Whole-number weight sets give int64
    scores; others float64. With ``matched``, also a boolean ``matched_column(name)`` per
    definition: the person holds one of its categories and is old enough to be scored.
    """
    chosen = resolve(definitions)
    if PERSON in {c for d in chosen for c in d.score_columns}:
        raise codelists.CodeListError(f"no weight set may be called {PERSON!r}")
    bits = _bits(chosen)
    return _weigh(_held(diagnoses, chosen, bits, index_date, people), chosen, bits, matched)


def matched_column(definition: str) -> str:
    """The column ``scores(matched=True)`` says whether a person matched ``definition`` in."""
    return f"_matched_{definition}"


def _weigh(
    held: ir.Table, chosen: Sequence[Definition], bits: Bits, matched: bool = False
) -> ir.Table:
    """The scores and bands from each person's words of held categories.

    In three selects, each naming what the next reads (the words that count, then each
    weight set's sum), so no expression is written out again where it is used again:
    a band reads its score's column.
    """
    kept = [PERSON, *([AGE] if AGE in held.columns else [])]
    counted = {
        _counted_word(d, w): word for d in chosen for w, word in _counted(held, d, bits).items()
    }
    t = held.select(*kept, **counted)
    units: dict[str, ir.IntegerValue] = {}
    for d in chosen:
        words = {w: t[_counted_word(d, w)] for w in {w for w, _ in _words_of(d, bits)}}
        for ws in d.weight_sets:
            total = _weights(words, d, ws, bits)
            if d.min_age is not None and AGE in t.columns:
                total = ibis.ifelse(t[AGE] < d.min_age, ibis.null("int64"), total)
            units[_units(ws)] = total
    found = {matched_column(d.name): _any(t, d, bits) for d in chosen} if matched else {}
    t = t.select(PERSON, **units, **found)
    columns: dict[str, ir.Value] = {PERSON: t[PERSON]}
    for d in chosen:
        for ws in d.weight_sets:
            total = t[_units(ws)]
            columns[ws.name] = total if ws.scale == 1 else total.cast("float64") / ws.scale
            if ws.bands:
                columns[ws.band_column] = _band(total, ws)
    return t.select(**columns, **{name: t[name] for name in found})


def _any(t: ir.Table, d: Definition, bits: Bits) -> ir.BooleanValue:
    """Whether any of ``d``'s bits is set in the counted words (a word holds other
    definitions' bits too), false below its ``min_age`` as its scores are NULL there."""
    masks: dict[int, int] = {}
    for word, mask in _words_of(d, bits):
        masks[word] = masks.get(word, 0) | mask
    held = functools.reduce(
        operator.or_, [(t[_counted_word(d, w)] & m) != 0 for w, m in sorted(masks.items())]
    )
    if d.min_age is not None and AGE in t.columns:
        held = ibis.ifelse(t[AGE] < d.min_age, False, held)
    return held


def _counted_word(d: Definition, word: int) -> str:
    return f"_counted_{d.name}_{word}"


def _units(ws: WeightSet) -> str:
    return f"_units_{ws.name}"


def _words_of(d: Definition, bits: Bits) -> list[tuple[int, int]]:
    return [bits[(d.name, c)] for c in d.categories]


# --- the steps ------------------------------------------------------------------


def _found(
    diagnoses: ir.Table,
    chosen: Sequence[Definition],
    index_date: dt.date | None,
    dated: bool,
) -> ir.Table:
    """Every row's (definition, category) matches inside its window: person_id,
    definition, category (and the row's date when ``dated``)."""
    _check_input(diagnoses, index_date)
    keys = _keys(diagnoses)
    rows = diagnoses.select(PERSON, *keys, *([DATE] if dated else []))
    if index_date is not None:
        rows = _up_to(rows, chosen, index_date)
    found = rows.join(code_categories(rows, chosen), keys)
    if index_date is not None:
        found = _in_lookback(found, chosen, index_date)
    return found.select(PERSON, "definition", "category", *([DATE] if dated else []))


def _keys(diagnoses: ir.Table) -> list[str]:
    """The columns a recorded code is matched on: the code, and its system if given."""
    return [CODE, "code_system"] if "code_system" in diagnoses.columns else [CODE]


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


#: Bits per word of a person's category mask (int64 words, sign bit unused).
WORD_BITS = 63

Bits = dict[tuple[str, str], tuple[int, int]]


def _bits(chosen: Sequence[Definition]) -> Bits:
    """(definition, category) -> (word, mask): one bit per category, WORD_BITS a word."""
    pairs = [(d.name, c) for d in chosen for c in d.categories]
    return {pair: (i // WORD_BITS, 1 << (i % WORD_BITS)) for i, pair in enumerate(pairs)}


def _word(word: int) -> str:
    return f"_held_{word}"


def _windows(chosen: Sequence[Definition], index_date: dt.date | None) -> dict[str, int]:
    """Definition -> the number of its window: definitions sharing a window share a number."""
    if index_date is None:
        return {d.name: 0 for d in chosen}
    starts = {
        d.name: None if d.lookback_months is None else window_start(index_date, d.lookback_months)
        for d in chosen
    }
    numbers = {start: i for i, start in enumerate(dict.fromkeys(starts.values()))}
    return {name: numbers[start] for name, start in starts.items()}


def _held(
    diagnoses: ir.Table,
    chosen: Sequence[Definition],
    bits: Bits,
    index_date: dt.date | None,
    people: ir.Table | None,
) -> ir.Table:
    """One row per person: person_id, [age,] and each word of the categories they hold.

    The many rows meet the few codes once: each distinct code gets its words per window
    (``_code_words``), the rows take them by an equi-join on the code, and one GROUP BY
    person ORs each word over the rows inside its window. With no ``people``, the
    diagnoses are the population, so every row is kept (a row outside every window ORs
    in nothing) and the same aggregate takes the age.
    """
    _check_input(diagnoses, index_date)
    keys = _keys(diagnoses)
    windows = _windows(chosen, index_date)
    code_words = _code_words(diagnoses.select(*keys), chosen, bits, windows)
    own = people is None
    with_age = own and AGE in diagnoses.columns
    rows = diagnoses.select(
        PERSON, *keys, *([DATE] if index_date is not None else []), *([AGE] if with_age else [])
    )
    if not own and index_date is not None:
        rows = _up_to(rows, chosen, index_date)
    rows = rows.left_join(code_words, keys) if own else rows.join(code_words, keys)
    inside = _inside(rows, chosen, windows, index_date)
    words: dict[str, ir.Value] = {}
    for word in sorted({w for w, _ in bits.values()}):
        parts = [
            ibis.ifelse(inside[g], rows[_mask(word, g)], 0) if g in inside else rows[_mask(word, g)]
            for g in sorted(set(windows.values()))
            if _mask(word, g) in rows.columns
        ]
        words[_word(word)] = engine.bit_or(_balanced_sum(parts))
    if with_age:
        words[AGE] = rows[AGE].max()
    held = rows.group_by(PERSON).aggregate(**words)
    if not own:
        held = _population(people).left_join(held, PERSON)
    # No matching row leaves a word NULL: no bits.
    return held.select(
        PERSON,
        *([AGE] if AGE in held.columns else []),
        **{name: held[name].fill_null(0) for name in words if name != AGE},
    )


def _mask(word: int, window: int) -> str:
    return f"_mask_{word}_{window}"


def _code_words(
    codes: ir.Table, chosen: Sequence[Definition], bits: Bits, windows: dict[str, int]
) -> ir.Table:
    """Each distinct code that any list holds, with its categories' bits: one column per
    (word, window) that has any, ``_mask_<word>_<window>``."""
    keys = list(codes.columns)
    rows = [(d, c, word, mask, windows[d]) for (d, c), (word, mask) in bits.items()]
    tagged = code_categories(codes, chosen).join(
        lookup(rows, _BIT_TABLE), ["definition", "category"]
    )
    pairs = sorted({(word, windows[d]) for (d, _), (word, _) in bits.items()})
    return tagged.group_by(keys).aggregate(
        **{
            _mask(w, g): engine.bit_or(
                tagged.mask, where=(tagged.word == w) & (tagged.window == g)
            ).fill_null(0)
            for w, g in pairs
        }
    )


_BIT_TABLE = {
    "definition": "string",
    "category": "string",
    "word": "int64",
    "mask": "int64",
    "window": "int64",
}


def _inside(
    rows: ir.Table,
    chosen: Sequence[Definition],
    windows: dict[str, int],
    index_date: dt.date | None,
) -> dict[int, ir.BooleanValue]:
    """Window number -> whether a row's date falls in it (none without an index date)."""
    if index_date is None:
        return {}
    inside: dict[int, ir.BooleanValue] = {}
    for d in chosen:
        if windows[d.name] in inside:
            continue
        keep = rows[DATE] <= index_date
        if d.lookback_months is not None:
            keep &= rows[DATE] >= window_start(index_date, d.lookback_months)
        # An undated row is in no window.
        inside[windows[d.name]] = keep.fill_null(False)
    return inside


def _counted(held: ir.Table, d: Definition, bits: Bits) -> dict[int, ir.IntegerValue]:
    """Word -> its bits of ``d``'s categories that count: held, and no stronger category
    of their chain held. A weaker category's bit is cleared by subtracting it where set."""

    def has(category: str) -> ir.BooleanValue:
        word, mask = bits[(d.name, category)]
        return (held[_word(word)] & mask) != 0

    stronger: dict[str, list[str]] = {}
    for strong, weak in d.ranked_pairs():
        stronger.setdefault(weak, []).append(strong)
    words = {word: held[_word(word)] for word, _ in _words_of(d, bits)}
    cleared: dict[int, list[ir.IntegerValue]] = {}
    for weak, strong in stronger.items():
        word, mask = bits[(d.name, weak)]
        outranked = functools.reduce(operator.or_, [has(c) for c in strong])
        cleared.setdefault(word, []).append(ibis.ifelse(outranked & has(weak), mask, 0))
    return {w: words[w] - _balanced_sum(cleared[w]) if w in cleared else words[w] for w in words}


#: Bits looked up at a time: a category weight table per byte of a word has 256 entries.
BYTE_BITS = 8


def _weights(
    counted: dict[int, ir.IntegerValue], d: Definition, ws: WeightSet, bits: Bits
) -> ir.IntegerValue:
    """A weight set's sum, in whole units, over the categories that count.

    One lookup per byte of a word that holds a weighted category, not one term per
    category: entry ``v`` of a byte's table is the sum of the weights of the bits set in
    ``v``. A person's HFRS (109 categories) is 14 lookups.
    """
    by_byte: dict[tuple[int, int], dict[int, int]] = {}
    for category, weight in ws.weights.items():
        if units := ws.units(weight):
            word, mask = bits[(d.name, category)]
            bit = mask.bit_length() - 1
            by_byte.setdefault((word, bit // BYTE_BITS), {})[bit % BYTE_BITS] = units
    size = 1 << BYTE_BITS
    terms = []
    for (word, byte), weighed in sorted(by_byte.items()):
        table = [sum(u for b, u in weighed.items() if v >> b & 1) for v in range(size)]
        value = (counted[word] >> (byte * BYTE_BITS)) & (size - 1)
        terms.append(ibis.literal(table).cast("array<int64>")[value.cast("int32")])
    return _balanced_sum(terms)


def _balanced_sum(terms: list[ir.IntegerValue]) -> ir.IntegerValue:
    """A sum of many terms as a balanced tree, so the SQL nests shallowly."""
    if not terms:
        return ibis.literal(False).cast("int64")
    while len(terms) > 1:
        terms = [a + b for a, b in zip(terms[::2], terms[1::2], strict=False)] + (
            [terms[-1]] if len(terms) % 2 else []
        )
    return terms[0]


def _population(people: ir.Table) -> ir.Table:
    if PERSON not in people.columns:
        raise ValueError(
            f"the people table needs a {PERSON!r} column (it has {list(people.columns)})"
        )
    if AGE in people.columns:
        # One age per person: the age on the index date; if rows differ, the largest.
        return people.group_by(PERSON).aggregate(**{AGE: people[AGE].max()})
    return people.select(PERSON).distinct()


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
