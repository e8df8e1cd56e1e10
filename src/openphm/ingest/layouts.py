"""The file layouts openphm reads, as data: which columns each delivered file must have.

A workspace's ``[sources.NAME]`` entries name a file and one of these layouts. A
layout lists the columns a file must have (the run stops, naming the file and
what it found, if one is missing), the columns it may have, its record key, and
the text that means "no value" in a column (HES writes 1800-01-01 for a null
date; OPCS-4 columns hold '-' for no operation). What is checked in each column
is in ``checks.csv``; how each layout becomes canonical tables is in
``canonical.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType


def numbered(prefix: str, count: int) -> tuple[str, ...]:
    """HES's wide columns: numbered('DIAG_4_', 3) -> DIAG_4_01, DIAG_4_02, DIAG_4_03."""
    return tuple(f"{prefix}{i:02d}" for i in range(1, count + 1))


#: The lsoas layout's population columns, as ONS publishes its LSOA mid-year population
#: estimates (e.g. "Lower layer Super Output Area population estimates", mid-2022, LSOA
#: 2021): wide, one column per sex and single year of age, F0 .. F90 and M0 .. M90, where
#: 90 means 90 and over. Optional: without them rates need GP registrations.
POPULATION_AGES = tuple(range(91))
POPULATION_COLUMNS = tuple(f"{sex}{age}" for sex in ("F", "M") for age in POPULATION_AGES)
HES_NULL_DATES = ("1800-01-01", "1801-01-01")  # HES: null, and "not known"
OPCS_NULLS = ("-", "&")  # no operation; not known
APC_DIAGNOSES = numbered("DIAG_4_", 20)
APC_OPERATIONS = numbered("OPERTN_4_", 24)
APC_OPERATION_DATES = numbered("OPDATE_", 24)
OP_DIAGNOSES = numbered("DIAG_4_", 12)
OP_OPERATIONS = numbered("OPERTN_4_", 24)


@dataclass(frozen=True)
class Layout:
    name: str
    description: str
    key: tuple[str, ...]  # the record key: unique within a file
    columns: tuple[str, ...]  # required
    optional: tuple[str, ...] = ()  # read when present, else missing
    format: str = "csv"  # or "parquet"
    provider: str | None = None  # the column naming the provider, for quality by provider
    nulls: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    # Other names a column is delivered under (HES as NHS Digital publishes it, SUS+/NCDR):
    # layout column -> file headers, tried in order after the layout's own name.
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nulls", MappingProxyType(dict(self.nulls)))
        object.__setattr__(self, "aliases", MappingProxyType(dict(self.aliases)))
        if isinstance(self.key, str):
            object.__setattr__(self, "key", (self.key,))
        for column in self.key:
            if column not in self.columns:
                raise ValueError(f"layout {self.name!r}: key {column!r} is not a required column")

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.columns + tuple(c for c in self.optional if c not in self.columns)

    @property
    def nhs_column(self) -> str | None:
        """The column holding the NHS number, if the layout has one."""
        for name in ("NEWNHSNO", "NHS_NUMBER"):
            if name in self.columns:
                return name
        return None

    def null_tokens(self, column: str) -> tuple[str, ...]:
        return self.nulls.get(column, ())


def _nulls(tokens: tuple[str, ...], *groups: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {column: tokens for group in groups for column in group}


# HES's patient columns. Only the person key is required: HES as NHS Digital publishes it
# has a month and year of birth (MYDOB) and no date of birth or postcode, SUS+ extracts
# carry a derived LSOA, and many extracts hold only some of them.
_HES_PERSON = ("NEWNHSNO",)
# LSOA: HES carries the census LSOA of each era it covers (LSOA01, LSOA11), only some
# filled: a 2001/02 file has LSOA01 alone. The newest filled one is used.
HES_LSOAS = ("LSOA21", "LSOA11", "LSOA01")
_HES_PATIENT = ("DOB", "MYDOB", "SEX", "ETHNOS", *HES_LSOAS, "HOMEADD", "GPPRAC")
HES_AE_DIAGNOSES = numbered("DIAG3_", 12)
# Other names HES and SUS columns arrive under, tried in order after the layout's own.
# - HES as NHS Digital publishes it (its data dictionary names, as in NHS Digital's
#   artificial HES, tests/data/artificial_hes): PSEUDO_HESID.
# - SUS+ as NCDR and UDAL hold it (tbl_Data_SEM_APCE/APCS/OPA): the names used in the
#   Strategy Unit's public NCDR queries (github.com/The-Strategy-Unit,
#   aging_pop_impact_hcare_demand sql/view_apc_master.sql: APCS_Ident, Admission_Date,
#   Discharge_Date, Admission_Method, Patient_Classification, Age_At_Start_of_Spell_SUS,
#   Der_Postcode_LSOA_2011_Code) and in public SUS+ SQL on GitHub (APCE_Ident, OPA_Ident,
#   Der_Pseudo_NHS_Number, Der_Provider_Code, Der_Spell_ID, Episode_Start_Date,
#   Episode_End_Date, Der_Primary_Diagnosis_Code, Treatment_Function_Code, Ethnic_Group,
#   GP_Practice_Code, Appointment_Date, Der_Postcode_LSOA_2021_Code). Only names found in
#   such sources; a SUS+ extract with other names maps them with ``columns``.
# - Long diagnosis and procedure tables as CPRD's HES APC linkage delivers them
#   (hes_diagnosis_epi: epikey, ICD, d_order; hes_procedures_epi: epikey, OPCS, p_order,
#   evdate; CPRD's HES APC data specification).
_PERSON_ALIASES = ("PSEUDO_HESID", "Der_Pseudo_NHS_Number")
_HES_PATIENT_ALIASES = {
    "NEWNHSNO": _PERSON_ALIASES,
    "LSOA21": ("Der_Postcode_LSOA_2021_Code",),
    "LSOA11": ("Der_Postcode_LSOA_2011_Code",),
    "ETHNOS": ("Ethnic_Group",),
    "GPPRAC": ("GP_Practice_Code",),
    "PROCODE3": ("Der_Provider_Code",),
    "TRETSPEF": ("Treatment_Function_Code",),
}
HES_APC_ALIASES = _HES_PATIENT_ALIASES | {
    "EPIKEY": ("APCE_Ident", "APCS_Ident"),
    "PROVSPNOPS": ("Der_Spell_ID",),
    "ADMIDATE": ("Admission_Date",),
    "ADMIMETH": ("Admission_Method",),
    "DISDATE": ("Discharge_Date",),
    "EPISTART": ("Episode_Start_Date",),
    "EPIEND": ("Episode_End_Date",),
    "CLASSPAT": ("Patient_Classification",),
    "DIAG_4_01": ("Der_Primary_Diagnosis_Code",),
    "STARTAGE": ("Age_At_Start_of_Spell_SUS",),
}
HES_OP_ALIASES = _HES_PATIENT_ALIASES | {
    "ATTENDKEY": ("OPA_Ident",),
    "APPTDATE": ("Appointment_Date",),
}
HES_AE_ALIASES = _HES_PATIENT_ALIASES
_LONG_KEY = ("EPIKEY", "ATTENDKEY", "AEKEY", "APCE_Ident", "OPA_Ident")
DIAGNOSES_LONG_ALIASES = {"RECORD_KEY": _LONG_KEY, "POSITION": ("d_order",), "CODE": ("ICD",)}
PROCEDURES_LONG_ALIASES = {
    "RECORD_KEY": _LONG_KEY,
    "POSITION": ("p_order",),
    "CODE": ("OPCS",),
    "PROCEDURE_DATE": ("evdate",),
}

_FEED = (
    "RECORD_ID",
    "PROVIDER_CODE",
    "ACTIVITY_TYPE",
    "NHS_NUMBER",
    "ACTIVITY_DATE",
    "ACTIVITY_START",
    "ACTIVITY_END",
    "COST_CENTRE",
    "ITEM",
    "QUANTITY",
    "UNIT",
    "WEIGHT",
)
FEED_KEYS = ("EPIKEY", "ATTENDKEY", "EC_IDENT", "CONTACT_ID", "INCIDENT_ID")

_LAYOUTS = (
    Layout(
        "hes_apc",
        "Admitted patient care episodes, HES APC / SUS APCE shape (wide diagnoses and operations)",
        "EPIKEY",
        ("EPIKEY", "PROCODE3", *_HES_PERSON, "ADMIDATE", "EPISTART"),
        optional=("PROVSPNOPS", *_HES_PATIENT, "ADMIMETH", "ADMISORC", "CLASSPAT", "EPIEND")
        + ("EPIORDER", "MAINSPEF", "TRETSPEF", "DISDATE", "DISMETH", "DISDEST")
        + (*APC_DIAGNOSES, *APC_OPERATIONS, "EPISTAT", "EPITYPE", "STARTAGE")
        + APC_OPERATION_DATES,
        nulls=_nulls(HES_NULL_DATES, ("DOB", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE"))
        | _nulls(HES_NULL_DATES, APC_OPERATION_DATES)
        | _nulls(OPCS_NULLS, APC_OPERATIONS)
        | _nulls(OPCS_NULLS, APC_DIAGNOSES),  # HES: '-' no diagnosis, '&' not known
        aliases=HES_APC_ALIASES,
    ),
    Layout(
        "hes_op",
        "Outpatient appointments, HES OP / SUS OPA shape",
        "ATTENDKEY",
        ("ATTENDKEY", "PROCODE3", *_HES_PERSON, "APPTDATE"),
        optional=(*_HES_PATIENT, "ATTENDED", "FIRSTATT", "MAINSPEF", "TRETSPEF", "APPTAGE")
        + (*OP_DIAGNOSES, *OP_OPERATIONS, "STAFFTYP"),
        nulls=_nulls(HES_NULL_DATES, ("DOB", "APPTDATE"))
        | _nulls(OPCS_NULLS, OP_OPERATIONS)
        | _nulls(OPCS_NULLS, OP_DIAGNOSES),  # HES: '-' no diagnosis, '&' not known
        aliases=HES_OP_ALIASES,
    ),
    Layout(
        "hes_ae",
        "Accident and emergency attendances, historic HES A&E / CDS 010 shape (before ECDS)",
        "AEKEY",
        ("AEKEY", "PROCODE3", *_HES_PERSON, "ARRIVALDATE"),
        optional=(*_HES_PATIENT, "ARRIVALAGE", "ARRIVALTIME", "AEATTENDDISP", "AEDEPTTYPE")
        + ("DIAGSCHEME", *HES_AE_DIAGNOSES),
        nulls=_nulls(HES_NULL_DATES, ("DOB", "ARRIVALDATE")),
        aliases=HES_AE_ALIASES,
    ),
    Layout(
        "hes_diagnoses_long",
        "Diagnoses one row per code (a HES or SUS+ diagnosis table): record key, position, code",
        ("RECORD_KEY", "POSITION"),
        ("RECORD_KEY", "POSITION", "CODE"),
        aliases=DIAGNOSES_LONG_ALIASES,
    ),
    Layout(
        "hes_procedures_long",
        "Procedures one row per code (a HES or SUS+ procedure table): record key, position, code",
        ("RECORD_KEY", "POSITION"),
        ("RECORD_KEY", "POSITION", "CODE"),
        optional=("PROCEDURE_DATE",),
        nulls={"CODE": OPCS_NULLS, "PROCEDURE_DATE": HES_NULL_DATES},
        aliases=PROCEDURES_LONG_ALIASES,
    ),
    Layout(
        "ecds",
        "Emergency Care Data Set attendances (SNOMED CT coded)",
        "EC_IDENT",
        ("EC_IDENT", "DER_PROVIDER_CODE", "NHS_NUMBER", "DATE_OF_BIRTH", "STATED_GENDER")
        + ("ETHNIC_CATEGORY", "LSOA", "POSTCODE", "GP_PRACTICE", "ARRIVAL_DATE")
        + ("DEPARTMENT_TYPE", "DIAGNOSIS_SNOMED", "DISCHARGE_DESTINATION_SNOMED", "ADMITTED"),
        optional=(
            "ARRIVAL_TIME",
            "ARRIVAL_MODE_SNOMED",
            "CHIEF_COMPLAINT_SNOMED",
            "DISCHARGE_STATUS",
            "LINKED_SPELL",
        ),
    ),
    Layout(
        "gp_patients",
        "GP practice patient register: demographics of the registered population",
        "PATIENT_ID",
        ("PATIENT_ID", "NHS_NUMBER", "DATE_OF_BIRTH", "SEX", "ETHNIC_CATEGORY", "POSTCODE")
        + ("LSOA", "PRACTICE_CODE", "DATE_OF_DEATH"),
    ),
    Layout(
        "gp_registrations",
        "GP registration periods",
        "REG_ID",
        ("REG_ID", "NHS_NUMBER", "PRACTICE_CODE", "REGISTRATION_START", "REGISTRATION_END"),
    ),
    Layout(
        "gp_events",
        "GP coded observations (SNOMED CT)",
        "EVENT_ID",
        ("EVENT_ID", "NHS_NUMBER", "PRACTICE_CODE", "EVENT_DATE", "SNOMED_CODE", "VALUE"),
        optional=("UNIT",),
    ),
    Layout(
        "community_contacts",
        "Community services contacts (CSDS shape)",
        "CONTACT_ID",
        ("CONTACT_ID", "NHS_NUMBER", "PROVIDER_CODE", "CONTACT_DATE", "CARE_CONTACT_DURATION")
        + ("TEAM_TYPE", "ATTENDED"),
    ),
    Layout(
        "mental_health_contacts",
        "Mental health services contacts (MHSDS shape)",
        "CONTACT_ID",
        ("CONTACT_ID", "NHS_NUMBER", "PROVIDER_CODE", "CONTACT_DATE", "CONTACT_DURATION")
        + ("SERVICE_TYPE", "ATTENDED"),
        optional=("PRIMARY_REASON",),
    ),
    Layout(
        "ambulance_incidents",
        "Ambulance incidents; some arrive without an NHS number",
        "INCIDENT_ID",
        ("INCIDENT_ID", "NHS_NUMBER", "DATE_OF_BIRTH", "SEX", "POSTCODE", "PROVIDER_CODE")
        + ("INCIDENT_DATE", "OUTCOME", "CONVEYED_TO"),
        optional=("INCIDENT_TIME",),
    ),
    Layout(
        "social_care_services",
        "Adult social care services (CLD shape); some arrive without an NHS number",
        "SERVICE_ID",
        ("SERVICE_ID", "NHS_NUMBER", "DATE_OF_BIRTH", "SEX", "POSTCODE", "LA_CODE")
        + ("SERVICE_TYPE", "START_DATE", "END_DATE"),
        optional=("PLANNED_HOURS_PER_WEEK",),
    ),
    Layout(
        "opt_outs",
        "National data opt-outs and type 1 (GP) opt-outs",
        ("NHS_NUMBER", "OPT_OUT_TYPE"),
        ("NHS_NUMBER", "OPT_OUT_TYPE"),
        optional=("EFFECTIVE_DATE",),
    ),
    Layout(
        "costing_ledger",
        "Provider general ledger lines by cost centre and expense type, in pence",
        ("PROVIDER_CODE", "FINANCIAL_YEAR", "COST_CENTRE", "EXPENSE_TYPE"),
        ("PROVIDER_CODE", "FINANCIAL_YEAR", "COST_CENTRE", "COST_CENTRE_TYPE")
        + ("EXPENSE_TYPE", "RESOURCE", "AMOUNT_PENCE"),
    ),
    Layout(
        "overhead_bases",
        "Apportionment bases for overheads (floor area, staff, devices) by cost centre",
        ("PROVIDER_CODE", "FINANCIAL_YEAR", "COST_CENTRE", "BASIS"),
        ("PROVIDER_CODE", "FINANCIAL_YEAR", "COST_CENTRE", "BASIS", "VALUE"),
    ),
    Layout(
        "costing_feed",
        "Patient-level activity feed for costing (ward stays, theatres, tests, drugs...)",
        "RECORD_ID",
        _FEED,
        optional=(*FEED_KEYS, "COST_PENCE"),
    ),
    Layout(
        "organisations",
        "Organisations and their hierarchy, with validity periods",
        ("code", "valid_from"),
        ("kind", "code", "name", "parent_code", "valid_from", "valid_to", "successor_code"),
    ),
    Layout(
        "lsoas",
        "LSOAs with their place and IMD decile, and optionally their population by sex and "
        "single year of age (ONS LSOA mid-year estimates, wide: F0..F90, M0..M90)",
        "lsoa_code",
        ("lsoa_code", "place_code", "imd_decile"),
        optional=POPULATION_COLUMNS,
    ),
    # OMOP CDM v5.4 (OHDSI CommonDataModel, inst/csv/OMOP_CDMv5.4_Field_Level.csv): required
    # are the fields the CDM makes required AND openphm uses; every other field openphm
    # reads is optional. CSV or Parquet: the reader goes by the source's format or the
    # file's extension; ``format`` here is only the fallback for a file with neither.
    Layout(
        "omop_person",
        "OMOP CDM v5.4 person",
        "person_id",
        ("person_id", "gender_concept_id", "year_of_birth"),
        optional=("month_of_birth", "day_of_birth", "location_id")
        + ("care_site_id", "person_source_value", "gender_source_value", "race_source_value"),
        format="parquet",
    ),
    Layout(
        "omop_death",
        "OMOP CDM v5.4 death",
        "person_id",
        ("person_id", "death_date"),
        format="parquet",
    ),
    Layout(
        "omop_observation_period",
        "OMOP CDM v5.4 observation_period",
        "observation_period_id",
        ("observation_period_id", "person_id", "observation_period_start_date")
        + ("observation_period_end_date",),
        format="parquet",
    ),
    Layout(
        "omop_location",
        "OMOP CDM v5.4 location (LSOA and postcode)",
        "location_id",
        ("location_id",),
        optional=("zip", "county", "location_source_value"),
        format="parquet",
    ),
    Layout(
        "omop_care_site",
        "OMOP CDM v5.4 care_site (ODS codes in care_site_source_value)",
        "care_site_id",
        ("care_site_id",),
        optional=("care_site_source_value", "place_of_service_concept_id", "care_site_name"),
        format="parquet",
    ),
    Layout(
        "omop_provider",
        "OMOP CDM v5.4 provider",
        "provider_id",
        ("provider_id",),
        optional=("care_site_id",),
        format="parquet",
    ),
    Layout(
        "omop_visit_occurrence",
        "OMOP CDM v5.4 visit_occurrence",
        "visit_occurrence_id",
        ("visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date")
        + ("visit_end_date",),
        optional=("care_site_id", "provider_id", "visit_source_value")
        + ("admitted_from_concept_id", "admitted_from_source_value")
        + ("discharged_to_source_value",),
        format="parquet",
    ),
    Layout(
        "omop_visit_detail",
        "OMOP CDM v5.4 visit_detail (emergency department stays within a visit)",
        "visit_detail_id",
        ("visit_detail_id", "person_id", "visit_detail_concept_id", "visit_occurrence_id"),
        optional=("visit_detail_start_date", "visit_detail_end_date"),
        format="parquet",
    ),
    Layout(
        "omop_condition_occurrence",
        "OMOP CDM v5.4 condition_occurrence",
        "condition_occurrence_id",
        ("condition_occurrence_id", "person_id", "condition_concept_id")
        + ("condition_start_date",),
        optional=("visit_occurrence_id", "condition_source_value", "condition_source_concept_id")
        + ("condition_status_source_value", "condition_type_concept_id"),
        format="parquet",
    ),
    Layout(
        "omop_procedure_occurrence",
        "OMOP CDM v5.4 procedure_occurrence",
        "procedure_occurrence_id",
        ("procedure_occurrence_id", "person_id", "procedure_date"),
        optional=("visit_occurrence_id", "procedure_source_value"),
        format="parquet",
    ),
    Layout(
        "omop_concept",
        "OMOP vocabulary concept table (SNOMED and ICD10 codes of concept ids)",
        "concept_id",
        ("concept_id", "vocabulary_id", "concept_code"),
        optional=("concept_name", "domain_id", "standard_concept"),
        format="parquet",
    ),
    Layout(
        "omop_cost",
        "OMOP CDM v5.4 cost",
        "cost_id",
        ("cost_id", "cost_event_id", "cost_domain_id"),
        optional=("cost_type_concept_id", "total_cost"),
        format="parquet",
    ),
)

# The column naming the provider (or practice, or council) of each layout's records.
_PROVIDERS = {
    "hes_apc": "PROCODE3",
    "hes_op": "PROCODE3",
    "hes_ae": "PROCODE3",
    "ecds": "DER_PROVIDER_CODE",
    "gp_patients": "PRACTICE_CODE",
    "gp_registrations": "PRACTICE_CODE",
    "gp_events": "PRACTICE_CODE",
    "community_contacts": "PROVIDER_CODE",
    "mental_health_contacts": "PROVIDER_CODE",
    "ambulance_incidents": "PROVIDER_CODE",
    "social_care_services": "LA_CODE",
    "costing_ledger": "PROVIDER_CODE",
    "overhead_bases": "PROVIDER_CODE",
    "costing_feed": "PROVIDER_CODE",
}

LAYOUTS: Mapping[str, Layout] = MappingProxyType(
    {layout.name: replace(layout, provider=_PROVIDERS.get(layout.name)) for layout in _LAYOUTS}
)
