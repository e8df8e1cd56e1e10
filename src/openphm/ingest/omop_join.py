"""An OMOP CDM v5.4 database's tables joined into staged canonical tables.

``omop`` types each file's rows into a part named after its layout; once every file is
read, ``assemble`` joins the parts (any may be missing) and appends the staged tables
to the ingest stage's parts. It returns notes: counts of what could be used only in
part, for the stage summary. Every rule below is pinned by
``tests/unit/test_ingest_omop.py`` and ``tests/e2e/test_omop_cdm54.py``.

person -> staged_identity, one row per person
    Source 'omop', record key 'person:<person_id>', upstream_id 'omop:<person_id>'.
    date_of_death from ``death`` (the earliest, if a person has two rows); lsoa_code and
    postcode from the person's ``location``; practice_code from the person's care site
    when its code is a GP practice's (``omop.PRACTICE_SHAPE``); record_date the end of
    the person's last observation period (when the record was last known to hold).

observation_period -> staged_registration
    A person whose care site is a GP practice is registered with it over each of their
    observation periods: in a UK conversion of GP data (CPRD, a GP extract) an
    observation period is the registration the records come from. The person's care
    site is their current practice, so earlier periods with another practice are given
    to it too. A period ending on the last day any period ends (the data's cut-off) is
    ongoing: end_date null. People with no observation period are counted in a note:
    nothing says when they were observed.

visit_occurrence -> staged_encounter
    See ``omop_visits``.

condition_occurrence -> staged_diagnosis, or staged_gp_event without a visit
    A condition gives a SNOMED CT code: the concept_code of its condition_concept_id
    in the ``concept`` table when that is a SNOMED concept, else condition_source_value
    when it is SNOMED shaped (digits); and an ICD-10 code: condition_source_value when
    it is ICD-10 shaped (spelt as ``canonical.icd10``: 'I10X' -> 'I10'), else the
    concept_code of its condition_source_concept_id when that is an ICD10 concept. A
    condition with a visit is one diagnosis row per code it has on encounter
    'omop:<visit_occurrence_id>' (two rows, icd10 and snomed, at the same position),
    positioned 1, 2, ... within its visit in condition_occurrence_id order among the
    coded conditions. A condition without a visit is GP history: its SNOMED CT code is
    a gp_event on its start date. Conditions with no code, and those without a visit
    coded only in ICD-10 (gp_event takes SNOMED, CTV3 and Read), are not staged and are
    counted in notes.

Referential integrity is not checked here: a diagnosis whose visit was quarantined (or
never delivered) is staged, and link drops it with its missing encounter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir

from openphm.ingest import staged
from openphm.ingest.omop import (
    ICD10_SHAPE,
    OMOP_SOURCE,
    PRACTICE_SHAPE,
    SNOMED_SHAPE,
    encounter_id,
    person_key,
)
from openphm.ingest.omop_visits import UNKNOWN_SETTING, encounter, visit_concepts

#: The typed part each OMOP mapper gives, by layout name.
PARTS: Mapping[str, ibis.Schema] = {
    "omop_person": ibis.schema(
        {
            "person_id": "int64",
            "nhs_number": "string",
            "date_of_birth": "date",
            "sex": "string",
            "ethnic_category": "string",
            "location_id": "int64",
            "care_site_id": "int64",
        }
    ),
    "omop_death": ibis.schema({"person_id": "int64", "date_of_death": "date"}),
    "omop_observation_period": ibis.schema(
        {"person_id": "int64", "start_date": "date", "end_date": "date"}
    ),
    "omop_location": ibis.schema(
        {"location_id": "int64", "lsoa_code": "string", "postcode": "string"}
    ),
    "omop_care_site": ibis.schema(
        {"care_site_id": "int64", "code": "string", "place_of_service": "int64"}
    ),
    "omop_provider": ibis.schema({"provider_id": "int64", "care_site_id": "int64"}),
    "omop_visit_occurrence": ibis.schema(
        {
            "visit_id": "int64",
            "person_id": "int64",
            "concept": "int64",
            "start_date": "date",
            "end_date": "date",
            "care_site_id": "int64",
            "provider_id": "int64",
            "admitted_from": "int64",
            "admitted_from_value": "string",
            "discharged_to_value": "string",
        }
    ),
    "omop_visit_detail": ibis.schema({"visit_id": "int64", "concept": "int64"}),
    "omop_condition_occurrence": ibis.schema(
        {
            "condition_id": "int64",
            "person_id": "int64",
            "visit_id": "int64",
            "start_date": "date",
            "concept": "int64",
            "source_concept": "int64",
            "source_value": "string",
        }
    ),
    "omop_concept": ibis.schema(
        {"concept_id": "int64", "vocabulary_id": "string", "concept_code": "string"}
    ),
}


def _text(value: str) -> ir.StringValue:
    return ibis.literal(value, type="string")


def _renamed(t: ir.Table, prefix: str) -> ir.Table:
    """Every column prefixed, so a join's columns never clash."""
    return t.select(**{prefix + c: t[c] for c in t.columns})


def _part(parts: dict[str, list[ir.Table]], name: str) -> ir.Table:
    schema = PARTS[name]
    tables = [staged.conform(p, schema) for p in parts.pop(name, [])]
    if not tables:
        return staged.empty(schema)
    return ibis.union(*tables) if len(tables) > 1 else tables[0]


Note = tuple[str, ir.IntegerScalar]  # a sentence with {n}, and the count that fills it


Keep = Callable[[str, ir.Table], ir.Table]  # computes a table once, for several readers


def assemble(parts: dict[str, list[ir.Table]], keep: Keep = lambda name, t: t) -> list[Note]:
    """Replace the OMOP parts in ``parts`` by the staged tables they make; the notes.

    ``keep(name, table)`` computes a table read several times once (the ingest stage
    gives ``engine.snapshot_table``); the tables it keeps are named ``_omop_*``.
    """
    present = {name for name in PARTS if parts.get(name)}
    if not present:
        return []
    t = {name: _part(parts, name) for name in PARTS}
    sites = t["omop_care_site"]
    periods = t["omop_observation_period"]
    people = t["omop_person"]
    deaths, places = t["omop_death"], t["omop_location"]
    parts["staged_identity"].append(identity(people, deaths, places, sites, periods))
    parts["staged_registration"].append(registration(people, sites, periods))
    visits = keep("_omop_visits", t["omop_visit_occurrence"])
    parts["staged_encounter"].append(
        encounter(visits, t["omop_visit_detail"], sites, t["omop_provider"])
    )
    coded = keep(
        "_omop_conditions", condition_codes(t["omop_condition_occurrence"], t["omop_concept"])
    )
    parts["staged_diagnosis"].append(diagnosis(coded))
    parts["staged_gp_event"].append(history(coded))
    return _notes(t, visits, coded, present)


def _notes(
    t: Mapping[str, ir.Table], visits: ir.Table, coded: ir.Table, present: set[str]
) -> list[Note]:
    people, periods = t["omop_person"], t["omop_observation_period"]
    uncoded = coded.snomed.isnull() & coded.icd10.isnull()
    icd10_history = coded.visit_id.isnull() & coded.snomed.isnull() & coded.icd10.notnull()
    counts = coded.aggregate(
        uncoded=coded.count(where=uncoded), icd10_history=coded.count(where=icd10_history)
    )
    notes: list[Note] = [
        (
            "OMOP: {n} visits have a visit_concept_id not in ingest/omop_visits.csv; they are "
            f"kept, in the setting of their care site's place of service or else "
            f"'{UNKNOWN_SETTING}', and not as emergencies",
            visits.filter(~visits.concept.isin(list(visit_concepts()))).count(),
        ),
        (
            "OMOP: {n} conditions have no SNOMED CT concept and no ICD-10 or SNOMED CT "
            "condition_source_value, so are not staged",
            counts.uncoded.max(),
        ),
        (
            "OMOP: {n} conditions without a visit are coded only in ICD-10; a condition "
            "without a visit is staged only as a SNOMED CT GP record, so these are not staged",
            counts.icd10_history.max(),
        ),
    ]
    if "omop_observation_period" in present:
        unobserved = people.anti_join(periods, "person_id")
        notes.append(
            (
                "OMOP: {n} people have no observation period, so when they were observed "
                "is not known",
                unobserved.count(),
            )
        )
    if "omop_concept" not in present:
        conditions = t["omop_condition_occurrence"]
        notes.append(
            (
                "OMOP: {n} conditions have a condition_concept_id but no concept table is "
                "configured (layout omop_concept), so their SNOMED CT codes come only from "
                "condition_source_value",
                conditions.filter(conditions.concept.fill_null(0) != 0).count(),
            )
        )
    return notes


def identity(
    people: ir.Table, deaths: ir.Table, locations: ir.Table, sites: ir.Table, periods: ir.Table
) -> ir.Table:
    died = deaths.group_by(_d_person="person_id").aggregate(_died=deaths.date_of_death.min())
    seen = periods.group_by(_s_person="person_id").aggregate(_seen=periods.end_date.max())
    where = _renamed(locations, "_l_")
    site = _renamed(sites, "_c_")
    j = (
        people.left_join(died, people.person_id == died._d_person)
        .left_join(where, people.location_id == where._l_location_id)
        .left_join(site, people.care_site_id == site._c_care_site_id)
        .left_join(seen, people.person_id == seen._s_person)
    )
    practice = ibis.cases((j._c_code.re_search(PRACTICE_SHAPE), j._c_code), else_=None)
    return j.select(
        source=_text(OMOP_SOURCE),
        record_key=person_key(j.person_id),
        nhs_number=j.nhs_number,
        upstream_id=_text("omop:") + j.person_id.cast("string"),
        date_of_birth=j.date_of_birth,
        sex=j.sex,
        postcode=j._l_postcode,
        lsoa_code=j._l_lsoa_code,
        ethnic_category=j.ethnic_category,
        practice_code=practice.cast("string"),
        date_of_death=j._died,
        record_date=j._seen,
    )


def registration(people: ir.Table, sites: ir.Table, periods: ir.Table) -> ir.Table:
    site = _renamed(sites, "_c_")
    at = people.join(site, people.care_site_id == site._c_care_site_id)
    practices = at.filter(at._c_code.re_search(PRACTICE_SHAPE)).select(
        _p_person=at.person_id, _practice=at._c_code
    )
    cutoff = periods.aggregate(_cutoff=periods.end_date.max())
    j = periods.join(practices, periods.person_id == practices._p_person).cross_join(cutoff)
    return j.select(
        nhs_number=ibis.null("string"),
        source=_text(OMOP_SOURCE),
        record_key=person_key(j.person_id),
        practice_code=j._practice,
        start_date=j.start_date,
        end_date=ibis.cases((j.end_date == j._cutoff, ibis.null("date")), else_=j.end_date),
    )


def condition_codes(conditions: ir.Table, concepts: ir.Table) -> ir.Table:
    """Each condition with its ``snomed`` and ``icd10`` codes (either may be null)."""
    from openphm.ingest.canonical import icd10

    snomed = _renamed(concepts.filter(concepts.vocabulary_id == "SNOMED"), "_s_")
    icd = _renamed(concepts.filter(concepts.vocabulary_id == "ICD10"), "_i_")
    j = conditions.left_join(snomed, conditions.concept == snomed._s_concept_id).left_join(
        icd, conditions.source_concept == icd._i_concept_id
    )
    value = j.source_value

    def shaped(code: ir.StringValue, shape: str, spell=lambda c: c) -> ir.StringValue:
        return ibis.cases((code.re_search(shape), spell(code)), else_=ibis.null("string"))

    return j.select(
        "condition_id",
        "person_id",
        "visit_id",
        "start_date",
        snomed=ibis.coalesce(shaped(j._s_concept_code, SNOMED_SHAPE), shaped(value, SNOMED_SHAPE)),
        icd10=ibis.coalesce(
            shaped(value, ICD10_SHAPE, icd10), shaped(j._i_concept_code, ICD10_SHAPE, icd10)
        ),
    )


def diagnosis(coded: ir.Table) -> ir.Table:
    rows = coded.filter(coded.visit_id.notnull() & (coded.snomed.notnull() | coded.icd10.notnull()))
    order = ibis.row_number().over(group_by=rows.visit_id, order_by=rows.condition_id)
    rows = rows.mutate(encounter_id=encounter_id(rows.visit_id), position=(order + 1).cast("int16"))
    by_system = [
        rows.filter(rows[system].notnull()).select(
            "encounter_id", "position", code_system=_text(system), code=rows[system]
        )
        for system in ("icd10", "snomed")
    ]
    return ibis.union(*by_system)


def history(coded: ir.Table) -> ir.Table:
    rows = coded.filter(coded.visit_id.isnull() & coded.snomed.notnull())
    return rows.select(
        nhs_number=ibis.null("string"),
        source=_text(OMOP_SOURCE),
        record_key=person_key(rows.person_id),
        event_date=rows.start_date,
        code_system=_text("snomed"),
        code=rows.snomed,
    )


def note_texts(notes: list[Note]) -> list[str]:
    """The notes whose count is not zero, with their counts."""
    out = []
    for text, count in notes:
        n = int(count.to_pyarrow().as_py())
        if n:
            out.append(text.format(n=f"{n:,}"))
    return out
