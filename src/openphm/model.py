"""The openphm canonical data model, declared once, as data.

Why this module exists
----------------------
Every table that openphm reads, writes or validates is declared here exactly once, as frozen
dataclasses: a :class:`TableSpec` per table holding a :class:`Column` per column. The Ibis
schemas (:meth:`TableSpec.schema`), the documentation printed by ``openphm schema``
(:func:`describe`) and the closed sets of allowed codes are all derived from these declarations,
so the code, the schemas and the documentation cannot drift apart.

Conventions:

* Field names follow the NHS Data Dictionary, in lower snake case (``admission_method``,
  ``discharge_destination``, ``treatment_function``).
* Every closed set of codes is a named module constant (``SEX_CODES``, ``SETTINGS``, ...) that
  the columns reuse; each set is written down once.
* ``person_id`` is a pseudonym assigned at linkage. Raw NHS numbers exist only inside the ingest
  and link steps and never appear in the canonical model; no table here has an NHS number column.
* Money is always integer pence (``int64``), never floating point, so sums are exact.
* Nullability is explicit: a column is ``NOT NULL`` unless declared ``nullable=True``.
* ``allowed`` holds string codes mapped to short labels. Code meanings are NHS Data Dictionary
  labels; no ICD-10 or SNOMED CT descriptions are shipped. Integer ranges (month of birth, IMD
  decile) are stated in the column description rather than as ``allowed`` codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

__all__ = [
    "ACTIVITY_TYPES",
    "ACTIVITY_UNITS",
    "ADMISSION_METHODS",
    "AGE_BANDS",
    "AGE_BANDS_ESP2013",
    "DIAGNOSIS_CODE_SYSTEMS",
    "DISCHARGE_DESTINATIONS",
    "EMERGENCY_ADMISSION_METHODS",
    "ETHNIC_CATEGORIES",
    "GP_EVENT_CODE_SYSTEMS",
    "HES_ETHNIC_CATEGORIES",
    "HES_ETHNOS_AS_ETHNIC_CATEGORY",
    "HES_SEX_AS_SEX",
    "LINK_METHODS",
    "ORGANISATION_KINDS",
    "PROCEDURE_CODE_SYSTEMS",
    "SETTINGS",
    "SEX_CODES",
    "TABLES",
    "Column",
    "TableSpec",
    "describe",
    "memtable",
    "table_spec",
]

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def _frozen(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> Mapping[str, str]:
    """Return a read-only copy of ``pairs`` (a mapping or an iterable of (code, meaning))."""
    return MappingProxyType(dict(pairs))


# --------------------------------------------------------------------------------------------
# Closed sets of codes (each declared once, reused by the columns below)
# --------------------------------------------------------------------------------------------

#: NHS Data Dictionary PERSON STATED GENDER CODE.
SEX_CODES: Mapping[str, str] = _frozen(
    {
        "1": "Male",
        "2": "Female",
        "9": "Indeterminate",
        "X": "Not known",
    }
)

#: NHS Data Dictionary ETHNIC CATEGORY (2001 census categories), plus "99" not known.
ETHNIC_CATEGORIES: Mapping[str, str] = _frozen(
    {
        "A": "White - British",
        "B": "White - Irish",
        "C": "White - Any other White background",
        "D": "Mixed - White and Black Caribbean",
        "E": "Mixed - White and Black African",
        "F": "Mixed - White and Asian",
        "G": "Mixed - Any other mixed background",
        "H": "Asian or Asian British - Indian",
        "J": "Asian or Asian British - Pakistani",
        "K": "Asian or Asian British - Bangladeshi",
        "L": "Asian or Asian British - Any other Asian background",
        "M": "Black or Black British - Caribbean",
        "N": "Black or Black British - African",
        "P": "Black or Black British - Any other Black background",
        "R": "Other ethnic groups - Chinese",
        "S": "Other ethnic groups - Any other ethnic group",
        "Z": "Not stated",
        "99": "Not known",
    }
)

#: HES ETHNOS (HES Data Dictionary): the ETHNIC CATEGORY codes above, plus HES's own "X"
#: (not known) and, in years before 2001-02, the 1991 census codes "0" to "8" and "9" (not
#: given). Valid values as delivered: which of them the person table keeps is canonical's call.
HES_ETHNIC_CATEGORIES: Mapping[str, str] = _frozen(
    {
        **ETHNIC_CATEGORIES,
        "X": "Not known",
        "0": "White (before 2001-02)",
        "1": "Black - Caribbean (before 2001-02)",
        "2": "Black - African (before 2001-02)",
        "3": "Black - Other (before 2001-02)",
        "4": "Indian (before 2001-02)",
        "5": "Pakistani (before 2001-02)",
        "6": "Bangladeshi (before 2001-02)",
        "7": "Chinese (before 2001-02)",
        "8": "Any other ethnic group (before 2001-02)",
        "9": "Not given (before 2001-02)",
    }
)

#: HES's own codes as the person table keeps them (ETHNIC CATEGORY, PERSON STATED GENDER
#: CODE): HES ETHNOS X (not known) and the 1991 census codes of years before 2001-02, which
#: map one to one where the 2001 classification kept the group; the 1991 "White" (0) has no
#: single 2001 category, so it is not known rather than guessed. HES SEX 0 is "not known".
HES_ETHNOS_AS_ETHNIC_CATEGORY: Mapping[str, str] = _frozen(
    {
        "X": "99",
        "9": "Z",
        "0": "99",
        "1": "M",
        "2": "N",
        "3": "P",
        "4": "H",
        "5": "J",
        "6": "K",
        "7": "R",
        "8": "S",
    }
)
HES_SEX_AS_SEX: Mapping[str, str] = _frozen({"0": "X"})

#: Care settings an encounter can belong to.
SETTINGS: Mapping[str, str] = _frozen(
    {
        "gp": "General practice (primary care)",
        "apc": "Admitted patient care (hospital spell)",
        "op": "Outpatient attendance",
        "ae": "Accident and emergency / emergency care attendance",
        "community": "Community health services contact",
        "mental_health": "Mental health services contact",
        "ambulance": "Ambulance incident or conveyance",
        "social_care": "Adult social care service",
    }
)

#: NHS Data Dictionary ADMISSION METHOD (hospital provider spell).
ADMISSION_METHODS: Mapping[str, str] = _frozen(
    {
        "11": "Elective admission: waiting list",
        "12": "Elective admission: booked",
        "13": "Elective admission: planned",
        "21": "Emergency admission: emergency care department or dental casualty department",
        "22": "Emergency admission: general practitioner",
        "23": "Emergency admission: bed bureau",
        "24": "Emergency admission: consultant clinic",
        "25": "Emergency admission: mental health crisis resolution team",
        "2A": "Emergency admission: emergency care department of another provider",
        "2B": "Emergency admission: transfer from another hospital provider in an emergency",
        "2C": "Emergency admission: baby born at home as intended",
        "2D": "Emergency admission: other emergency admission",
        "28": "Emergency admission: other means",
        "31": "Maternity admission: ante partum",
        "32": "Maternity admission: post partum",
        "81": "Other admission: transfer from another hospital provider, not in an emergency",
        "82": "Other admission: birth of a baby in this health care provider",
        "83": "Other admission: baby born outside the provider, except at home as intended",
        "84": "Other admission: admissions panel of a high security psychiatric hospital",
        "89": "Other admission: high security psychiatric hospital admissions waiting list",
        "98": "Not applicable",
        "99": "Not known",
    }
)

#: The admission methods that are emergency admissions (the "2x" codes).
EMERGENCY_ADMISSION_METHODS: frozenset[str] = frozenset(
    code for code in ADMISSION_METHODS if code.startswith("2")
)

#: NHS Data Dictionary DISCHARGE DESTINATION (hospital provider spell).
DISCHARGE_DESTINATIONS: Mapping[str, str] = _frozen(
    {
        "19": "Usual place of residence",
        "29": "Temporary place of residence",
        "30": "Repatriation from high security psychiatric accommodation",
        "37": "Court",
        "38": "Penal establishment or police station",
        "48": "High secure psychiatric hospital, Scotland",
        "49": "NHS other hospital provider: high security psychiatric accommodation",
        "50": "NHS other hospital provider: medium secure unit",
        "51": "NHS other hospital provider: general ward",
        "52": "NHS other hospital provider: maternity or neonatal ward",
        "53": "NHS other hospital provider: mental illness or learning disability ward",
        "54": "NHS run care home",
        "65": "Local authority residential accommodation",
        "66": "Local authority foster care",
        "79": "Not applicable: patient died or stillbirth",
        "84": "Non-NHS run hospital: medium secure unit",
        "85": "Non-NHS (other than local authority) run care home",
        "87": "Non-NHS run hospital",
        "88": "Non-NHS (other than local authority) run hospice",
        "98": "Not applicable: spell not finished at episode end",
        "99": "Not known",
    }
)

#: Code systems a diagnosis can be coded in.
DIAGNOSIS_CODE_SYSTEMS: Mapping[str, str] = _frozen(
    {
        "icd10": "ICD-10 (WHO / UK 5th edition)",
        "snomed": "SNOMED CT",
    }
)

#: Code systems a procedure can be coded in.
PROCEDURE_CODE_SYSTEMS: Mapping[str, str] = _frozen(
    {
        "opcs4": "OPCS-4 classification of interventions and procedures",
        "snomed": "SNOMED CT",
    }
)

#: Code systems a primary-care observation can be coded in.
GP_EVENT_CODE_SYSTEMS: Mapping[str, str] = _frozen(
    {
        "snomed": "SNOMED CT",
        "ctv3": "Clinical Terms Version 3 (Read v3)",
        "read2": "Read codes version 2",
    }
)

#: Kinds of costable resource use.
ACTIVITY_TYPES: Mapping[str, str] = _frozen(
    {
        "ward_stay": "Time on a ward",
        "theatre": "Operating theatre time",
        "critical_care": "Critical care (ICU/HDU) stay",
        "pathology": "Pathology tests",
        "imaging": "Diagnostic imaging examinations",
        "pharmacy": "Medicines issued",
        "contact": "Clinical contact (for example a community or outpatient contact)",
    }
)

#: How a record's person_id was found at linkage.
LINK_METHODS: Mapping[str, str] = _frozen(
    {
        "nhs_number": "HMAC of a valid NHS number",
        "upstream_pseudonym": "HMAC of the pseudonym a pseudonymised source keys people by",
        "probabilistic": "Splink match on date of birth, sex and postcode",
        "unlinked": "No person found: a pseudonym of the record itself, in no person row",
    }
)

#: Units an activity quantity is measured in.
ACTIVITY_UNITS: Mapping[str, str] = _frozen(
    {
        "minutes": "Minutes",
        "tests": "Number of tests",
        "items": "Number of items",
        "days": "Days (for example bed days)",
        "contacts": "Number of contacts",
    }
)

#: Kinds of organisation in the NHS hierarchy.
ORGANISATION_KINDS: Mapping[str, str] = _frozen(
    {
        "practice": "GP practice",
        "pcn": "Primary care network",
        "sub_icb": "Sub-ICB location (former CCG)",
        "icb": "Integrated care board",
        "region": "NHS England region",
        "provider": "Provider of care (for example an NHS trust)",
    }
)

#: European Standard Population 2013 five-year age bands, youngest first (19 bands).
AGE_BANDS_ESP2013: tuple[str, ...] = (
    *(f"{low}-{low + 4}" for low in range(0, 90, 5)),
    "90+",
)

#: ``AGE_BANDS_ESP2013`` as allowed values (band -> meaning), in band order.
AGE_BANDS: Mapping[str, str] = _frozen(
    (band, "Aged 90 and over" if band == "90+" else f"Aged {band.replace('-', ' to ')}")
    for band in AGE_BANDS_ESP2013
)


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    ``dtype`` is an Ibis dtype string without a nullability marker ("string", "int16", "date",
    ...); nullability is declared only through ``nullable``. ``allowed`` maps each allowed code
    to a short meaning; it may be given as a mapping or as (code, meaning) pairs and is stored
    as a read-only mapping. It is only valid on string columns.
    """

    name: str
    dtype: str
    description: str
    nullable: bool = False
    # Excluded from the hash (a mapping proxy is unhashable); still compared by ``==``.
    allowed: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"column name {self.name!r} is not lower snake case")
        if self.dtype.startswith("!"):
            raise ValueError(
                f"column {self.name!r}: dtype {self.dtype!r} carries a nullability marker; "
                "declare nullability with nullable= instead"
            )
        try:
            parsed = dt.dtype(self.dtype)
        except Exception as exc:  # ibis raises several exception types for bad strings
            raise ValueError(f"column {self.name!r}: unknown dtype {self.dtype!r}") from exc
        if not self.description.strip() or "\n" in self.description:
            raise ValueError(f"column {self.name!r}: description must be one non-empty line")
        if self.allowed is not None:
            if not isinstance(self.allowed, MappingProxyType):
                object.__setattr__(self, "allowed", _frozen(self.allowed))
            if not self.allowed:
                raise ValueError(f"column {self.name!r}: allowed must not be empty")
            if not parsed.is_string():
                raise ValueError(
                    f"column {self.name!r}: allowed codes are only valid on string columns, "
                    f"not {self.dtype}"
                )

    @property
    def ibis_dtype(self) -> dt.DataType:
        """The Ibis data type, with nullability applied."""
        return dt.dtype(self.dtype).copy(nullable=self.nullable)


@dataclass(frozen=True)
class TableSpec:
    """One canonical table: its name, grain ("one row per ..."), description and columns."""

    name: str
    grain: str
    description: str
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"table name {self.name!r} is not lower snake case")
        object.__setattr__(self, "columns", tuple(self.columns))
        if not self.columns:
            raise ValueError(f"table {self.name!r} has no columns")
        seen: set[str] = set()
        for col in self.columns:
            if col.name in seen:
                raise ValueError(f"table {self.name!r}: duplicate column {col.name!r}")
            seen.add(col.name)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in declaration order."""
        return tuple(col.name for col in self.columns)

    def schema(self) -> ibis.Schema:
        """The Ibis schema; non-nullable columns are ``!``-typed."""
        return ibis.schema({col.name: col.ibis_dtype for col in self.columns})

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError naming the table and its columns otherwise."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(
            f"table {self.name!r} has no column {name!r}; columns are: {', '.join(self.names)}"
        )


def _c(
    name: str,
    dtype: str,
    description: str,
    *,
    nullable: bool = False,
    allowed: Mapping[str, str] | None = None,
) -> Column:
    return Column(name, dtype, description, nullable=nullable, allowed=allowed)


_PERSON_ID = "Pseudonymised person identifier assigned at linkage (never a raw NHS number)"
_ENCOUNTER_ID = "Identifier of the encounter (see encounter.encounter_id)"
_PROVIDER_CODE = "ODS code of the provider organisation"

_TABLE_LIST: tuple[TableSpec, ...] = (
    TableSpec(
        "person",
        "person",
        "Demographics of each linked person.",
        (
            _c("person_id", "string", _PERSON_ID),
            _c("year_of_birth", "int16", "Year of birth (four digits)"),
            _c("month_of_birth", "int8", "Month of birth, 1-12"),
            _c("sex", "string", "NHS PERSON STATED GENDER CODE", allowed=SEX_CODES),
            _c(
                "ethnic_category",
                "string",
                "NHS ETHNIC CATEGORY (2001 census categories)",
                allowed=ETHNIC_CATEGORIES,
            ),
            _c(
                "lsoa_code",
                "string",
                "Lower layer super output area (2021) of residence; null if not known",
                nullable=True,
            ),
            _c(
                "date_of_death",
                "date",
                "Date of death; null if not known to have died",
                nullable=True,
            ),
        ),
    ),
    TableSpec(
        "registration",
        "GP registration period",
        "Periods during which a person was registered with a GP practice.",
        (
            _c("person_id", "string", _PERSON_ID),
            _c("practice_code", "string", "ODS code of the GP practice"),
            _c("start_date", "date", "First day of the registration"),
            _c("end_date", "date", "Last day of the registration; null if ongoing", nullable=True),
        ),
    ),
    TableSpec(
        "encounter",
        "contact or spell, any setting",
        "Contacts and hospital spells across every care setting.",
        (
            _c("encounter_id", "string", "Unique identifier of the contact or spell"),
            _c("person_id", "string", _PERSON_ID),
            _c("setting", "string", "Care setting of the encounter", allowed=SETTINGS),
            _c("provider_code", "string", _PROVIDER_CODE),
            _c("start_date", "date", "Start date of the contact or spell"),
            _c(
                "end_date",
                "date",
                "End (discharge) date; null if ongoing or not recorded",
                nullable=True,
            ),
            _c(
                "admission_method",
                "string",
                "NHS ADMISSION METHOD of a hospital spell; null outside admitted care",
                nullable=True,
                allowed=ADMISSION_METHODS,
            ),
            _c(
                "is_emergency",
                "boolean",
                "True if unplanned (for admitted care: an emergency admission method)",
            ),
            _c(
                "treatment_function",
                "string",
                "NHS TREATMENT FUNCTION CODE; null where not applicable",
                nullable=True,
            ),
            _c(
                "discharge_destination",
                "string",
                "NHS DISCHARGE DESTINATION of a hospital spell; null where not applicable",
                nullable=True,
                allowed=DISCHARGE_DESTINATIONS,
            ),
            _c(
                "hrg",
                "string",
                "Healthcare Resource Group code; null if not grouped",
                nullable=True,
            ),
            _c(
                "cip_spell_id",
                "string",
                "Continuous inpatient spell (transfers between providers joined); apc only",
                nullable=True,
            ),
            _c(
                "attended",
                "boolean",
                "Whether the patient was seen; null where the source does not say",
                nullable=True,
            ),
            _c("link_method", "string", "How person_id was assigned", allowed=LINK_METHODS),
            _c("source", "string", "Configured source the record came from"),
        ),
    ),
    TableSpec(
        "episode",
        "consultant episode of a hospital spell",
        "The episodes (periods under one consultant) that make up each admitted spell.",
        (
            _c("episode_id", "string", "Identifier of the episode (the source episode key)"),
            _c("encounter_id", "string", "The spell the episode belongs to"),
            _c("person_id", "string", _PERSON_ID),
            _c("episode_order", "int16", "Order of the episode within its spell; 1 = first"),
            _c("start_date", "date", "First day of the episode"),
            _c("end_date", "date", "Last day of the episode; null if ongoing", nullable=True),
            _c("main_specialty", "string", "NHS MAIN SPECIALTY CODE", nullable=True),
            _c("treatment_function", "string", "NHS TREATMENT FUNCTION CODE", nullable=True),
        ),
    ),
    TableSpec(
        "diagnosis",
        "coded diagnosis on an encounter",
        "Diagnoses recorded on encounters, in recorded order.",
        (
            _c("encounter_id", "string", _ENCOUNTER_ID),
            _c("person_id", "string", _PERSON_ID),
            _c("position", "int16", "Position of the diagnosis on the encounter; 1 = primary"),
            _c("code_system", "string", "Code system of code", allowed=DIAGNOSIS_CODE_SYSTEMS),
            _c("code", "string", "Diagnosis code in code_system (dots and HES filler removed)"),
            _c("episode_id", "string", "Episode the code was recorded on (apc)", nullable=True),
        ),
    ),
    TableSpec(
        "procedure",
        "coded procedure",
        "Procedures recorded on encounters, in recorded order.",
        (
            _c("encounter_id", "string", _ENCOUNTER_ID),
            _c("person_id", "string", _PERSON_ID),
            _c("position", "int16", "Position of the procedure on the encounter; 1 = primary"),
            _c("code_system", "string", "Code system of code", allowed=PROCEDURE_CODE_SYSTEMS),
            _c("code", "string", "Procedure code as recorded in code_system"),
            _c(
                "procedure_date",
                "date",
                "Date of the procedure; null if not recorded",
                nullable=True,
            ),
            _c("episode_id", "string", "Episode the code was recorded on (apc)", nullable=True),
        ),
    ),
    TableSpec(
        "gp_event",
        "coded primary-care observation",
        "Coded observations from GP clinical systems.",
        (
            _c("person_id", "string", _PERSON_ID),
            _c("event_date", "date", "Date the observation was recorded for"),
            _c("code_system", "string", "Code system of code", allowed=GP_EVENT_CODE_SYSTEMS),
            _c("code", "string", "Observation code as recorded in code_system"),
            _c(
                "value",
                "float64",
                "Numeric value in the unit recorded; null if none",
                nullable=True,
            ),
            _c("unit", "string", "Unit of value; null if none", nullable=True),
            _c("practice_code", "string", "Practice that recorded it", nullable=True),
        ),
    ),
    TableSpec(
        "activity",
        "costable resource use",
        "Resource use from provider feeds, to which ledger costs are allocated.",
        (
            _c("activity_id", "string", "Unique identifier of the activity record"),
            _c(
                "encounter_id",
                "string",
                "Encounter the activity belongs to; null for unmatched feed records",
                nullable=True,
            ),
            _c("provider_code", "string", _PROVIDER_CODE),
            _c("activity_type", "string", "Kind of resource used", allowed=ACTIVITY_TYPES),
            _c("quantity", "float64", "Amount of resource used, in unit"),
            _c("unit", "string", "Unit of quantity", allowed=ACTIVITY_UNITS),
            _c(
                "weight",
                "float64",
                "Relative weight of one unit within its activity type (default 1)",
            ),
            _c("activity_date", "date", "Date the resource was used"),
            _c("person_id", "string", _PERSON_ID),
            _c(
                "source_key_type",
                "string",
                "Kind of source record key the feed gives (epikey, attendkey...)",
                nullable=True,
            ),
            _c("source_key", "string", "Source record key the feed gives", nullable=True),
            _c("start_time", "timestamp", "When the use began, if recorded", nullable=True),
            _c("end_time", "timestamp", "When the use ended, if recorded", nullable=True),
            _c("cost_centre", "string", "Cost centre the feed assigns", nullable=True),
            _c("item", "string", "What was used (test, drug, minute of ...)", nullable=True),
            _c("cost_pence", "int64", "Actual cost where the feed gives one", nullable=True),
            _c("source", "string", "Configured source the record came from"),
        ),
    ),
    TableSpec(
        "ledger",
        "cost-ledger line",
        "Provider cost-ledger lines, in integer pence.",
        (
            _c("provider_code", "string", _PROVIDER_CODE),
            _c("cost_centre", "string", "Cost centre code in the provider ledger"),
            _c("expense_type", "string", "Expense type (for example pay or non-pay)"),
            _c("resource", "string", "Resource the cost is spent on"),
            _c(
                "activity_type",
                "string",
                "Activity type the cost is allocated to; null until mapped",
                nullable=True,
                allowed=ACTIVITY_TYPES,
            ),
            _c("amount_pence", "int64", "Amount in integer pence (never floating point)"),
            _c("financial_year", "string", "Financial year, as 2024/25"),
            _c(
                "cost_centre_type",
                "string",
                "patient_facing, support, non_patient_care or income",
                nullable=True,
            ),
        ),
    ),
    TableSpec(
        "overhead_basis",
        "cost centre and apportionment basis",
        "Quantities (floor area, staff, devices) by which overheads are apportioned.",
        (
            _c("provider_code", "string", _PROVIDER_CODE),
            _c("financial_year", "string", "Financial year, as 2024/25"),
            _c("cost_centre", "string", "Cost centre code in the provider ledger"),
            _c("basis", "string", "Apportionment basis (for example floor_area_m2)"),
            _c("value", "float64", "Quantity of the basis held by the cost centre"),
        ),
    ),
    TableSpec(
        "organisation",
        "organisation over a validity period",
        "NHS organisations and their hierarchy, with validity periods and successors.",
        (
            _c("code", "string", "ODS code of the organisation"),
            _c("kind", "string", "Kind of organisation", allowed=ORGANISATION_KINDS),
            _c("name", "string", "Name of the organisation"),
            _c(
                "parent_code",
                "string",
                "Code of the parent organisation; null at the top",
                nullable=True,
            ),
            _c("valid_from", "date", "First day this row is valid"),
            _c(
                "valid_to", "date", "Last day this row is valid; null if still valid", nullable=True
            ),
            _c(
                "successor_code",
                "string",
                "Code of the successor organisation; null if none",
                nullable=True,
            ),
        ),
    ),
    TableSpec(
        "area",
        "LSOA, age band and sex",
        "LSOA deprivation and population, long form: one row per LSOA, age band and sex. "
        "From the lsoas source's population columns (ONS LSOA mid-year estimates, by single "
        "year of age and sex, summed into bands); empty when it has none. The measure stage's "
        "denominators when nobody is registered with a practice.",
        (
            _c("lsoa_code", "string", "Lower layer super output area (2021) code"),
            _c(
                "imd_decile",
                "int8",
                "Index of Multiple Deprivation decile, 1-10; 1 = most deprived",
            ),
            _c(
                "age_band",
                "string",
                "European Standard Population 2013 five-year age band",
                allowed=AGE_BANDS,
            ),
            _c("sex", "string", "NHS PERSON STATED GENDER CODE", allowed=SEX_CODES),
            _c("population", "int64", "Number of people in the LSOA, age band and sex"),
        ),
    ),
    TableSpec(
        "lsoa",
        "LSOA",
        "Each LSOA's place (sub-ICB location) and deprivation.",
        (
            _c("lsoa_code", "string", "Lower layer super output area (2021) code"),
            _c("place_code", "string", "Code of the place (sub-ICB location) it lies in"),
            _c("imd_decile", "int8", "Index of Multiple Deprivation decile; 1 = most deprived"),
        ),
    ),
)

#: Every canonical table, by name, in design order.
TABLES: Mapping[str, TableSpec] = MappingProxyType({spec.name: spec for spec in _TABLE_LIST})


def table_spec(name: str) -> TableSpec:
    """The table called ``name``; KeyError naming it and listing the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables are: {', '.join(TABLES)}") from None


def _describe_table(spec: TableSpec) -> str:
    lines = [
        f"Table: {spec.name}",
        f"Grain: one row per {spec.grain}",
        spec.description,
        "Columns:",
    ]
    for col in spec.columns:
        null = "nullable" if col.nullable else "not null"
        lines.append(f"  - {col.name} ({col.dtype}, {null}): {col.description}")
        if col.allowed is not None:
            codes = "; ".join(f"{code}={meaning}" for code, meaning in col.allowed.items())
            lines.append(f"      allowed: {codes}")
    return "\n".join(lines)


def describe(name: str | None = None) -> str:
    """Plain-text documentation of table ``name``, or of every table when ``name`` is None."""
    specs = [table_spec(name)] if name is not None else list(TABLES.values())
    return "\n\n".join(_describe_table(spec) for spec in specs) + "\n"


def memtable(name: str, frame: pd.DataFrame) -> ir.Table:
    """A DataFrame as an Ibis table with the canonical schema of ``name``."""
    schema = table_spec(name).schema()
    return ibis.memtable(frame[list(schema.names)], schema=schema)
