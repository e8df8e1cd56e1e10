"""The hospital stage of ``openphm synth``: HES APC and OP, ECDS and their truth, for a
cohort of 20,000 with three years of care, checked against the calibration targets."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from openphm import codes
from openphm.synth import hospital, reference
from openphm.synth.output import PERSON
from tests.unit.synth_world import cohort_world

PEOPLE = 20_000
YEARS = 3
START = pd.Timestamp("2023-04-01")
NULL = pd.Timestamp("1800-01-01")


def _world():
    return cohort_world(PEOPLE, 7)


@pytest.fixture(scope="module")
def world():
    ctx, cohort, emergencies = _world()
    started = time.perf_counter()
    frames = hospital.generate(ctx, cohort, emergencies, np.random.default_rng(4))
    elapsed = time.perf_counter() - started
    print(f"\nhospital.generate: {PEOPLE:,} people, {YEARS} years in {elapsed:.2f} s")
    return ctx, cohort, emergencies, frames


def _target(metric: str, group: str = "all") -> tuple[float, float]:
    t = reference.calibration_targets()
    row = t[(t["metric"] == metric) & (t["group"] == group)].iloc[0]
    return float(row["target"]), float(row["tolerance"])


def _person_years(ctx, cohort) -> pd.Series:
    death = cohort["date_of_death"]
    begin = cohort["date_of_birth"].clip(lower=ctx.start)
    stop = (death + pd.Timedelta(days=1)).where(death.notna(), ctx.end)
    years = ((stop - begin).dt.days / 365.25).clip(lower=0)
    return pd.Series(years.to_numpy(), index=cohort["person_index"])


def _age_at(cohort, person_index, when) -> np.ndarray:
    dob = cohort.set_index("person_index")["date_of_birth"].reindex(person_index)
    return ((pd.Series(when).to_numpy() - dob.to_numpy()) / np.timedelta64(1, "D")) / 365.25


def _emergency_spells(frames) -> pd.DataFrame:
    spells = frames["truth/apc_spells"]
    return spells[spells["is_emergency"]]


# --------------------------------------------------------------------------------------
# Shapes and contracts
# --------------------------------------------------------------------------------------


def test_frames_and_columns(world):
    _, _, _, frames = world
    assert set(frames) >= {
        "extracts/hes_apc",
        "extracts/hes_op",
        "extracts/ecds",
        "truth/apc_spells",
        "truth/procedures",
        "truth/critical_care",
        "truth/ae_attendances",
    }
    apc = frames["extracts/hes_apc"]
    expected = (
        ["EPIKEY", "PROCODE3", "PROVSPNOPS", "NEWNHSNO", "DOB", "SEX", "ETHNOS", "LSOA21"]
        + ["HOMEADD", "GPPRAC", "ADMIDATE", "ADMIMETH", "ADMISORC", "CLASSPAT", "EPISTART"]
        + ["EPIEND", "EPIORDER", "EPISTAT", "EPITYPE", "STARTAGE", "MAINSPEF", "TRETSPEF"]
        + ["DISDATE", "DISMETH", "DISDEST"]
        + [f"DIAG_4_{i:02d}" for i in range(1, 21)]
        + [f"OPERTN_4_{i:02d}" for i in range(1, 25)]
        + [f"OPDATE_{i:02d}" for i in range(1, 25)]
        + [PERSON]
    )
    assert list(apc.columns) == expected
    op = frames["extracts/hes_op"]
    assert list(op.columns[:16]) == [
        "ATTENDKEY", "PROCODE3", "NEWNHSNO", "DOB", "SEX", "ETHNOS", "LSOA21", "HOMEADD",
        "GPPRAC", "APPTDATE", "ATTENDED", "FIRSTATT", "STAFFTYP", "MAINSPEF", "TRETSPEF",
        "DIAG_4_01",
    ]  # fmt: skip
    assert op.columns[-1] == PERSON and "OPERTN_4_24" in op.columns and "DIAG_4_12" in op.columns
    assert frames["extracts/ecds"].columns[0] == "EC_IDENT"
    assert frames["extracts/ecds"].columns[-1] == PERSON
    # Codes stay strings: '01' never becomes 1.
    for frame, cols in (
        (apc, ["ADMIMETH", "EPIORDER", "TRETSPEF", "DIAG_4_01", "OPERTN_4_01", "NEWNHSNO"]),
        (op, ["ATTENDED", "FIRSTATT", "STAFFTYP", "TRETSPEF"]),
        (frames["extracts/ecds"], ["DEPARTMENT_TYPE", "DIAGNOSIS_SNOMED", "ARRIVAL_TIME"]),
    ):
        for col in cols:
            assert pd.api.types.is_string_dtype(frame[col]), col
    assert set(apc["EPIORDER"].str.len()) == {2}
    assert set(frames["extracts/ecds"]["DEPARTMENT_TYPE"]) == {"01", "03"}


def test_keys_are_unique(world):
    _, _, _, frames = world
    assert frames["extracts/hes_apc"]["EPIKEY"].is_unique
    assert frames["extracts/hes_op"]["ATTENDKEY"].is_unique
    assert frames["extracts/ecds"]["EC_IDENT"].is_unique
    assert frames["truth/apc_spells"]["PROVSPNOPS"].is_unique
    assert (frames["extracts/hes_apc"]["EPIKEY"] < 10**12).all()


def test_keys_do_not_collide_between_chunks():
    counters = np.arange(0, 3_000_000_000, 997, dtype=np.int64)
    keys = hospital._scramble(counters, 11)
    assert len(np.unique(keys)) == len(keys)
    assert ((keys >= 0) & (keys < 10**12)).all()
    # Neighbouring counters do not give neighbouring keys.
    assert np.median(np.abs(np.diff(keys[:1000]))) > 10**9


# --------------------------------------------------------------------------------------
# Admitted patient care
# --------------------------------------------------------------------------------------


def test_every_emergency_admission_is_one_spell(world):
    _, _, emergencies, frames = world
    spells = _emergency_spells(frames)
    assert len(spells) == len(emergencies)
    got = spells.sort_values(["person_index", "admission_date"])
    want = emergencies.sort_values(["person_index", "admission_date"])
    assert (got["person_index"].to_numpy() == want["person_index"].to_numpy()).all()
    assert (got["admission_date"].to_numpy() == want["admission_date"].to_numpy()).all()
    apc = frames["extracts/hes_apc"]
    first = apc[apc["EPIORDER"] == "01"]
    assert first["ADMIMETH"].str.startswith("2").sum() == len(emergencies)
    shares = spells["admimeth"].value_counts(normalize=True)
    assert 0.65 <= shares["21"] <= 0.75
    assert set(shares.index) <= {"21", "22", "23", "24", "28"}


def test_emergency_length_of_stay(world):
    _, cohort, _, frames = world
    spells = _emergency_spells(frames)
    target, tolerance = _target("mean_emergency_los_days")
    mean = spells["los_days"].mean()
    print(f"\nmean emergency LOS {mean:.2f} (target {target})")
    assert abs(mean / target - 1) <= tolerance
    age = _age_at(cohort, spells["person_index"], spells["admission_date"])
    old = spells["los_days"][age >= 85].mean()
    target, tolerance = _target("mean_emergency_los_days", "85+")
    print(f"mean emergency LOS 85+ {old:.2f} (target {target})")
    assert abs(old / target - 1) <= tolerance
    assert spells["los_days"][age < 15].mean() < spells["los_days"][(age >= 65)].mean()
    zero = (spells["los_days"] == 0).mean()
    assert 0.22 <= zero <= 0.32
    assert spells["los_days"].median() < mean  # right-skewed


def test_episodes_per_spell(world):
    _, _, _, frames = world
    apc, spells = frames["extracts/hes_apc"], frames["truth/apc_spells"]
    target, tolerance = _target("episodes_per_spell")
    ratio = len(apc) / len(spells)
    print(f"\nepisodes per spell {ratio:.3f} (target {target})")
    assert abs(ratio / target - 1) <= tolerance
    assert spells["n_episodes"].sum() == len(apc)
    long = spells["los_days"] >= 14
    assert spells["n_episodes"][long].mean() > spells["n_episodes"][~long].mean()


def test_episodes_are_contiguous_and_spells_do_not_overlap(world):
    ctx, _, _, frames = world
    apc = frames["extracts/hes_apc"]
    g = apc.groupby("PROVSPNOPS", sort=False)
    order = g["EPIORDER"].transform(lambda s: s.astype(int).diff().fillna(1))
    assert (order == 1).all()
    prev_end = g["EPIEND"].shift(1)
    later = prev_end.notna()
    assert (apc.loc[later, "EPISTART"] == prev_end[later]).all()
    assert (g["ADMIDATE"].nunique() == 1).all()
    finished = apc["EPISTAT"] == "3"
    assert (apc.loc[finished, "EPIEND"] >= apc.loc[finished, "EPISTART"]).all()
    assert (apc.loc[~finished, "EPIEND"] == NULL).all()
    spells = frames["truth/apc_spells"].sort_values(["person_index", "admission_date"])
    same = spells["person_index"].eq(spells["person_index"].shift(1))
    prev_dis = spells["discharge_date"].shift(1)
    assert (spells.loc[same, "admission_date"] >= prev_dis[same]).all()
    assert (spells["admission_date"] >= ctx.start).all()
    assert (spells["admission_date"] < ctx.end).all()


def test_discharges(world):
    ctx, cohort, _, frames = world
    apc = frames["extracts/hes_apc"]
    real = apc["DISDATE"] != NULL
    assert (apc.loc[real, "DISDATE"] >= apc.loc[real, "ADMIDATE"]).all()
    death = cohort.set_index("person_index")["date_of_death"].reindex(apc[PERSON]).to_numpy()
    has_death = ~np.isnat(death) & real.to_numpy()
    assert (apc["DISDATE"].to_numpy()[has_death] <= death[has_death]).all()
    # Discharge details only on the last episode of a finished spell.
    last = apc["EPIORDER"].astype(int) == apc.groupby("PROVSPNOPS")["EPIORDER"].transform(
        lambda s: s.astype(int).max()
    )
    assert (apc.loc[~last, "DISDATE"] == NULL).all()
    assert set(apc.loc[~last, "DISDEST"]) <= {"98"}
    died = apc["DISMETH"] == "4"
    assert died.any() and (apc.loc[died, "DISDEST"] == "79").all()
    dates = apc.loc[died, ["DISDATE", PERSON]]
    assert (dates["DISDATE"].to_numpy() == death[died.to_numpy()]).all()
    spells = frames["truth/apc_spells"]
    open_ = ~spells["finished"]
    assert (spells.loc[open_, "discharge_date"] >= ctx.end).all()
    assert set(apc.loc[apc["EPISTAT"] == "1", "DISDATE"]) == {NULL}
    dest = apc.loc[last & real, "DISDEST"].value_counts(normalize=True)
    assert dest["19"] > 0.85
    assert dest.reindex(["54", "65", "85"]).fillna(0).sum() > 0.005


def test_transfers_form_continuous_inpatient_spells(world):
    _, _, _, frames = world
    spells = frames["truth/apc_spells"]
    transfers = spells[spells["admimeth"] == "81"]
    share = len(transfers) / spells["is_emergency"].sum()
    assert 0.02 <= share <= 0.04
    first = spells.set_index("PROVSPNOPS").loc[transfers["cip_id"]]
    assert (first["is_emergency"]).all()
    assert (first["PROCODE3"].to_numpy() != transfers["PROCODE3"].to_numpy()).all()
    gap = (transfers["admission_date"].to_numpy() - first["discharge_date"].to_numpy()).astype(
        "timedelta64[D]"
    )
    assert set(gap.astype(int)) <= {0, 1}
    apc = frames["extracts/hes_apc"].set_index("PROVSPNOPS")
    first_last = apc.loc[first.index].groupby(level=0)["DISDEST"].last()
    assert (first_last == "51").all()
    assert (apc.loc[transfers["PROVSPNOPS"], "ADMISORC"] == "51").all()
    alone = spells[spells["cip_id"] == spells["PROVSPNOPS"]]
    assert len(alone) == len(spells) - len(transfers)


def test_planned_care(world):
    ctx, cohort, _, frames = world
    spells = frames["truth/apc_spells"]
    planned = spells[spells["admimeth"].isin(["11", "12", "13"])]
    day_case = (planned["classpat"] == "2").mean()
    assert 0.68 <= day_case <= 0.82
    years = _person_years(ctx, cohort)
    age = _age_at(cohort, years.index, [ctx.start] * len(years))
    count = planned.groupby("person_index").size().reindex(years.index, fill_value=0)
    young, old = age < 50, age >= 75
    rate_young = count[young].sum() / years[young].sum()
    rate_old = count[old].sum() / years[old].sum()
    print(f"\nplanned spells per person-year: <50 {rate_young:.3f}, 75+ {rate_old:.3f}")
    assert 0.05 <= rate_young <= 0.12
    assert 0.22 <= rate_old <= 0.45
    # Access bias: less planned care for the same need. Within strata of age and number
    # of conditions, people with lost access have fewer spells than the others' rates
    # predict.
    people = cohort.set_index("person_index").reindex(years.index)
    onsets = people[[c for c in people.columns if c.startswith("onset_")]]
    n_conditions = (onsets <= ctx.start).sum(axis=1).clip(upper=4)
    stratum = pd.Series((age // 10).clip(0, 8) * 10, index=years.index) + n_conditions
    low = people["access"] < 0.9
    high_rate = count[~low].groupby(stratum[~low]).sum() / years[~low].groupby(stratum[~low]).sum()
    expected = (years[low] * stratum[low].map(high_rate).fillna(0)).sum()
    ratio = count[low].sum() / expected
    print(f"planned care with lost access / expected for the same need: {ratio:.2f}")
    assert ratio < 0.92
    apc = frames["extracts/hes_apc"]
    planned_eps = apc[apc["ADMIMETH"].isin(["11", "12", "13"])]
    with_op = planned_eps.groupby("PROVSPNOPS")["OPERTN_4_01"].agg(lambda s: (s != "-").any())
    assert with_op.mean() > 0.8


def test_diagnosis_and_procedure_codes(world):
    _, _, _, frames = world
    apc = frames["extracts/hes_apc"]
    primary = apc["DIAG_4_01"]
    assert (primary.str.len() == 4).all()
    assert primary.map(codes.is_valid_icd10).all()
    diag = apc[[f"DIAG_4_{i:02d}" for i in range(1, 21)]].to_numpy().ravel()
    used = diag[diag != ""]
    assert all(len(c) == 4 and codes.is_valid_icd10(c) for c in set(used))
    # Positions are filled from the left.
    filled = apc[[f"DIAG_4_{i:02d}" for i in range(1, 21)]].to_numpy() != ""
    assert (np.diff(filled.astype(int), axis=1) <= 0).all()
    ops = apc[[f"OPERTN_4_{i:02d}" for i in range(1, 25)]].to_numpy()
    dates = apc[[f"OPDATE_{i:02d}" for i in range(1, 25)]].to_numpy()
    real = (ops != "") & (ops != "-")
    assert all(codes.is_valid_opcs4(c) for c in set(ops[real]))
    assert (set(ops[:, 0]) - {"-"}) and "-" in set(ops[:, 0])
    assert set(ops[:, 1:].ravel()) - {""} <= set(hospital.LATERALITY_OPCS) | set(ops[real])
    assert not pd.isna(dates[real]).any() and pd.isna(dates[~real]).all()
    start = apc["EPISTART"].to_numpy()[:, None]
    within = dates[real] >= np.broadcast_to(start, dates.shape)[real]
    assert within.all()
    op = frames["extracts/hes_op"]
    for col in [c for c in op.columns if c.startswith(("DIAG", "OPERTN"))]:
        values = set(op[col]) - {"", "-"}
        check = codes.is_valid_icd10 if col.startswith("DIAG") else codes.is_valid_opcs4
        assert all(check(v) for v in values), col
    assert (op["DIAG_4_01"] == "").mean() > 0.8
    assert (op[[f"DIAG_4_{i:02d}" for i in range(2, 13)]] == "").all().all()


def test_conditions_are_coded_on_admissions(world):
    """Every active condition is coded on ~70% of the spells that are not for it, and a
    condition's codes appear only on people who have it by then."""
    _, cohort, _, frames = world
    conditions = reference.conditions()
    apc = frames["extracts/hes_apc"]
    first = apc[apc["EPIORDER"] == "01"]
    diag = first[[f"DIAG_4_{i:02d}" for i in range(1, 21)]].to_numpy()
    people = cohort.set_index("person_index")
    when = first["ADMIDATE"].to_numpy()
    spells = frames["truth/apc_spells"].set_index("PROVSPNOPS")
    led = spells["condition_led"].reindex(first["PROVSPNOPS"]).to_numpy()
    coded_share = {}
    for row in conditions.itertuples(index=False):
        hes = {codes.hes_icd10(c) for c in reference.codes(row.icd10_codes)}
        onset = people[f"onset_{row.condition}"].reindex(first[PERSON]).to_numpy()
        onset = onset.astype("datetime64[D]")  # a condition found on the day counts
        active = ~np.isnat(onset) & (onset <= when)
        coded = np.isin(diag, list(hes)).any(axis=1)
        # As a secondary diagnosis: on spells that are not for this condition.
        other_reason = active & (led != row.condition)
        if other_reason.sum() >= 50:
            coded_share[row.condition] = (coded[other_reason].mean(), int(other_reason.sum()))
        # Codes shared by two conditions (I110) may come from the other one.
        others = set()
        for other in conditions.itertuples(index=False):
            if other.condition != row.condition:
                others |= hes & {codes.hes_icd10(c) for c in reference.codes(other.icd10_codes)}
        only = np.isin(diag, list(hes - others)).any(axis=1)
        assert not (only & ~active).any(), row.condition
    print("\nshare of spells coding an active condition:", {
        k: round(v, 2) for k, (v, _) in coded_share.items()
    })  # fmt: skip
    assert len(coded_share) >= 8
    for name, (share, n) in coded_share.items():
        # 0.6 to 0.8, widened by three binomial standard errors for rare conditions.
        slack = 3 * np.sqrt(0.7 * 0.3 / n)
        assert 0.6 - slack <= share <= 0.8 + slack, (name, share, n)


# --------------------------------------------------------------------------------------
# Outpatients
# --------------------------------------------------------------------------------------


def test_outpatients(world):
    ctx, cohort, _, frames = world
    op = frames["extracts/hes_op"]
    years = _person_years(ctx, cohort)
    rate = len(op) / years.sum()
    print(f"\noutpatient appointments per person-year {rate:.2f}")
    assert 1.5 <= rate <= 2.1
    age = _age_at(cohort, years.index, [ctx.start] * len(years))
    count = op.groupby(PERSON).size().reindex(years.index, fill_value=0)
    assert count[age >= 75].sum() / years[age >= 75].sum() > 1.5 * rate * 0.9
    target, tolerance = _target("outpatient_dna_rate")
    dna = (op["ATTENDED"] == "3").mean()
    imd = cohort.set_index("person_index")["imd_decile"].reindex(op[PERSON]).to_numpy()
    most = (op["ATTENDED"][imd <= 2] == "3").mean()
    least = (op["ATTENDED"][imd >= 9] == "3").mean()
    print(f"DNA rate {dna:.4f}; most deprived quintile {most:.4f}, least {least:.4f}")
    assert abs(dna / target - 1) <= 0.2
    assert most > least * 1.5
    assert set(op["ATTENDED"]) <= {"2", "3", "4", "5", "6", "7"}
    assert 0.01 <= op["ATTENDED"].isin(["2", "4"]).mean() <= 0.1
    first = op["FIRSTATT"].isin(["1", "3"]).mean()
    assert 0.25 <= first <= 0.5
    assert ((op["OPERTN_4_01"] == "-") | (op["OPERTN_4_01"] == "")).mean() > 0.9
    dob = cohort.set_index("person_index")["date_of_birth"].reindex(op[PERSON]).to_numpy()
    assert (op["APPTDATE"].to_numpy() >= dob).all()
    assert ((op["APPTDATE"] >= ctx.start) & (op["APPTDATE"] < ctx.end)).all()


# --------------------------------------------------------------------------------------
# A&E
# --------------------------------------------------------------------------------------


def test_ae_admitted_share_and_links(world):
    _, _, _, frames = world
    ecds, apc = frames["extracts/ecds"], frames["extracts/hes_apc"]
    type1 = ecds[ecds["DEPARTMENT_TYPE"] == "01"]
    share = (type1["ADMITTED"] == "Y").mean()
    print(f"\ntype 1 admitted share {share:.4f}")
    assert 0.25 <= share <= 0.30
    assert (ecds.loc[ecds["DEPARTMENT_TYPE"] == "03", "ADMITTED"] == "N").all()
    spells = apc[apc["EPIORDER"] == "01"].set_index("PROVSPNOPS")
    via_ae = spells[spells["ADMIMETH"] == "21"]
    admitted = ecds[ecds["ADMITTED"] == "Y"].set_index("LINKED_SPELL")
    assert admitted.index.is_unique
    assert set(admitted.index) == set(via_ae.index)
    linked = via_ae.loc[admitted.index]
    assert (admitted["DER_PROVIDER_CODE"] == linked["PROCODE3"]).all()
    gap = (linked["ADMIDATE"] - admitted["ARRIVAL_DATE"]).dt.days
    assert set(gap) <= {0, 1}
    assert (ecds.loc[ecds["ADMITTED"] == "N", "LINKED_SPELL"] == "").all()
    assert (admitted["DISCHARGE_DESTINATION_SNOMED"] != hospital.SCT["home"]).all()
    assert (admitted["DISCHARGE_DESTINATION_SNOMED"] == hospital.SCT["ward"]).mean() > 0.8


def test_ae_deprivation_gradient(world):
    ctx, cohort, _, frames = world
    ecds = frames["extracts/ecds"]
    years = _person_years(ctx, cohort)
    imd = cohort.set_index("person_index")["imd_decile"]
    count = ecds.groupby(PERSON).size().reindex(years.index, fill_value=0)
    rate = (
        count.groupby(imd.reindex(years.index).to_numpy()).sum()
        / years.groupby(imd.reindex(years.index).to_numpy()).sum()
    )
    ratio = rate[1] / rate[10]
    target, _ = _target("ae_rate_ratio_most_vs_least_deprived_decile")
    print(f"\nA&E attendances per person-year, most vs least deprived decile: {ratio:.2f}")
    assert 1.6 <= ratio <= 2.4
    assert abs(ratio / target - 1) <= 0.2


def test_ae_codes_and_fields(world):
    ctx, cohort, _, frames = world
    ecds = frames["extracts/ecds"]
    for col in (
        "ARRIVAL_MODE_SNOMED",
        "CHIEF_COMPLAINT_SNOMED",
        "DIAGNOSIS_SNOMED",
        "DISCHARGE_STATUS",
        "DISCHARGE_DESTINATION_SNOMED",
    ):
        assert codes.valid_sctid_mask(ecds[col].to_numpy().astype(str)).all(), col
    assert ecds["ARRIVAL_TIME"].str.fullmatch(r"([01]\d|2[0-3]):[0-5]\d").all()
    assert ((ecds["ARRIVAL_DATE"] >= ctx.start) & (ecds["ARRIVAL_DATE"] < ctx.end)).all()
    dob = cohort.set_index("person_index")["date_of_birth"].reindex(ecds[PERSON]).to_numpy()
    assert (ecds["ARRIVAL_DATE"].to_numpy() >= dob.astype("datetime64[D]")).all()
    admitted = ecds["ADMITTED"] == "Y"
    amb = ecds["ARRIVAL_MODE_SNOMED"] == hospital.SCT["ambulance"]
    assert amb[admitted].mean() > amb[~admitted].mean()
    # Nobody walks into A&E from a ward: no unplanned attendance falls inside a stay.
    spells = frames["truth/apc_spells"].sort_values("admission_date")
    walk_in = ecds.loc[~admitted, [PERSON, "ARRIVAL_DATE"]].sort_values("ARRIVAL_DATE")
    last = pd.merge_asof(
        walk_in,
        spells[["person_index", "admission_date", "discharge_date"]],
        left_on="ARRIVAL_DATE",
        right_on="admission_date",
        left_by=PERSON,
        right_by="person_index",
    )
    inside = (last["admission_date"] < last["ARRIVAL_DATE"]) & (
        last["ARRIVAL_DATE"] < last["discharge_date"]
    )
    assert not inside.any()
    truth = frames["truth/ae_attendances"]
    assert (truth["EC_IDENT"].to_numpy() == ecds["EC_IDENT"].to_numpy()).all()
    assert (truth["minutes_in_department"] > 0).all()


# --------------------------------------------------------------------------------------
# Truth for costing, determinism, speed
# --------------------------------------------------------------------------------------


def test_costing_truth(world):
    _, _, _, frames = world
    apc = frames["extracts/hes_apc"]
    procedures = frames["truth/procedures"]
    coded = apc[[f"OPERTN_4_{i:02d}" for i in range(1, 25)]].to_numpy()
    assert len(procedures) == ((coded != "") & (coded != "-")).sum()
    assert set(procedures["EPIKEY"]) <= set(apc["EPIKEY"])
    theatre = procedures[procedures["setting"] == "theatre"]
    assert len(theatre) and (theatre["minutes"] > 0).all()
    cc = frames["truth/critical_care"]
    assert len(cc) and set(cc["EPIKEY"]) <= set(apc["EPIKEY"])
    assert (cc["days"] >= 1).all() and set(cc["level"]) <= {2, 3}
    spells = frames["truth/apc_spells"].set_index("PROVSPNOPS")
    assert (cc["start_date"].to_numpy() >= spells.loc[cc["PROVSPNOPS"], "admission_date"]).all()


def test_same_stream_same_frames_other_stream_other_frames(world):
    ctx, cohort, emergencies, frames = world
    again = hospital.generate(ctx, cohort, emergencies, np.random.default_rng(4))
    assert again.keys() == frames.keys()
    for key in frames:
        pd.testing.assert_frame_equal(again[key], frames[key])
    other = hospital.generate(ctx, cohort, emergencies, np.random.default_rng(5))
    assert len(other["truth/apc_spells"]) != len(frames["truth/apc_spells"]) or not other[
        "extracts/hes_apc"
    ].equals(frames["extracts/hes_apc"])
    assert not other["extracts/hes_op"].equals(frames["extracts/hes_op"])


def test_no_emergencies_and_small_chunks(world):
    ctx, cohort, emergencies, _ = world
    small = cohort.iloc[:50].copy()
    none = emergencies.iloc[:0]
    frames = hospital.generate(ctx, small, none, np.random.default_rng(1))
    assert (frames["truth/apc_spells"]["is_emergency"] == False).all()  # noqa: E712
    assert (frames["extracts/ecds"]["ADMITTED"] == "N").all()


def test_fast_enough(world):
    ctx, cohort, emergencies, _ = world
    started = time.perf_counter()
    hospital.generate(ctx, cohort, emergencies, np.random.default_rng(9))
    elapsed = time.perf_counter() - started
    print(f"\nhospital.generate for {PEOPLE:,} people: {elapsed:.2f} s")
    assert elapsed < 2.0 * PEOPLE / 10_000  # well under 1 s per 10,000 people in practice
