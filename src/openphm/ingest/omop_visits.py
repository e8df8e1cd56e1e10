"""OMOP visits as staged encounters: settings from visit concepts, as data, and
emergency admissions through the emergency department.

visit_occurrence -> staged_encounter
    encounter_id 'omop:<visit_occurrence_id>'. setting and is_emergency from
    visit_concept_id in ``omop_visits.csv`` (its source is in the file). A concept not
    in it keeps its visit, which is care that happened: the setting of its care site's
    place_of_service_concept_id when that is in the file, else community (care outside
    hospital that is not general practice, so it counts as no admission, attendance or
    GP contact), not an emergency; such visits are counted in a note.
    An inpatient visit (an apc concept that is not itself an emergency, e.g. 9201) is an
    emergency admission when it came through an emergency department: its
    admitted_from_concept_id is an emergency department concept (setting ae in the
    file: 9203, 8870, 8782), or its admitted_from_source_value is such a concept id or
    says so in words ('Emergency department', 'A&E', 'ER', 'ED'); or one of its
    visit_detail rows has such a concept; or the same person has an emergency
    department visit that ends (else starts) on the day the admission starts, as an
    attendance ends when the patient is admitted. admission_method stays null: OMOP
    does not record it.
    provider_code, never null, is the first of: the code of the visit's care site
    (care_site_source_value when it has the shape of an organisation code); else
    'care_site:<care_site_id>'; else the same from the care site of the visit's
    provider; else 'unknown'. discharge_destination is discharged_to_source_value for
    apc visits when it is an NHS discharge destination code. attended is true.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir

from openphm.ingest.omop import OMOP_SOURCE, encounter_id, person_key
from openphm.model import DISCHARGE_DESTINATIONS, SETTINGS

UNKNOWN_SETTING = "community"
UNKNOWN_PROVIDER = "unknown"
# admitted_from_source_value in words: the emergency department, A&E, ER or ED.
_ER_WORDS = r"(?i)(emergency|accident|^a ?(&|and) ?e$|^e[dr]$)"


@dataclass(frozen=True)
class VisitConcept:
    concept_id: int
    name: str
    setting: str
    is_emergency: bool


@cache
def visit_concepts() -> Mapping[int, VisitConcept]:
    """``omop_visits.csv``: visit concept id -> its setting and whether it is unplanned."""
    text = resources.files("openphm.ingest").joinpath("omop_visits.csv").read_text("utf-8")
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    out = {}
    for row in csv.DictReader(rows):
        if row["setting"] not in SETTINGS or row["is_emergency"] not in ("true", "false"):
            raise ValueError(f"omop_visits.csv: {row} has an unknown setting or flag")
        concept = VisitConcept(
            int(row["concept_id"]),
            row["concept_name"],
            row["setting"],
            row["is_emergency"] == "true",
        )
        out[concept.concept_id] = concept
    return out


def _emergency_rooms() -> list[int]:
    return [c for c, v in visit_concepts().items() if v.setting == "ae"]


def _setting(concept: ir.IntegerValue) -> ir.StringValue:
    return ibis.cases(
        *[(concept == c, ibis.literal(v.setting)) for c, v in visit_concepts().items()],
        else_=ibis.null("string"),
    )


def _unplanned(concept: ir.IntegerValue) -> ir.BooleanValue:
    return concept.isin([c for c, v in visit_concepts().items() if v.is_emergency])


def _text(value: str) -> ir.StringValue:
    return ibis.literal(value, type="string")


def _renamed(t: ir.Table, prefix: str) -> ir.Table:
    """Every column prefixed, so a join's columns never clash."""
    return t.select(**{prefix + c: t[c] for c in t.columns})


def _via_emergency_room(visits: ir.Table, details: ir.Table) -> ir.Table:
    """visit_id of the visits that came through an emergency department (the docstring)."""
    rooms = _emergency_rooms()
    said = (
        visits.admitted_from.isin(rooms).fill_null(False)
        | visits.admitted_from_value.isin([str(c) for c in rooms]).fill_null(False)
        | visits.admitted_from_value.re_search(_ER_WORDS).fill_null(False)
    )
    by_visit = visits.filter(said).select("visit_id")
    by_detail = details.filter(details.concept.isin(rooms)).select("visit_id")
    er = visits.filter(visits.concept.isin(rooms))
    er_days = er.select(
        _e_person=er.person_id, _e_day=ibis.coalesce(er.end_date, er.start_date)
    ).distinct()
    after = visits.join(
        er_days, (visits.person_id == er_days._e_person) & (visits.start_date == er_days._e_day)
    ).select("visit_id")
    return ibis.union(by_visit, by_detail, after, distinct=True).select(_er_visit="visit_id")


def _provider_code(j: ir.Table) -> ir.StringValue:
    def site(code: ir.StringValue, site_id: ir.IntegerValue) -> ir.StringValue:
        named = _text("care_site:") + site_id.cast("string")
        return ibis.coalesce(code, ibis.cases((site_id.notnull(), named), else_=None))

    return ibis.coalesce(
        site(j._v_code, j.care_site_id),
        site(j._pc_code, j._p_care_site_id),
        _text(UNKNOWN_PROVIDER),
    )


def encounter(
    visits: ir.Table, details: ir.Table, sites: ir.Table, providers: ir.Table
) -> ir.Table:
    er = _via_emergency_room(visits, details)
    visit_site = _renamed(sites, "_v_")
    by_provider = _renamed(providers, "_p_")
    provider_site = _renamed(sites, "_pc_")
    j = (
        visits.left_join(er, visits.visit_id == er._er_visit)
        .left_join(visit_site, visits.care_site_id == visit_site._v_care_site_id)
        .left_join(by_provider, visits.provider_id == by_provider._p_provider_id)
        .left_join(provider_site, ibis._._p_care_site_id == provider_site._pc_care_site_id)
    )
    known = j.concept.isin(list(visit_concepts()))
    place = j._v_place_of_service
    setting = ibis.coalesce(_setting(j.concept), _setting(place), _text(UNKNOWN_SETTING))
    unplanned = ibis.cases((known, _unplanned(j.concept)), else_=_unplanned(place).fill_null(False))
    admitted_via_er = (setting == "apc") & j._er_visit.notnull()
    destination = j.discharged_to_value
    return j.select(
        encounter_id=encounter_id(j.visit_id),
        nhs_number=ibis.null("string"),
        source=_text(OMOP_SOURCE),
        record_key=person_key(j.person_id),
        setting=setting,
        provider_code=_provider_code(j),
        start_date=j.start_date,
        end_date=j.end_date,
        admission_method=ibis.null("string"),
        is_emergency=(unplanned | admitted_via_er).fill_null(False),
        discharge_destination=ibis.cases(
            ((setting == "apc") & destination.isin(list(DISCHARGE_DESTINATIONS)), destination),
            else_=ibis.null("string"),
        ),
        attended=ibis.literal(True),
    )
