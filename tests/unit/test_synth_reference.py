"""The reference data of ``openphm synth``: valid codes, coherent numbers, documented files."""

from __future__ import annotations

import re
from importlib import resources

import pandas as pd
import pytest

from openphm.codes import is_valid_icd10, is_valid_opcs4, is_valid_sctid
from openphm.synth import reference

DATA = resources.files("openphm").joinpath("synth", "data")
CSV_FILES = sorted(e.name for e in DATA.iterdir() if e.name.endswith(".csv"))
EXPECTED_FILES = {
    "england_age_sex.csv",
    "ethnicity_by_imd.csv",
    "conditions.csv",
    "calibration_targets.csv",
    "specialties.csv",
    "ae_codes.csv",
    "gp_codes.csv",
}
REQUIRED_CONDITIONS = {
    "hypertension",
    "diabetes",
    "copd",
    "asthma",
    "chd",
    "heart_failure",
    "atrial_fibrillation",
    "ckd",
    "stroke",
    "cancer",
    "dementia",
    "depression",
    "smi",
    "learning_disability",
    "frailty",
}
ETHNIC_CATEGORIES = set("ABCDEFGHJKLMNPRSZ")
ESP_BANDS = [f"{lo}-{lo + 4}" for lo in range(0, 90, 5)] + ["90+"]
# Codes as the files store them: upper case, no dot, 3-4 characters (ICD-10), 4 (OPCS-4).
STORED_ICD10 = re.compile(r"[A-Z][0-9]{2}[0-9]?")
STORED_OPCS4 = re.compile(r"[A-HJ-Z][0-9]{3}")


def _columns(kind: str) -> list[tuple[str, str, list[str]]]:
    """(file, column, codes) for every column of every file whose name mentions ``kind``."""
    out = []
    for name in reference.names():
        frame = reference.load(name)
        for column in frame.columns:
            if kind in column:
                out.append((name, column, reference.codes(frame[column])))
    return out


def _all_codes(kind: str) -> list[tuple[str, str]]:
    return [(f"{name}.{column}", code) for name, column, codes in _columns(kind) for code in codes]


# ---- files and loader ---------------------------------------------------------------


def test_every_expected_file_is_shipped():
    assert set(CSV_FILES) >= EXPECTED_FILES


def test_readme_names_every_csv_file_with_a_source_and_licence():
    readme = DATA.joinpath("README.md").read_text(encoding="utf-8")
    missing = [name for name in CSV_FILES if f"`{name}`" not in readme]
    assert not missing, f"data/README.md does not describe {missing}"
    for word in ("Source", "Licence", "Open Government Licence"):
        assert word in readme


def test_load_unknown_name_lists_the_files():
    with pytest.raises(KeyError) as info:
        reference.load("no_such_file")
    for name in EXPECTED_FILES:
        assert name.removesuffix(".csv") in str(info.value)


def test_load_accepts_the_file_name_and_returns_a_copy():
    first = reference.load("conditions.csv")
    first.loc[0, "qof_prevalence_all_ages"] = 99.0
    assert reference.conditions().loc[0, "qof_prevalence_all_ages"] != 99.0


@pytest.mark.parametrize("name", sorted(n.removesuffix(".csv") for n in EXPECTED_FILES))
def test_every_file_loads_without_missing_text(name):
    frame = reference.load(name)
    assert len(frame) > 0
    text = frame.select_dtypes(exclude="number")
    assert not text.isna().any().any(), f"{name}: a text cell read as missing"


def test_code_columns_stay_text():
    sex = reference.age_sex()["sex"]
    assert set(sex) == {"1", "2"}
    tfc = reference.specialties()["tfc"]
    assert all(isinstance(v, str) and len(v) == 3 for v in tfc)
    gp = reference.gp_codes()["snomed_code"]
    assert "999791000000106" in set(gp)  # a UK extension id, too long for float64


def test_codes_splits_dedupes_and_skips_empty():
    assert reference.codes("I10|I11") == ["I10", "I11"]
    assert reference.codes(pd.Series(["I10|I11", "", None, "I11|E11"])) == ["I10", "I11", "E11"]
    assert reference.codes("") == []
    with pytest.raises(TypeError):
        reference.codes([10])


# ---- codes --------------------------------------------------------------------------


def test_every_snomed_id_is_a_valid_concept_id():
    found = _all_codes("snomed")
    assert len(found) >= 80
    bad = [(where, code) for where, code in found if not is_valid_sctid(code)]
    assert not bad, bad


def test_every_icd10_code_is_valid_and_stored_without_dots():
    found = _all_codes("icd10")
    assert len(found) >= 150
    bad = [(w, c) for w, c in found if not (is_valid_icd10(c) and STORED_ICD10.fullmatch(c))]
    assert not bad, bad


def test_every_opcs4_code_is_valid_and_stored_without_dots():
    found = _all_codes("opcs4")
    assert len(found) >= 40
    bad = [(w, c) for w, c in found if not (is_valid_opcs4(c) and STORED_OPCS4.fullmatch(c))]
    assert not bad, bad


def test_no_code_column_holds_descriptions():
    for kind in ("snomed", "icd10", "opcs4"):
        for where, code in _all_codes(kind):
            assert " " not in code, f"{where}: {code!r} looks like text, not a code"


# ---- population ---------------------------------------------------------------------


def test_age_sex_has_every_band_and_sex_once():
    table = reference.age_sex()
    assert list(dict.fromkeys(table["age_band"])) == ESP_BANDS
    assert not table.duplicated(["age_band", "sex"]).any()
    assert len(table) == len(ESP_BANDS) * 2
    assert (table["population"] > 0).all()


def test_age_sex_totals_match_england_mid_2022():
    table = reference.age_sex()
    total = table["population"].sum()
    assert abs(total - 57.1e6) / 57.1e6 <= 0.03
    older = table.loc[table["age_band"].isin(ESP_BANDS[13:]), "population"].sum()
    assert 0.17 <= older / total <= 0.20
    males_0_4 = table.query("age_band == '0-4' and sex == '1'")["population"].item()
    assert 1.4e6 <= males_0_4 <= 1.8e6
    assert (table["population"] % 1000 == 0).all()  # rounded to the nearest thousand


def test_ethnicity_shares_sum_to_one_in_each_quintile():
    eth = reference.ethnicity_by_imd()
    assert set(eth["imd_quintile"]) == {1, 2, 3, 4, 5}
    for q, rows in eth.groupby("imd_quintile"):
        assert set(rows["ethnic_category"]) == ETHNIC_CATEGORIES, q
        assert len(rows) == len(ETHNIC_CATEGORIES), q
        assert rows["share"].sum() == pytest.approx(1.0, abs=1e-6), q
        assert (rows["share"] > 0).all(), q


def test_ethnicity_follows_census_2021_gradients():
    eth = reference.ethnicity_by_imd().set_index(["imd_quintile", "ethnic_category"])["share"]
    white_british = [eth[(q, "A")] for q in range(1, 6)]
    assert white_british == sorted(white_british)  # rises as deprivation falls
    assert 0.65 <= sum(white_british) / 5 <= 0.78
    for group in ("J", "K", "N"):
        assert eth[(1, group)] > 2 * eth[(5, group)], group
    for q in range(1, 6):
        assert 0.03 <= eth[(q, "Z")] <= 0.05, q


# ---- conditions ---------------------------------------------------------------------


def test_conditions_include_the_fifteen_required_once_each():
    # More than the fifteen: with only those, multimorbidity at 75+ cannot reach the
    # 76% Barnett found counting 40 conditions, so some of Barnett's commonest are added.
    cond = reference.conditions()
    assert set(cond["condition"]) >= REQUIRED_CONDITIONS
    assert cond["condition"].is_unique
    assert set(cond["sex_only"].fillna("")) <= {"", "1", "2"}


def test_condition_prevalences_are_plausible():
    cond = reference.conditions().set_index("condition")
    for column in ("qof_prevalence", "qof_prevalence_all_ages"):
        assert ((cond[column] > 0) & (cond[column] < 0.2)).all(), column
    # An all-ages share can only be lower than a share of the older patients.
    assert (cond["qof_prevalence_all_ages"] <= cond["qof_prevalence"] + 1e-9).all()
    limited = cond["qof_age_min"] > 0
    assert (
        cond.loc[limited, "qof_prevalence_all_ages"] < cond.loc[limited, "qof_prevalence"]
    ).all()
    assert cond.loc["hypertension", "qof_prevalence_all_ages"] == pytest.approx(0.142, rel=0.1)
    assert cond.loc["diabetes", "qof_prevalence"] == pytest.approx(0.075, rel=0.1)


def test_condition_parameters_are_in_range():
    cond = reference.conditions().set_index("condition")
    assert ((cond["onset_age_mean"] > 0) & (cond["onset_age_mean"] < 95)).all()
    assert (cond["onset_age_sd"] > 0).all()
    assert (cond["imd_gradient"] >= 1.0).all()
    assert ((cond["frailty_loading"] >= 0) & (cond["frailty_loading"] < 1)).all()
    assert (cond["emergency_rr"] >= 1.0).all()
    assert cond.loc["copd", "imd_gradient"] > cond.loc["cancer", "imd_gradient"]
    assert cond.loc["learning_disability", "onset_age_mean"] < 18
    assert cond.loc["dementia", "onset_age_mean"] > 70


def test_every_condition_has_hospital_and_gp_codes():
    cond = reference.conditions()
    for row in cond.itertuples(index=False):
        assert reference.codes(row.icd10_codes), row.condition
        assert reference.codes(row.snomed_codes), row.condition
        assert row.source.strip(), row.condition


# ---- calibration targets ------------------------------------------------------------

REQUIRED_TARGETS = {
    ("multimorbidity_2plus", "all"),
    ("multimorbidity_2plus", "75+"),
    ("emergency_admissions_per_1000", "<1"),
    ("emergency_admissions_per_1000", "15-64"),
    ("emergency_admissions_per_1000", "65-74"),
    ("emergency_admissions_per_1000", "75-84"),
    ("emergency_admissions_per_1000", "85+"),
    ("ae_rate_ratio_most_vs_least_deprived_decile", "all"),
    ("mean_emergency_los_days", "all"),
    ("mean_emergency_los_days", "85+"),
    ("episodes_per_spell", "all"),
    ("outpatient_dna_rate", "all"),
    ("type1_ae_admitted_share", "all"),
    ("population_share", "65+"),
    ("population_share", "0-15"),
}


def _passes(row: pd.Series, value: float) -> bool:
    return abs(value - row["target"]) <= row["tolerance"] * row["target"]


def test_calibration_targets_include_every_required_metric():
    targets = reference.calibration_targets()
    present = set(zip(targets["metric"], targets["group"], strict=True))
    assert present >= REQUIRED_TARGETS, REQUIRED_TARGETS - present
    assert not targets.duplicated(["metric", "group"]).any()
    assert ((targets["tolerance"] > 0) & (targets["tolerance"] < 1)).all()
    assert (targets["source"].str.len() > 10).all()


def test_calibration_tolerances_admit_the_stated_ranges():
    targets = reference.calibration_targets().set_index(["metric", "group"])
    working_age = targets.loc[("emergency_admissions_per_1000", "15-64")]
    assert _passes(working_age, 60) and _passes(working_age, 90)
    assert not _passes(working_age, 55)
    admitted = targets.loc[("type1_ae_admitted_share", "all")]
    assert _passes(admitted, 0.26) and _passes(admitted, 0.29)
    assert not _passes(admitted, 0.25) and not _passes(admitted, 0.30)


def test_population_targets_match_the_age_sex_file():
    table = reference.age_sex()
    total = table["population"].sum()
    targets = reference.calibration_targets().set_index(["metric", "group"])
    older = table.loc[table["age_band"].isin(ESP_BANDS[13:]), "population"].sum() / total
    assert _passes(targets.loc[("population_share", "65+")], older)
    # 0-15: three bands and one fifth of 15-19.
    young = table.loc[table["age_band"].isin(ESP_BANDS[:3]), "population"].sum()
    young += table.loc[table["age_band"] == "15-19", "population"].sum() / 5
    assert _passes(targets.loc[("population_share", "0-15")], young / total)


# ---- activity codes -----------------------------------------------------------------


def test_specialties_have_the_required_treatment_functions():
    spec = reference.specialties()
    required = {"100", "101", "110", "120", "130", "180", "300", "301", "320", "340", "361"}
    required |= {"400", "420", "430", "501", "502", "710", "800"}
    assert required <= set(spec["tfc"])
    assert spec["tfc"].is_unique
    for column in ("elective_weight", "emergency_weight", "outpatient_weight"):
        assert spec[column].sum() == pytest.approx(1.0, abs=1e-6), column
        assert (spec[column] >= 0).all(), column
    assert reference.codes(spec.set_index("tfc").loc["110", "opcs4_codes"])[0] == "W371"


def test_ae_codes_weights_and_propensities():
    ae = reference.ae_codes()
    assert set(ae["role"]) == {"chief_complaint", "diagnosis"}
    for role, rows in ae.groupby("role"):
        assert rows["weight"].sum() == pytest.approx(1.0, abs=1e-6), role
        assert rows["snomed_code"].is_unique, role
        admitted = (rows["weight"] * rows["admission_propensity"]).sum()
        assert 0.2 <= admitted <= 0.35, role
    assert ((ae["admission_propensity"] > 0) & (ae["admission_propensity"] < 1)).all()


def test_gp_codes_kinds_and_ranges():
    gp = reference.gp_codes()
    assert set(gp["kind"]) == {"observation", "contact", "prescription"}
    assert gp["snomed_code"].is_unique
    numeric = gp[gp["value_min"].notna()]
    assert len(numeric) >= 8
    assert (numeric["value_min"] < numeric["value_max"]).all()
    assert (numeric["unit"] != "").all()
    assert gp["value_min"].isna().eq(gp["value_max"].isna()).all()
    known = set(reference.conditions()["condition"])
    linked = set(reference.codes(gp["conditions"]))
    assert linked and linked <= known, linked - known
