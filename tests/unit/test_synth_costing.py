"""The costing inputs of ``openphm synth``: provider ledgers and PLICS activity feeds, built
from one chunk of 5,000 people with three years of care (and one of 10,000 for scale)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from openphm import codes, model
from openphm.synth import costing, reference
from openphm.synth.output import PERSON
from tests.unit.synth_world import clean_frames, cohort_world

PEOPLE = 5_000
YEARS = 3
START = pd.Timestamp("2023-04-01")
FEEDS = [f"costing/feed_{feed}" for feed in costing.FEEDS]
ACUTE = ("RZ1", "RZ2")


def _world(people: int, seed: int):
    """One chunk's clean frames, built the way ``openphm.synth`` builds them."""
    ctx, cohort, emergencies = cohort_world(people, seed)
    return ctx, clean_frames(ctx, cohort, emergencies, seed)


def _costing(ctx, frames, seed: int = 8):
    generator = costing.CostingGenerator(ctx, np.random.default_rng([seed, 1]))
    started = time.perf_counter()
    feeds = generator.feeds(frames, np.random.default_rng([seed, 2]))
    ledgers = generator.ledgers()
    return feeds, ledgers, time.perf_counter() - started


@pytest.fixture(scope="module")
def world():
    ctx, frames = _world(PEOPLE, 7)
    feeds, ledgers, elapsed = _costing(ctx, frames)
    rows = sum(len(feeds[f]) for f in FEEDS)
    print(f"\ncosting: {PEOPLE:,} people, {YEARS} years, {rows:,} feed rows in {elapsed:.2f} s")
    return ctx, frames, feeds, ledgers


def _all_feeds(feeds) -> pd.DataFrame:
    return pd.concat([feeds[f].assign(FEED=f) for f in FEEDS], ignore_index=True)


def _reference_cost(feed: pd.DataFrame) -> pd.Series:
    """Each row's quantity x weight x the reference cost of its cost centre's base item."""
    cost = reference.load("unit_costs").set_index("item")["unit_cost_pence"].astype(float)
    base = feed["COST_CENTRE"].map({c: cost[spec[2]] for c, spec in costing.CENTRES.items()})
    return feed["QUANTITY"] * feed["WEIGHT"] * base


# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------


def test_unit_costs_cover_every_item_with_a_source():
    table = reference.load("unit_costs")
    assert table["item"].is_unique
    assert set(table["activity_type"]) <= set(model.ACTIVITY_TYPES)
    assert set(table["unit"]) <= set(model.ACTIVITY_UNITS)
    assert (table["source"].str.len() > 10).all()
    cost = table.set_index("item")["unit_cost_pence"].astype(float)
    assert (cost > 0).all()
    for centre, (activity, unit, base, _) in costing.CENTRES.items():
        row = table.set_index("item").loc[base]
        assert (row["activity_type"], row["unit"]) == (activity, unit), centre
    # Headline figures the brief names, within their published ranges.
    assert 450 <= cost["general_and_acute_bed_minute"] * 1440 / 100 <= 550
    assert cost["level_3_bed_day"] == 2 * cost["level_2_bed_day"]
    assert cost["gp_consultation_minute"] == 447
    assert 2500 <= cost["home_care_minute"] * 60 <= 2900


# --------------------------------------------------------------------------------------
# Feeds
# --------------------------------------------------------------------------------------


def test_feeds_have_the_documented_columns_and_unique_record_ids(world):
    _, _, feeds, ledgers = world
    for name in FEEDS:
        feed = feeds[name]
        keys = list(costing.FEED_KEYS[name.removeprefix("costing/feed_")])
        expected = ["RECORD_ID", "PROVIDER_CODE", "ACTIVITY_TYPE", *keys, "NHS_NUMBER"]
        expected += ["ACTIVITY_DATE", "ACTIVITY_START", "ACTIVITY_END", "COST_CENTRE", "ITEM"]
        expected += ["QUANTITY", "UNIT", "WEIGHT"]
        expected += ["COST_PENCE"] if name.endswith("pharmacy") else []
        assert list(feed.columns) == expected, name
        assert len(feed) > 0, name
        assert set(feed["ACTIVITY_TYPE"]) <= set(model.ACTIVITY_TYPES)
        assert set(feed["UNIT"]) <= set(model.ACTIVITY_UNITS)
        assert feed["QUANTITY"].dtype == np.int64 and (feed["QUANTITY"] > 0).all(), name
        assert (feed["WEIGHT"] > 0).all(), name
    everything = _all_feeds(feeds)
    assert everything["RECORD_ID"].is_unique
    ledger = ledgers["costing/ledger"]
    fed = everything[["PROVIDER_CODE", "COST_CENTRE"]].drop_duplicates()
    in_ledger = fed.merge(ledger[["PROVIDER_CODE", "COST_CENTRE"]].drop_duplicates())
    assert len(in_ledger) == len(fed), "every fed cost centre has ledger lines"
    pharmacy = feeds["costing/feed_pharmacy"]
    per_unit = pharmacy["COST_PENCE"] / (pharmacy["QUANTITY"] * 1000)
    assert np.allclose(per_unit, pharmacy["WEIGHT"], rtol=1e-4)


def test_no_feed_for_gp_or_social_care(world):
    _, _, feeds, ledgers = world
    providers = set(_all_feeds(feeds)["PROVIDER_CODE"])
    assert providers == {"RZ1", "RZ2", "RZ3", "RZ4", "RZ5"}
    assert "E06999001" not in set(ledgers["costing/ledger"]["PROVIDER_CODE"])


def _encounters(frames) -> pd.DataFrame:
    """Every encounter in the source extracts: provider, NHS number, first and last day."""
    apc = frames["extracts/hes_apc"]
    spells = frames["truth/apc_spells"].merge(
        apc[["PROVSPNOPS", "NEWNHSNO"]].drop_duplicates(), on="PROVSPNOPS"
    )
    parts = [
        pd.DataFrame(
            {
                "PROVIDER_CODE": spells["PROCODE3"],
                "NHS_NUMBER": spells["NEWNHSNO"],
                "lo": spells["admission_date"],
                "hi": spells["discharge_date"],
            }
        )
    ]
    for name, provider, nhs, day in (
        ("extracts/hes_op", "PROCODE3", "NEWNHSNO", "APPTDATE"),
        ("extracts/ecds", "DER_PROVIDER_CODE", "NHS_NUMBER", "ARRIVAL_DATE"),
        ("extracts/community_contacts", "PROVIDER_CODE", "NHS_NUMBER", "CONTACT_DATE"),
        ("extracts/mental_health_contacts", "PROVIDER_CODE", "NHS_NUMBER", "CONTACT_DATE"),
        ("extracts/ambulance_incidents", "PROVIDER_CODE", "NHS_NUMBER", "INCIDENT_DATE"),
    ):
        f = frames[name]
        when = pd.to_datetime(f[day])
        parts.append(
            pd.DataFrame(
                {"PROVIDER_CODE": f[provider], "NHS_NUMBER": f[nhs], "lo": when, "hi": when}
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["PROVIDER_CODE"] = out["PROVIDER_CODE"].astype(str)
    out["NHS_NUMBER"] = out["NHS_NUMBER"].astype(str)
    return out[out["NHS_NUMBER"] != ""]


def _match(frames, everything: pd.DataFrame) -> pd.Series:
    """'key', 'nhs_date' or 'none' for each feed row, found by joining to the extracts."""
    level = pd.Series("none", index=everything.index, dtype=object)
    for key, (name, provider) in {
        "EPIKEY": ("extracts/hes_apc", "PROCODE3"),
        "ATTENDKEY": ("extracts/hes_op", "PROCODE3"),
        "EC_IDENT": ("extracts/ecds", "DER_PROVIDER_CODE"),
        "CONTACT_ID": ("extracts/community_contacts", "PROVIDER_CODE"),
        "INCIDENT_ID": ("extracts/ambulance_incidents", "PROVIDER_CODE"),
    }.items():
        source = frames[name]
        known = set(zip(source[provider].astype(str), source[key].astype(np.int64), strict=True))
        if key == "CONTACT_ID":
            mh = frames["extracts/mental_health_contacts"]
            known |= set(zip(mh["PROVIDER_CODE"], mh["CONTACT_ID"].astype(np.int64), strict=True))
        carries = everything[key].notna()
        pairs = zip(
            everything.loc[carries, "PROVIDER_CODE"],
            everything.loc[carries, key].astype(np.int64),
            strict=True,
        )
        found = np.array([pair in known for pair in pairs], dtype=bool)
        assert found.all(), f"{key}: a feed key that is not in {name}"
        level[carries[carries].index[found]] = "key"
    rest = everything[level == "none"].reset_index()
    joined = rest[["index", "PROVIDER_CODE", "NHS_NUMBER", "ACTIVITY_DATE"]].merge(
        _encounters(frames), on=["PROVIDER_CODE", "NHS_NUMBER"]
    )
    inside = joined[
        (joined["lo"] <= joined["ACTIVITY_DATE"]) & (joined["ACTIVITY_DATE"] <= joined["hi"])
    ]
    level[inside["index"].unique()] = "nhs_date"
    return level


def test_most_rows_carry_a_key_some_only_nhs_number_and_date_a_few_match_nothing(world):
    _, frames, feeds, _ = world
    everything = _all_feeds(feeds)
    level = _match(frames, everything)
    share = level.value_counts(normalize=True)
    print(f"\nmatch shares: {share.round(4).to_dict()}")
    assert 0.85 <= share["key"] <= 0.92
    assert 0.05 <= share["nhs_date"] <= 0.15
    assert 0.01 <= share["none"] <= 0.03
    for feed, rows in level.groupby(everything["FEED"]):
        assert rows.eq("key").mean() >= 0.8, feed
    links = pd.concat([feeds["truth/costing_feed_links"]], ignore_index=True)
    truth = links.set_index("RECORD_ID")["MATCH"].reindex(everything["RECORD_ID"]).to_numpy()
    assert (truth == level.to_numpy()).mean() == 1.0, "the truth says how each row matches"


def test_unmatched_numbers_are_valid_and_belong_to_nobody(world):
    _, frames, feeds, _ = world
    everything = _all_feeds(feeds)
    numbers = set(_encounters(frames)["NHS_NUMBER"])
    stranger = everything[
        ~everything["NHS_NUMBER"].isin(numbers) & (everything["NHS_NUMBER"] != "")
    ]
    assert len(stranger) > 0
    assert all(codes.is_valid_nhs_number(n) for n in stranger["NHS_NUMBER"])
    assert stranger[list(costing.KEYS)].isna().all().all(), "a stranger carries no key"


def test_ward_stays_straddle_the_period_end_and_only_the_part_inside_is_costed(world):
    ctx, _, feeds, ledgers = world
    ward = feeds["costing/feed_ward_stay"]
    start, end = pd.to_datetime(ward["ACTIVITY_START"]), pd.to_datetime(ward["ACTIVITY_END"])
    assert ((end - start).dt.total_seconds() / 60 == ward["QUANTITY"]).all()
    straddles = (start < ctx.end) & (end > ctx.end)
    assert straddles.sum() >= 1
    inside = (end.clip(upper=ctx.end) - start.clip(lower=ctx.start)).dt.total_seconds() / 60
    truth = ledgers["truth/costing_unit_costs"]
    costed = truth.loc[truth["ACTIVITY_TYPE"] == "ward_stay", "QUANTITY"].sum()
    assert costed == pytest.approx(inside.clip(lower=0).sum(), rel=1e-9)
    assert costed < ward["QUANTITY"].sum()
    # And stays across 1 April are split between the two financial years.
    april = pd.Timestamp("2024-04-01")
    assert ((start < april) & (end > april)).sum() >= 1


def test_same_stream_gives_identical_frames_and_another_does_not(world):
    ctx, frames, feeds, ledgers = world
    again_feeds, again_ledgers, _ = _costing(ctx, frames)
    for name in [*feeds, *ledgers]:
        pd.testing.assert_frame_equal(
            {**feeds, **ledgers}[name], {**again_feeds, **again_ledgers}[name], obj=name
        )
    other_feeds, other_ledgers, _ = _costing(ctx, frames, seed=9)
    assert not other_feeds["costing/feed_pathology"].equals(feeds["costing/feed_pathology"])
    assert not other_ledgers["costing/ledger"].equals(ledgers["costing/ledger"])


# --------------------------------------------------------------------------------------
# Ledgers
# --------------------------------------------------------------------------------------


def test_ledger_amounts_are_integer_pence_with_negative_income_only(world):
    ledger = world[3]["costing/ledger"]
    assert ledger["AMOUNT_PENCE"].dtype == np.int64
    assert (ledger["AMOUNT_PENCE"] != 0).all()
    income = ledger["COST_CENTRE_TYPE"] == "income"
    assert (ledger.loc[income, "AMOUNT_PENCE"] < 0).all()
    assert (ledger.loc[~income, "AMOUNT_PENCE"] > 0).all()
    assert set(ledger["EXPENSE_TYPE"]) <= set(costing.EXPENSE_TYPES)
    assert set(ledger["FINANCIAL_YEAR"]) == {"2023/24", "2024/25", "2025/26"}
    assert ledger["COST_CENTRE"].str.match(r"^[A-Z]{1,2}\d{2} [A-Z]").all()


def test_every_provider_with_activity_has_every_kind_of_line_every_year(world):
    _, _, feeds, ledgers = world
    ledger = ledgers["costing/ledger"]
    kinds = ledger.groupby(["PROVIDER_CODE", "FINANCIAL_YEAR"])["COST_CENTRE_TYPE"].agg(set)
    for provider in set(_all_feeds(feeds)["PROVIDER_CODE"]):
        for year in ("2023/24", "2024/25", "2025/26"):
            assert kinds[(provider, year)] == {
                "patient_facing",
                "support",
                "non_patient_care",
                "income",
            }, (provider, year)


def test_ledger_covers_the_direct_cost_of_the_activity_plus_overheads(world):
    ctx, _, feeds, ledgers = world
    everything = _all_feeds(feeds)
    everything = everything[everything["ACTIVITY_DATE"] < ctx.end]
    direct = _reference_cost(everything).groupby(everything["PROVIDER_CODE"]).sum()
    ledger = ledgers["costing/ledger"]
    total = ledger.groupby("PROVIDER_CODE")["AMOUNT_PENCE"].sum()
    by_type = ledger.groupby(["PROVIDER_CODE", "COST_CENTRE_TYPE"])["AMOUNT_PENCE"].sum().unstack()
    for provider, cost in direct.items():
        assert total[provider] >= cost, provider
        row = by_type.loc[provider]
        assert 0.24 <= row["support"] / row["patient_facing"] <= 0.31, provider
        costs = row["patient_facing"] + row["support"]
        assert 0.04 <= row["non_patient_care"] / costs <= 0.07, provider
        assert -0.07 <= row["income"] / costs <= -0.04, provider
        # The ledger is not a multiple of the activity: centres differ from reference costs.
        assert 0.8 <= row["patient_facing"] / cost <= 1.3, provider


def test_acute_costs_are_realistic_for_the_population(world):
    ledger = world[3]["costing/ledger"]
    acute = ledger[ledger["PROVIDER_CODE"].isin(ACUTE)]["AMOUNT_PENCE"].sum() / 100
    per_100k_year = acute / PEOPLE * 100_000 / YEARS
    print(f"\nacute trusts: £{per_100k_year / 1e6:.0f} million per 100,000 people a year")
    assert 150e6 <= per_100k_year <= 250e6


def test_truth_unit_costs_reconcile_to_the_ledger(world):
    ledgers = world[3]
    ledger, truth = ledgers["costing/ledger"], ledgers["truth/costing_unit_costs"]
    by = ["PROVIDER_CODE", "FINANCIAL_YEAR", "COST_CENTRE"]
    facing = ledger[ledger["COST_CENTRE_TYPE"] == "patient_facing"].groupby(by)["AMOUNT_PENCE"]
    merged = truth.set_index(by)["DIRECT_PENCE"].sort_index()
    pd.testing.assert_series_equal(merged, facing.sum().sort_index(), check_names=False)
    support = ledger.loc[ledger["COST_CENTRE_TYPE"] == "support", "AMOUNT_PENCE"].sum()
    assert truth["OVERHEAD_PENCE"].sum() == pytest.approx(support, rel=1e-9)
    ratio = truth["UNIT_COST_PENCE"] / truth["REFERENCE_UNIT_COST_PENCE"]
    assert ratio.between(0.5, 2.0).all()
    assert ratio.std() > 0.05, "unit costs differ between providers and centres"
    assert (truth["ABSORBED_UNIT_COST_PENCE"] > truth["UNIT_COST_PENCE"]).all()


def test_overhead_bases_cover_every_support_centre(world):
    ledgers = world[3]
    bases, ledger = ledgers["costing/overhead_bases"], ledgers["costing/ledger"]
    assert (bases["VALUE"] > 0).all()
    support = ledger.loc[ledger["COST_CENTRE_TYPE"] == "support"]
    basis = support["COST_CENTRE"].map({c: b for c, (_, b) in costing.SUPPORT.items()})
    needed = support.assign(BASIS=basis)[["PROVIDER_CODE", "FINANCIAL_YEAR", "BASIS"]]
    have = bases[["PROVIDER_CODE", "FINANCIAL_YEAR", "BASIS"]].drop_duplicates()
    assert len(needed.drop_duplicates().merge(have)) == len(needed.drop_duplicates())
    meals = bases.loc[bases["BASIS"] == "patient_meals", "COST_CENTRE"]
    assert meals.str.startswith("W").all()


def test_totals_scale_about_linearly_with_people(world):
    ctx, frames, feeds, ledgers = world
    big_ctx, big_frames = _world(2 * PEOPLE, 11)
    big_feeds, big_ledgers, elapsed = _costing(big_ctx, big_frames)
    print(f"\ncosting: {2 * PEOPLE:,} people in {elapsed:.2f} s")
    for name in FEEDS:
        ratio = len(big_feeds[name]) / len(feeds[name])
        assert 1.6 <= ratio <= 2.5, name
    small = ledgers["costing/ledger"].groupby("PROVIDER_CODE")["AMOUNT_PENCE"].sum()
    big = big_ledgers["costing/ledger"].groupby("PROVIDER_CODE")["AMOUNT_PENCE"].sum()
    assert 1.7 <= big[list(ACUTE)].sum() / small[list(ACUTE)].sum() <= 2.3
    assert 1.6 <= big.sum() / small.sum() <= 2.4


def test_feeds_and_ledgers_write_through_the_writer(world, tmp_path):
    from openphm.synth.output import Writer

    _, _, feeds, ledgers = world
    writer = Writer(tmp_path)
    writer.write(feeds)
    writer.write(ledgers)
    files = writer.close()["files"]
    assert files["costing/feed_ward_stay.csv"]["rows"] == len(feeds["costing/feed_ward_stay"])
    assert "truth/costing_unit_costs.parquet" in files
    ward = pd.read_csv(tmp_path / "costing/feed_ward_stay.csv", dtype=str, keep_default_na=False)
    assert PERSON not in ward.columns
    assert (ward["EPIKEY"] == "").mean() == pytest.approx(0.12, abs=0.03)
    assert ward["ACTIVITY_START"].str.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$").all()
    ledger = pd.read_csv(tmp_path / "costing/ledger.csv")
    assert ledger["AMOUNT_PENCE"].sum() == ledgers["costing/ledger"]["AMOUNT_PENCE"].sum()
    # Feed rows' true owners are in the feed links, not repeated in record_person.
    assert not (tmp_path / "truth/record_person.parquet").exists()
    links = pd.read_parquet(tmp_path / "truth/costing_feed_links.parquet")
    assert set(FEEDS) <= set(links["FEED"])
    assert links["person_index"].notna().all()
