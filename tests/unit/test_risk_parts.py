"""The risk package's small parts: splines, features as data, dates, tiers, calibration,
the equity audit's shares, fair-share allocation, the cohort builder and the options."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from openphm import codelists
from openphm.config import Governance, RiskOptions
from openphm.link import pseudonym
from openphm.risk import cohort, equity, fair_shares, performance, splines, tiers
from openphm.risk.dates import NotEnoughData, choose_dates, data_start
from openphm.risk.features import add_months, load_features
from openphm.risk.stage import _sample

# --- splines -------------------------------------------------------------------------


def test_restricted_cubic_spline_is_linear_outside_its_knots_and_smooth_at_them():
    knots = (10.0, 40.0, 60.0, 90.0)
    x = np.linspace(-50, 200, 2501)
    basis = splines.basis_numpy(x, knots)
    assert basis.shape == (len(x), 3)
    second = np.diff(basis, n=2, axis=0)
    assert np.abs(second[x[1:-1] < 9.9]).max() < 1e-9  # linear below the first knot
    assert np.abs(second[x[1:-1] > 90.1]).max() < 1e-9  # and above the last
    assert np.abs(np.diff(basis, axis=0)).max() < 0.2  # no jumps anywhere
    assert np.abs(second[(x[1:-1] > 11) & (x[1:-1] < 89)]).max() > 1e-6  # cubic between


def test_knots_fall_back_to_linear_when_values_barely_vary():
    assert splines.knots_at_quantiles(np.array([0, 0, 0, 0, 1.0]), 3) == ()
    assert splines.knots_at_quantiles(np.arange(100.0), 3) == pytest.approx((9.9, 49.5, 89.1))
    with pytest.raises(ValueError, match="3, 4 or 5 knots"):
        splines.knots_at_quantiles(np.arange(10.0), 6)


# --- features as data --------------------------------------------------------------------


def test_features_add_one_flag_per_long_term_condition_with_its_own_words():
    ltc = codelists.load("ltc")
    features = {f.name: f for f in load_features(ltc)}
    assert features["ltc_diabetes"].kind == "binary"
    assert features["ltc_diabetes"].label == ltc.labels["diabetes"]
    assert features["emergency_admissions_12m"].knots == (0.0, 1.0, 3.0)
    assert features["age"].knots == 5


def test_a_bad_feature_is_named_with_the_fix():
    text = '[[features]]\nname = "age"\nkind = "curvy"\n'
    with pytest.raises(ValueError, match="feature 'age': kind 'curvy' is not one of"):
        load_features(text=text)
    text = '[[features]]\nname = "age"\nkind = "spline"\nknots = [5, 1, 9]\n'
    with pytest.raises(ValueError, match="distinct and increasing"):
        load_features(text=text)


# --- index dates ---------------------------------------------------------------------------


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 4, 1), -12) == dt.date(2023, 4, 1)
    assert add_months(dt.date(2023, 12, 1), 1) == dt.date(2024, 1, 1)


def test_dates_test_on_the_last_covered_april_and_train_on_windows_ended_by_then():
    dates = choose_dates(dt.date(2023, 4, 1), dt.date(2026, 3, 31), RiskOptions())
    assert dates.test == dt.date(2025, 4, 1)
    assert dates.scoring == dt.date(2026, 4, 1)
    # Follow-up (12 months) ends by the test date, and a full year of history comes
    # first (the features' lookback): three years of data leave one training date.
    assert dates.training == (dt.date(2024, 4, 1),)
    shorter = choose_dates(
        dt.date(2023, 4, 1), dt.date(2026, 3, 31), RiskOptions(min_history_months=6)
    )
    assert shorter.training == tuple(dt.date(2023, m, 1) for m in (11, 12)) + tuple(
        dt.date(2024, m, 1) for m in (1, 2, 3, 4)
    )
    with pytest.raises(NotEnoughData, match="are too short"):
        choose_dates(dt.date(2023, 4, 1), dt.date(2024, 9, 30), RiskOptions())


def test_data_start_is_the_first_month_near_full_not_years_of_old_open_services():
    # Fifteen years of a few social care services that began long before the extract,
    # then a first half-month (an extract starting on the 16th), then full months.
    rows = [dt.date(2008 + m // 12, m % 12 + 1, 5) for m in range(180)]
    rows += [dt.date(2023, 3, 16)] * 40
    rows += [dt.date(2023 + m // 12, m % 12 + 4, 1) for m in range(9) for _ in range(100)]
    encounter = ibis.memtable({"start_date": rows}, schema={"start_date": "date"})
    assert data_start(encounter) == dt.date(2023, 3, 1)
    thin = ibis.memtable({"start_date": rows[:180] + rows[220:]}, schema={"start_date": "date"})
    assert data_start(thin) == dt.date(2023, 4, 1)


def test_the_training_sample_takes_whole_people_by_pseudonym_about_the_share_asked():
    ids = pseudonym.of_nhs_numbers(b"k" * 32, [f"999{i:07d}" for i in range(5_000)])
    rows = ibis.memtable({"person_id": ids * 2, "index_date": [1] * 5_000 + [2] * 5_000})
    kept = _sample(rows, 2_500).to_pandas()
    assert 2_250 <= len(kept) <= 2_750
    assert (kept.person_id.value_counts() == 2).all()  # both of a person's rows, or neither
    assert _sample(rows, 10_000).count().execute() == 10_000  # under the limit: everyone


def test_risk_options_take_the_first_of_a_month():
    with pytest.raises(ValidationError, match="first day of a month"):
        RiskOptions(index_date=dt.date(2026, 4, 2))
    assert RiskOptions(tiers=[1, 10]).tiers == [1, 10]


# --- tiers -----------------------------------------------------------------------------------


def test_tiers_cut_the_ranked_population_at_cumulative_percentages(duckdb_con):
    assert tiers.names([0.5, 2, 5, 20]) == ("top_0.5%", "0.5-2%", "2-5%", "5-20%", "rest")
    frame = pd.DataFrame(
        {"person_id": [f"p{i:03d}" for i in range(200)], "score": np.linspace(1, 0, 200)}
    )
    ranked = tiers.ranked(duckdb_con.create_table("ranks", frame), "score", [0.5, 2, 5, 20])
    got = ranked.to_pandas().set_index("person_id").sort_values("rank")
    assert got.tier.value_counts().to_dict() == {
        "top_0.5%": 1,
        "0.5-2%": 3,
        "2-5%": 6,
        "5-20%": 30,
        "rest": 160,
    }
    assert got.index[0] == "p000"
    with pytest.raises(ValueError, match="increasing percentages"):
        tiers.names([5, 2])


# --- performance ------------------------------------------------------------------------


def test_calibration_of_true_probabilities_is_slope_one_and_of_stretched_ones_below():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.6, 60_000)
    y = (rng.random(len(p)) < p).astype(float)
    intercept, slope = performance.calibration(y, p)
    assert intercept == pytest.approx(0, abs=0.04) and slope == pytest.approx(1, abs=0.05)
    logit = np.log(p / (1 - p))
    stretched = 1 / (1 + np.exp(-2 * logit))  # too extreme: slope about 0.5
    assert performance.calibration(y, stretched)[1] == pytest.approx(0.5, abs=0.04)


def test_statistics_are_blank_for_groups_with_too_few_events():
    frame = pd.DataFrame(
        {
            "prediction": np.r_[np.linspace(0.9, 0.1, 100), [0.5, 0.4]],
            "outcome": np.r_[np.arange(100) < 30, [True, False]],
            "sex": ["1"] * 100 + ["2"] * 2,
        }
    )
    table = performance.performance_table(frame, [5], group_types=["sex"]).set_index("group")
    assert table.loc["overall", "auroc"] > 0.9
    assert np.isnan(table.loc["2", "auroc"]) and table.loc["2", "people"] == 2


# --- the equity audit ------------------------------------------------------------------


def test_shares_in_a_tier_sit_beside_the_share_of_need_and_the_benchmark():
    # 100 people: group a has 40, all the outcomes among them are a's first 20. The
    # "cost" score puts group b first, the "need" score puts a's sick first.
    group = np.array(["a"] * 40 + ["b"] * 60)
    outcome = np.zeros(100, dtype=bool)
    outcome[:20] = True
    frame = pd.DataFrame(
        {
            "imd_quintile": group,
            "ethnic_group": "x",
            "outcome": outcome,
            "active_conditions": np.where(outcome, 3.0, 0.0),
            "need": np.linspace(1, 0, 100),
            "cost": np.r_[np.linspace(0.4, 0.0, 40), np.linspace(1.0, 0.5, 60)],
        }
    )
    audit = equity.audit_table(
        frame, {"need": "need", "cost": "cost"}, [20], group_types=["imd_quintile"]
    )
    rows = audit[(audit.tier == "top_20%") & (audit.group == "a")].set_index("label")
    assert rows.loc["need", "share_in_tier_percent"] == 100
    assert pd.isna(rows.loc["cost", "share_in_tier_percent"])  # 0 people: blank
    assert rows.loc["need", "share_of_need_percent"] == 100
    assert rows.loc["need", "share_of_top_by_need_percent"] == 100
    assert equity.gap(audit, "need", "a", "top_20%") == 0


# --- fair shares -------------------------------------------------------------------------


def test_allocation_is_proportional_in_whole_pence_and_adds_up_exactly():
    shares = fair_shares.allocate(100, [1, 1, 1])
    assert shares.sum() == 100 and sorted(shares) == [33, 33, 34]
    assert list(fair_shares.allocate(1_000_000, [3, 1])) == [750_000, 250_000]


def test_a_shock_in_one_place_takes_from_the_others_under_a_fixed_budget():
    cells = pd.DataFrame(
        {
            "place_code": ["P1", "P1", "P2", "P2"],
            "practice_code": ["A", "A", "B", "C"],
            "age_band": ["20-24", "80-84", "20-24", "80-84"],
            "sex": ["1", "1", "1", "1"],
            "people": [100, 100, 100, 100],
            "need": [5.0, 30.0, 5.0, 30.0],
        }
    )
    table = fair_shares.fair_shares(cells, None, 1_000_000, "P1", 0.5).set_index(["level", "code"])
    assert table.loc[("place", "P1"), "fair_share_pence"] == 500_000
    assert table.loc[("place", "P1"), "shock_fair_share_pence"] == 600_000  # 1.5 : 1
    assert table.loc[("place", "P2"), "shock_change_pence"] == -100_000
    assert table.loc[("practice", "C"), "needs_index"] == pytest.approx(30 / 100 / (70 / 400))
    assert table.loc[("practice", "C"), "need_adjustment"] == pytest.approx(1.0)
    assert fair_shares.shock_target(cells, None) == "P1"  # the largest (a tie: the first)


# --- the cohort builder -----------------------------------------------------------------------


def test_cohort_filters_are_checked_and_name_the_bad_key(tmp_path):
    with pytest.raises(cohort.CohortError, match=r"unknown filter\(s\) \['teir'\]"):
        cohort.load_filters({"teir": ["top_0.5%"]})
    path = tmp_path / "f.toml"
    path.write_text('tier = "top_0.5%"\nmin_emergency_admissions_12m = 1\n')
    assert cohort.load_filters(path) == cohort.Filters(
        tier=("top_0.5%",), min_emergency_admissions_12m=1
    )


def test_a_cohort_profile_is_gated_and_ids_are_only_for_direct_care(duckdb_con):
    n = 40
    score = pd.DataFrame(
        {
            "person_id": [f"p{i:02d}" for i in range(n)],
            "practice_code": ["Z1"] * 30 + ["Z2"] * 10,
            "tier": ["top_0.5%"] * 12 + ["rest"] * 28,
            "probability": np.linspace(0.9, 0.1, n),
        }
    )
    need = pd.DataFrame(
        {
            "person_id": score.person_id,
            "segment": ["frailty_dementia"] * 20 + ["healthy"] * 20,
            "age": [80] * n,
            "imd_decile": [1] * n,
            "emergency_admissions_12m": [1] * 25 + [0] * 15,
            "ltc_copd": [True] * 11 + [False] * 29,
        }
    )
    s = duckdb_con.create_table("cohort_score", score)
    p = duckdb_con.create_table("cohort_need", need)
    filters = cohort.load_filters({"tier": ["top_0.5%"], "conditions": ["copd"]})
    planning = cohort.build(s, p, filters, governance=governance("planning"))
    assert planning.ids is None
    profile = planning.profile.table.execute().set_index(["characteristic", "value"])
    assert profile.loc[("tier", "top_0.5%"), "people"] == 10  # 11 people, rounded to 5
    care = cohort.build(s, p, filters, governance=governance("direct_care"))
    assert care.ids == [f"p{i:02d}" for i in range(11)]
    with pytest.raises(cohort.CohortError, match="not long-term conditions"):
        cohort.select(s, p, cohort.load_filters({"conditions": ["gout"]}))
    # Practice Z1 with a recent emergency admission: 25 people, 5 of them healthy.
    recent = cohort.load_filters({"practice": ["Z1"], "min_emergency_admissions_12m": 1})
    rows = cohort.build(s, p, recent, governance=governance("planning")).profile.table.execute()
    rows = rows.set_index(["characteristic", "value"])
    assert rows.loc[("practice_code", "Z1"), "people"] == 25
    assert pd.isna(rows.loc[("segment", "healthy"), "people"])  # 5: suppressed
    assert rows.loc[("segment", "healthy"), "people_flag"] == "primary"
    assert pd.isna(rows.loc[("segment", "frailty_dementia"), "people"])  # else 25 - 20


def governance(purpose: str) -> Governance:
    return Governance(
        controller="Test ICB",
        purpose=purpose,
        lawful_basis_article6="6(1)(e)",
        lawful_basis_article9="9(2)(h)",
    )
