"""Spec: which emergency admissions count as chronic ambulatory care sensitive (NHS OF 2.3.i).

The eleven chronic conditions of NHS Outcomes Framework indicator 2.3.i are judged by
the primary diagnosis of the admission's first provider spell ("emergency admissions
... with a primary diagnosis of an ACS condition", NHS Digital, indicator P01749). The
code list (``definitions/acsc_chronic.csv``) keeps the "common NHS subset" for angina
(I20, I24.0, I24.8, I24.9; HDR UK Avoidable Admissions Collaboration, table of ACSC
codes): I25 and Z03.4, which only some versions add, are not angina here.

An admission for angina is left out when the patient had an operation, and one for
congestive heart failure or hypertension when the patient had a cardiac procedure: the
NHS Institute for Innovation and Improvement's ACSC list (Appendix A, the source of
the NHS OF conditions) excludes them, as The Strategy Unit's nhp_data applies it
(angina: OPCS-4 chapters A-H, J-T, V, W and X01, X02, X04, X05; heart failure and
hypertension: K0-K4, K50, K52, K55-K57, K60, K61, K66-K69, K71). Here any procedure of
the first provider spell counts. Cellulitis (acute list) is excluded with an operation
in the same way.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from openphm.measure import acsc
from openphm.measure.definitions import load
from tests.spec.harness import assert_transform

ADMISSIONS = """
cip_spell_id     | person_id | first_encounter_id
angina           | p1        | apc:1
angina_operated  | p2        | apc:2
angina_endoscopy | p3        | apc:3
angina_x03       | p4        | apc:4
chd_chronic      | p5        | apc:5
chest_pain_z034  | p6        | apc:6
heart_failure    | p7        | apc:7
hf_cardiac       | p8        | apc:8
hf_hip           | p9        | apc:9
hypertension_pci | p10       | apc:10
cellulitis       | p11       | apc:11
cellulitis_op    | p12       | apc:12
snomed_procedure | p13       | apc:13
"""
SCHEMA = {"cip_spell_id": "string", "person_id": "string", "first_encounter_id": "string"}

DIAGNOSIS = """
encounter_id | person_id | position | code_system | code
apc:1        | p1        | 1        | icd10       | I209
apc:2        | p2        | 1        | icd10       | I200
apc:3        | p3        | 1        | icd10       | I248
apc:4        | p4        | 1        | icd10       | I249
apc:5        | p5        | 1        | icd10       | I251
apc:6        | p6        | 1        | icd10       | Z034
apc:7        | p7        | 1        | icd10       | I500
apc:8        | p8        | 1        | icd10       | I110
apc:9        | p9        | 1        | icd10       | J81
apc:10       | p10       | 1        | icd10       | I10
apc:11       | p11       | 1        | icd10       | L031
apc:12       | p12       | 1        | icd10       | L031
apc:13       | p13       | 1        | icd10       | I209
"""

# Coronary angioplasty (K75) is an operation and a cardiac procedure; upper GI endoscopy
# (G45) an operation, not a cardiac one; X03 (not an excluded code); a hip replacement
# (W37) excludes angina but not heart failure; a skin graft (S35) excludes cellulitis;
# a SNOMED procedure is not OPCS-4.
PROCEDURE = """
encounter_id | person_id | position | code_system | code
apc:2        | p2        | 1        | opcs4       | K751
apc:3        | p3        | 2        | opcs4       | G451
apc:4        | p4        | 1        | opcs4       | X031
apc:8        | p8        | 1        | opcs4       | K601
apc:9        | p9        | 1        | opcs4       | W371
apc:10       | p10       | 1        | opcs4       | K491
apc:12       | p12       | 1        | opcs4       | S351
apc:13       | p13       | 1        | snomed      | 415070008
"""

EPISODE = """
episode_id | encounter_id | person_id | episode_order | start_date
o1         | apc:other    | other     | 1             | 2024-01-01
"""


def _flags(admissions, diagnosis, episode, procedure):
    lists = load().codelists
    wanted = {name: lists[name] for name in ("acsc_chronic", "acsc_acute")}
    return acsc.flags(admissions, diagnosis, episode, wanted, procedure)


def test_angina_heart_failure_and_hypertension_are_not_counted_after_a_procedure(con):
    assert_transform(
        con,
        _flags,
        {
            "admissions": ADMISSIONS,
            "diagnosis": DIAGNOSIS,
            "episode": EPISODE,
            "procedure": PROCEDURE,
        },
        """
        cip_spell_id     | acsc_chronic | acsc_acute
        angina           | T            | F
        angina_operated  | F            | F
        angina_endoscopy | F            | F
        angina_x03       | T            | F
        chd_chronic      | F            | F
        chest_pain_z034  | F            | F
        heart_failure    | T            | F
        hf_cardiac       | F            | F
        hf_hip           | T            | F
        hypertension_pci | F            | F
        cellulitis       | F            | T
        cellulitis_op    | F            | F
        snomed_procedure | T            | F
        """,
        schemas={"admissions": SCHEMA},
    )


def test_the_chronic_list_holds_the_eleven_nhs_of_conditions():
    rows = load().codelists["acsc_chronic"].rows
    conditions = {row["condition"] for row in rows}
    assert conditions == {
        "Chronic viral hepatitis B",
        "Diabetes",
        "Iron deficiency anaemia",
        "Dementia",
        "Convulsions and epilepsy",
        "Congestive heart failure",
        "Angina",
        "Hypertension",
        "Atrial fibrillation and flutter",
        "Chronic obstructive pulmonary disease",
        "Asthma",
    }
    angina = {row["code"] for row in rows if row["condition"] == "Angina"}
    assert angina == {"I20", "I240", "I248", "I249"}
    excluded = {row["without_procedure"] for row in rows if row["without_procedure"]}
    assert {cell.split("|")[0] for cell in excluded} == {"A", "K0"}
