"""OMOP CDM v5.4 tables as staged canonical tables: pure Ibis, one function per layout.

The mappers take a file's accepted rows (text, every ``checks.csv`` line passed) and
return partial staged tables, as ``canonical``'s do. What is read is in ``layouts``
(``omop_*``); what is checked is in ``checks.csv``.

One person key for a whole OMOP database
    OMOP tables name their person only by ``person_id``: a visit or condition row does
    not carry the person's NHS number. So every staged row made from OMOP carries the
    source ``'omop'`` (``OMOP_SOURCE``, not the configured source name) and the record
    key ``'person:<person_id>'``: all of one person's rows share one (source,
    record_key), and link gives a person it cannot find by NHS number one pseudonym
    of that key ('unlinked'), the same on every visit, diagnosis and GP record. A
    workspace therefore holds one OMOP database (its person_ids are one namespace).
    ``person_id`` and the visit ids are written as integers ('0042' is 42).

person -> staged_identity (one row per person)
    ``person_source_value`` is the nhs_number when it is a valid NHS number (10 digits
    once spaces and hyphens are removed, Modulus 11 check digit, checked in the
    engine); otherwise nhs_number is null and the person is known only within the
    OMOP database. date_of_birth from year, month and day of birth (day 1 when the day
    is missing; null when the month is, since a month is not invented); sex from
    gender_source_value when it is '1' or '2', else gender_concept_id 8507 -> '1',
    8532 -> '2', else null; ethnic_category from race_source_value when it is an NHS
    ethnic category code (the synthetic ICS puts it there), else null; no postcode,
    LSOA, practice or death (the OMOP death and location tables are not read);
    record_date null. The person's visits and conditions carry no NHS number;
    link takes it from this row (see the end of this docstring).

visit_occurrence -> staged_encounter
    encounter_id 'omop:<visit_occurrence_id>'; setting and is_emergency from
    visit_concept_id (``VISIT_SETTINGS``): 9201 inpatient -> apc; 262 emergency room
    and inpatient -> apc, emergency; 9202 outpatient -> op; 9203 emergency room -> ae,
    emergency; 581477 office visit -> gp; 581476 home visit -> community; 581478
    ambulance -> ambulance, emergency. Any other concept is quarantined by
    ``checks.csv`` (``invalid_value``); its list must equal ``VISIT_SETTINGS``. OMOP
    has no admission method, so admission_method is null and an inpatient visit is an
    emergency only when it came through the emergency room (262). A visit concept says
    where care happened, not which service gave it: the synthetic ICS (``synth.omop``)
    writes community and mental health clinic contacts as 9202 (so op here) and
    district nursing, community matron, crisis team and GP home visits as 581476 (so
    community); it writes no visits for ambulance incidents or social care.
    provider_code is care_site_id as text (care_site is not read); start and end are
    the visit dates; discharge_destination is discharged_to_source_value for apc
    visits when it is an NHS discharge destination code, else null; attended is true
    (a visit is care that happened).

condition_occurrence -> staged_diagnosis, or staged_gp_event without a visit
    A condition with a visit is a diagnosis on encounter 'omop:<visit_occurrence_id>',
    positioned 1, 2, ... within its visit in condition_occurrence_id order;
    code_system icd10 for an ICD-10 shaped condition_source_value (stored as
    ``canonical.icd10`` spells it: 'I10X' -> 'I10'), snomed for a SNOMED CT id (digits).
    A condition without a visit is GP history (the synthetic ICS writes GP diagnoses
    so, dated at onset, 17% of its conditions): a SNOMED one becomes a gp_event on its
    start date. ``checks.csv`` quarantines a condition without a source value or whose
    source value is neither shape. Gap: a condition with no visit and an ICD-10 code
    has no canonical home (gp_event takes SNOMED, CTV3 and Read only) and is not
    staged; the checks cannot quarantine it, as a check sees one column.

procedure_occurrence -> staged_procedure
    On encounter 'omop:<visit_occurrence_id>', positioned by procedure_occurrence_id,
    dated procedure_date; opcs4 for an OPCS-4 shaped procedure_source_value (dot
    removed), else snomed. ``checks.csv`` quarantines procedures without a visit or a
    recognisable code.

cost -> nothing yet
    There is no canonical table for a price per visit; the costing work (issue 6) will
    consume it. The rows are still read, checked and counted in ``dq_files``.

Referential integrity is not checked here: a condition or procedure whose visit was
quarantined (or never delivered) is staged, and link drops it with its missing
encounter, as it does any diagnosis without an encounter.

For link: a visit or condition row has no NHS number even when its person's
identity row has one; link gives every staged record without one the NHS number
of the identity row with the same (source, record_key) before it applies opt-outs
(``link.stage._numbered``), so such a person's OMOP activity is linked by NHS
number, and opted out by it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from openphm.ingest.checks import as_date, nhs_check_digit_ok, normalised_nhs
from openphm.model import DISCHARGE_DESTINATIONS, ETHNIC_CATEGORIES

if TYPE_CHECKING:
    from openphm.ingest.canonical import Mapper

OMOP_SOURCE = "omop"  # the staged source of every OMOP row: one person key per database

#: visit_concept_id -> (setting, is_emergency). checks.csv lists the same concepts.
VISIT_SETTINGS: Mapping[str, tuple[str, bool]] = MappingProxyType(
    {
        "9201": ("apc", False),  # Inpatient Visit
        "262": ("apc", True),  # Emergency Room and Inpatient Visit
        "9202": ("op", False),  # Outpatient Visit
        "9203": ("ae", True),  # Emergency Room Visit
        "581477": ("gp", False),  # Office Visit
        "581476": ("community", False),  # Home Visit
        "581478": ("ambulance", True),  # Ambulance Visit
    }
)
GENDER_CONCEPTS: Mapping[str, str] = MappingProxyType({"8507": "1", "8532": "2"})

SNOMED_SHAPE = r"^[1-9][0-9]{5,17}$"  # an SCTID: 6 to 18 digits
ICD10_SHAPE = r"^[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?[X\-]?$"  # as checks' icd10
OPCS4_SHAPE = r"^[A-HJ-Z][0-9]{2}\.?[0-9]?$"  # as checks' opcs4
_NHS_SHAPE = r"^[0-9]{10}$"


def _text(value: str) -> ir.StringValue:
    return ibis.literal(value, type="string")


def _integer(value: ir.StringValue) -> ir.StringValue:
    """An id as one spelling of its integer ('0042' -> '42'); checks.csv ensures digits."""
    return value.cast("int64").cast("string")


def _person(t: ir.Table) -> dict[str, ir.Value]:
    """The columns that tie a staged row to its OMOP person."""
    return {
        "nhs_number": ibis.null("string"),
        "source": _text(OMOP_SOURCE),
        "record_key": _text("person:") + _integer(t.person_id),
    }


def _encounter_id(visit: ir.StringValue) -> ir.StringValue:
    return _text("omop:") + _integer(visit)


def valid_nhs(value: ir.StringValue) -> ir.BooleanValue:
    """10 digits (spaces and hyphens removed) with a valid Modulus 11 check digit."""
    number = normalised_nhs(value)
    shaped = number.re_search(_NHS_SHAPE)
    # The check digit arithmetic casts each character: give it digits on every row.
    digits = ibis.cases((shaped, number), else_=_text("0000000000"))
    return (shaped & nhs_check_digit_ok(digits)).fill_null(False)


def _by_code(
    code: ir.StringValue,
    shapes: list[tuple[str, str]],
    spell: Mapping[str, Callable[[ir.StringValue], ir.StringValue]],
) -> tuple[ir.StringValue, ir.StringValue]:
    """(code_system, code) from the code's shape; ``spell`` normalises each system's code."""
    system = ibis.cases(*[(code.re_search(shape), _text(name)) for name, shape in shapes])
    spelt = ibis.cases(*[(system == name, spell[name](code)) for name, _ in shapes])
    return system, spelt


def omop_person(t: ir.Table, source: str) -> dict[str, ir.Table]:
    number = normalised_nhs(t.person_source_value)
    born = (
        t.year_of_birth.lpad(4, "0")
        + _text("-")
        + t.month_of_birth.lpad(2, "0")
        + _text("-")
        + t.day_of_birth.fill_null("1").lpad(2, "0")
    )
    concept_sex = ibis.cases(
        *[(t.gender_concept_id == c, _text(s)) for c, s in GENDER_CONCEPTS.items()],
        else_=ibis.null("string"),
    )
    stated = t.gender_source_value
    sex = ibis.cases((stated.isin(["1", "2"]), stated), else_=ibis.null("string"))
    fields = _person(t)
    fields["nhs_number"] = ibis.cases(
        (valid_nhs(t.person_source_value), number), else_=ibis.null("string")
    )
    identity = t.select(
        **fields,
        date_of_birth=as_date(born),
        sex=ibis.coalesce(sex, concept_sex),
        ethnic_category=ibis.cases(
            (t.race_source_value.isin(list(ETHNIC_CATEGORIES)), t.race_source_value),
            else_=ibis.null("string"),
        ),
        record_date=ibis.null("date"),
    )
    return {"staged_identity": identity}


def omop_visit_occurrence(t: ir.Table, source: str) -> dict[str, ir.Table]:
    concept = t.visit_concept_id
    setting = ibis.cases(*[(concept == c, _text(s)) for c, (s, _) in VISIT_SETTINGS.items()])
    destination = t.discharged_to_source_value
    encounter = t.select(
        encounter_id=_encounter_id(t.visit_occurrence_id),
        **_person(t),
        setting=setting,
        provider_code=t.care_site_id,
        start_date=as_date(t.visit_start_date),
        end_date=as_date(t.visit_end_date),
        admission_method=ibis.null("string"),
        is_emergency=concept.isin([c for c, (_, e) in VISIT_SETTINGS.items() if e]),
        discharge_destination=ibis.cases(
            ((setting == "apc") & destination.isin(list(DISCHARGE_DESTINATIONS)), destination),
            else_=ibis.null("string"),
        ),
        attended=ibis.literal(True),
    )
    return {"staged_encounter": encounter}


def _positioned(t: ir.Table, key: str) -> ir.Table:
    """Rows with a visit, numbered 1, 2, ... within it in ``key`` (an integer id) order."""
    rows = t.filter(t.visit_occurrence_id.notnull())
    rows = rows.mutate(encounter_id=_encounter_id(rows.visit_occurrence_id))
    order = ibis.row_number().over(group_by=rows.encounter_id, order_by=rows[key].cast("int64"))
    return rows.mutate(position=(order + 1).cast("int16"))


def omop_condition_occurrence(t: ir.Table, source: str) -> dict[str, ir.Table]:
    from openphm.ingest.canonical import icd10

    shapes = [("icd10", ICD10_SHAPE), ("snomed", SNOMED_SHAPE)]
    spell = {"icd10": icd10, "snomed": lambda c: c}
    on_visit = _positioned(t, "condition_occurrence_id")
    system, code = _by_code(on_visit.condition_source_value, shapes, spell)
    diagnosis = on_visit.select("encounter_id", "position", code_system=system, code=code)
    history = t.filter(
        t.visit_occurrence_id.isnull() & t.condition_source_value.re_search(SNOMED_SHAPE)
    )
    gp_event = history.select(
        **_person(history),
        event_date=as_date(history.condition_start_date),
        code_system=_text("snomed"),
        code=history.condition_source_value,
    )
    return {"staged_diagnosis": diagnosis, "staged_gp_event": gp_event}


def omop_procedure_occurrence(t: ir.Table, source: str) -> dict[str, ir.Table]:
    from openphm.ingest.canonical import opcs4

    shapes = [("opcs4", OPCS4_SHAPE), ("snomed", SNOMED_SHAPE)]
    spell = {"opcs4": opcs4, "snomed": lambda c: c}
    rows = _positioned(t, "procedure_occurrence_id")
    system, code = _by_code(rows.procedure_source_value, shapes, spell)
    procedure = rows.select(
        "encounter_id",
        "position",
        code_system=system,
        code=code,
        procedure_date=as_date(rows.procedure_date),
    )
    return {"staged_procedure": procedure}


def omop_cost(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """Read, checked and counted; staged nowhere until costing (issue 6) consumes it."""
    return {}


OMOP_MAPPERS: dict[str, Mapper] = {
    "omop_person": omop_person,
    "omop_visit_occurrence": omop_visit_occurrence,
    "omop_condition_occurrence": omop_condition_occurrence,
    "omop_procedure_occurrence": omop_procedure_occurrence,
    "omop_cost": omop_cost,
}
