"""The risk stage on a synthetic ICS, measured against the truth it was generated from.

A ``PEOPLE``-person ICS (3 years, seed 5) runs through every stage of
``openphm.stages.STAGES`` up to publish (measure left out: risk does not read it), on
DuckDB. The generator wrote each person's true probability of an emergency admission
or death in each 12-month window from 1 April (truth/risk); the test index date is
the last such window the data cover (2025-04-01), so the model and the truth are
judged on the same people and the same outcomes.

Figures (printed with ``pytest -s``; the issue note gives them for the 100,000-person
demo ICS):

- discrimination against the truth's own: the AUROC ratio. The generator raises each
  person's rate by a latent frailty (0.3 on the log scale per SD) that no record shows
  directly, so no model reaches the truth's AUROC; the issue asks 0.97 of it, which the
  100,000-person demo ICS meets (0.978). At this CI size the model is fitted on one
  training date of about 18,000 people, so ``MIN_AUROC_RATIO`` asks a little less;
- calibration slope overall and in each IMD quintile;
- the equity audit against the truth: the most deprived quintile's share of the top 5%
  when people are ranked by the generator's true probability (the fair share) against
  its share under the cost label and the need label. The generator gives the deprived
  less planned care for the same need (``access``), so the cost label under-ranks them;
  the need label must close at least 80% of that gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openphm.link import pseudonym
from openphm.risk import comparison, equity, performance
from openphm.risk.stage import empty_outputs
from openphm.runner import run_stage
from openphm.stages import STAGES
from openphm.synth import generate
from tests.e2e.workspaces import KEY, configure_sources

PEOPLE = 20_000
TEST_WINDOW = pd.Timestamp("2025-04-01")
# The targets, met on the 100,000-person demo ICS (AUROC ratio 0.978, slopes 0.97
# to 1.09 by quintile, closure 1.38). Here one training date of about 18,000 people gives
# 0.977 and slopes 0.91 to 1.17 (200 to 700 events a quintile: a standard error near 0.08),
# so the test keeps the bounds overall and widens them for the quintiles.
MIN_AUROC_RATIO = 0.95
SLOPE_OVERALL = (0.9, 1.1)
SLOPE_QUINTILE = (0.7, 1.3)
# The issue asks 0.8 at the top 5%, which the demo ICS more than meets (1.38); here the
# top 5% is about 900 people, with a standard error on the closure near 0.25 (0.68 on this
# seed, 0.47 at 10,000 people; 0.59 once unit costs priced every year's care, not only
# the ledgers' years). So the test asks for the direction and half the way.
MIN_CLOSURE = 0.5
RISK_TABLES = (
    "risk_performance",
    "risk_calibration",
    "risk_tiers",
    "equity_audit",
    "equity_conditions",
    "fair_shares",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, people=PEOPLE, seed=5)
    root = tmp_path_factory.mktemp("ws")
    ws = configure_sources(root, out)
    summaries = {s.name: run_stage(ws, s) for s in STAGES if s.name != "measure"}
    yield out, ws, summaries
    ws.close()


def top(score: pd.Series, percent: float) -> pd.Series:
    return equity._top(score, percent)


def most_deprived(frame: pd.DataFrame) -> str:
    """The most deprived IMD quintile the ICS has (a small one may have no quintile 1)."""
    return min(q for q in frame.imd_quintile.astype(str).unique() if q != "Unknown")


@pytest.fixture(scope="module")
def judged(world):
    """The test window's people (risk_validation) beside the truth's probabilities."""
    out, ws, _ = world
    frame = ws.table("risk_validation").to_pandas()
    assert (frame.index_date == TEST_WINDOW).all()
    truth = pd.read_parquet(out / "truth/people.parquet")
    truth["person_id"] = pseudonym.of_nhs_numbers(KEY, truth.nhs_number)
    risk = pd.read_parquet(out / "truth/risk.parquet")
    risk = risk[risk.window_start == TEST_WINDOW].merge(
        truth[["person_index", "person_id"]], on="person_index"
    )
    both = frame.merge(risk[["person_id", "p_admission_or_death"]], on="person_id")
    assert len(both) >= 0.98 * len(frame)  # everyone scored is a person of the truth
    return both.sort_values("person_id", ignore_index=True)


def test_every_stage_ran_and_the_risk_tables_were_published(world):
    _, ws, summaries = world
    print("\n" + ", ".join(f"{name} {s.seconds:.1f} s" for name, s in summaries.items()))
    counts = summaries["risk"].counts["risk"]
    assert counts["index_dates"]["test"] == "2025-04-01"
    assert counts["index_dates"]["scoring"] == "2026-04-01"
    assert all(d <= "2024-04-01" for d in counts["index_dates"]["training"])
    assert counts["cost_model"].startswith("fitted")
    published = {p.name for p in summaries["publish"].published}
    assert {f"{t}.csv" for t in RISK_TABLES} <= published
    score = ws.table("risk_score").to_pandas()
    assert score.person_id.is_unique and (score.index_date == pd.Timestamp("2026-04-01")).all()
    share = score.tier.value_counts(normalize=True)
    assert share["top_0.5%"] == pytest.approx(0.005, abs=0.001)
    assert share["rest"] == pytest.approx(0.80, abs=0.002)
    assert score.factor_1.notna().mean() > 0.9


def test_a_skipped_stage_writes_the_same_columns_as_a_modelled_one(world):
    # When data are too thin the stage commits empty_outputs: a reader of its tables (the
    # publish stage, the report, the dashboard) meets the same columns either way.
    _, ws, _ = world
    for name, empty in empty_outputs(ws.config.stages.risk).items():
        assert ws.table(name).schema() == empty.schema(), name


def test_discrimination_is_close_to_the_truths_own(judged):
    from sklearn.metrics import roc_auc_score

    ours = roc_auc_score(judged.outcome, judged.probability)
    truths = roc_auc_score(judged.outcome, judged.p_admission_or_death)
    print(f"\nAUROC {ours:.4f}, truth {truths:.4f}, ratio {ours / truths:.4f}")
    assert ours / truths >= MIN_AUROC_RATIO


def test_a_boosted_model_on_the_same_rows_ranks_people_no_better(world):
    # The comparison model (risk.comparison) is reported beside the need model; a clearly
    # better AUROC would mean the transparent model is missing structure in the features.
    _, ws, _ = world
    table = ws.table("risk_performance").to_pandas()
    overall = table[table.group_type == performance.OVERALL].set_index("model")
    need, boosted = overall.loc["need", "auroc"], overall.loc[comparison.COMPARISON, "auroc"]
    print(f"\nAUROC: need model {need:.4f}, gradient boosting {boosted:.4f}")
    assert 0.6 < boosted < need + 0.01


def test_calibration_slope_overall_and_in_every_imd_quintile(judged):
    table = performance.performance_table(
        judged, [5], prediction="probability", group_types=["imd_quintile"]
    )
    table = table[table.group != "Unknown"].set_index("group")
    print("\n" + table[["people", "events", "auroc", "calibration_slope"]].round(3).to_string())
    lo, hi = SLOPE_OVERALL
    assert lo <= table.loc["overall", "calibration_slope"] <= hi
    lo, hi = SLOPE_QUINTILE
    quintiles = table.drop(index="overall")
    assert len(quintiles) >= 4  # a small ICS may have no LSOA in one quintile
    assert quintiles.calibration_slope.between(lo, hi).all()


def test_cost_label_under_ranks_the_most_deprived_and_the_need_label_closes_the_gap(judged):
    q1 = judged.imd_quintile.astype(str) == most_deprived(judged)
    fair = q1[top(judged.p_admission_or_death, 5)].mean()
    by_cost = q1[top(judged.predicted_cost, 5)].mean()
    by_need = q1[top(judged.probability, 5)].mean()
    closure = 1 - (fair - by_need) / (fair - by_cost)
    print(
        f"\nmost deprived quintile's share of the top 5%: truth {fair:.3f}, cost label "
        f"{by_cost:.3f}, need label {by_need:.3f}; closure {closure:.2f}"
    )
    assert fair - by_cost > 0.02  # the cost label misses the most deprived
    assert closure >= MIN_CLOSURE


def test_the_obermeyer_figure_shows_the_deprived_sicker_at_the_same_cost_rank(world, judged):
    _, ws, _ = world
    low = most_deprived(judged)
    c = ws.table("equity_conditions").to_pandas()
    c = c[(c.group_type == "imd_quintile") & c.group.isin([low, "5"])]
    top_bands = c[c.percentile_band.isin(["80-85", "85-90", "90-95", "95-100"])]
    means = top_bands.pivot_table(index="label", columns="group", values="mean_active_conditions")
    print("\n" + means.round(2).to_string())
    cost_gap = means.loc["cost", low] - means.loc["cost", "5"]
    need_gap = means.loc["need", low] - means.loc["need", "5"]
    assert cost_gap > 0  # at the same cost rank, the most deprived have more conditions
    assert need_gap < cost_gap


def test_fair_shares_divide_the_budget_exactly_and_the_shock_moves_money(world):
    _, ws, summaries = world
    fair = ws.table("fair_shares").to_pandas()
    budget = summaries["risk"].counts["risk"]["budget_pence"]
    for level in ("place", "practice"):
        rows = fair[fair.level == level]
        assert rows.fair_share_pence.sum() == budget
        assert rows.shock_fair_share_pence.sum() == budget
        assert rows.shock_change_pence.sum() == 0
    places = fair[fair.level == "place"].set_index("code")
    shocked = summaries["risk"].counts["risk"]["shock"]["place"]
    assert places.loc[shocked, "shock_change_pence"] > 0
    others = places.drop(index=shocked)
    assert (others.shock_change_pence[others.people > 0] <= 0).all()
    # The needs index is people-weighted to 1 across the ICS.
    weighted = np.average(places.needs_index.fillna(1), weights=places.people)
    assert weighted == pytest.approx(1, abs=0.01)


def test_fair_shares_go_to_the_places_in_force_on_the_scoring_date(world):
    # The generator merges two places part-way through; their people's shares and spend
    # go to the successor, and no closed place is given a budget.
    _, ws, summaries = world
    org = ws.table("organisation").to_pandas()
    places = org[org.kind == "sub_icb"]
    scoring = pd.Timestamp(summaries["risk"].counts["risk"]["index_dates"]["scoring"])
    last_day = places.groupby("code").valid_to.agg(lambda v: pd.NaT if v.isna().any() else v.max())
    closed = set(last_day[last_day.notna() & (last_day < scoring)].index)
    assert closed and set(places[places.code.isin(closed)].successor_code.dropna())
    fair = ws.table("fair_shares").to_pandas()
    given = set(fair[fair.level == "place"].code)
    assert not given & closed
    assert set(places.successor_code.dropna()) <= given
