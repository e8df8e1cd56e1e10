"""The synthetic ICS's core models: geography, people, conditions, hazards, dirt, ids."""

import numpy as np
import pandas as pd
import pytest

from openphm import codes, synth
from openphm.synth import hazard, health, reference
from openphm.synth.dirt import Columns, Dirt, apply
from openphm.synth.geography import MERGER_DATE, build_geography
from openphm.synth.identifiers import nhs_number_pool
from openphm.synth.output import PERSON, SynthContext
from openphm.synth.people import make_people

START = pd.Timestamp("2023-04-01")
END = pd.Timestamp("2026-04-01")


@pytest.fixture(scope="module")
def geo():
    return build_geography(200_000, seed=3)


@pytest.fixture(scope="module")
def cohort(geo):
    numbers = nhs_number_pool(60_000, np.random.default_rng(1))
    people = make_people(geo, 0, numbers, START, np.random.default_rng(2), True, 3)
    model = health.calibrate(people, END - pd.Timedelta(days=1))
    people = health.assign_conditions(people, model, np.random.default_rng(3))
    return people, model


def test_two_places_merge_into_a_recorded_successor(geo):
    org = geo.organisations.set_index("code")
    places = org[org["kind"] == "sub_icb"]
    ended = places[places["valid_to"].notna()]
    assert len(ended) == 2
    successor = ended["successor_code"].unique()
    assert len(successor) == 1 and org.loc[successor[0], "valid_from"] == MERGER_DATE
    # Practices sit in PCNs, PCNs in places, never across them.
    practices = org[org["kind"] == "practice"]
    assert practices["parent_code"].isin(org.index[org["kind"] == "pcn"]).all()


def test_codes_are_in_ranges_no_real_organisation_uses(geo):
    assert geo.lsoa["lsoa_code"].str.match(r"^E019\d{5}$").all()
    assert geo.practices["practice_code"].str.match(r"^Z9\d{4}$").all()
    assert geo.lsoa.groupby("place_code")["imd_decile"].mean().is_monotonic_increasing


def test_people_look_like_england(cohort):
    people, _ = cohort
    age = health.age_years(people, START)
    born = age >= 0
    table = reference.age_sex()
    england_65 = table[table["age_band"].isin(["65-69", "70-74", "75-79", "80-84", "85-89", "90+"])]
    assert (age[born] >= 65).mean() == pytest.approx(
        england_65["population"].sum() / table["population"].sum(), abs=0.01
    )
    # About 1.05% a year are born during the three years.
    assert (~born).mean() == pytest.approx(0.0315, abs=0.004)
    assert (people["date_of_birth"] < END).all()  # nobody is born after the period
    assert people["nhs_number"].is_unique


def test_register_prevalence_matches_qof_at_the_period_end(cohort):
    people, model = cohort
    end = END - pd.Timedelta(days=1)
    for row in model.conditions.itertuples(index=False):
        got = health.has_condition(people, row.condition, end).mean()
        assert got == pytest.approx(row.qof_prevalence_all_ages, rel=0.15), row.condition


def test_conditions_cluster_and_come_earlier_with_deprivation(cohort):
    people, model = cohort
    end = END - pd.Timedelta(days=1)
    names = list(model.conditions["condition"])
    count = health.condition_count(people, names, end)
    frail = people["frailty"].to_numpy()
    assert np.corrcoef(frail, count)[0, 1] > 0.1
    age = health.age_years(people, end)
    band = (age >= 50) & (age < 60)
    most = band & (people["imd_decile"].to_numpy() <= 2)
    least = band & (people["imd_decile"].to_numpy() >= 9)
    assert (count[most] >= 2).mean() > 1.5 * (count[least] >= 2).mean()
    prostate = health.has_condition(people, "prostate_disorder", end)
    assert (people.loc[prostate, "sex"] == "1").all()


def test_realised_emergency_rates_match_the_published_ones(cohort):
    people, model = cohort
    rng = np.random.default_rng(4)
    hz = hazard.calibrate(people, model, START, 3, rng)
    admissions, truth, death = hazard.simulate(people, hz, START, 3, np.random.default_rng(5))
    rates = hazard.realised_rates(people, admissions, death, START, END)
    targets = np.array([r for _, _, r in hazard.EMERGENCY_PER_1000])
    assert rates == pytest.approx(targets, rel=0.12)
    assert truth["p_admission_or_death"].between(0, 1).all()
    # Nobody is admitted after they die.
    dod = death.set_axis(people["person_index"]).loc[admissions["person_index"]].to_numpy()
    assert not (admissions["admission_date"].to_numpy() > dod).any()


def test_opt_outs_take_effect_in_the_persons_lifetime(geo, cohort):
    people, _ = cohort
    people = people.copy()
    rng = np.random.default_rng(9)
    dead = rng.random(len(people)) < 0.3  # many deaths, some of babies born in the period
    life = (END - people["date_of_birth"]).dt.days.clip(lower=1)
    lived = pd.to_timedelta(np.floor(rng.random(len(people)) * life.to_numpy()), unit="D")
    died = (people["date_of_birth"] + lived).clip(lower=START)
    people["date_of_death"] = died.where(dead & (died >= people["date_of_birth"]))
    ctx = SynthContext(START, END, geo, 1)
    opt_outs = synth._opt_outs(people, ctx, np.random.default_rng(10))
    who = people.set_index("person_index").loc[opt_outs[PERSON]]
    when = opt_outs["EFFECTIVE_DATE"].to_numpy()
    assert (when >= who["date_of_birth"].to_numpy()).all()
    death = who["date_of_death"].to_numpy()
    assert not (when > death).any()
    assert (when < END).all()
    assert opt_outs[PERSON].isin(people.loc[people["date_of_death"].notna(), "person_index"]).any()
    # The living adults' dates still span the whole window, uniformly.
    window = pd.Timestamp(START) - pd.Timedelta(days=3 * 365)
    assert opt_outs["EFFECTIVE_DATE"].min() < window + pd.Timedelta(days=30)
    assert opt_outs["EFFECTIVE_DATE"].max() > END - pd.Timedelta(days=30)


def test_nhs_numbers_continue_past_the_999_range_only_when_they_must():
    small = nhs_number_pool(1_000, np.random.default_rng(1))
    assert all(n.startswith("999") for n in small)
    big = nhs_number_pool(codes.SYNTHETIC_NHS_CAPACITY + 5, np.random.default_rng(1))
    assert len(set(big)) == len(big)
    assert {n[:3] for n in big} == {"999", "998"}
    assert codes.valid_nhs_mask(big[-10:]).all()


def test_dirt_changes_exactly_what_it_logs():
    frame = pd.DataFrame(
        {
            "KEY": np.arange(2_000),
            "NHS": nhs_number_pool(2_000, np.random.default_rng(7)),
            "START": pd.Timestamp("2024-01-10"),
            "END": pd.Timestamp("2024-01-20"),
        }
    )
    cols = Columns(nhs="NHS", start="START", end="END")
    rates = Dirt(
        invalid_nhs_number=0.05, impossible_date=0.05, end_before_start=0.05, duplicate_row=0.05
    )
    dirty, logs = apply("x", frame.copy(), cols, rates, np.random.default_rng(8))  # in place
    log = pd.concat(logs)
    kinds = log["kind"].value_counts()
    assert len(dirty) == len(frame) + kinds["duplicate_row"]
    bad = log[log["kind"] == "invalid_nhs_number"]
    assert not codes.valid_nhs_mask(bad["after"].astype(str).to_numpy()).any()
    changed_nhs = (
        dirty.drop_duplicates("KEY").set_index("KEY")["NHS"] != frame.set_index("KEY")["NHS"]
    )
    assert changed_nhs.sum() == len(bad)
    clean, nothing = apply("x", frame.copy(), cols, Dirt.none(), np.random.default_rng(8))
    assert sum(len(x) for x in nothing) == 0 and len(clean) == len(frame)
