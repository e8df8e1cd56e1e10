"""OMOP CDM v5.4 tables, one file at a time: each file's accepted rows as a typed part.

An OMOP database is a set of tables that name each other by id: a visit names its
person, care site and provider; a person names a location and a care site. So a file's
mapper here only types and cleans its own rows into an intermediate table keyed by the
layout's name (``omop_person``, ``omop_care_site``, ...); ``omop_join.assemble`` joins
them, once every file is read, into the staged canonical tables. What is read is in
``layouts`` (``omop_*``), what is checked in ``checks.csv``; both CSV and Parquet are
read (the reader chooses by the source's ``format`` or the file's extension).

Ids and concept ids
    OMOP ids are integers, but CSV exports from pandas or R write them as floats
    (``65363002.0``) and some with leading zeros: ``checks.csv`` accepts both, and
    ``_integer`` reads each as its integer (``65363002.0`` -> 65363002, ``0042`` -> 42).

One person key for a whole OMOP database
    OMOP tables name their person only by ``person_id``: a visit or condition row does
    not carry the person's NHS number. So every staged row made from OMOP carries the
    source ``'omop'`` (``OMOP_SOURCE``, not the configured source name) and the record
    key ``'person:<person_id>'``: all of one person's rows share one (source,
    record_key). A workspace therefore holds one OMOP database (its person_ids are one
    namespace). The identity row also carries ``upstream_id = 'omop:<person_id>'``, by
    which link keys a person who has no NHS number.

person
    ``person_source_value`` is the nhs_number when it is a valid NHS number (10 digits
    once spaces and hyphens are removed, Modulus 11 check digit, checked in the
    engine); otherwise nhs_number is null. date_of_birth from year, month and day of
    birth (day 1 when the day is missing; null when the month is, since a month is not
    invented); sex from gender_source_value when it is '1' or '2', else
    gender_concept_id 8507 -> '1', 8532 -> '2', else null; ethnic_category from
    race_source_value when it is an NHS ethnic category code, else null.

death, location, care_site, provider, observation_period, visit_detail, concept
    Typed and cleaned here, used by ``omop_join``: a location's LSOA is the first of
    location_source_value and county that is an LSOA code (``E01``/``W01`` and six
    digits) and its postcode is ``zip`` when it is a whole UK postcode; a care site's
    code is care_site_source_value when it has the shape of an organisation code
    (``ORGANISATION_SHAPES``: ODS codes of trusts, sites and GP practices, and the ONS
    codes of councils), upper-cased.

procedure_occurrence -> staged_procedure (needs no other table)
    On encounter 'omop:<visit_occurrence_id>', positioned by procedure_occurrence_id,
    dated procedure_date; opcs4 for an OPCS-4 shaped procedure_source_value (dot
    removed), else snomed. ``checks.csv`` quarantines procedures without a visit or a
    recognisable code.

cost
    Read, checked and counted in ``dq_files``; staged nowhere. Its total_cost per visit
    (cost_domain_id 'Visit', cost_event_id a visit_occurrence_id) is a price the cost
    stage's unit-cost path could take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from openphm.ingest.checks import as_date, nhs_check_digit_ok, normalised_nhs
from openphm.model import ETHNIC_CATEGORIES

if TYPE_CHECKING:
    from openphm.ingest.canonical import Mapper

OMOP_SOURCE = "omop"  # the staged source of every OMOP row: one person key per database
GENDER_CONCEPTS: Mapping[str, str] = MappingProxyType({"8507": "1", "8532": "2"})

SNOMED_SHAPE = r"^[1-9][0-9]{5,17}$"  # an SCTID: 6 to 18 digits
ICD10_SHAPE = r"^[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?[X\-]?$"  # as checks' icd10
OPCS4_SHAPE = r"^[A-HJ-Z][0-9]{2}\.?[0-9]?$"  # as checks' opcs4
LSOA_SHAPE = r"^[EW]01[0-9]{6}$"  # an LSOA (2011 or 2021) in England or Wales
POSTCODE_SHAPE = r"^[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2}$"  # a whole UK postcode
#: Codes an organisation is known by elsewhere in openphm: an ODS code of an NHS trust
#: (3 characters) or one of its sites or an independent provider (5), a GP practice
#: (a letter and five digits), or the ONS code of a council (E06999001).
ORGANISATION_SHAPES = (
    r"^[A-Z0-9]{3}$",
    r"^[A-Z0-9]{5}$",
    r"^[A-Z][0-9]{5}$",
    r"^[EWSN][0-9]{8}$",
)
PRACTICE_SHAPE = r"^[A-Z][0-9]{5}$"  # an ODS GP practice code
_NHS_SHAPE = r"^[0-9]{10}$"


def _text(value: str) -> ir.StringValue:
    return ibis.literal(value, type="string")


def _integer(value: ir.StringValue) -> ir.IntegerValue:
    """An id or concept id as its integer: '65363002.0' -> 65363002, '0042' -> 42.

    ``checks.csv`` lets only whole numbers through; a null stays null.
    """
    # Most ids are plain digits: only the rest pay for the regular expression.
    return ibis.coalesce(value.try_cast("int64"), value.re_replace(r"\.0*$", "").try_cast("int64"))


def _id_text(value: ir.StringValue) -> ir.StringValue:
    """One spelling of an id: '0042' and '42.0' are both '42'."""
    return _integer(value).cast("string")


def person_key(person_id: ir.IntegerValue) -> ir.StringValue:
    return _text("person:") + person_id.cast("string")


def encounter_id(visit_id: ir.IntegerValue) -> ir.StringValue:
    return _text("omop:") + visit_id.cast("string")


def _optional(t: ir.Table, column: str) -> ir.StringValue:
    """An optional layout column (the reader gives every layout column; a guard for
    tables built by hand)."""
    return t[column] if column in t.columns else ibis.null("string")


def valid_nhs(value: ir.StringValue) -> ir.BooleanValue:
    """10 digits (spaces and hyphens removed) with a valid Modulus 11 check digit."""
    number = normalised_nhs(value)
    shaped = number.re_search(_NHS_SHAPE)
    # The check digit arithmetic casts each character: give it digits on every row.
    digits = ibis.cases((shaped, number), else_=_text("0000000000"))
    return (shaped & nhs_check_digit_ok(digits)).fill_null(False)


def organisation_code(value: ir.StringValue) -> ir.StringValue:
    """The value upper-cased when it has the shape of an organisation code, else null."""
    code = value.strip().upper()
    shaped = ibis.or_(*[code.re_search(s) for s in ORGANISATION_SHAPES])
    has_letter = code.re_search(r"[A-Z]")  # '12345' is a local number, not an ODS code
    return ibis.cases((shaped & has_letter, code), else_=ibis.null("string"))


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
        t.year_of_birth.re_replace(r"\.0*$", "").lpad(4, "0")
        + _text("-")
        + t.month_of_birth.re_replace(r"\.0*$", "").lpad(2, "0")
        + _text("-")
        + _optional(t, "day_of_birth").fill_null("1").re_replace(r"\.0*$", "").lpad(2, "0")
    )
    concept = _id_text(_optional(t, "gender_concept_id"))
    concept_sex = ibis.cases(
        *[(concept == c, _text(s)) for c, s in GENDER_CONCEPTS.items()],
        else_=ibis.null("string"),
    )
    stated = t.gender_source_value
    sex = ibis.cases((stated.isin(["1", "2"]), stated), else_=ibis.null("string"))
    race = _optional(t, "race_source_value")
    person = t.select(
        person_id=_integer(t.person_id),
        nhs_number=ibis.cases(
            (valid_nhs(t.person_source_value), number), else_=ibis.null("string")
        ),
        date_of_birth=as_date(born),
        sex=ibis.coalesce(sex, concept_sex),
        ethnic_category=ibis.cases(
            (race.isin(list(ETHNIC_CATEGORIES)), race), else_=ibis.null("string")
        ),
        location_id=_integer(_optional(t, "location_id")),
        care_site_id=_integer(_optional(t, "care_site_id")),
    )
    return {"omop_person": person}


def omop_death(t: ir.Table, source: str) -> dict[str, ir.Table]:
    return {
        "omop_death": t.select(person_id=_integer(t.person_id), date_of_death=as_date(t.death_date))
    }


def omop_observation_period(t: ir.Table, source: str) -> dict[str, ir.Table]:
    period = t.select(
        person_id=_integer(t.person_id),
        start_date=as_date(t.observation_period_start_date),
        end_date=as_date(t.observation_period_end_date),
    )
    return {"omop_observation_period": period}


def omop_location(t: ir.Table, source: str) -> dict[str, ir.Table]:
    candidates = [_optional(t, c).strip().upper() for c in ("location_source_value", "county")]
    lsoa = ibis.coalesce(
        *[ibis.cases((c.re_search(LSOA_SHAPE), c), else_=ibis.null("string")) for c in candidates]
    )
    zip_code = _optional(t, "zip").strip().upper()
    location = t.select(
        location_id=_integer(t.location_id),
        lsoa_code=lsoa,
        postcode=ibis.cases(
            (zip_code.re_search(POSTCODE_SHAPE), zip_code), else_=ibis.null("string")
        ),
    )
    return {"omop_location": location}


def omop_care_site(t: ir.Table, source: str) -> dict[str, ir.Table]:
    site = t.select(
        care_site_id=_integer(t.care_site_id),
        code=organisation_code(_optional(t, "care_site_source_value")),
        place_of_service=_integer(_optional(t, "place_of_service_concept_id")),
    )
    return {"omop_care_site": site}


def omop_provider(t: ir.Table, source: str) -> dict[str, ir.Table]:
    provider = t.select(
        provider_id=_integer(t.provider_id), care_site_id=_integer(_optional(t, "care_site_id"))
    )
    return {"omop_provider": provider}


def omop_visit_occurrence(t: ir.Table, source: str) -> dict[str, ir.Table]:
    visit = t.select(
        visit_id=_integer(t.visit_occurrence_id),
        person_id=_integer(t.person_id),
        concept=_integer(t.visit_concept_id),
        start_date=as_date(t.visit_start_date),
        end_date=as_date(t.visit_end_date),
        care_site_id=_integer(_optional(t, "care_site_id")),
        provider_id=_integer(_optional(t, "provider_id")),
        admitted_from=_integer(_optional(t, "admitted_from_concept_id")),
        admitted_from_value=_optional(t, "admitted_from_source_value").strip(),
        discharged_to_value=_optional(t, "discharged_to_source_value"),
    )
    return {"omop_visit_occurrence": visit}


def omop_visit_detail(t: ir.Table, source: str) -> dict[str, ir.Table]:
    detail = t.select(
        visit_id=_integer(t.visit_occurrence_id), concept=_integer(t.visit_detail_concept_id)
    )
    return {"omop_visit_detail": detail}


def omop_condition_occurrence(t: ir.Table, source: str) -> dict[str, ir.Table]:
    condition = t.select(
        condition_id=_integer(t.condition_occurrence_id),
        person_id=_integer(t.person_id),
        visit_id=_integer(t.visit_occurrence_id),
        start_date=as_date(t.condition_start_date),
        concept=_integer(_optional(t, "condition_concept_id")),
        source_concept=_integer(_optional(t, "condition_source_concept_id")),
        source_value=t.condition_source_value.strip().upper(),
    )
    return {"omop_condition_occurrence": condition}


def omop_concept(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """Only the vocabularies a code is taken from: SNOMED CT and ICD-10."""
    rows = t.filter(t.vocabulary_id.isin(["SNOMED", "ICD10"]))
    concept = rows.select(
        concept_id=_integer(rows.concept_id),
        vocabulary_id=rows.vocabulary_id,
        concept_code=rows.concept_code.strip().upper(),
    )
    return {"omop_concept": concept}


def _positioned(t: ir.Table, key: str) -> ir.Table:
    """Rows with a visit, numbered 1, 2, ... within it in ``key`` (an integer id) order."""
    rows = t.filter(t.visit_occurrence_id.notnull())
    rows = rows.mutate(encounter_id=encounter_id(_integer(rows.visit_occurrence_id)))
    order = ibis.row_number().over(group_by=rows.encounter_id, order_by=_integer(rows[key]))
    return rows.mutate(position=(order + 1).cast("int16"))


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
    """Read, checked and counted; staged nowhere (see the module docstring)."""
    return {}


OMOP_MAPPERS: dict[str, Mapper] = {
    "omop_person": omop_person,
    "omop_death": omop_death,
    "omop_observation_period": omop_observation_period,
    "omop_location": omop_location,
    "omop_care_site": omop_care_site,
    "omop_provider": omop_provider,
    "omop_visit_occurrence": omop_visit_occurrence,
    "omop_visit_detail": omop_visit_detail,
    "omop_condition_occurrence": omop_condition_occurrence,
    "omop_procedure_occurrence": omop_procedure_occurrence,
    "omop_concept": omop_concept,
    "omop_cost": omop_cost,
}
