"""Costing-feed records to encounters: a hierarchy of matching rules kept as data.

A provider's patient-level feeds (ward stays, theatre minutes, tests, issues,
contacts) arrive as ``activity`` rows that name their encounter only as well as the
feed could: by the source record's key (an episode, attendance, contact or incident
key), or by no more than an NHS number and a date. NHS England's Healthcare Costing
Standards (CP3, "matching") ask for the match to be made by an ordered set of rules
and for the match rate to be reported per feed; records that match nothing are
costed to an unmatched bucket, never dropped.

The rules are ``matching.toml`` beside this module (its header documents every
field). Two methods:

- ``key``: the record's ``source_key`` of one ``source_key_type`` names the encounter,
  either directly (``lookup = "encounter_id"``: ingest builds a contact's id as
  ``<setting>:<key>``) or through the ``episode`` table (``lookup = "episode"``: an
  admitted-care episode key names its spell).
- ``person_date``: an encounter of the record's person whose span, widened by the
  rule's window, holds the record's date.

The first rule that finds an encounter wins; within a rule the tie-breaks are total
(own person, days outside the span, days from the start, encounter_id) so DuckDB and
Spark pick the same encounter. Every input row comes out exactly once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from openphm import engine
from openphm.model import ACTIVITY_TYPES, SETTINGS

__all__ = [
    "DEFAULT_RULES",
    "GIVEN",
    "UNMATCHED",
    "MatchRule",
    "MatchRules",
    "MatchRulesError",
    "load_rules",
    "match_feeds",
    "match_rates",
]

DEFAULT_RULES = Path(__file__).with_name("matching.toml")

#: match_rule of a record no rule matched (its encounter_id is null).
UNMATCHED = "unmatched"
#: match_rule of a record that arrived with an encounter_id of an existing encounter.
GIVEN = "given"

METHODS = ("key", "person_date")
LOOKUPS = ("encounter_id", "episode")
#: The widest window a person_date rule may use: a month. Wider, and a record would
#: be as likely to find a different stay of the same person as its own.
MAX_WINDOW_DAYS = 31

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = {
    "name",
    "method",
    "settings",
    "key_type",
    "lookup",
    "activity_types",
    "sources",
    "same_provider",
    "days_before",
    "days_after",
}
_KEY_ONLY = ("key_type", "lookup")
_DATE_ONLY = ("days_before", "days_after")


class MatchRulesError(ValueError):
    """A matching-rules file that cannot be used, naming the file, rule and value."""


@dataclasses.dataclass(frozen=True)
class MatchRule:
    """One rule of the hierarchy (see ``matching.toml`` for what each field means)."""

    name: str
    method: str
    settings: tuple[str, ...]
    key_type: str | None = None
    lookup: str | None = None
    activity_types: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    same_provider: bool = True
    days_before: int = 0
    days_after: int = 0


@dataclasses.dataclass(frozen=True)
class MatchRules:
    """The ordered rules, the file they came from and a fingerprint of its text."""

    rules: tuple[MatchRule, ...]
    file: str
    fingerprint: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)

    @property
    def needs_episodes(self) -> bool:
        return any(r.lookup == "episode" for r in self.rules)


# --- reading the rules -------------------------------------------------------------------


def load_rules(path: Path | None = None) -> MatchRules:
    """The matching rules from a TOML file (the shipped ``matching.toml`` by default)."""
    path = Path(path) if path is not None else DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatchRulesError(f"{path}: cannot read the matching rules ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MatchRulesError(f"{path.name}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"rule"})
    if extra:
        raise MatchRulesError(
            f"{path.name}: unknown top-level key(s) {extra}; rules are [[rule]] tables"
        )
    entries = data.get("rule", [])
    if not isinstance(entries, list) or not entries:
        raise MatchRulesError(f"{path.name}: no [[rule]] tables; at least one rule is needed")
    rules = tuple(_rule(path.name, n, entry) for n, entry in enumerate(entries, start=1))
    names = [r.name for r in rules]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MatchRulesError(f"{path.name}: rule name(s) {repeated} used more than once")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return MatchRules(rules=rules, file=path.name, fingerprint=digest)


def _rule(file: str, n: int, entry: Any) -> MatchRule:
    if not isinstance(entry, dict):
        raise MatchRulesError(f"{file}: [[rule]] number {n} is not a table")
    where = f"{file}: [[rule]] number {n} ({entry.get('name', 'no name')!r})"
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise MatchRulesError(
            f"{where}: unknown field(s) {unknown}; the fields are {sorted(_FIELDS)}"
        )
    for field in ("name", "method", "settings"):
        if field not in entry:
            raise MatchRulesError(f"{where}: missing field {field!r}")
    name, method = entry["name"], entry["method"]
    if not isinstance(name, str) or not _NAME.match(name) or name in (UNMATCHED, GIVEN):
        raise MatchRulesError(
            f"{where}: name must be lower snake case and not {UNMATCHED!r} or {GIVEN!r}, "
            f"not {name!r}"
        )
    if method not in METHODS:
        raise MatchRulesError(f"{where}: method {method!r} is not one of {list(METHODS)}")
    settings = _names(where, "settings", entry["settings"], SETTINGS)
    activity_types = None
    if "activity_types" in entry:
        activity_types = _names(where, "activity_types", entry["activity_types"], ACTIVITY_TYPES)
    sources = _names(where, "sources", entry["sources"], None) if "sources" in entry else None
    same_provider = entry.get("same_provider", True)
    if not isinstance(same_provider, bool):
        raise MatchRulesError(
            f"{where}: same_provider must be true or false, not {same_provider!r}"
        )
    if method == "key":
        misplaced = [f for f in _DATE_ONLY if f in entry]
        if misplaced:
            raise MatchRulesError(f"{where}: {misplaced} apply only to method 'person_date'")
        for field in _KEY_ONLY:
            if field not in entry:
                raise MatchRulesError(f"{where}: method 'key' needs field {field!r}")
        key_type, lookup = entry["key_type"], entry["lookup"]
        if not isinstance(key_type, str) or not _NAME.match(key_type):
            raise MatchRulesError(
                f"{where}: key_type must be a lower-case key kind such as 'epikey', "
                f"not {key_type!r}"
            )
        if lookup not in LOOKUPS:
            raise MatchRulesError(f"{where}: lookup {lookup!r} is not one of {list(LOOKUPS)}")
        if lookup == "episode" and settings != ("apc",):
            raise MatchRulesError(
                f"{where}: lookup 'episode' finds admitted spells; settings must be ['apc'], "
                f"not {list(settings)}"
            )
        return MatchRule(
            name, method, settings, key_type, lookup, activity_types, sources, same_provider
        )
    misplaced = [f for f in _KEY_ONLY if f in entry]
    if misplaced:
        raise MatchRulesError(f"{where}: {misplaced} apply only to method 'key'")
    before = _days(where, "days_before", entry.get("days_before", 0))
    after = _days(where, "days_after", entry.get("days_after", 0))
    return MatchRule(
        name,
        method,
        settings,
        activity_types=activity_types,
        sources=sources,
        same_provider=same_provider,
        days_before=before,
        days_after=after,
    )


def _names(where: str, field: str, value: Any, allowed) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise MatchRulesError(f"{where}: {field} must be a non-empty list of names, not {value!r}")
    if allowed is not None:
        bad = [v for v in value if v not in allowed]
        if bad:
            raise MatchRulesError(f"{where}: {field} {bad} not among {sorted(allowed)}")
    return tuple(value)


def _days(where: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WINDOW_DAYS:
        raise MatchRulesError(
            f"{where}: {field} must be a whole number of days from 0 to {MAX_WINDOW_DAYS}, "
            f"not {value!r}"
        )
    return value


# --- matching ----------------------------------------------------------------------------

_FAR = 10**6  # days: an open-ended span (no end date) runs this far past its start


def match_feeds(
    activity: ir.Table,
    encounter: ir.Table,
    rules: MatchRules,
    *,
    episode: ir.Table | None = None,
) -> ir.Table:
    """Every activity row once, with ``encounter_id`` where a rule matched and ``match_rule``.

    ``match_rule`` is the winning rule's name, :data:`GIVEN` for a row that arrived
    with the id of an existing encounter, or :data:`UNMATCHED` (``encounter_id`` null).
    ``episode`` (episode_id, encounter_id) is where rules with ``lookup = "episode"``
    look episode keys up; without it (a workspace with no admitted care) they match
    nothing, and such records fall to the date rules. Rows are identified by (source,
    activity_id), which ingest keeps unique per feed.

    All key rules are one join (each record's candidate ids unnested), and all
    person_date rules another, over only the records no key found: Spark plans a table
    once per use, so a join per rule would plan the feeds a dozen times.
    """
    columns = activity.columns
    act = activity.mutate(_ad=engine.epoch_days(activity.activity_date))
    enc = encounter.select(
        _enc=encounter.encounter_id,
        _setting=encounter.setting,
        _eprov=encounter.provider_code,
        _eperson=encounter.person_id,
        _es=engine.epoch_days(encounter.start_date),
        _ee=engine.epoch_days(encounter.end_date),
    )
    ranked = list(enumerate(rules.rules, start=1))
    keys = [(rank, r) for rank, r in ranked if r.method == "key"]
    parts = [_candidates(_by_key(act, enc, keys, episode), {0: GIVEN} | dict(keys))]
    dated = [(rank, r) for rank, r in ranked if r.method == "person_date"]
    if dated:
        # A record a key (or its given id) matched never needs a date: only the rest
        # are joined to every encounter of their person.
        found = parts[0].select("_src", "_aid")
        todo = act.anti_join(found, [act.source == found._src, act.activity_id == found._aid])
        parts.append(_candidates(_by_person_date(todo, enc, dated), dict(dated)))
    cand = ibis.union(*parts, distinct=False)
    order = [
        cand._rank.asc(),
        cand._same_person.desc(),
        cand._outside.asc(),
        cand._from_start.asc(),
    ]
    cand = cand.mutate(_n=engine.row_number([cand._src, cand._aid], order, tie_break=[cand._enc]))
    best = cand.filter(cand._n == 1).select("_src", "_aid", "_enc", "_rule")
    out = activity.left_join(
        best, [activity.source == best._src, activity.activity_id == best._aid]
    )
    return out.select(
        *[c for c in columns if c != "encounter_id"],
        encounter_id=out._enc,
        match_rule=out._rule.fill_null(ibis.literal(UNMATCHED)),
    ).select(*columns, "match_rule")


def _in_scope(t: ir.Table, rule: MatchRule) -> ir.BooleanValue:
    """Whether a record is one the rule may look at."""
    cond = ibis.literal(True)
    if rule.activity_types is not None:
        cond &= t.activity_type.isin(list(rule.activity_types))
    if rule.sources is not None:
        cond &= t.source.isin(list(rule.sources))
    return cond


def _fits(pairs: ir.Table, rule: MatchRule) -> ir.BooleanValue:
    """Whether a (record, encounter) pair satisfies a rule's setting and provider terms."""
    cond = pairs._setting.isin(list(rule.settings))
    if rule.same_provider:
        cond &= pairs.provider_code == pairs._eprov
    return cond


def _by_key(
    act: ir.Table, enc: ir.Table, rules: list[tuple[int, MatchRule]], episode: ir.Table | None
) -> ir.Table:
    """Pairs found by a key rule, or by the encounter_id a record arrived with (rank 0):
    each record's candidate encounter ids, unnested, in one join."""
    act = act.filter(act.encounter_id.notnull() | act.source_key.notnull())
    episodes = episode is not None and any(r.lookup == "episode" for _, r in rules)
    if episodes:
        ep = episode.select(_episode=episode.episode_id, _spell=episode.encounter_id)
        act = act.left_join(ep, act.source_key == ep._episode)
    items = [ibis.struct({"rank": ibis.literal(0, type="int32"), "id": act.encounter_id})]
    for rank, rule in rules:
        if rule.lookup == "episode" and not episodes:
            continue  # no episode table (no admitted care): the key can name nothing
        applies = (act.source_key_type == rule.key_type) & _in_scope(act, rule)
        if rule.lookup == "episode":
            ids = [act._spell]
        else:
            ids = [ibis.literal(f"{s}:") + act.source_key for s in rule.settings]
        for candidate in ids:
            chosen = ibis.cases((applies, candidate), else_=ibis.null("string"))
            items.append(ibis.struct({"rank": ibis.literal(rank, type="int32"), "id": chosen}))
    act = act.mutate(_c=ibis.array(items).unnest())
    act = act.mutate(_rank=act._c["rank"], _cand=act._c["id"]).drop("_c")
    act = act.filter(act._cand.notnull())
    pairs = act.join(enc, act._cand == enc._enc)
    fits = [(pairs._rank == rank, _fits(pairs, r)) for rank, r in rules]
    ok = ibis.cases((pairs._rank == 0, True), *fits, else_=False)
    return pairs.filter(ok)


def _by_person_date(act: ir.Table, enc: ir.Table, rules: list[tuple[int, MatchRule]]) -> ir.Table:
    """Pairs found by a person_date rule, with the first rule each pair satisfies."""
    act = act.filter(act.person_id.notnull() & act._ad.notnull())
    if all(r.activity_types is not None for _, r in rules):
        act = act.filter(
            act.activity_type.isin(sorted({t for _, r in rules for t in r.activity_types}))
        )
    enc = enc.filter(enc._setting.isin(sorted({s for _, r in rules for s in r.settings})))
    enc = enc.filter(enc._es.notnull())
    keys = [act.person_id == enc._eperson]
    if all(r.same_provider for _, r in rules):
        keys.append(act.provider_code == enc._eprov)
    pairs = act.join(enc, keys)
    end = pairs._ee.fill_null(pairs._es + _FAR)

    def holds(rule: MatchRule) -> ir.BooleanValue:
        window = (pairs._ad >= pairs._es - rule.days_before) & (pairs._ad <= end + rule.days_after)
        return _in_scope(pairs, rule) & _fits(pairs, rule) & window

    rank = ibis.cases(*[(holds(r), rank) for rank, r in rules], else_=ibis.null("int32"))
    pairs = pairs.mutate(_rank=rank.cast("int32"))
    return pairs.filter(pairs._rank.notnull())


def _candidates(pairs: ir.Table, names: dict[int, MatchRule | str]) -> ir.Table:
    """(record, encounter) pairs with their rule and what the tie-breaks order by."""
    end = pairs._ee.fill_null(pairs._es + _FAR)
    outside = ibis.greatest(pairs._es - pairs._ad, pairs._ad - end, ibis.literal(0))
    same = (pairs.person_id == pairs._eperson).fill_null(False)
    label = {rank: r if isinstance(r, str) else r.name for rank, r in names.items()}
    if len(label) == 1:
        rule = ibis.literal(next(iter(label.values())), type="string")
    else:
        rule = ibis.cases(*[(pairs._rank == k, v) for k, v in label.items()], else_=None)
    return pairs.select(
        _src=pairs.source,
        _aid=pairs.activity_id,
        _enc=pairs._enc,
        _rule=rule.cast("string"),
        _rank=pairs._rank.cast("int32"),
        _same_person=same.cast("int8"),
        _outside=outside.fill_null(_FAR).cast("int64"),
        _from_start=(pairs._ad - pairs._es).abs().fill_null(_FAR).cast("int64"),
    )


def match_rates(matched: ir.Table) -> ir.Table:
    """Rows per provider, feed and rule, and their share of the feed's rows at that provider.

    The shares of one (provider_code, source) sum to 1; the ``unmatched`` row is the
    bucket the cost stage costs without a patient.
    """
    counts = matched.group_by(["provider_code", "source", "match_rule"]).aggregate(
        rows=ibis._.count().cast("int64")
    )
    total = counts.rows.sum().over(group_by=[counts.provider_code, counts.source])
    return counts.mutate(share=(counts.rows / total).cast("float64"))
