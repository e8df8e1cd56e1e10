"""The reference tables the hospital generator draws from, prepared once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from openphm import codes
from openphm.synth import reference

# Long-term condition -> the specialty an admission or referral for it goes to.
CONDITION_SPECIALTY = {
    "hypertension": "300",
    "diabetes": "300",
    "copd": "340",
    "asthma": "340",
    "chd": "320",
    "heart_failure": "320",
    "atrial_fibrillation": "320",
    "ckd": "361",
    "stroke": "400",
    "cancer": "800",
    "dementia": "430",
    "depression": "710",
    "smi": "710",
    "learning_disability": "300",
    "frailty": "430",
    "painful_condition": "110",
    "hearing_loss": "120",
    "thyroid_disorder": "300",
    "anxiety": "710",
    "visual_impairment": "130",
    "prostate_disorder": "101",
    "constipation": "301",
}
# Common secondary codes: hyperlipidaemia, penicillin allergy, GORD, arthrosis,
# hypothyroidism, anaemia, tobacco use. Any that is a long-term condition's code in
# conditions.csv is dropped when the tables load (as are such codes in the lists below).
INCIDENTAL_ICD10 = ("E785", "Z880", "K219", "M199", "E039", "D649", "F171")
# Elective primary diagnoses by specialty, for spells not led by a condition.
ELECTIVE_ICD10 = {
    "100": ("K409", "K429", "K802", "L059", "K602", "K648"),
    "101": ("N40", "N201", "N433", "R31"),
    "110": ("M171", "M161", "M233", "M751", "G560", "M201"),
    "120": ("J350", "J342", "H652", "J320"),
    "130": ("H251", "H269", "H353", "H401"),
    "300": ("D509", "M069"),
    "301": ("K573", "K219", "Z121", "K296", "D126"),
    "320": ("R072", "I471", "R002", "I350"),
    "340": ("R05", "R91", "G473"),
    "361": ("N200", "N049", "R80"),
    "400": ("G439", "G35", "G409", "G20"),
    "420": ("J350", "K409", "Q531", "N47"),
    "430": ("M819", "R55"),
    "501": ("O342", "O800", "O48"),
    "502": ("N920", "D259", "N813", "N832", "N979"),
    "710": ("F419", "F102", "F431"),
    "800": ("Z511", "Z510"),
}
# ECDS diagnosis -> the chief complaint it usually arrives with (when that diagnosis is
# not itself a chief complaint in ae_codes.csv).
DIAGNOSIS_COMPLAINT = {
    "22298006": "29857009",
    "230690007": "40917007",
    "59282003": "267036007",
    "49436004": "29857009",
    "84114007": "267036007",
    "233604007": "267036007",
    "195951007": "267036007",
    "195967001": "267036007",
    "54150009": "49727002",
    "65363002": "386661006",
    "68566005": "21522001",
    "91302008": "386661006",
    "128045006": "271807003",
    "2776000": "40917007",
    "84757009": "91175000",
    "302866003": "271594007",
    "80394007": "422400008",
    "5913000": "1912002",
    "71620000": "1912002",
    "125605004": "1912002",
    "62315008": "62315008",
}


@dataclass(frozen=True)
class _Tables:
    conditions: tuple[str, ...]
    cond_rr: np.ndarray  # emergency_rr
    cond_codes: np.ndarray  # (C, K) HES 4-char codes, padded with ''
    cond_ncodes: np.ndarray
    cond_tfc: np.ndarray  # specialty index of each condition
    tfc: np.ndarray  # treatment function codes
    w_elective: np.ndarray
    w_emergency: np.ndarray
    w_outpatient: np.ndarray
    opcs: np.ndarray  # (T, K) OPCS-4 codes by specialty
    n_opcs: np.ndarray
    op_opcs: np.ndarray  # the non-theatre ones, for outpatient procedures
    n_op_opcs: np.ndarray
    emerg_dx: np.ndarray  # (T, K) emergency primary diagnoses, condition codes left out
    n_emerg_dx: np.ndarray
    elect_dx: np.ndarray
    n_elect_dx: np.ndarray
    ae_diag: np.ndarray  # SNOMED ids
    ae_diag_w: np.ndarray
    ae_diag_p: np.ndarray  # admission propensity
    ae_diag_complaint: np.ndarray  # mapped chief complaint or ''
    ae_comp: np.ndarray
    ae_comp_w: np.ndarray
    ae_comp_p: np.ndarray
    incidental: np.ndarray  # INCIDENTAL_ICD10 less any long-term condition's codes


def _pad(lists: list[list[str]], width: int = 5) -> tuple[np.ndarray, np.ndarray]:
    k = max([len(x) for x in lists] + [1])
    out = np.full((len(lists), k), "", dtype=f"<U{width}")
    for i, values in enumerate(lists):
        out[i, : len(values)] = values
    return out, np.array([len(x) for x in lists], dtype=np.int64)


def _is_condition_code(code: str, exact: set[str], categories: set[str]) -> bool:
    normal = codes.normalise_icd10(code)
    return normal in exact or normal[:3] in categories or normal.startswith("C")


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    cond = reference.conditions()
    spec = reference.specialties()
    tfc = spec["tfc"].to_numpy().astype("<U3")
    tfc_index = {t: i for i, t in enumerate(tfc)}
    cond_lists = [reference.codes(v) for v in cond["icd10_codes"]]
    exact = {codes.normalise_icd10(c) for lst in cond_lists for c in lst}
    categories = {c for c in exact if len(c) == 3}
    cond_codes, cond_n = _pad([[codes.hes_icd10(c) for c in lst] for lst in cond_lists])
    general = tfc_index.get("300", 0)
    cond_tfc = np.array(
        [tfc_index.get(CONDITION_SPECIALTY.get(c, "300"), general) for c in cond["condition"]]
    )

    opcs = [[codes.normalise_opcs4(c) for c in reference.codes(v)] for v in spec["opcs4_codes"]]
    op_opcs = [[c for c in lst if _setting(c) in ("imaging", "endoscopy", "ward")] for lst in opcs]

    def usable(values) -> list[str]:
        """HES codes of ``values`` that are no long-term condition's code."""
        return [codes.hes_icd10(c) for c in values if not _is_condition_code(c, exact, categories)]

    emerg = [usable(reference.codes(v)) for v in spec["emergency_icd10_codes"]]
    elect = [usable(ELECTIVE_ICD10.get(t, ())) or emerg[i] for i, t in enumerate(tfc)]
    incidental = np.array(usable(INCIDENTAL_ICD10), dtype="<U5")
    for lst in opcs + elect + emerg:
        for c in lst:
            assert codes.is_valid_opcs4(c) or codes.is_valid_icd10(c), c  # noqa: S101

    ae = reference.ae_codes()
    ae = ae[ae["snomed_code"].map(codes.is_valid_sctid)]
    diag = ae[ae["role"] == "diagnosis"]
    comp = ae[ae["role"] == "chief_complaint"]
    comp_ids = set(comp["snomed_code"])
    mapped = [c if c in comp_ids else DIAGNOSIS_COMPLAINT.get(c, "") for c in diag["snomed_code"]]
    mapped = [m if m in comp_ids else "" for m in mapped]

    def prop(frame):
        return frame["admission_propensity"].fillna(0.1).clip(0.0, 1.0).to_numpy()

    return _Tables(
        conditions=tuple(cond["condition"]),
        cond_rr=cond["emergency_rr"].to_numpy(dtype=float),
        cond_codes=cond_codes,
        cond_ncodes=cond_n,
        cond_tfc=cond_tfc,
        tfc=tfc,
        w_elective=spec["elective_weight"].to_numpy(dtype=float),
        w_emergency=spec["emergency_weight"].to_numpy(dtype=float),
        w_outpatient=spec["outpatient_weight"].to_numpy(dtype=float),
        opcs=_pad(opcs)[0],
        n_opcs=_pad(opcs)[1],
        op_opcs=_pad(op_opcs)[0],
        n_op_opcs=_pad(op_opcs)[1],
        emerg_dx=_pad(emerg)[0],
        n_emerg_dx=_pad(emerg)[1],
        elect_dx=_pad(elect)[0],
        n_elect_dx=_pad(elect)[1],
        ae_diag=diag["snomed_code"].to_numpy().astype("<U18"),
        ae_diag_w=diag["weight"].to_numpy(dtype=float),
        ae_diag_p=prop(diag),
        ae_diag_complaint=np.array(mapped, dtype="<U18"),
        ae_comp=comp["snomed_code"].to_numpy().astype("<U18"),
        ae_comp_w=comp["weight"].to_numpy(dtype=float),
        ae_comp_p=prop(comp),
        incidental=incidental,
    )


# Where a procedure is done, by OPCS-4 prefix (longest prefix wins); the rest of
# chapters A-T and W are theatre, U imaging, X/Y/Z other.
_SETTING_PREFIX = {
    "G45": "endoscopy",
    "G16": "endoscopy",
    "H20": "endoscopy",
    "H22": "endoscopy",
    "H25": "endoscopy",
    "E48": "endoscopy",
    "E49": "endoscopy",
    "M45": "endoscopy",
    "K63": "cath_lab",
    "K65": "cath_lab",
    "K75": "cath_lab",
    "K60": "cath_lab",
    "K57": "cath_lab",
    "E85": "ward",
    "X40": "ward",
    "A55": "ward",
    "M47": "ward",
    "X29": "ward",
    "X35": "chemotherapy",
    "X70": "chemotherapy",
    "X65": "radiotherapy",
    "R24": "delivery_suite",
    "R17": "theatre",
    "R18": "theatre",
    "U": "imaging",
    "Y": "ward",
    "Z": "ward",
    "X": "ward",
}


def _setting(opcs: str) -> str:
    for n in (3, 1):
        hit = _SETTING_PREFIX.get(opcs[:n])
        if hit:
            return hit
    return "theatre"
