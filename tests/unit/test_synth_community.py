"""The community stage of ``openphm synth``: GP, community, mental health, ambulance and
social care records for a cohort of 20,000 with three years of care."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from openphm.codes import is_valid_sctid
from openphm.synth import community, health, reference
from openphm.synth.output import PERSON
from tests.unit.synth_world import cohort_world

PEOPLE = 20_000
YEARS = 3
START = pd.Timestamp("2023-04-01")


def _cohort():
    return cohort_world(PEOPLE, 11)


DATE_COLUMNS = {
    "extracts/gp_patients": ["DATE_OF_BIRTH", "DATE_OF_DEATH"],
    "extracts/gp_registrations": ["REGISTRATION_START", "REGISTRATION_END"],
    "extracts/gp_events": ["EVENT_DATE"],
    "extracts/community_contacts": ["CONTACT_DATE"],
    "extracts/mental_health_contacts": ["CONTACT_DATE"],
    "extracts/ambulance_incidents": ["DATE_OF_BIRTH", "INCIDENT_DATE"],
    "extracts/social_care_services": ["DATE_OF_BIRTH", "START_DATE", "END_DATE"],
}


@pytest.fixture(scope="module")
def generated():
    """The frames exactly as generate returns them."""
    ctx, cohort, emergencies = _cohort()
    started = time.perf_counter()
    frames = community.generate(ctx, cohort, emergencies, np.random.default_rng(4))
    elapsed = time.perf_counter() - started
    print(f"\ncommunity.generate: {PEOPLE:,} people, {YEARS} years in {elapsed:.2f} s")
    return ctx, cohort, emergencies, frames


@pytest.fixture(scope="module")
def world(generated):
    """The same, with the extracts' text dates parsed ('' -> NaT) for comparisons."""
    ctx, cohort, emergencies, frames = generated
    parsed = dict(frames)
    for key, columns in DATE_COLUMNS.items():
        parsed[key] = frames[key].copy()
        for column in columns:
            parsed[key][column] = pd.to_datetime(
                frames[key][column].replace("", None), format="%Y-%m-%d"
            )
    return ctx, cohort, emergencies, parsed


def test_extract_dates_are_iso_text_that_dirt_can_overwrite(generated):
    _, _, _, frames = generated
    for key, columns in DATE_COLUMNS.items():
        for column in columns:
            values = frames[key][column]
            assert values.map(type).eq(str).all(), (key, column)
            filled = values[values != ""]
            assert filled.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), (key, column)
    assert (frames["extracts/gp_registrations"]["REGISTRATION_END"] == "").any()
    assert (frames["extracts/gp_events"]["EVENT_DATE"] != "").all()


def _age(cohort: pd.DataFrame, on: pd.Timestamp) -> pd.Series:
    return pd.Series(
        ((on - cohort["date_of_birth"]).dt.days / 365.25).to_numpy(), index=cohort["person_index"]
    )


def _person_years(ctx, cohort) -> pd.Series:
    death = cohort["date_of_death"]
    stop = (death + pd.Timedelta(days=1)).where(death.notna(), ctx.end)
    begin = cohort["registered_from"].clip(lower=ctx.start)  # babies born in the period
    return pd.Series(((stop - begin).dt.days / 365.25).to_numpy(), index=cohort["person_index"])


def _contact_codes() -> set[str]:
    gp = reference.gp_codes()
    return set(gp.loc[gp["kind"] == "contact", "snomed_code"])


def _diagnosis_codes() -> set[str]:
    return set(reference.codes(reference.conditions()["snomed_codes"]))


def test_every_frame_has_the_documented_columns_and_unique_keys(world):
    _, _, _, frames = world
    expected = {
        "extracts/gp_patients": [
            "PATIENT_ID", "NHS_NUMBER", "DATE_OF_BIRTH", "SEX", "ETHNIC_CATEGORY", "POSTCODE",
            "LSOA", "PRACTICE_CODE", "DATE_OF_DEATH", PERSON,
        ],
        "extracts/gp_registrations": [
            "REG_ID", "NHS_NUMBER", "PRACTICE_CODE", "REGISTRATION_START",
            "REGISTRATION_END", PERSON,
        ],
        "extracts/gp_events": [
            "EVENT_ID", "NHS_NUMBER", "PRACTICE_CODE", "EVENT_DATE", "SNOMED_CODE", "VALUE",
            "UNIT", PERSON,
        ],
        "extracts/community_contacts": [
            "CONTACT_ID", "NHS_NUMBER", "PROVIDER_CODE", "CONTACT_DATE",
            "CARE_CONTACT_DURATION", "TEAM_TYPE", "ATTENDED", PERSON,
        ],
        "extracts/mental_health_contacts": [
            "CONTACT_ID", "NHS_NUMBER", "PROVIDER_CODE", "CONTACT_DATE", "CONTACT_DURATION",
            "SERVICE_TYPE", "PRIMARY_REASON", "ATTENDED", PERSON,
        ],
        "extracts/ambulance_incidents": [
            "INCIDENT_ID", "NHS_NUMBER", "DATE_OF_BIRTH", "SEX", "POSTCODE", "PROVIDER_CODE",
            "INCIDENT_DATE", "INCIDENT_TIME", "OUTCOME", "CONVEYED_TO", PERSON,
        ],
        "extracts/social_care_services": [
            "SERVICE_ID", "NHS_NUMBER", "DATE_OF_BIRTH", "SEX", "POSTCODE", "LA_CODE",
            "SERVICE_TYPE", "START_DATE", "END_DATE", "PLANNED_HOURS_PER_WEEK", PERSON,
        ],
    }  # fmt: skip
    for key, columns in expected.items():
        frame = frames[key]
        assert list(frame.columns) == columns, key
        assert len(frame) > 0, key
        assert frame.iloc[:, 0].is_unique, key
        if key == "extracts/gp_patients":  # the register's key is scrambled (next test)
            continue
        # Keys come from the person, so chunks can never collide.
        assert (frame.iloc[:, 0] // community.RECORD_STRIDE == frame[PERSON]).all(), key
    for key in ("truth/registrations", "truth/care_minutes", "truth/ambulance_incidents"):
        assert len(frames[key]) > 0
        assert PERSON not in frames[key].columns


def test_the_patient_register_is_everyone_once_with_the_truths_demographics(world):
    _, cohort, _, frames = world
    patients = frames["extracts/gp_patients"]
    # One row per person of the cohort, in person order.
    assert (patients[PERSON].to_numpy() == cohort["person_index"].to_numpy()).all()
    people = cohort.set_index("person_index").loc[patients[PERSON]]
    assert (patients["NHS_NUMBER"].to_numpy() == people["nhs_number"].to_numpy()).all()
    assert (patients["DATE_OF_BIRTH"].to_numpy() == people["date_of_birth"].to_numpy()).all()
    assert (patients["SEX"].to_numpy() == people["sex"].to_numpy()).all()
    assert set(patients["SEX"]) == {"1", "2"}
    assert (patients["ETHNIC_CATEGORY"].to_numpy() == people["ethnic_category"].to_numpy()).all()
    assert (patients["POSTCODE"].to_numpy() == people["postcode"].to_numpy()).all()
    assert (patients["LSOA"].to_numpy() == people["lsoa_code"].to_numpy()).all()
    assert patients["LSOA"].str.fullmatch(r"E01\d{6}").all()
    death = patients["DATE_OF_DEATH"]
    assert death.notna().any() and death.isna().any()
    assert (death.isna() == people["date_of_death"].isna().to_numpy()).all()
    assert (death.dropna().to_numpy() == people["date_of_death"].dropna().to_numpy()).all()
    # The practice is the last registration's: at death or at the period's end.
    reg = frames["extracts/gp_registrations"].sort_values([PERSON, "REGISTRATION_START"])
    last = reg.drop_duplicates(PERSON, keep="last").set_index(PERSON)["PRACTICE_CODE"]
    assert (patients["PRACTICE_CODE"].to_numpy() == last.loc[patients[PERSON]].to_numpy()).all()
    moved = patients["PRACTICE_CODE"].to_numpy() != people["practice_code"].to_numpy()
    assert moved.sum() > 0.02 * len(cohort)  # so the line above tests something
    # The key is scrambled: unique, at most 12 digits, and not the person's counter.
    key = patients["PATIENT_ID"]
    assert key.dtype == np.int64 and key.is_unique and key.between(0, 10**12 - 1).all()
    assert (key // community.RECORD_STRIDE != patients[PERSON]).mean() > 0.99


def test_registrations_never_overlap_start_before_birth_or_outlast_death(world):
    ctx, cohort, _, frames = world
    reg = frames["extracts/gp_registrations"].sort_values([PERSON, "REGISTRATION_START"])
    people = cohort.set_index("person_index")
    # Everyone is registered, from their cohort practice.
    first = reg.drop_duplicates(PERSON, keep="first").set_index(PERSON)
    assert len(first) == len(cohort)
    assert (first["PRACTICE_CODE"] == people.loc[first.index, "practice_code"]).all()

    same = reg[PERSON].to_numpy()[1:] == reg[PERSON].to_numpy()[:-1]
    prev_end = reg["REGISTRATION_END"].to_numpy()[:-1][same]
    next_start = reg["REGISTRATION_START"].to_numpy()[1:][same]
    assert not np.isnat(prev_end).any()  # only the last registration can be ongoing
    assert (prev_end + np.timedelta64(1, "D") == next_start).all()  # ends the day before
    assert same.sum() > 0.02 * len(cohort)  # moves happen (about 4% a year)
    prev_practice = reg["PRACTICE_CODE"].to_numpy()[:-1][same]
    assert (prev_practice != reg["PRACTICE_CODE"].to_numpy()[1:][same]).all()
    place = ctx.geography.practices.set_index("practice_code")["place_code"]
    assert (place.loc[prev_practice].to_numpy() == place.loc[
        reg["PRACTICE_CODE"].to_numpy()[1:][same]
    ].to_numpy()).all()  # fmt: skip

    dob = people.loc[reg[PERSON], "date_of_birth"].to_numpy()
    death = people.loc[reg[PERSON], "date_of_death"].to_numpy()
    assert (reg["REGISTRATION_START"].to_numpy() >= dob).all()
    ended = ~np.isnat(reg["REGISTRATION_END"].to_numpy())
    assert (
        reg["REGISTRATION_END"].to_numpy()[ended] >= reg["REGISTRATION_START"].to_numpy()[ended]
    ).all()
    assert not (reg["REGISTRATION_START"].to_numpy() > death).any()
    assert not (reg["REGISTRATION_END"].to_numpy()[ended] > death[ended]).any()
    last = reg.drop_duplicates(PERSON, keep="last").set_index(PERSON)
    died = people.loc[last.index, "date_of_death"]
    assert (last["REGISTRATION_END"][died.notna()] == died[died.notna()]).all()
    assert last["REGISTRATION_END"][died.isna()].isna().all()


def test_gp_codes_are_valid_snomed_concept_ids_from_the_reference_data(world):
    _, _, _, frames = world
    codes = frames["extracts/gp_events"]["SNOMED_CODE"].unique()
    assert all(is_valid_sctid(code) for code in codes)
    known = set(reference.gp_codes()["snomed_code"]) | _diagnosis_codes()
    assert set(codes) <= known


def _with_registration(events: pd.DataFrame, reg: pd.DataFrame) -> pd.DataFrame:
    """Each event with the latest registration starting on or before its date."""
    return pd.merge_asof(
        events.sort_values("EVENT_DATE"),
        reg.sort_values("REGISTRATION_START").rename(columns={"PRACTICE_CODE": "REG_PRACTICE"}),
        left_on="EVENT_DATE",
        right_on="REGISTRATION_START",
        by=PERSON,
    )


def test_gp_events_only_while_registered_and_alive_except_historic_diagnoses(world):
    ctx, cohort, _, frames = world
    events = frames["extracts/gp_events"]
    reg = frames["extracts/gp_registrations"][
        [PERSON, "PRACTICE_CODE", "REGISTRATION_START", "REGISTRATION_END"]
    ]
    people = cohort.set_index("person_index")
    death = people.loc[events[PERSON], "date_of_death"].to_numpy()
    dob = people.loc[events[PERSON], "date_of_birth"].to_numpy()
    assert not (events["EVENT_DATE"].to_numpy() > death).any()
    assert (events["EVENT_DATE"].to_numpy() >= dob).all()
    assert (events["EVENT_DATE"] < ctx.end).all()

    diagnosis = events["SNOMED_CODE"].isin(_diagnosis_codes())
    care = _with_registration(events[~diagnosis], reg)
    assert (care["EVENT_DATE"] >= ctx.start).all()
    assert care["REGISTRATION_START"].notna().all()
    inside = care["REGISTRATION_END"].isna() | (care["EVENT_DATE"] <= care["REGISTRATION_END"])
    assert inside.all()
    assert (care["PRACTICE_CODE"] == care["REG_PRACTICE"]).all()

    history = _with_registration(events[diagnosis], reg)
    historic = history["REGISTRATION_START"].isna()  # before the first registration
    assert historic.any() and (history["EVENT_DATE"] < ctx.start).any()
    registered = history[~historic]
    inside = registered["REGISTRATION_END"].isna() | (
        registered["EVENT_DATE"] <= registered["REGISTRATION_END"]
    )
    assert inside.all()
    assert (registered["PRACTICE_CODE"] == registered["REG_PRACTICE"]).all()


def test_consultation_rate_is_about_five_and_rises_with_age(world):
    ctx, cohort, _, frames = world
    events = frames["extracts/gp_events"]
    consults = events[events["SNOMED_CODE"].isin(_contact_codes())]
    count = consults.groupby(PERSON).size().reindex(cohort["person_index"], fill_value=0)
    years = _person_years(ctx, cohort)
    rate = count.sum() / years.sum()
    print(f"\nconsultations per person-year: {rate:.2f}")
    assert 4.0 <= rate <= 6.5
    age = _age(cohort, ctx.start)
    old, young = age >= 75, (age >= 20) & (age < 40)
    assert count[old].sum() / years[old].sum() > 1.3 * count[young].sum() / years[young].sum()
    # Access bias: for the same age and number of conditions, less access means fewer
    # consultations (the less access, the more deprived, and the more conditions: so the
    # low-access group's count is set against the full-access rates of its own strata).
    access = cohort.set_index("person_index")["access"]
    mid = ctx.start + (ctx.end - ctx.start) / 2
    names = list(reference.conditions()["condition"])
    conditions = pd.Series(
        np.minimum(health.condition_count(cohort, names, mid), 2), index=access.index
    )
    middle = (age >= 40) & (age < 65)
    low, full = middle & (access < 0.8), middle & (access >= 1.0)
    expected = 0.0
    for n in range(3):
        rate = count[full & (conditions == n)].sum() / years[full & (conditions == n)].sum()
        expected += rate * years[low & (conditions == n)].sum()
    print(f"low access: {count[low].sum() / expected:.3f} of the full-access rate")
    assert count[low].sum() < 0.97 * expected


def test_about_ninety_percent_of_conditions_are_coded_in_primary_care(world):
    ctx, cohort, _, frames = world
    events = frames["extracts/gp_events"]
    last_day = ctx.end - pd.Timedelta(days=1)
    alive = cohort["date_of_death"].isna()
    active = coded = 0
    for row in reference.conditions().itertuples(index=False):
        has = health.has_condition(cohort, row.condition, last_day) & alive.to_numpy()
        people = cohort.loc[has, "person_index"]
        codes = reference.codes(row.snomed_codes)
        with_code = events.loc[events["SNOMED_CODE"].isin(codes), PERSON].unique()
        active += len(people)
        coded += people.isin(with_code).sum()
    share = coded / active
    print(f"\nconditions coded in primary care: {share:.3f} of {active:,}")
    assert 0.80 <= share <= 0.98


def test_monitoring_values_are_plausible(world):
    _, cohort, _, frames = world
    events = frames["extracts/gp_events"]
    gp = reference.gp_codes().set_index("snomed_code")
    observed = events[events["VALUE"].notna()]
    assert len(observed) > len(cohort)
    lo = gp.loc[observed["SNOMED_CODE"], "value_min"].to_numpy()
    hi = gp.loc[observed["SNOMED_CODE"], "value_max"].to_numpy()
    assert ((observed["VALUE"].to_numpy() >= lo) & (observed["VALUE"].to_numpy() <= hi)).all()
    assert (observed["UNIT"] == gp.loc[observed["SNOMED_CODE"], "unit"].to_numpy()).all()
    systolic = gp.index[gp["label"].str.contains("Systolic")][0]
    hypertensive = cohort.loc[cohort["onset_hypertension"].notna(), "person_index"]
    bp = observed[(observed["SNOMED_CODE"] == systolic) & observed[PERSON].isin(hypertensive)]
    assert 130 <= bp["VALUE"].mean() <= 150 and 10 <= bp["VALUE"].std() <= 20


def test_community_contacts_are_mostly_for_the_old_and_frail(world):
    ctx, cohort, _, frames = world
    contacts = frames["extracts/community_contacts"]
    assert (contacts["PROVIDER_CODE"] == "RZ4").all()
    people = cohort.set_index("person_index")
    age = _age(cohort, ctx.start).loc[contacts[PERSON]].to_numpy()
    frail = people.loc[contacts[PERSON], "frailty"].to_numpy() > 1
    assert ((age >= 75) | frail).mean() > 0.6
    attended = contacts["ATTENDED"] == "Y"
    assert 0.85 < attended.mean() < 0.98
    assert contacts.loc[attended, "CARE_CONTACT_DURATION"].notna().all()
    assert contacts.loc[~attended, "CARE_CONTACT_DURATION"].isna().all()


def test_mental_health_contacts_are_mostly_for_smi_depression_and_dementia(world):
    _, cohort, _, frames = world
    contacts = frames["extracts/mental_health_contacts"]
    assert (contacts["PROVIDER_CODE"] == "RZ3").all()
    people = cohort.set_index("person_index").loc[contacts[PERSON]]
    onset = people[["onset_smi", "onset_depression", "onset_dementia"]]
    before = onset.le(contacts["CONTACT_DATE"].to_numpy(), axis=0).any(axis=1)
    assert before.mean() > 0.7
    reasons = contacts["PRIMARY_REASON"]
    assert 0.1 < (reasons == "").mean() < 0.5
    assert reasons[reasons != ""].str.fullmatch(r"[A-Z][0-9]{2,3}").all()


def test_ambulance_conveys_about_45_percent_of_emergency_admissions(world):
    _, _, emergencies, frames = world
    incidents = frames["extracts/ambulance_incidents"]
    assert set(incidents["OUTCOME"]) == {"see_and_convey", "see_and_treat", "hear_and_treat"}
    conveyed = incidents[incidents["OUTCOME"] == "see_and_convey"]
    assert set(conveyed["CONVEYED_TO"]) <= {"RZ1", "RZ2"}
    assert (incidents.loc[incidents["OUTCOME"] != "see_and_convey", "CONVEYED_TO"] == "").all()
    pairs = conveyed[[PERSON, "INCIDENT_DATE"]].drop_duplicates()
    pairs.columns = ["person_index", "admission_date"]
    covered = emergencies.merge(pairs, how="left", indicator=True)["_merge"] == "both"
    print(f"\nemergency admissions with a see-and-convey incident: {covered.mean():.3f}")
    assert 0.35 <= covered.mean() <= 0.55
    missing = (incidents["NHS_NUMBER"] == "").mean()
    print(f"ambulance rows without an NHS number: {missing:.3f}")
    assert 0.05 <= missing <= 0.12
    assert (
        incidents["INCIDENT_TIME"].str.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]").all()
    )


def test_social_care_goes_mostly_to_older_people(world):
    ctx, cohort, _, frames = world
    services = frames["extracts/social_care_services"]
    assert (services["LA_CODE"] == "E06999001").all()
    age = _age(cohort, ctx.start)
    recipients = services[PERSON].unique()
    assert (age.loc[recipients] >= 65).mean() > 0.55
    assert (age.loc[recipients] >= 18).all()
    on_day = ctx.start
    running = services[
        (services["START_DATE"] <= on_day)
        & (services["END_DATE"].isna() | (services["END_DATE"] >= on_day))
        & (services["SERVICE_TYPE"] != "reablement")
    ]
    supported = age.index.isin(running[PERSON])
    over65, over85 = (age >= 65).to_numpy(), (age >= 85).to_numpy()
    assert 0.03 <= supported[over65].mean() <= 0.08
    assert 0.10 <= supported[over85].mean() <= 0.22
    home = services["SERVICE_TYPE"] == "home_care"
    assert services.loc[home, "PLANNED_HOURS_PER_WEEK"].notna().all()
    assert services.loc[~home, "PLANNED_HOURS_PER_WEEK"].isna().all()
    ended = services["END_DATE"].notna()
    assert (services.loc[ended, "END_DATE"] >= services.loc[ended, "START_DATE"]).all()
    assert 0.05 <= (services["NHS_NUMBER"] == "").mean() <= 0.16


def test_same_stream_same_frames_and_another_stream_differs(generated):
    ctx, cohort, emergencies, frames = generated
    again = community.generate(ctx, cohort, emergencies, np.random.default_rng(4))
    assert again.keys() == frames.keys()
    for key in frames:
        pd.testing.assert_frame_equal(again[key], frames[key])
    other = community.generate(ctx, cohort, emergencies, np.random.default_rng(5))
    for key in (
        "extracts/gp_patients",  # moves, so last practices, come from the stream
        "extracts/gp_events",
        "extracts/community_contacts",
        "extracts/ambulance_incidents",
    ):
        assert not other[key].equals(frames[key])


def test_a_tiny_chunk_without_moves_or_admissions_still_works(world):
    ctx, cohort, emergencies, _ = world
    few = cohort.iloc[:3].copy()
    frames = community.generate(ctx, few, emergencies.iloc[:0], np.random.default_rng(0))
    assert len(frames["extracts/gp_registrations"]) >= 3
    assert frames["extracts/gp_patients"][PERSON].tolist() == few["person_index"].tolist()
    assert frames["extracts/gp_events"][PERSON].isin(few["person_index"]).all()
