"""Probabilistic linkage of records that arrive without a valid NHS number.

Ambulance incidents and adult social care services often arrive with the NHS
number blank. ``link_records`` finds each such record's person on the person
spine from date of birth, sex and postcode, with a Fellegi-Sunter model fitted
and scored by Splink 4 on a private in-process DuckDB.

Normalisation
-------------
Postcodes upper case with all spaces removed ('zz1 5xb', 'ZZ15XB' and 'ZZ1 5XB'
are one postcode); sector and district are cut from that form when it has the
shape of a UK postcode; NHS pseudo-postcodes ('ZZ99 3VZ', no fixed abode) count
as missing. Dates of birth as dates; text that is not a YYYY-MM-DD date counts as
missing. Sex '1' or '2'; anything else ('9' not specified, 'X' or '0' not known)
counts as missing. A missing value is evidence neither for nor against a match.

Comparisons
-----------
Levels in order, the first that holds applies (``LEVELS``):

- date of birth: exact; day and month transposed; within 1 day; one character
  edit of YYYY-MM-DD (Damerau-Levenshtein 1: '1956' for '1965'); within 1
  month; anything else;
- postcode: exact; one character edit ('ZZ11YE' for 'ZZ11EY'); same sector
  ('ZZ11'); same district ('ZZ1'); anything else;
- sex: exact; anything else.

Candidate pairs share a date of birth or a normalised postcode (``BLOCKING``),
so a typo in one still finds the pair through the other. On the synthetic
1M-person spine that is about 32 candidates per record by date of birth and 19
by postcode, not a million.

Training
--------
- u (how often a level holds for two different people): Splink's random
  sampling of up to ``U_MAX_PAIRS`` record-person pairs, seeded by
  ``LinkageSettings.seed`` (on one DuckDB thread: only then is a seeded sample
  repeatable).
- m (how often it holds for the same person): expectation maximisation (EM),
  once on the pairs sharing a date of birth (trains postcode) and once on those
  sharing a postcode (trains date of birth). EM suits this problem: in both
  blocks a good share of pairs are matches, and date of birth and postcode are
  nearly independent given match status. On the synthetic ICS it finds error
  rates close to the dirt injected (a one-edit postcode for 2.4% of records;
  17 of the 605 records, 2.8%, had two letters swapped).
  Sex is the exception, fixed at ``DEFAULT_M`` (``FIXED_M``): EM cannot tell a
  miskeyed sex from a twin of the other sex, who agrees on date of birth and
  postcode in both blocks, so twins teach it that sex often differs for the
  same person. With 100 such twins added to the 20,000-person spine, EM put that
  at 15%, and 97 of the 100 twinned people's records went to review as
  ambiguous instead of linking.
  It is guarded all the same (``_guarded``): EM runs on a block only if it holds
  at least ``MIN_EM_PAIRS`` pairs; a level EM never saw keeps its default; a
  comparison whose fitted exact-agreement m is under ``MIN_EXACT_M``, or not
  above its u, falls back to the default m; no m is below ``M_FLOOR``, so one
  keying error cannot veto an otherwise sure link (on clean data EM drives the m
  of a kind of error it never sees towards 0: 1e-303 for a one-character date of
  birth edit); and no level counts as stronger evidence than exact agreement,
  nor a disagreement as evidence for a match.
- Prior: the probability that a record and a spine row are the same person is
  ``1 / (len(spine) + 1)``: a record's person is taken to be on the spine once,
  or (with chance 1 in len(spine) + 1) not at all.
- Too little data (fewer than ``MIN_U_PAIRS`` record-person pairs, or too few
  blocked pairs for EM): ``DEFAULT_U`` and ``DEFAULT_M``, documented where they
  are defined.

Fitted values are rounded to ``SIGNIFICANT_DIGITS``, so the order in which
DuckDB's threads add up floating-point sums (a wobble in the 16th digit) does
not reach the scores: the same inputs and seed give the same result.

Decisions
---------
Each record's candidates are ranked by match weight (ties by ``person_key``).
The best is linked if its match probability is at least ``threshold``, unless
the second best is too and the best is not clearly the likelier: given that one
of the two is the person, the best must be it with probability ``threshold``,
so their match weights (log2 Bayes factors) must differ by at least
``log2(threshold / (1 - threshold))``, 3.17 at 0.9. Otherwise the contenders go
to clerical review as 'ambiguous' and the record is not linked. A record whose
best candidate is in ``[clerical_low, threshold)`` sends its candidates in that
range to review as 'near_threshold'.

Nothing here logs, prints or raises a row-level value: errors name columns and
counts, and Splink's logging is silenced while it runs.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from openphm import engine

SPINE_COLUMNS = ("person_key", "date_of_birth", "sex", "postcode")
RECORD_COLUMNS = ("record_key", "date_of_birth", "sex", "postcode")
LINK_COLUMNS = ["record_key", "person_key", "match_probability", "match_weight"]
CLERICAL_COLUMNS = [*LINK_COLUMNS, "reason"]
#: Typed, so that an empty review list still writes (an untyped empty column is VOID on Spark).
CLERICAL_SCHEMA = {
    "record_key": "string",
    "person_key": "string",
    "match_probability": "float64",
    "match_weight": "float64",
    "reason": "string",
}
NEAR_THRESHOLD = "near_threshold"
AMBIGUOUS = "ambiguous"

SEXES = ("1", "2")  # NHS Data Dictionary person stated gender codes: 1 male, 2 female
PSEUDO_POSTCODE_PREFIX = "ZZ99"  # NHS pseudo-postcodes: no fixed abode, not known
_STRING = "string[pyarrow]"  # vectorised string functions, read by DuckDB without copying
_POSTCODE_SHAPE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"  # spaces removed

BLOCKING = ("dob", "pc")  # candidate pairs agree exactly on one of these
U_MAX_PAIRS = 1_000_000  # pairs sampled for u: ~60 agree on date of birth by chance
MIN_U_PAIRS = 100_000  # fewer record-person pairs than this: default u
MIN_EM_PAIRS = 200  # a block with fewer pairs than this is not used for EM
MIN_EXACT_M = 0.5  # a fitted m of exact agreement below this is not believed
M_FLOOR = 1e-3  # no disagreement is taken as rarer than this for the same person
FIXED_M = ("sex",)  # comparisons whose m EM must not move (see the module docstring)
SIGNIFICANT_DIGITS = 9

# Levels of each comparison after its null level, most agreement first.
LEVELS: dict[str, tuple[str, ...]] = {
    "dob": ("exact", "day_month_transposed", "within_1_day", "one_edit", "within_1_month", "else"),
    "pc": ("exact", "one_edit", "sector", "district", "else"),
    "sex": ("exact", "else"),
}
# Used when there is too little data to fit. m: a few in a hundred hand-keyed dates
# of birth are out by a transposition, a day or a digit; about one record in ten
# carries an older address, most in the same district; sex differs for about 1 in 200
# (keying errors, and stated gender changed between the two services' records).
DEFAULT_M: dict[str, tuple[float, ...]] = {
    "dob": (0.95, 0.01, 0.01, 0.015, 0.005, 0.01),
    "pc": (0.86, 0.02, 0.03, 0.02, 0.07),
    "sex": (0.995, 0.005),
}
# u: dates of birth spread over about 90 years (1 pair in ~33,000 agrees by chance);
# an ICS of about a million people in ~40,000 postcodes, ~300 sectors, ~30 districts.
# The last level of each takes what the others leave.
_DEFAULT_U_AGREEING: dict[str, tuple[float, ...]] = {
    "dob": (3.0e-5, 1.1e-5, 6.0e-5, 4.0e-4, 1.8e-3),
    "pc": (2.5e-5, 1.5e-4, 3.3e-3, 3.0e-2),
    "sex": (0.5,),
}
DEFAULT_U: dict[str, tuple[float, ...]] = {
    name: (*agreeing, 1.0 - sum(agreeing)) for name, agreeing in _DEFAULT_U_AGREEING.items()
}

_SPLINK_LOGGERS = ("splink",)
_RECORDS, _SPINE = "records", "spine"  # table names, and Splink's source_dataset values
_RECORD_PREFIX, _SPINE_PREFIX = "r:", "s:"


class LinkageError(RuntimeError):
    """Splink or DuckDB failed; the original message is withheld (it may quote a row)."""


@dataclass(frozen=True)
class LinkageSettings:
    threshold: float = 0.9  # match probability at or above which a record is linked
    clerical_low: float = 0.5  # pairs in [clerical_low, threshold) go to clerical review
    seed: int = 1  # for u sampling; Splink takes a seed of 0 as no seed, so at least 1

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"LinkageSettings.threshold must be in (0, 1), not {self.threshold}")
        if not 0.0 < self.clerical_low <= self.threshold:
            raise ValueError(
                f"LinkageSettings.clerical_low must be in (0, threshold={self.threshold}], "
                f"not {self.clerical_low}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 1:
            raise ValueError(f"LinkageSettings.seed must be an integer >= 1, not {self.seed!r}")

    @property
    def ambiguity_margin(self) -> float:
        """Match weight by which the best candidate must beat a second also above
        threshold: then, given one of the two is the person, the best is with
        probability ``threshold``."""
        return math.log2(self.threshold / (1.0 - self.threshold))


@dataclass(frozen=True)
class LinkageModel:
    """The fitted parameters (no row-level data): per comparison, m and u by level."""

    m: Mapping[str, tuple[float, ...]]
    u: Mapping[str, tuple[float, ...]]
    prior: float  # probability that a record and a spine row are the same person
    u_sampled: bool  # False: DEFAULT_U (too few pairs to sample)
    em_blocks: tuple[str, ...]  # the blocks EM ran on; () means DEFAULT_M


@dataclass(frozen=True)
class LinkResult:
    links: pd.DataFrame  # LINK_COLUMNS: best candidate per record, >= threshold, unambiguous
    clerical: pd.DataFrame  # CLERICAL_COLUMNS: pairs needing a human, and why
    unlinked: int  # records with no link
    records: int
    model: LinkageModel | None = None  # None when there was nothing to link


def link_records(
    spine: pd.DataFrame, records: pd.DataFrame, settings: LinkageSettings = LinkageSettings()
) -> LinkResult:
    """Link ``records`` (no NHS number) to ``spine`` (one row per person).

    ``spine`` needs person_key, date_of_birth, sex and postcode (lsoa_code and
    other columns are ignored); ``records`` needs record_key, date_of_birth, sex
    and postcode, any of the last three possibly null. A record key delivered
    twice with the same demographics counts once. The same inputs and settings
    give the same result.
    """
    spine_n = _normalise(spine, "spine", "person_key", SPINE_COLUMNS)
    records_n = _normalise(records, "records", "record_key", RECORD_COLUMNS)
    repeated = int(spine_n["unique_id"].duplicated().sum())
    if repeated:
        raise ValueError(f"spine: person_key must be unique, {repeated:,} key(s) repeat")
    records_n = _dedupe_records(records_n)
    spine_n = spine_n.sort_values("unique_id", kind="stable", ignore_index=True)
    if records_n.empty or spine_n.empty:
        return _result(_empty_pairs(), len(records_n), settings, None)

    try:
        with _splink_quiet(), _duckdb() as (con, db_api):
            # Splink orders the rows it samples from by id alone: prefixed, no two ids tie.
            db_api.register_table(_prefixed(records_n, _RECORD_PREFIX), _RECORDS)
            db_api.register_table(_prefixed(spine_n, _SPINE_PREFIX), _SPINE)
            model = _fit(con, db_api, spine_n, records_n, settings.seed)
            pairs = _score(db_api, model, settings.clerical_low)
    except Exception as exc:
        # A database error can quote the value it failed on: name only the kind of error.
        raise LinkageError(
            f"probabilistic linkage failed in Splink or DuckDB ({type(exc).__name__}); "
            "the message is withheld because it may quote a row; rerun under a debugger "
            "inside the secure environment to see it"
        ) from None
    return _result(pairs, len(records_n), settings, model)


# --- inputs ---------------------------------------------------------------------------


def _normalise(frame: pd.DataFrame, name: str, key: str, required: tuple[str, ...]) -> pd.DataFrame:
    """unique_id, dob, dob_text, sex, pc, pc_sector, pc_district; missing as null."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {', '.join(missing)}; it needs {', '.join(required)}"
        )
    empty_keys = int(frame[key].isna().sum())
    if empty_keys:
        raise ValueError(f"{name}: {key} is empty on {empty_keys:,} row(s)")
    dob = _dates(frame["date_of_birth"])
    sex = _text(_whole_numbers(frame["sex"]))
    pc = _text(frame["postcode"]).str.replace(" ", "", regex=False)
    pc = pc.where(pc.ne("") & ~pc.str.startswith(PSEUDO_POSTCODE_PREFIX))
    shaped = pc.str.match(_POSTCODE_SHAPE).fillna(False).astype(bool)
    return pd.DataFrame(
        {
            "unique_id": _text(frame[key], upper=False),
            "dob": dob,
            "dob_text": dob.dt.strftime("%Y-%m-%d").astype(_STRING),
            "sex": sex.where(sex.isin(SEXES)),
            "pc": pc,
            "pc_sector": pc.str[:-2].where(shaped),
            "pc_district": pc.str[:-3].where(shaped),
        }
    ).reset_index(drop=True)


def _prefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return frame.assign(unique_id=prefix + frame["unique_id"])


def _whole_numbers(column: pd.Series) -> pd.Series:
    """Codes read as numbers (2, or 2.0 beside a null) as whole numbers, so '2' not '2.0'."""
    if pd.api.types.is_float_dtype(column) or pd.api.types.is_integer_dtype(column):
        whole = column.dropna()
        if (whole == whole.round()).all():
            return column.astype("Int64")
    return column


def _text(column: pd.Series, upper: bool = True) -> pd.Series:
    text = column.astype(_STRING)
    return text.str.strip().str.upper() if upper else text


def _dates(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        when = column.dt.tz_localize(None) if column.dt.tz is not None else column
    else:
        text = column.astype("string").str.strip().str[:10]
        when = pd.to_datetime(text, errors="coerce", format="%Y-%m-%d")
    return when.astype("datetime64[us]").dt.normalize()


def _dedupe_records(records: pd.DataFrame) -> pd.DataFrame:
    """One row per record key: re-deliveries collapse; a key with two people's details
    is an error."""
    records = records.drop_duplicates()
    clashes = int(records["unique_id"].duplicated().sum())
    if clashes:
        raise ValueError(
            f"records: record_key must identify one record, but {clashes:,} key(s) come "
            "with different demographics; give each a distinct key"
        )
    return records.sort_values("unique_id", kind="stable").reset_index(drop=True)


# --- splink ----------------------------------------------------------------------------


@contextlib.contextmanager
def _splink_quiet() -> Iterator[None]:
    """Splink logs progress (and, at debug level, SQL): keep it out of every log."""
    loggers = [logging.getLogger(name) for name in _SPLINK_LOGGERS]
    before = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)  # its children inherit the level
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (level, propagate) in zip(loggers, before, strict=True):
            lg.setLevel(level)
            lg.propagate = propagate


@contextlib.contextmanager
def _duckdb() -> Iterator[tuple[Any, Any]]:
    """A private in-memory DuckDB from ``engine`` (its Ibis backend), and the same
    database wrapped for Splink; no progress bar on the terminal."""
    from splink import DuckDBAPI

    con = engine.connect(engine.DUCKDB_MEMORY)
    try:
        con.raw_sql("SET enable_progress_bar = false")
        yield con, DuckDBAPI(connection=con.con)
    finally:
        engine.close(con)


@contextlib.contextmanager
def _single_threaded(con) -> Iterator[None]:
    """DuckDB repeats a seeded sample only when it runs on one thread."""
    con.raw_sql("SET threads = 1")
    try:
        yield
    finally:
        con.raw_sql("RESET threads")


def _one_edit(column: str) -> str:
    """SQL: Damerau-Levenshtein distance <= 1 (one substitution, insertion, deletion or
    swap of neighbours), computing the costly distance only where it can pass. Over
    every sampled pair, DuckDB's damerau_levenshtein took most of the run time; a CASE
    tries its branches in order."""
    a, b = column.format(side="l"), column.format(side="r")
    return (
        f"CASE WHEN length({a}) = length({b}) THEN "
        f"CASE WHEN hamming({a}, {b}) <= 1 THEN TRUE "
        f"WHEN hamming({a}, {b}) = 2 THEN damerau_levenshtein({a}, {b}) = 1 ELSE FALSE END "
        f"WHEN abs(length({a}) - length({b})) = 1 THEN levenshtein({a}, {b}) = 1 "
        "ELSE FALSE END"
    )


def _comparisons(
    m: Mapping[str, Sequence[float]], u: Mapping[str, Sequence[float]] | None
) -> list[Any]:
    """The three comparisons of the module docstring, with m (and u, unless None)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def comparison(name: str, creators: list[Any]) -> Any:
        levels = [cll.NullLevel(name)]
        for i, (creator, label) in enumerate(zip(creators, LEVELS[name], strict=True)):
            options = {"m_probability": m[name][i], "fix_m_probability": name in FIXED_M}
            if u is not None:
                options["u_probability"] = u[name][i]
            levels.append(creator.configure(label_for_charts=label, **options))
        return cl.CustomComparison(levels, output_column_name=name)

    transposed = (
        "year(dob_l) = year(dob_r) AND month(dob_l) = day(dob_r) AND day(dob_l) = month(dob_r)"
    )
    day, month = ({"input_is_string": False, "threshold": 1, "metric": x} for x in ("day", "month"))
    return [
        comparison(
            "dob",
            [
                cll.ExactMatchLevel("dob"),
                cll.CustomLevel(transposed),
                cll.AbsoluteDateDifferenceLevel("dob", **day),
                cll.CustomLevel(_one_edit("dob_text_{side}")),
                cll.AbsoluteDateDifferenceLevel("dob", **month),
                cll.ElseLevel(),
            ],
        ),
        comparison(
            "pc",
            [
                cll.ExactMatchLevel("pc"),
                cll.CustomLevel(_one_edit("pc_{side}")),
                cll.ExactMatchLevel("pc_sector"),
                cll.ExactMatchLevel("pc_district"),
                cll.ElseLevel(),
            ],
        ),
        comparison("sex", [cll.ExactMatchLevel("sex"), cll.ElseLevel()]),
    ]


def _linker(db_api, prior: float, m, u) -> Any:
    from splink import Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        comparisons=_comparisons(m, u),
        blocking_rules_to_generate_predictions=[block_on(c) for c in BLOCKING],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    return Linker(
        [_RECORDS, _SPINE],  # registered once in the database, shared by every linker
        settings,
        db_api=db_api,
        set_up_basic_logging=False,  # True would configure the root logger
        input_table_aliases=[_RECORDS, _SPINE],
    )


def _fit(con, db_api, spine_n: pd.DataFrame, records_n: pd.DataFrame, seed: int) -> LinkageModel:
    """u by seeded random sampling, m by EM on each usable block, then ``_guarded``."""
    prior = 1.0 / (len(spine_n) + 1)
    u_sampled = len(spine_n) * len(records_n) >= MIN_U_PAIRS
    u: dict[str, list[float | None]] = {k: list(v) for k, v in DEFAULT_U.items()}
    if u_sampled:
        linker = _linker(db_api, prior, DEFAULT_M, None)  # u unset: unseen levels stay unset
        with _single_threaded(con):
            linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
        u = _fitted(linker.misc.save_model_to_json(), "u_probability")
    u_start = {k: _bounded_u(DEFAULT_M[k], _filled_u(v, DEFAULT_U[k])) for k, v in u.items()}

    em_blocks = tuple(c for c in BLOCKING if _block_pairs(spine_n, records_n, c) >= MIN_EM_PAIRS)
    m: Mapping[str, Sequence[float | None]] = DEFAULT_M
    if em_blocks:
        linker = _linker(db_api, prior, DEFAULT_M, u_start)  # EM starts from the defaults
        for column in em_blocks:
            linker.training.estimate_parameters_using_expectation_maximisation(
                _records_first(column), estimate_without_term_frequencies=True
            )
        m = _fitted(linker.misc.save_model_to_json(), "m_probability")
    m_final, u_final = _guarded(m, u)
    return LinkageModel(m_final, u_final, prior, u_sampled, em_blocks)


def _records_first(column: str) -> str:
    """A training block on ``column``. Splink's training joins all rows with all rows
    and only then drops pairs from the same table; naming the records side first lets
    DuckDB drop the spine-to-spine pairs before the join (13 s of 44 on 1M people)."""
    return f"l.{column} = r.{column} AND l.source_dataset = '{_RECORDS}'"


def _block_pairs(spine_n: pd.DataFrame, records_n: pd.DataFrame, column: str) -> int:
    """Record-person pairs that agree exactly on ``column``."""
    left = records_n[column].dropna().value_counts()
    right = spine_n[column].dropna().value_counts()
    both = left.index.intersection(right.index)
    return int((left[both].to_numpy() * right[both].to_numpy()).sum())


def _fitted(model: Mapping[str, Any], key: str) -> dict[str, list[float | None]]:
    """Per comparison, the level probabilities Splink holds; None where it has none or
    one outside (0, 1]. (A level EM never saw keeps the value it started from.)"""
    out: dict[str, list[float | None]] = {}
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        values = [lv.get(key) for lv in levels]
        out[comparison["output_column_name"]] = [
            float(v) if isinstance(v, int | float) and 0.0 < v <= 1.0 else None for v in values
        ]
    return out


def _guarded(m_fit, u_fit) -> tuple[dict[str, tuple[float, ...]], dict[str, tuple[float, ...]]]:
    """The guards of the module docstring, then rounding."""
    m_out, u_out = {}, {}
    for name, default_m in DEFAULT_M.items():
        u = _filled_u(u_fit[name], DEFAULT_U[name])
        m = [d if v is None else v for v, d in zip(m_fit[name], default_m, strict=True)]
        if m[0] < MIN_EXACT_M or m[0] <= u[0]:  # EM found no sign of agreement meaning a match
            m = list(default_m)
        m = _normalised([max(p, M_FLOOR) for p in m])
        m_out[name] = _rounded(m)
        u_out[name] = _rounded(_bounded_u(m, u))
    return m_out, u_out


def _filled_u(fitted: Sequence[float | None], defaults: Sequence[float]) -> list[float]:
    """u with the gaps sampling left: an agreeing level it never saw takes its default;
    an unseen last level (every sampled pair agreed at least in part, as in a small
    ICS whose postcodes share one district) takes what the others leave."""
    agreeing = [d if v is None else v for v, d in zip(fitted[:-1], defaults[:-1], strict=True)]
    last = fitted[-1]
    return [*agreeing, max(1.0 - sum(agreeing), 0.0) if last is None else last]


def _bounded_u(m: Sequence[float], u: Sequence[float]) -> tuple[float, ...]:
    """u raised so that no level is stronger evidence than exact agreement and the last
    (the values differ) is no evidence for a match."""
    strongest = m[0] / u[0]
    middle = [max(ui, mi / strongest) for mi, ui in zip(m[1:-1], u[1:-1], strict=True)]
    return (u[0], *middle, max(u[-1], m[-1]))


def _normalised(values: Sequence[float]) -> tuple[float, ...]:
    total = sum(values)
    return tuple(v / total for v in values)


def _rounded(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values)


def _score(db_api, model: LinkageModel, low: float) -> pd.DataFrame:
    """Candidate pairs with match probability at least ``low``."""
    linker = _linker(db_api, model.prior, model.m, model.u)
    predictions = linker.inference.predict(threshold_match_probability=low)
    pairs = predictions.as_pandas_dataframe()
    if pairs.empty:
        return _empty_pairs()
    record_left = pairs["source_dataset_l"].astype(str).eq(_RECORDS).to_numpy()
    record = np.where(record_left, pairs["unique_id_l"], pairs["unique_id_r"])
    person = np.where(record_left, pairs["unique_id_r"], pairs["unique_id_l"])
    out = pd.DataFrame(
        {
            "record_key": pd.Series(record).str[len(_RECORD_PREFIX) :].to_numpy(),
            "person_key": pd.Series(person).str[len(_SPINE_PREFIX) :].to_numpy(),
            "match_probability": pairs["match_probability"].astype("float64").to_numpy(),
            "match_weight": pairs["match_weight"].astype("float64").to_numpy(),
        }
    ).astype({"record_key": object, "person_key": object})
    return out[out["match_probability"] >= low]


# --- decisions -------------------------------------------------------------------------


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_key": pd.Series(dtype=object),
            "person_key": pd.Series(dtype=object),
            "match_probability": pd.Series(dtype="float64"),
            "match_weight": pd.Series(dtype="float64"),
        }
    )


def _result(
    pairs: pd.DataFrame, n_records: int, settings: LinkageSettings, model: LinkageModel | None
) -> LinkResult:
    """Best candidate per record: linked, sent to review, or left (see the module docstring)."""
    order = {"by": ["record_key", "match_weight", "person_key"], "ascending": [True, False, True]}
    pairs = pairs.sort_values(**order, kind="stable").reset_index(drop=True)
    rank = pairs.groupby("record_key", sort=False).cumcount()
    best = pairs[rank == 0].set_index("record_key")
    second = pairs[rank == 1].set_index("record_key").reindex(best.index)
    threshold, margin = settings.threshold, settings.ambiguity_margin
    above = best["match_probability"] >= threshold
    contested = (second["match_probability"] >= threshold) & (
        best["match_weight"] - second["match_weight"] < margin
    )
    ambiguous = best.index[above & contested]
    near = best.index[~above]

    behind_best = pairs["record_key"].map(best["match_weight"]) - pairs["match_weight"]
    contenders = (
        pairs["record_key"].isin(ambiguous)
        & (pairs["match_probability"] >= threshold)
        & (behind_best < margin)
    )
    clerical = pd.concat(
        [
            pairs[contenders].assign(reason=AMBIGUOUS),
            pairs[pairs["record_key"].isin(near)].assign(reason=NEAR_THRESHOLD),
        ]
    ).sort_values(**order, kind="stable")
    links = best[above & ~contested].reset_index()
    return LinkResult(
        links=links[LINK_COLUMNS].reset_index(drop=True),
        clerical=clerical[CLERICAL_COLUMNS].reset_index(drop=True),
        unlinked=n_records - len(links),
        records=n_records,
        model=model,
    )
