"""Row-level validation as data: ``checks.csv``, compiled to one Ibis pass per file.

Each line of ``checks.csv`` names a layout, a column (``*`` matches HES's
numbered columns), a check, the reason code a failure is recorded with, and its
severity. A row is quarantined only when it fails a ``quarantine`` check (the
row cannot be used: no record key, no activity date...), with the first such
check it fails, in file order; exact duplicate rows and repeated record keys are
checked after every other check, so the first delivery of a record is the one
kept. A failed ``null`` check makes the value NULL (or the column's Data
Dictionary "not known" code) and the row is kept. Every failure of every row is
recorded (``issues``). Every date is also checked to lie in the plausible window
(``stages.ingest``). ``label`` computes every check once, in one pass; accepted
and quarantined rows, and the issues, are filters of its result, and between
them accepted and quarantined hold every staged row exactly once. Checks run
inside the engine; only the distinct values of looked-up columns (NHS numbers,
SNOMED CT codes, dates) come into Python.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir

from openphm import codes, engine, model
from openphm.ingest.layouts import Layout
from openphm.ingest.reader import LINE

#: Every reason a row can be quarantined for, reader and checks alike.
REASONS: Mapping[str, str] = {
    "wrong_field_count": "the line does not split into the header's columns",
    "invalid_encoding": "not valid text in the file's encoding",
    "field_too_long": "a field longer than any real value",
    "empty_row": "every field empty",
    "missing_value": "a required value is missing",
    "invalid_integer": "not a whole number",
    "invalid_decimal": "not a number",
    "invalid_date": "not a real date in YYYY-MM-DD form",
    "invalid_datetime": "not a real date and time in YYYY-MM-DDTHH:MM form",
    "invalid_time": "not a time in HH:MM or HH:MM:SS form",
    "date_out_of_range": "a date before the earliest plausible date or after the extract date",
    "invalid_value": "not one of the allowed values",
    "invalid_code": "not in the code's format",
    "value_out_of_range": "outside the plausible range",
    "invalid_nhs_number": "not 10 digits with a valid Modulus 11 check digit",
    "invalid_icd10": "not an ICD-10 code in the column's format",
    "invalid_opcs4": "not an OPCS-4 code",
    "invalid_snomed": "not a SNOMED CT concept id (format, partition or Verhoeff check digit)",
    "end_before_start": "an end before its start",
    "date_before_birth": "a date before the person's date of birth",
    "date_after_death": "a date after the person's date of death",
    "duplicate_row": "the same row delivered again",
    "duplicate_key": "a record key already used by an earlier row",
}

#: What a failed check does: quarantine the row, or null the value and keep the row.
SEVERITIES = ("quarantine", "null")
#: What was done, per failure, in the field issues and dq_validity.
ACTIONS = ("quarantined", "nulled")
#: The shape of the code each provider column holds (ODS organisation or site, GP practice,
#: local authority): a value of any other shape is never shown as a provider.
PROVIDER_SHAPES: Mapping[str, str] = {
    "PRACTICE_CODE": r"^[A-Z][0-9]{5}$",
    "LA_CODE": r"^E0[6-9][0-9]{6}$",
}
ODS_SHAPE = r"^[A-Z0-9]{3,5}$"
INVALID_PROVIDER = "invalid value"
UNKNOWN_PROVIDER = "unknown"

KINDS = (
    "required",
    "integer",
    "decimal",
    "date",
    "datetime",
    "time",
    "in",
    "pattern",
    "range",
    "nhs_number",
    "icd10_hes",
    "icd10",
    "opcs4",
    "snomed",
    "not_before",
    "after_birth",
    "before_death",
)

_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?$"
_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
_INTEGER = r"^-?[0-9]{1,18}(\.0+)?$"  # "123.0": a whole number as OMOP exports write ids
_DECIMAL = r"^-?[0-9]{1,15}(\.[0-9]{1,9})?$"
# ICD-10 as delivered: 'K40.9', 'K409', 3-character codes padded ('I10X', 'I10-', 'I10X-'),
# a 5th character ('M8405', the UK's chapter XIII sites) or a dagger / asterisk marker
# ('A170D', 'G01XA', 'A17.0+', 'G01*'). canonical.icd10 removes the dots and fillers.
_ICD10 = r"^[A-Z][0-9]{2}(\.?([0-9][0-9DAX]?|X[DA]?))?[-*+]?$"
_ICD10_HES = _ICD10
_OPCS4 = r"^[A-HJ-Z][0-9]{2}\.?[0-9]?$"
_NHS = r"^[0-9]{10}$"


class ChecksError(ValueError):
    """checks.csv names a layout, column or check that does not exist."""


@dataclass(frozen=True)
class Check:
    layout: str
    column: str
    check: str
    argument: str
    reason: str
    severity: str = "quarantine"
    not_known: str = ""  # written instead of an invalid value (severity null); "" is NULL

    @property
    def quarantines(self) -> bool:
        return self.severity == "quarantine"


@dataclass(frozen=True)
class Window:
    """The plausible dates, and the register that gives each NHS number's birth and death."""

    earliest: date
    latest: date
    register: ir.Table | None = None  # nhs_number, date_of_birth, date_of_death


@cache
def all_checks() -> tuple[Check, ...]:
    text = resources.files("openphm.ingest").joinpath("checks.csv").read_text("utf-8")
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    checks = tuple(Check(**row) for row in csv.DictReader(rows))
    for c in checks:
        if c.check not in KINDS or c.reason not in REASONS:
            raise ChecksError(f"checks.csv: {c} has an unknown check or reason")
        if c.severity not in SEVERITIES:
            raise ChecksError(f"checks.csv: {c} has a severity not in {SEVERITIES}")
        if c.not_known and c.quarantines:
            raise ChecksError(f"checks.csv: {c} quarantines, so it has no not_known code")
    return checks


def checks_for(layout: Layout, identifier: str = "nhs_number") -> list[tuple[str, Check]]:
    """(column, check) pairs for a layout, with column patterns expanded, in file order.

    With ``identifier="pseudonym"`` the layout's person column holds an upstream
    pseudonym, not an NHS number: its NHS-number check and the checks against the GP
    register (joined by NHS number) do not apply.
    """
    out = []
    for c in all_checks():
        if c.layout != layout.name:
            continue
        columns = [n for n in layout.all_columns if fnmatch.fnmatchcase(n, c.column)]
        if not columns:
            raise ChecksError(f"checks.csv: layout {layout.name!r} has no column {c.column!r}")
        out.extend((column, c) for column in columns)
    if identifier == "pseudonym":
        out = [(col, c) for col, c in out if not _keyed_by_nhs_number(layout, col, c)]
    return out


def _keyed_by_nhs_number(layout: Layout, column: str, c: Check) -> bool:
    return (c.check == "nhs_number" and column == layout.nhs_column) or c.argument == "register"


def normalised_nhs(value: ir.StringValue) -> ir.StringValue:
    """NHS numbers as 10 digits: the spaces and hyphens people type removed."""
    return value.re_replace(r"[ \-]", "")


def nhs_check_digit_ok(value: ir.StringValue) -> ir.BooleanValue:
    """Modulus 11: weights 10..2 on the first nine digits; 11 -> 0; 10 is never issued."""
    total = sum(value.substr(i, 1).cast("int64") * (10 - i) for i in range(9))
    check = 11 - total % 11
    expected = ibis.cases((check == 11, 0), else_=check)
    return value.re_search(_NHS) & (expected != 10) & (expected == value.substr(9, 1).cast("int64"))


def as_date(value: ir.StringValue) -> ir.DateValue:
    return ibis.cases((value.re_search(_DATE), value.try_cast("date")), else_=ibis.null("date"))


def _allowed(argument: str) -> list[str]:
    if argument.startswith("@"):
        return list(getattr(model, argument[1:]))
    return argument.split()


def _bad_snomed(values: list[str]) -> list[str]:
    return [v for v, ok in zip(values, codes.valid_sctid_mask(values), strict=True) if not ok]


def _bad_nhs(values: list[str]) -> list[str]:
    normal = [re.sub(r"[ \-]", "", v) for v in values]
    return [v for v, ok in zip(values, codes.valid_nhs_mask(normal), strict=True) if not ok]


def _parse_date(value: str) -> date | None:
    if not re.fullmatch(_DATE, value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _bad_dates(values: list[str], window: Window) -> tuple[list[str], list[str]]:
    """(not real dates, real dates outside the plausible window)."""
    invalid, outside = [], []
    for v in values:
        d = _parse_date(v)
        if d is None:
            invalid.append(v)
        elif not window.earliest <= d <= window.latest:
            outside.append(v)
    return invalid, outside


def _bad_datetimes(values: list[str]) -> list[str]:
    bad = []
    for v in values:
        try:
            ok = re.fullmatch(_DATETIME, v) and datetime.fromisoformat(v.replace(" ", "T"))
        except ValueError:
            ok = False
        if not ok:
            bad.append(v)
    return bad


@dataclass(frozen=True)
class _Lookups:
    """Values found bad in Python: the distinct values of a file are few, so this is cheap,
    and it keeps long expressions (Modulus 11, Verhoeff, calendars) out of every row."""

    bad: Mapping[tuple[str, str], list[str]]  # (column, check) -> bad values

    @classmethod
    def of(cls, table: ir.Table, pairs: list[tuple[str, Check]], window: Window) -> _Lookups:
        wanted = sorted({(column, c.check) for column, c in pairs if c.check in _LOOKED_UP})
        values = _distinct_by_kind(table, wanted)
        bad_dates, outside = _bad_dates(values.get("date", []), window)
        by_kind = {
            "nhs_number": _bad_nhs(values.get("nhs_number", [])),
            "snomed": _bad_snomed(values.get("snomed", [])),
            "datetime": _bad_datetimes(values.get("datetime", [])),
            "date": bad_dates,
            "date_window": outside,
        }
        bad: dict[tuple[str, str], list[str]] = {}
        for column, kind in wanted:
            kinds = ("date", "date_window") if kind == "date" else (kind,)
            bad.update({(column, k): by_kind[k] for k in kinds})
        return cls(bad)

    def never_fails(self, column: str, c: Check) -> bool:
        """A looked-up check none of the file's values fails: it needs no flag, no CASE and
        no ``_raw_`` column (the usual case: most files have no bad date or NHS number)."""
        return c.check in _LOOKED_UP + ("date_window",) and not self.bad[column, c.check]


_LOOKED_UP = ("nhs_number", "snomed", "date", "datetime")


def _distinct_by_kind(table: ir.Table, wanted: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The distinct values of the looked-up columns, pooled by check kind, in one query:
    a value is good or bad for a kind whichever column it is in."""
    if not wanted:
        return {}
    parts = [table.select(kind=ibis.literal(kind), v=table[column]) for column, kind in wanted]
    found = ibis.union(*parts, distinct=True).to_pyarrow().to_pydict()
    values: dict[str, list[str]] = {}
    for kind, v in zip(found["kind"], found["v"], strict=True):
        if v is not None:
            values.setdefault(kind, []).append(v)
    return {kind: sorted(vs) for kind, vs in values.items()}


def _in(value: ir.StringValue, values: list[str]) -> ir.BooleanValue:
    return value.isin(values) if values else ibis.literal(False)


def _fails(t: ir.Table, column: str, c: Check, lookups: _Lookups) -> ir.BooleanValue:
    v = t[column]
    present = v.notnull()
    kind = c.check
    if kind == "required":
        return v.isnull()
    if kind in ("integer", "decimal", "pattern", "time", "icd10_hes", "icd10", "opcs4"):
        regex = {
            "integer": _INTEGER,
            "decimal": _DECIMAL,
            "time": _TIME,
            "icd10_hes": _ICD10_HES,
            "icd10": _ICD10,
            "opcs4": _OPCS4,
        }.get(kind, c.argument)
        return present & ~v.re_search(regex)
    if kind in ("date", "date_window", "datetime", "nhs_number", "snomed"):
        return _in(v, lookups.bad[column, kind])
    if kind == "in":
        return present & ~v.isin(_allowed(c.argument))
    if kind == "range":
        low, high = (float(x) for x in c.argument.split())
        number = v.try_cast("float64")
        return present & number.notnull() & ((number < low) | (number > high))
    if kind == "not_before":
        return v.try_cast("date") < t[c.argument].try_cast("date")
    if kind == "after_birth":
        birth = t["_birth"] if c.argument == "register" else t[c.argument].try_cast("date")
        return v.try_cast("date") < birth
    if kind == "before_death":
        return v.try_cast("date") > t["_death"]
    raise ChecksError(f"checks.csv: unknown check {kind!r}")


def _with_register(t: ir.Table, layout: Layout, window: Window) -> ir.Table:
    """Join each row to the register's birth and death dates by NHS number."""
    if window.register is None or layout.nhs_column is None:
        return t.mutate(_birth=ibis.null("date"), _death=ibis.null("date"))
    reg = window.register.select(
        _nhs=window.register.nhs_number,
        _birth=window.register.date_of_birth,
        _death=window.register.date_of_death,
    )
    joined = t.mutate(_nhs_join=normalised_nhs(t[layout.nhs_column])).left_join(
        reg, ibis._._nhs_join == reg._nhs
    )
    return joined.drop("_nhs_join", "_nhs")


def _with_windows(pairs: list[tuple[str, Check]]) -> list[tuple[str, Check]]:
    """Each date check followed by its plausible-window check."""
    out = []
    for column, c in pairs:
        out.append((column, c))
        if c.check == "date":
            window = Check(c.layout, c.column, "date_window", "", "date_out_of_range", c.severity)
            out.append((column, window))
    return out


def _key_text(t: ir.Table, columns: tuple[str, ...]) -> ir.StringValue:
    parts = [t[c].fill_null("") for c in columns]
    return parts[0] if len(parts) == 1 else ibis.literal("|").join(parts)


def _repeats(t: ir.Table, layout: Layout) -> ir.Table:
    """``_line``, ``_first_copy`` and ``_key_rank`` for the rows whose record key repeats.

    Duplicates always share a record key, and few keys repeat: ranking only those
    rows keeps the windows (ordered by line, partitioned by every column) off the
    whole file. Candidates are found by a hash of the key, which is cheaper to
    group than the text; a collision only adds a candidate, which the exact
    windows then rank alone.
    """
    key = list(layout.key)
    hashed = t.select(LINE, _key_hash=_key_text(t, layout.key).hash())
    counted = hashed.group_by("_key_hash").aggregate(_rows=hashed.count())
    repeated = counted.filter(counted._rows > 1)
    candidates = hashed.semi_join(repeated, "_key_hash")
    rows = t.semi_join(candidates, t[LINE] == candidates[LINE])
    first_copy = ibis.row_number().over(group_by=list(layout.all_columns), order_by=rows[LINE]) == 0
    rows = rows.mutate(_first_copy=first_copy)
    key_rank = ibis.row_number().over(group_by=key, order_by=rows[LINE])
    rows = rows.mutate(_key_rank=ibis.cases((rows._first_copy, key_rank), else_=0))
    return rows.select(
        _repeat_line=rows[LINE], _first_copy=rows._first_copy, _key_rank=rows._key_rank
    )


def label(
    staged: ir.Table, layout: Layout, window: Window, identifier: str = "nhs_number"
) -> ir.Table:
    """Every staged row, checked: each value that failed a ``null`` check replaced by NULL
    (or its "not known" code) and whole numbers written "123.0" as "123"; ``_raw_COLUMN``,
    the value as delivered where it may have been replaced; ``_fails0``, ``_fails1``...
    (bit masks: which checks of ``labels(layout)`` it failed, read with ``failed``); and
    ``_failed``, the index of the first quarantining check it fails, or -1. ``split`` it
    into accepted and quarantined rows, and take its ``issues``.

    ``cleaned(flagged, layout, fired(flagged, layout))`` of ``flag``: a stage materialises
    the flags once and reads the rest from them."""
    flagged = flag(staged, layout, window, identifier)
    return cleaned(flagged, layout, fired(flagged, layout))


def flag(
    staged: ir.Table, layout: Layout, window: Window, identifier: str = "nhs_number"
) -> ir.Table:
    """Every staged row as delivered, with the masks of the checks it failed (``_fails0``...)
    and ``_failed``. Checks that do not apply to the source's ``identifier`` (``checks_for``)
    are not run, nor looked-up checks that no value of the file fails: they have no bit
    and never fail. Materialise it once; ``cleaned`` reads it."""
    every = _with_windows(checks_for(layout))
    # Checks are numbered in ``labels(layout)``'s order whichever of them apply, so a
    # source that runs only some (the NHS number checks of a pseudonymised one) keeps
    # the numbers: each later step reads the flags the checked table has.
    number = {pair: i for i, pair in enumerate(every)}
    pairs = _with_windows(checks_for(layout, identifier))
    lookups = _Lookups.of(staged, pairs, window)
    needs_register = any(c.argument == "register" for _, c in pairs)
    t = _with_register(staged, layout, window) if needs_register else staged
    fails = {
        number[col, c]: _fails(t, col, c, lookups).fill_null(False)
        for col, c in pairs
        if not lookups.never_fails(col, c)
    }
    repeats = _repeats(staged, layout)
    t = t.left_join(repeats, t[LINE] == repeats._repeat_line)
    first_copy, key_rank = t._first_copy.fill_null(True), t._key_rank.fill_null(0)
    fails[len(every)] = ~first_copy
    fails[len(every) + 1] = first_copy & (key_rank > 0)
    # Each check is computed once, into the masks, and every later use reads its bit: DuckDB
    # shares no subexpression inside a CASE, so a check used by the masks, the cleaned value
    # and the raw value was otherwise computed (its regex run) three times per row.
    flagged = t.select(*layout.all_columns, LINE, **_masks(fails))
    found = labels(layout)
    fatal = [i for i in sorted(fails) if found[i].quarantines]
    bits = [(failed(flagged, [i]), i) for i in fatal]
    return flagged.mutate(_failed=ibis.cases(*bits, else_=-1) if bits else ibis.literal(-1))


def fired(flagged: ir.Table, layout: Layout) -> list[int]:
    """The checks at least one row of a ``flag``-led file failed: one aggregate, each mask
    column OR-ed in the engine (``engine.bit_or``)."""
    masks = [c for c in flagged.columns if c.startswith("_fails")]
    if not masks:
        return []
    found = flagged.aggregate(**{c: engine.bit_or(flagged[c]) for c in masks}).to_pyarrow()
    seen = {c: found[c][0].as_py() or 0 for c in masks}
    numbers = range(len(labels(layout)))
    return [i for i in numbers if seen.get(_bit(i)[0], 0) & _bit(i)[1]]


def cleaned(flagged: ir.Table, layout: Layout, failing: Iterable[int]) -> ir.Table:
    """``label``'s table from ``flag``'s. ``failing``: the checks some row failed
    (``fired``); only their columns are cleaned and get a ``_raw_`` column, which a file
    with no bad value in a column does not need. Cheap: it reads bits, runs no check."""
    found = labels(layout)
    nullable = {i: failed(flagged, [i]) for i in failing if not found[i].quarantines}
    values, raws = _cleaned(flagged, layout, nullable)
    masks = {column: flagged[column] for column in flagged.columns if column.startswith("_fails")}
    return flagged.select(
        **values, **{LINE: flagged[LINE]}, _failed=flagged._failed, **raws, **masks
    )


def _cleaned(
    t: ir.Table, layout: Layout, nullable: dict[int, ir.BooleanValue]
) -> tuple[dict[str, ir.Value], dict[str, ir.Value]]:
    """(each column's value as accepted, ``_raw_COLUMN`` where a value can be replaced)."""
    found = labels(layout)
    by_column: dict[str, list[int]] = {}
    for i in sorted(nullable):
        by_column.setdefault(found[i].column, []).append(i)
    integers = _integer_columns(layout)
    values, raws = {}, {}
    for column in layout.all_columns:
        value = t[column]
        if column in integers:
            value = value.re_replace(r"\.0+$", "")
        nulled = by_column.get(column, [])
        if nulled:
            value = ibis.cases(*[(nullable[i], _known(found[i])) for i in nulled], else_=value)
            hit = functools.reduce(operator.or_, [nullable[i] for i in nulled])
            raws[_raw(column)] = ibis.cases((hit, t[column]), else_=ibis.null("string"))
        values[column] = value
    return values, raws


def _raw(column: str) -> str:
    return f"_raw_{column}"


def delivered(t: ir.Table, column: str) -> ir.StringValue:
    """A column's value as delivered, in a ``label``-led table."""
    raw = _raw(column)
    return ibis.coalesce(t[raw], t[column]) if raw in t.columns else t[column]


# Which checks a row failed, as bits of int64 columns (``_fails0``, ``_fails1``...): a
# file's checks number 10 to 80, and a column per check made the checked table, written
# once per file, several times wider than the data.
MASK_BITS = 62  # checks per mask column; the sign bit is never used


def _bit(i: int) -> tuple[str, int]:
    return f"_fails{i // MASK_BITS}", 1 << (i % MASK_BITS)


def _masks(fails: dict[int, ir.BooleanValue]) -> dict[str, ir.IntegerValue]:
    terms: dict[str, list[ir.IntegerValue]] = {}
    for i in sorted(fails):
        column, bit = _bit(i)
        term = ibis.cases((fails[i], ibis.literal(bit, "int64")), else_=ibis.literal(0, "int64"))
        terms.setdefault(column, []).append(term)
    return {column: functools.reduce(operator.add, ts) for column, ts in terms.items()}


def failed(checked: ir.Table, numbers: Iterable[int]) -> ir.BooleanValue:
    """Whether a ``label``-led row failed any of the checks ``numbers``."""
    bits: dict[str, int] = {}
    for i in numbers:
        column, bit = _bit(i)
        bits[column] = bits.get(column, 0) | bit
    tests = [
        (checked[c] & ibis.literal(b, "int64")) != 0
        for c, b in bits.items()
        if c in checked.columns
    ]
    return functools.reduce(operator.or_, tests, ibis.literal(False))


@dataclass(frozen=True)
class Label:
    """What check i of a layout's ``label`` records: the column, reason and severity."""

    column: str  # a layout column; for duplicates "" (row) or the key columns joined by "+"
    reason: str
    severity: str
    not_known: str = ""

    @property
    def quarantines(self) -> bool:
        return self.severity == "quarantine"


def labels(layout: Layout) -> list[Label]:
    """What each check ``label`` numbers records, in order."""
    pairs = _with_windows(checks_for(layout))
    return [Label(col, c.reason, c.severity, c.not_known) for col, c in pairs] + [
        Label("", "duplicate_row", "quarantine"),
        Label("+".join(layout.key), "duplicate_key", "quarantine"),
    ]


def _integer_columns(layout: Layout) -> set[str]:
    return {col for col, c in checks_for(layout) if c.check == "integer"}


def _known(label: Label) -> ir.StringValue:
    return ibis.literal(label.not_known) if label.not_known else ibis.null("string")


def provider_code(checked: ir.Table, layout: Layout) -> ir.StringValue:
    """A ``label``-led row's provider as data-quality tables may show it: the code when it
    has the shape of its kind of code (ODS, practice, local authority) and passed its
    checks; otherwise "invalid value", or "unknown" where there is none. Never another
    raw value: a row whose columns shifted once put an NHS number in the provider's place."""
    if layout.provider is None:
        return ibis.literal(UNKNOWN_PROVIDER)
    raw, value = delivered(checked, layout.provider), checked[layout.provider]
    shape = PROVIDER_SHAPES.get(layout.provider, ODS_SHAPE)
    return ibis.cases(
        (value.re_search(shape), value),
        (raw.notnull(), INVALID_PROVIDER),
        else_=UNKNOWN_PROVIDER,
    )


def split(checked: ir.Table, layout: Layout) -> tuple[ir.Table, ir.Table]:
    """(accepted, quarantined) rows of a ``label``-led file.

    accepted keeps the staged columns (as ``label`` left them) and ``_line``; quarantined has
    ``line``, ``provider_code``, ``column``, ``value`` and ``reason``, one row per
    quarantined row, for the first quarantining check it failed.
    """
    columns = list(layout.all_columns)
    accepted = checked.filter(checked._failed == -1).select(*columns, LINE)
    bad = checked.filter(checked._failed >= 0)
    found = labels(layout)
    key = _key_text(bad, layout.key)

    def pick(values):
        return ibis.cases(*[(bad._failed == i, v) for i, v in enumerate(values)])

    quarantined = bad.select(
        line=bad[LINE],
        provider_code=provider_code(bad, layout),
        column=pick([ibis.literal(label.column) for label in found]),
        value=pick([_value(bad, label, key) for label in found]),
        reason=pick([ibis.literal(label.reason) for label in found]),
    )
    return accepted, quarantined


def _value(t: ir.Table, label: Label, key: ir.StringValue) -> ir.StringValue:
    if label.reason == "duplicate_row":
        return ibis.literal("")
    return delivered(t, label.column) if label.column in t.columns else key


def issues(checked: ir.Table, layout: Layout) -> ir.Table:
    """Every failure of every row of a ``label``-led file: ``line``, ``provider_code``,
    ``column``, ``value`` (as delivered), ``reason`` and ``action`` (``quarantined``
    when the row was, else ``nulled``). One row per failed check.

    Only rows with a failure are unpacked: an array of the failed checks' numbers,
    unnested, so the file is read once whatever the number of checks.
    """
    found = labels(layout)
    every = range(len(found))  # a check that did not run never failed
    rows = checked.filter(failed(checked, every))
    numbers = [ibis.cases((failed(rows, [i]), i), else_=ibis.null("int64")) for i in every]
    rows = rows.select(
        **{c: delivered(rows, c) for c in layout.all_columns},
        **{LINE: rows[LINE]},
        _failed=rows._failed,
        _provider=provider_code(rows, layout),
        _check=ibis.array(numbers).unnest(),
    )
    rows = rows.filter(rows._check.notnull())
    key = _key_text(rows, layout.key)

    def pick(values):
        return ibis.cases(*[(rows._check == i, v) for i, v in enumerate(values)])

    return rows.select(
        line=rows[LINE],
        provider_code=rows._provider,
        column=pick([ibis.literal(label.column) for label in found]),
        value=pick([_value(rows, label, key) for label in found]),
        reason=pick([ibis.literal(label.reason) for label in found]),
        action=ibis.cases((rows._failed >= 0, "quarantined"), else_="nulled"),
    )


def evaluate(staged: ir.Table, layout: Layout, window: Window) -> tuple[ir.Table, ir.Table]:
    """(accepted, quarantined) rows of one staged file: ``split`` of ``label``."""
    return split(label(staged, layout, window), layout)
