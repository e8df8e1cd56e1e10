"""What is known about each person at an index date: the risk model's feature table.

One row per person alive on the day before an index date (the first of a month), for
each index date, with everything recorded *before* that day, so no feature can see the
outcome it predicts (which starts on the index date itself):

- need on the day before, from the need stage's own functions (``need.person``): age,
  IMD decile, the comorbidity and frailty scores, every long-term condition flag and
  their count, and the Bridges to Health segment;
- sex, and the groups results are reported by (IMD quintile, ethnic group, age band),
  as the measure stage describes people (``measure.attribution.demographics``);
- the practice registered with on the index date (``measure.attribution``);
- prior use by setting: counts in the 12 months before, days since the last contact
  (``DAYS_CAP`` when there is none), emergency admissions (continuous inpatient spells,
  as the indicators count them) and the bed days of those that ended.

Events are first summed by person, kind and month, so each index date (always the
first of a month) reads whole months and the work grows with months, not with days.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import ibis
import ibis.expr.types as ir

from openphm import engine
from openphm.codelists import Definition
from openphm.measure import admissions
from openphm.measure.attribution import demographics, registered_practice
from openphm.measure.definitions import CodeList
from openphm.need.core20plus5 import Core20Plus5
from openphm.need.flags import flag_column
from openphm.need.person import people_on, person_need
from openphm.need.segments import Segment

__all__ = [
    "DAYS_CAP",
    "GROUPS",
    "LOOKBACK_MONTHS",
    "Feature",
    "NeedDefinitions",
    "add_months",
    "feature_table",
    "load_features",
    "prior_use",
]

LOOKBACK_MONTHS = 12  # prior use is counted over the year before the index date
# "Days since" stops at the lookback: no contact in the year (or none at all) counts as
# this, so a test or scoring date with years of history reads like a training date.
DAYS_CAP = 365
INDEX_DATE = "index_date"
GROUPS = ("imd_quintile", "ethnic_group", "sex", "age_band")

# Prior use: the kinds of event counted, and the feature columns they make.
COUNTED = {
    "emergency_admissions": "emergency_admissions_12m",
    "emergency_bed_days": "emergency_bed_days_12m",
    "elective_admissions": "elective_admissions_12m",
    "ae": "ae_attendances_12m",
    "op": "outpatient_attendances_12m",
    "gp": "gp_days_12m",
    "community": "community_contacts_12m",
    "mental_health": "mental_health_contacts_12m",
    "ambulance": "ambulance_incidents_12m",
    "social_care": "social_care_services_12m",
}
SINCE = {
    "emergency_admissions": "days_since_emergency_admission",
    "ae": "days_since_ae_attendance",
    "gp": "days_since_gp_day",
}
ENCOUNTER_SETTINGS = ("ae", "op", "community", "mental_health", "ambulance", "social_care")
NEED_COLUMNS = ("age", "imd_decile", "charlson", "elixhauser_vw", "hfrs", "ltc_count", "segment")


@dataclass(frozen=True)
class Feature:
    """One feature as ``features.toml`` declares it."""

    name: str
    label: str
    kind: str  # binary, linear, spline, categorical
    knots: int | tuple[float, ...] | None = None
    transform: str | None = None  # log1p
    cap: float | None = None


KINDS = ("binary", "linear", "spline", "categorical")
TRANSFORMS = (None, "log1p")


def load_features(ltc: Definition | None = None, text: str | None = None) -> tuple[Feature, ...]:
    """The features of ``features.toml`` (or ``text``), plus a flag per ``ltc`` category."""
    where = "risk/features.toml"
    if text is None:
        text = resources.files("openphm.risk").joinpath("features.toml").read_text("utf-8")
    raw = tomllib.loads(text).get("features")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: needs one or more [[features]] tables")
    out = []
    for n, entry in enumerate(raw, start=1):
        name = entry.get("name", f"#{n}")
        at = f"{where}, feature {name!r}"
        if set(entry) - {"name", "label", "kind", "knots", "transform", "cap"}:
            raise ValueError(f"{at}: unknown key(s) {sorted(set(entry) - {'name'})}")
        if entry.get("kind") not in KINDS:
            raise ValueError(f"{at}: kind {entry.get('kind')!r} is not one of {KINDS}")
        if entry.get("transform") not in TRANSFORMS:
            raise ValueError(f"{at}: transform must be 'log1p' or left out")
        knots = entry.get("knots")
        if entry["kind"] == "spline":
            fixed = isinstance(knots, list) and len(knots) in (3, 4, 5)
            if not (fixed or knots in (3, 4, 5)):
                raise ValueError(f"{at}: a spline needs knots = 3, 4 or 5, or a list of 3 to 5")
            if fixed and sorted(set(knots)) != knots:
                raise ValueError(f"{at}: knots {knots} must be distinct and increasing")
            knots = tuple(float(k) for k in knots) if fixed else int(knots)
        out.append(
            Feature(
                name,
                entry.get("label", name),
                entry["kind"],
                knots,
                entry.get("transform"),
                entry.get("cap"),
            )
        )
    if ltc is not None:
        for c in ltc.categories:
            out.append(Feature(flag_column(ltc, c), ltc.labels.get(c, c), "binary"))
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: a feature is named twice")
    return tuple(out)


@dataclass(frozen=True)
class NeedDefinitions:
    """What ``need.person.person_need`` is called with (the need stage's own choices)."""

    scored: Sequence[Definition]
    flagged: Sequence[Definition]
    segment_rules: Sequence[Segment]
    core: Core20Plus5


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (or earlier), the month's last day where it is shorter."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def index_table(index_dates: Sequence[dt.date]) -> ir.Table:
    """index_date and the start of its lookback, one row per index date."""
    for d in index_dates:
        if d.day != 1:
            raise ValueError(f"index dates are the first of a month; {d.isoformat()} is not")
    rows = {
        INDEX_DATE: list(index_dates),
        "_lookback": [add_months(d, -LOOKBACK_MONTHS) for d in index_dates],
    }
    return ibis.memtable(rows, schema=ibis.schema({INDEX_DATE: "date", "_lookback": "date"}))


def events(
    encounter: ir.Table, gp_event: ir.Table | None, spells: ir.Table | None = None
) -> ir.Table:
    """person_id, kind, event_date, amount: every event prior use is counted from."""
    spells = admissions.cip_spells(encounter) if spells is None else spells
    emergency = admissions.is_emergency_admission(spells)
    parts = [
        spells.select(
            "person_id",
            kind=ibis.ifelse(emergency, "emergency_admissions", "elective_admissions"),
            event_date=spells.start_date,
            amount=ibis.literal(1, "int64"),
        ),
        # Bed days when the stay has ended: known only at discharge.
        spells.filter(emergency & spells.end_date.notnull()).select(
            "person_id",
            kind=ibis.literal("emergency_bed_days"),
            event_date=spells.end_date,
            amount=spells.length_of_stay.cast("int64"),
        ),
    ]
    other = encounter.filter(encounter.setting.isin(ENCOUNTER_SETTINGS))
    parts.append(
        other.select(
            "person_id",
            kind=other.setting,
            event_date=other.start_date,
            amount=ibis.literal(1, "int64"),
        )
    )
    if gp_event is not None:
        days = gp_event.select("person_id", event_date=gp_event.event_date).distinct()
        parts.append(
            days.select(
                "person_id",
                kind=ibis.literal("gp"),
                event_date=days.event_date,
                amount=ibis.literal(1, "int64"),
            )
        )
    union = ibis.union(*parts)
    return union.filter(union.event_date.notnull())


def prior_use(
    encounter: ir.Table,
    gp_event: ir.Table | None,
    index: ir.Table,
    spells: ir.Table | None = None,
) -> ir.Table:
    """person_id, index_date and every prior-use feature, for people with any use before."""
    ev = events(encounter, gp_event, spells)
    monthly = ev.group_by("person_id", "kind", month=ev.event_date.truncate("M")).aggregate(
        n=ev.amount.cast("float64").sum(), last=ev.event_date.max()
    )
    pairs = monthly.cross_join(index)
    pairs = pairs.filter(pairs.month < pairs[INDEX_DATE])
    recent = pairs.month >= pairs._lookback
    aggs = {
        column: pairs.n.sum(where=(pairs.kind == kind) & recent).fill_null(0)
        for kind, column in COUNTED.items()
    }
    aggs |= {f"_last_{kind}": pairs["last"].max(where=pairs.kind == kind) for kind in SINCE}
    use = pairs.group_by("person_id", INDEX_DATE).aggregate(**aggs)
    since = {
        column: ibis.least(
            engine.epoch_days(use[INDEX_DATE]) - engine.epoch_days(use[f"_last_{kind}"]),
            DAYS_CAP,
        )
        .fill_null(DAYS_CAP)
        .cast("float64")
        for kind, column in SINCE.items()
    }
    return use.select("person_id", INDEX_DATE, *COUNTED.values(), **since)


def need_on(
    records: ir.Table,
    person: ir.Table,
    lsoa: ir.Table | None,
    encounter: ir.Table,
    day: dt.date,
    need: NeedDefinitions,
) -> ir.Table:
    """``need.person.person_need`` on one day, for everyone alive on it."""
    return person_need(
        records,
        people_on(person, lsoa, day),
        encounter,
        day,
        scored=need.scored,
        flagged=need.flagged,
        segment_rules=need.segment_rules,
        core=need.core,
    )


def feature_table(
    need_by_date: dict[dt.date, ir.Table],
    person: ir.Table,
    registration: ir.Table,
    lsoa: ir.Table | None,
    use: ir.Table,
    ltc_flags: Sequence[str],
    ethnic_groups: CodeList,
) -> ir.Table:
    """One row per person and index date: ids, groups and every feature column.

    ``need_by_date`` maps each index date to ``person_need`` on the day before it
    (``need_on``); ``use`` is ``prior_use`` for the same index dates.
    """
    parts = []
    for index_date, need in need_by_date.items():
        parts.append(
            need.select(
                "person_id",
                *NEED_COLUMNS,
                *ltc_flags,
                **{INDEX_DATE: ibis.literal(index_date, "date")},
            )
        )
    t = ibis.union(*parts) if len(parts) > 1 else parts[0]
    t = t.mutate(on=t[INDEX_DATE])
    t = registered_practice(t, registration)
    t = demographics(t, person, lsoa, ethnic_groups)
    t = t.left_join(use, ["person_id", INDEX_DATE]).drop("person_id_right", "index_date_right")
    filled = {c: t[c].fill_null(0.0) for c in COUNTED.values()}
    filled |= {c: t[c].fill_null(float(DAYS_CAP)) for c in SINCE.values()}
    return t.select(
        "person_id",
        INDEX_DATE,
        "practice_code",
        *GROUPS,
        age=t.age.cast("float64"),
        male=t.sex == "1",
        imd_decile=t.imd_decile.cast("float64").fill_null(5.5),
        imd_unknown=t.imd_decile.isnull(),
        segment=t.segment,
        ltc_count=t.ltc_count.cast("float64"),
        charlson=t.charlson.cast("float64").fill_null(0.0),
        elixhauser_vw=t.elixhauser_vw.cast("float64").fill_null(0.0),
        hfrs=t.hfrs.cast("float64").fill_null(0.0),
        **{c: t[c] for c in ltc_flags},
        **filled,
    )
