"""The risk stage: who is at risk of an emergency admission or death, ranked by need.

1. Index dates (``risk.dates``): training dates, a later test date whose follow-up the
   data cover, and the scoring date after the data.
2. Features at every date (``risk.features``), the outcome (``risk.labels``).
3. The need model (``risk.model``) fitted on the training dates, pulled into pandas,
   validated on the test date (``risk_performance``, ``risk_calibration``), then
   scored in the engine at the scoring date with each person's three main factors and
   tier (``risk_score``, ``risk_tiers``).
4. The equity audit (``risk.equity``): the same features fitted to next year's cost
   (from ``cost_person_year``, when the workspace has costs), both ranked on the test
   date against where need fell (``equity_audit``, ``equity_conditions``).
5. Fair shares (``risk.fair_shares``) by place and practice from the scores.

Only aggregates go to the publish stage's gate; ``risk_score`` holds pseudonymised
ids for the care-team view and never leaves the warehouse.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from openphm import codelists, engine
from openphm.config import RiskOptions
from openphm.measure import admissions, organisations
from openphm.measure import definitions as measure_definitions
from openphm.measure.periods import financial_year, financial_year_of
from openphm.need import core20plus5, records, segments
from openphm.need.matching import code_categories
from openphm.need.stage import FLAGGED, SCORED
from openphm.risk import comparison, equity, labels, tiers
from openphm.risk import fair_shares as shares
from openphm.risk import model as M
from openphm.risk import performance as perf
from openphm.risk import publication as pub
from openphm.risk.dates import NotEnoughData, choose_dates, data_start
from openphm.risk.features import (
    INDEX_DATE,
    NeedDefinitions,
    add_months,
    feature_table,
    index_table,
    load_features,
    need_on,
    prior_use,
)
from openphm.runner import Stage, StageError, StageInput, StageOutput

__all__ = ["OUTPUTS", "STAGE", "build"]

SCORE = "risk_score"
MODEL = "risk_model"
#: The test window's people with their predictions and outcomes (row level, for
#: analysts and for checking the model against a truth; never published).
VALIDATION = "risk_validation"
OUTPUTS = (SCORE, MODEL, VALIDATION, *pub.TABLES)
#: The groups the boosted comparison model is reported by (and overall).
COMPARED_BY = ("imd_quintile", "ethnic_group")
#: People with, and without, the outcome the training rows need before a model is fitted.
MIN_OUTCOMES = perf.MIN_EVENTS
#: Without costs, the budget fair shares divide (pounds).
DEFAULT_BUDGET_POUNDS = 100_000_000
SCORE_COLUMNS = {
    "person_id": "string",
    "index_date": "date",
    "practice_code": "string",
    "probability": "float64",
    "tier": "string",
    "rank": "int64",
    "factor_1": "string",
    "factor_2": "string",
    "factor_3": "string",
}


_S, _F, _I = "string", "float64", "int64"
#: Every output's columns when the stage is skipped (``empty_outputs``); the performance
#: table adds fpr_/fnr_ columns for each tier cut.
EMPTY_SCHEMAS = {
    SCORE: SCORE_COLUMNS,
    MODEL: M.COLUMNS,
    VALIDATION: {
        "person_id": _S,
        "index_date": "date",
        "probability": _F,
        labels.OUTCOME: "boolean",
        "practice_code": _S,
        "place_code": _S,
        **dict.fromkeys(perf.GROUP_TYPES[:-1], _S),
        "predicted_cost": _F,
        "active_conditions": _F,
    },
    pub.PERFORMANCE: {
        "model": _S,
        "group_type": _S,
        "group": _S,
        "people": _I,
        "events": _I,
        **dict.fromkeys(
            ("auroc", "auprc", "brier", "calibration_intercept", "calibration_slope"), _F
        ),
    },
    pub.CALIBRATION: {
        **dict.fromkeys(("model", "group_type", "group", "decile"), _S),
        "people": _I,
        "events": _I,
        "mean_predicted_percent": _F,
    },
    pub.TIERS: {"tier": _S, "segment": _S, "people": _I},
    pub.EQUITY: {
        **dict.fromkeys(("label", "group_type", "group", "tier"), _S),
        "people": _I,
        "need_people": _I,
        **dict.fromkeys(
            ("share_in_tier_percent", "share_of_need_percent", "share_of_top_by_need_percent"),
            _F,
        ),
    },
    pub.CONDITIONS: {
        **dict.fromkeys(("label", "group_type", "group", "percentile_band"), _S),
        "people": _I,
        "mean_active_conditions": _F,
    },
    pub.FAIR_SHARES: {
        "level": _S,
        "code": _S,
        "people": _I,
        **dict.fromkeys(("age_sex_index", "needs_index", "need_adjustment"), _F),
        **{
            f"{c}_{unit}": _I
            for unit in ("pence", "pounds")
            for c in ("fair_share", "actual_spend", "shock_fair_share", "shock_change")
        },
    },
}


def empty_outputs(options: RiskOptions) -> dict[str, ir.Table]:
    """Every output, empty with its columns: what a skipped stage commits."""
    cuts = tiers.check(options.tiers) if options.tiers else tiers.default_cuts()
    rates = {f"{r}_{perf.cut_name(c)}": _F for c in cuts for r in ("fpr", "fnr")}
    out = {}
    for name, schema in EMPTY_SCHEMAS.items():
        schema = {**schema, **rates} if name == pub.PERFORMANCE else schema
        out[name] = ibis.memtable(pd.DataFrame(columns=list(schema)), schema=ibis.schema(schema))
    return out


def _need_definitions(inp: StageInput) -> NeedDefinitions:
    folder: Path | None = inp.config.stages.need.codelists
    if folder is not None and not folder.is_absolute() and inp.workspace is not None:
        folder = inp.workspace.root / folder

    def definition(name: str):
        if folder is not None and name in codelists.available(folder):
            return codelists.load(name, folder)
        return codelists.load(name)

    loaded = {name: definition(name) for name in dict.fromkeys(SCORED + FLAGGED)}
    plus = inp.config.stages.need.plus_groups
    plus = None if plus is None else {n: g.model_dump() for n, g in plus.items()}
    return NeedDefinitions(
        [loaded[n] for n in SCORED],
        [loaded[n] for n in FLAGGED],
        segments.load(),
        core20plus5.load(None, plus),
    )


def _ethnic_groups() -> measure_definitions.CodeList:
    """The measure stage's ethnic groups, so both stages group people alike."""
    return measure_definitions.load().codelists["ethnic_groups"]


class _Scratch:
    """Scratch tables of one run, dropped newest first when the stage has committed."""

    def __init__(self, con):
        self.con, self.names, self.tag = con, [], uuid.uuid4().hex[:8]

    def keep(self, name: str, table: ir.Table) -> ir.Table:
        physical = f"_risk_{name}_{self.tag}"
        self.names.append(physical)
        # A snapshot, not a cached view: Spark would re-analyse a cached view's whole
        # query (need's code lists, at every date) at each read (DEVELOPERS.md).
        return engine.snapshot_table(self.con, physical, table)

    def drop(self) -> None:
        for name in reversed(self.names):
            engine.drop_scratch(self.con, name)


def build(inp: StageInput) -> StageOutput:
    options = inp.config.stages.risk
    t = inp.tables
    con = inp.workspace.con if inp.workspace is not None else t["person"]._find_backend()
    scratch = _Scratch(con)
    try:
        tables, counts = _build(inp, options, t, scratch)
    except NotEnoughData as thin:  # valid but thin data: say so, and let the run go on
        scratch.drop()
        return StageOutput(
            tables=empty_outputs(options),
            counts={"risk": {"modelled": False}},
            notes=[str(thin)],
        )
    except Exception:
        scratch.drop()
        raise
    return StageOutput(
        tables=tables,
        counts={"risk": counts},
        cleanup=[scratch.drop],
        # The dashboard's care-team lists and cohort profiles read this restricted copy, so
        # they never wait for (or fail on) the warehouse while a run holds it.
        restricted={SNAPSHOT: tables["risk_score"]},
    )


SNAPSHOT = "risk_score"  # quarantine/risk/risk_score.parquet


def _build(inp, options: RiskOptions, t, scratch: _Scratch):
    encounter, person, gp_event, lsoa = (
        t["encounter"],
        t["person"],
        t.get("gp_event"),
        t.get("lsoa"),
    )
    end = records.end_of_data(encounter, gp_event)
    start = data_start(encounter)
    if end is None or start is None:
        raise NotEnoughData(
            "Risk was not modelled: the workspace has no dated encounters to set index dates from."
        )
    dates = choose_dates(start, end, options)
    cuts = tiers.check(options.tiers) if options.tiers else tiers.default_cuts()
    need_defs = _need_definitions(inp)
    ltc = next(d for d in need_defs.flagged if d.name == "ltc")
    features = load_features(ltc)
    ltc_flags = [f.name for f in features if f.name.startswith("ltc_") and f.kind == "binary"]

    # Only records some definition matches, and admitted care (the need table's
    # emergency admissions): the need query runs once per index date.
    coded = records.coded_records(t["diagnosis"], encounter, gp_event)
    codes = code_categories(
        coded.select("code", "code_system").distinct(), [*need_defs.scored, *need_defs.flagged]
    )
    coded = scratch.keep(
        "records",
        coded.semi_join(codes.select("code", "code_system").distinct(), ["code", "code_system"]),
    )
    apc = scratch.keep("apc", encounter.filter(encounter.setting == "apc"))
    # Continuous inpatient spells, built once: prior use and the outcome both read them
    # (Spark would otherwise plan the windows behind them once per use).
    spells = scratch.keep("spells", admissions.cip_spells(apc))
    follow_up_end = add_months(dates.test, labels.FOLLOW_UP_MONTHS)
    all_dates = sorted({*dates.training, dates.test, dates.scoring})
    need_by_date = {
        d: scratch.keep(
            f"need_{d:%Y%m}", need_on(coded, person, lsoa, apc, d - dt.timedelta(1), need_defs)
        )
        for d in all_dates
    }
    if follow_up_end == dates.scoring:
        after = need_by_date[dates.scoring]
    else:
        after = scratch.keep(
            "need_after",
            need_on(coded, person, lsoa, apc, follow_up_end - dt.timedelta(1), need_defs),
        )
    use = scratch.keep("use", prior_use(encounter, gp_event, index_table(all_dates), spells))
    groups = _ethnic_groups()
    table = feature_table(need_by_date, person, t["registration"], lsoa, use, ltc_flags, groups)
    labelled_dates = [*dates.training, dates.test]
    outcomes = labels.outcome(encounter, person, labelled_dates, spells)
    table = scratch.keep("features", labels.with_outcome(table, outcomes))

    # Fit on the training dates (a sample of people if there are too many rows).
    train = table.filter(table[INDEX_DATE].isin(list(dates.training)))
    train_frame = _pulled(_sample(train, options.max_training_rows))
    _enough_outcomes(train_frame, dates)
    try:
        need_model = M.fit(train_frame, labels.OUTCOME, features, name="need")
    except ValueError as exc:  # e.g. nobody (or everybody) had the outcome
        raise StageError(f"risk: {exc}") from None

    # Validate on the test date: scored in the engine, as everyone will be.
    at_test = table.filter(table[INDEX_DATE] == dates.test)
    at_test = _with_place(at_test, _homes(person, lsoa))
    test_scored = M.scored(at_test, need_model).rename(probability="prediction")
    test_cols = [
        "person_id",
        "probability",
        labels.OUTCOME,
        "practice_code",
        "place_code",
        *perf.GROUP_TYPES[:-1],
    ]
    test_frame = test_scored.select(*dict.fromkeys(test_cols)).to_pandas()
    # One order on every engine: ties in the rankings below go by person_id.
    test_frame = test_frame.sort_values("person_id", ignore_index=True)
    performance = perf.performance_table(test_frame, cuts, prediction="probability")
    performance.insert(0, "model", "need")
    calibration = perf.calibration_table(test_frame, prediction="probability")
    calibration.insert(0, "model", "need")
    if options.comparison_model:
        performance = pd.concat(
            [performance, _compared(train_frame, at_test, need_model, options, cuts)],
            ignore_index=True,
        )

    # The equity audit: the same features, fitted to next year's cost.
    cost_model, audit_scores = None, {"need": "probability"}
    cost_table = t.get("cost_person_year")
    cost_note = "not fitted: the workspace has no cost_person_year (run the cost stage)"
    april_dates = [d for d in dates.training if (d.month, d.day) == (4, 1)]
    if cost_table is not None and april_dates and (dates.test.month, dates.test.day) == (4, 1):
        cost_rows = ibis.union(*(labels.next_year_cost(table, cost_table, d) for d in april_dates))
        cost_frame = _pulled(_sample(cost_rows, options.max_training_rows))
        if cost_frame[labels.COST].sum() > 0:
            cost_model = M.fit(
                cost_frame,
                labels.COST,
                features,
                name="cost",
                link="log",
                terms=need_model_terms_for(need_model),
            )
            cost_pred = M.scored(at_test, cost_model).select("person_id", "prediction")
            test_frame = test_frame.merge(
                cost_pred.to_pandas().rename(columns={"prediction": "predicted_cost"}),
                on="person_id",
                how="left",
                validate="one_to_one",
            )
            audit_scores["cost"] = "predicted_cost"
            cost_note = (
                f"fitted on {len(cost_frame)} rows at {[d.isoformat() for d in april_dates]}"
            )
    elif cost_table is not None:
        cost_note = "not fitted: next-year cost needs 1 April training and test index dates"
    active = after.select(_p=after.person_id, active_conditions=after.ltc_count.cast("float64"))
    active = active.to_pandas().rename(columns={"_p": "person_id"})
    test_frame = test_frame.merge(active, on="person_id", how="left")
    test_frame["active_conditions"] = test_frame.active_conditions.fillna(0.0)
    audit = equity.audit_table(test_frame, audit_scores, cuts)
    conditions = equity.conditions_by_percentile(test_frame, audit_scores)

    # Score everyone at the scoring date, in the engine.
    at_score = table.filter(table[INDEX_DATE] == dates.scoring)
    scored = M.scored(at_score, need_model).rename(probability="prediction")
    scored = tiers.ranked(scored, "probability", cuts)
    risk_score = scratch.keep(
        "score",
        scored.select(**{c: scored[c].cast(k) for c, k in SCORE_COLUMNS.items()}),
    )
    by_segment = (
        risk_score.join(at_score.select("person_id", "segment"), "person_id")
        .group_by(["tier", "segment"])
        .aggregate(people=ibis._.count())
    )

    # Fair shares from the scores, beside the costing's latest year.
    cells = risk_score.join(at_score.select("person_id", "age_band", "sex"), "person_id")
    # Homes as places stood on the scoring date, built once for the shares and the spend.
    homes = _homes(person, lsoa, t.get("organisation"), dates.scoring)
    homes = homes if homes is None else scratch.keep("homes", homes)
    cells = _with_place(cells, homes)
    cells = (
        cells.group_by(["place_code", "practice_code", "age_band", "sex"])
        .aggregate(people=ibis._.count(), need=ibis._.probability.sum())
        .to_pandas()
    )
    spend, spend_year = _spend(cost_table, risk_score, homes, dates.scoring)
    budget_pence = (
        options.budget_pounds * 100
        if options.budget_pounds
        else int(spend[spend.level == "place"].actual_spend_pence.sum())
        if spend is not None and len(spend)
        else DEFAULT_BUDGET_POUNDS * 100
    )
    shocked = shares.shock_target(cells, options.shock_place)
    fair = shares.fair_shares(cells, spend, budget_pence, shocked, options.shock_uplift)

    models = pd.concat(
        [M.to_frame(m) for m in (need_model, cost_model) if m is not None], ignore_index=True
    )
    tables = {
        SCORE: risk_score,
        MODEL: _memtable(models, M.COLUMNS),
        VALIDATION: _frame_table(_validation(test_frame, dates.test)),
        pub.PERFORMANCE: _frame_table(performance),
        pub.CALIBRATION: _frame_table(calibration),
        pub.TIERS: by_segment.mutate(people=by_segment.people.cast("int64")),
        pub.EQUITY: _frame_table(audit),
        pub.CONDITIONS: _frame_table(conditions),
        pub.FAIR_SHARES: _frame_table(_with_pounds(fair)),
    }
    overall = performance[performance.group_type == perf.OVERALL].iloc[0]
    counts = {
        "index_dates": {
            "training": [d.isoformat() for d in dates.training],
            "test": dates.test.isoformat(),
            "scoring": dates.scoring.isoformat(),
        },
        "training_rows": len(train_frame),
        "test": {k: _round(overall[k]) for k in ("auroc", "calibration_slope", "brier")},
        "cost_model": cost_note,
        "budget_pence": budget_pence,
        "shock": {"place": shocked, "uplift": options.shock_uplift},
        "spend_year": spend_year,
        "tiers": list(tiers.names(cuts)),
    }
    return tables, counts


def _enough_outcomes(train_frame: pd.DataFrame, dates) -> None:
    """NotEnoughData unless the training rows hold ``MIN_OUTCOMES`` people with the outcome
    (at some training date) and as many without. The note gives the threshold, not the
    count: a count of 1 to 7 people is one the disclosure gate would withhold."""
    had = train_frame[labels.OUTCOME].astype(bool)
    with_outcome = train_frame.person_id[had].nunique()
    without = train_frame.person_id[~had].nunique()
    if min(with_outcome, without) >= MIN_OUTCOMES:
        return
    which = "with" if with_outcome < MIN_OUTCOMES else "without"
    windows = ", ".join(d.isoformat() for d in dates.training)
    raise NotEnoughData(
        f"Risk was not modelled: the training index dates ({windows}) have fewer than "
        f"{MIN_OUTCOMES} people {which} an emergency admission or death in the 12 months "
        f"after; at least {MIN_OUTCOMES} with and {MIN_OUTCOMES} without are needed. "
        "Load more people or years."
    )


def _compared(train_frame, at_test, need_model, options: RiskOptions, cuts) -> pd.DataFrame:
    """The boosted comparison model's performance on the test rows (``risk.comparison``)."""
    boosted = comparison.fit(train_frame, labels.OUTCOME, need_model.terms)
    rows = _pulled(_sample(at_test, options.max_training_rows))
    rows["boosted"] = comparison.predict(boosted, rows, need_model.terms)
    table = perf.performance_table(rows, cuts, prediction="boosted", group_types=COMPARED_BY)
    table.insert(0, "model", comparison.COMPARISON)
    return table


def _validation(frame: pd.DataFrame, test: dt.date) -> pd.DataFrame:
    out = frame.copy()
    if "predicted_cost" not in out.columns:
        out["predicted_cost"] = np.nan
    out.insert(1, INDEX_DATE, pd.Timestamp(test))
    out[labels.OUTCOME] = out[labels.OUTCOME].astype(bool)
    return out


def need_model_terms_for(model: M.RiskModel) -> tuple[M.Term, ...]:
    """The need model's terms (knots, levels), unfitted: the cost model uses the same."""
    return tuple(
        M.Term(
            t.feature,
            t.name,
            t.kind,
            t.label,
            index=t.index,
            level=t.level,
            knots=t.knots,
            transform=t.transform,
            cap=t.cap,
        )
        for t in model.terms
    )


def _round(value) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)


#: Hex digits of a person's pseudonym the training sample is drawn on.
SAMPLE_DIGITS = 4


def _sample(table: ir.Table, limit: int) -> ir.Table:
    """At most about ``limit`` rows: whole people, chosen by their pseudonym.

    Pseudonyms are HMAC-SHA256 in hex, so their first digits are uniform: keeping ids
    below a threshold takes a share of people, and the same people on every engine (a
    hash function would differ between DuckDB and Spark, and so would the model).
    """
    n = table.count().execute()
    if n <= limit:
        return table
    buckets = 16**SAMPLE_DIGITS
    below = f"{max(1, buckets * limit // n):0{SAMPLE_DIGITS}x}"
    return table.filter(table.person_id.substr(0, SAMPLE_DIGITS).lower() < below)


def _pulled(table: ir.Table) -> pd.DataFrame:
    """Rows to fit on, in one order: engines return rows in any order, and the fit's
    floating-point sums follow it, so the same rows give the same model everywhere."""
    frame = table.to_pandas()
    return frame.sort_values(["person_id", INDEX_DATE], ignore_index=True, kind="stable")


def _homes(
    person: ir.Table,
    lsoa: ir.Table | None,
    organisation: ir.Table | None = None,
    on: dt.date | None = None,
) -> ir.Table | None:
    """_p, _place: where each person lives (their LSOA's place); None without LSOAs.

    With ``organisation`` and ``on``, the place as it stood on that day: a place merged
    into another since the LSOA lookup was drawn reads as its successor, so shares are
    given to the places that hold the budget, not to ones that have closed.
    """
    if lsoa is None:
        return None
    homes = person.select(_p=person.person_id, _l=person.lsoa_code)
    places = lsoa.select(_lsoa=lsoa.lsoa_code, _place=lsoa.place_code)
    lookup = homes.left_join(places, homes._l == places._lsoa).select("_p", "_place")
    if organisation is not None and on is not None:
        codes = places.filter(places._place.notnull()).select(code=places._place).distinct()
        codes = codes.mutate(on=ibis.literal(on, "date"))
        current = organisations.resolve(codes, organisation, dict(organisations.HIERARCHY)["place"])
        lookup = lookup.left_join(current, lookup._place == current.code)
        lookup = lookup.select("_p", _place=lookup.resolved.fill_null(lookup._place))
    return lookup


def _with_place(t: ir.Table, homes: ir.Table | None) -> ir.Table:
    """``t`` plus ``place_code`` from ``_homes``, else Unknown."""
    if homes is None:
        return t.mutate(place_code=ibis.literal("Unknown"))
    joined = t.left_join(homes, t.person_id == homes._p)
    return joined.mutate(place_code=joined._place.fill_null("Unknown")).drop("_p", "_place")


def _spend(cost_table, risk_score, homes: ir.Table | None, scoring: dt.date):
    """Actual spend by place and practice in the latest costed financial year before scoring,
    with places as they stand on the scoring date (as the fair shares have them)."""
    if cost_table is None:
        return None, None
    year = financial_year(financial_year_of(scoring) - 1).label
    costs = cost_table.filter(cost_table.financial_year == year)
    per_person = costs.group_by("person_id").aggregate(pence=costs.cost_pence.sum())
    per_person = _with_place(per_person, homes)
    practices = risk_score.select("person_id", "practice_code")
    t = per_person.left_join(practices, "person_id")
    frame = t.select(
        "pence",
        "place_code",
        practice_code=t.practice_code.fill_null("Unknown"),
    ).to_pandas()
    parts = []
    for level in shares.LEVELS:
        s = frame.groupby(f"{level}_code").pence.sum().reset_index()
        parts.append(
            pd.DataFrame(
                {
                    "level": level,
                    "code": s[f"{level}_code"],
                    "actual_spend_pence": s.pence.astype("int64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True), year


def _with_pounds(fair: pd.DataFrame) -> pd.DataFrame:
    out = fair.copy()
    for c in ("fair_share", "actual_spend", "shock_fair_share", "shock_change"):
        pence = out[f"{c}_pence"].astype("int64")
        out[f"{c}_pounds"] = np.floor((pence + 50) / 100).astype("int64")
    for c in ("age_sex_index", "needs_index", "need_adjustment"):
        out[c] = out[c].round(4)
    # An area of a handful of people: its figures would describe them; left blank.
    small = out.people < perf.MIN_EVENTS
    out.loc[small, ["age_sex_index", "needs_index", "need_adjustment"]] = np.nan
    for c in ("fair_share", "actual_spend", "shock_fair_share", "shock_change"):
        out[f"{c}_pounds"] = out[f"{c}_pounds"].astype("Int64").mask(small)
    return out


def _frame_table(frame: pd.DataFrame) -> ir.Table:
    """A pandas aggregate as a table with its schema given (Spark needs one for NULL columns)."""
    schema = {}
    for c in frame.columns:
        kind = frame[c].dtype
        if pd.api.types.is_bool_dtype(kind):
            schema[c] = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(kind):
            schema[c] = "date"
        elif pd.api.types.is_integer_dtype(kind):
            schema[c] = "int64"
        elif pd.api.types.is_float_dtype(kind):
            schema[c] = "float64"
            frame = frame.assign(**{c: frame[c].round(6)})
        else:
            schema[c] = "string"
            frame = frame.assign(**{c: frame[c].astype("object").where(frame[c].notna(), None)})
    return ibis.memtable(frame, schema=ibis.schema(schema))


def _memtable(frame: pd.DataFrame, schema: dict) -> ir.Table:
    frame = frame[list(schema)].copy()
    for c, kind in schema.items():
        if kind == "string":
            frame[c] = frame[c].astype("object").where(frame[c].notna(), None)
    return ibis.memtable(frame, schema=ibis.schema(schema))


STAGE = Stage(
    name="risk",
    description=(
        "12-month emergency admission or death risk (features at monthly index dates, "
        "temporal validation, penalised spline regression scored in the engine), tiers, "
        "the equity audit of a cost label against need, and fair shares"
    ),
    inputs=("person", "registration", "encounter", "diagnosis"),
    outputs=OUTPUTS,
    build=build,
    optional=("gp_event", "lsoa", "organisation", "cost_person_year"),
)
