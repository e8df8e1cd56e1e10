"""Each layout's accepted rows as staged canonical tables: pure Ibis, one function per layout.

A mapper takes a file's accepted rows (text columns, all checks passed) and the
name of the source, and returns partial staged tables (``staged.SCHEMAS``); the
stage conforms and unions them. Codes are stored in one spelling: ICD-10 and
OPCS-4 without dots or HES's 'X' filler, NHS numbers as 10 digits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir

from openphm import engine
from openphm.ingest.checks import as_date, normalised_nhs
from openphm.ingest.layouts import (
    APC_DIAGNOSES,
    APC_OPERATION_DATES,
    APC_OPERATIONS,
    FEED_KEYS,
    HES_AE_DIAGNOSES,
    HES_LSOAS,
    OP_DIAGNOSES,
    OP_OPERATIONS,
    POPULATION_AGES,
    POPULATION_COLUMNS,
)
from openphm.ingest.omop import OMOP_MAPPERS
from openphm.ingest.spells import group_spells
from openphm.ingest.staged import IDENTITY
from openphm.model import (
    AGE_BANDS_ESP2013,
    EMERGENCY_ADMISSION_METHODS,
    HES_ETHNOS_AS_ETHNIC_CATEGORY,
    HES_SEX_AS_SEX,
)

Mapper = Callable[[ir.Table, str], dict[str, ir.Table]]
ATTENDED_OP = ("5", "6")  # HES ATTENDED: seen on time, or late but seen


def icd10(code: ir.StringValue) -> ir.StringValue:
    """'E11.9' -> 'E119'; HES 'I10X' -> 'I10'; trailing '-' filler removed."""
    return code.upper().replace(".", "").re_replace(r"[X\-]+$", "")


def opcs4(code: ir.StringValue) -> ir.StringValue:
    return code.upper().replace(".", "")


def _text(value: str) -> ir.StringValue:
    return ibis.literal(value, type="string")


def _long(
    t: ir.Table, columns: list[str], keep: dict[str, ir.Value], extra: list[str] | None = None
) -> ir.Table:
    """HES's numbered columns as rows: one per non-empty value, with its position.

    ``extra`` are columns numbered alongside (OPDATE_nn beside OPERTN_4_nn). The
    columns are packed into an array and unnested: one pass over the table, where a
    union of one select per column would read it (and on Spark plan it) 20 times.
    """
    items = []
    for i, column in enumerate(columns, start=1):
        item = {"position": ibis.literal(i, type="int16"), "code": t[column]}
        if extra:
            item["when"] = t[extra[i - 1]] if extra[i - 1] in t.columns else ibis.null("string")
        items.append(ibis.struct(item))
    rows = t.select(**keep, _item=ibis.array(items).unnest())
    fields = ["position", "code", "when"] if extra else ["position", "code"]
    rows = rows.select(*keep, **{f: rows._item[f] for f in fields})
    return rows.filter(rows.code.notnull())


def _identity(t: ir.Table, source: str, key: str, when: str, **columns: str | ir.Value) -> ir.Table:
    """The demographic part of a record, for linkage and the person table.

    Each column is named by the file's column, or given as an expression (a date of
    birth HES derives from MYDOB).
    """
    fields: dict[str, ir.Value] = {"source": _text(source), "record_key": t[key]}
    for name in IDENTITY.names:
        if name in fields or name == "record_date":
            continue
        column = columns.get(name)
        if isinstance(column, ir.Value):
            fields[name] = column
            continue
        value = t[column] if column else ibis.null("string")
        if name == "nhs_number" and column:
            value = normalised_nhs(value)
        if name in ("date_of_birth", "date_of_death"):
            value = as_date(value) if column else ibis.null("date")
        if name == "postcode" and column:
            value = value.upper()
        fields[name] = value
    fields["record_date"] = as_date(t[when])
    return t.select(**fields)


def _contact(t: ir.Table, source: str, key: str, setting: str, **values) -> ir.Table:
    base = {
        "encounter_id": _text(f"{setting}:") + t[key],
        "nhs_number": normalised_nhs(t[values.pop("nhs")]),
        "source": _text(source),
        "record_key": t[key],
        "setting": _text(setting),
    }
    return t.select(**base, **values)


# --- hospital --------------------------------------------------------------------------


# HES AGE AT START OF EPISODE / AT ACTIVITY DATE: 0-120 years; 7001-7007 are ages under
# one year (in days, weeks or months: HES data dictionary), so 0 years here.
MAX_AGE_YEARS = 120
INFANT_AGES = (7001, 7007)
_MYDOB = r"^(0[1-9]|1[0-2])[0-9]{4}$"  # HES MYDOB: month and year of birth, MMYYYY


def hes_birth(t: ir.Table, activity: str, age: str) -> ir.DateValue:
    """A date of birth from what a HES record carries, best first.

    1. DOB, where the extract has it (SUS+ and identifiable HES do).
    2. MYDOB (HES as NHS Digital publishes it: month and year, ``MMYYYY``): the first
       of that month, as HES's own derived fields do; age is then exact to the month.
    3. The age at the activity (STARTAGE, APPTAGE, ARRIVALAGE; whole years, or
       written ``54.0``): the person was born between ``age + 1`` and ``age`` years
       before the activity, so the estimate is the middle, ``age`` years and 6 months
       before, on the first of its month (at most 6 months out).
    """
    dob = as_date(t.DOB)
    mydob = t.MYDOB
    from_mydob = ibis.cases(
        (
            mydob.re_search(_MYDOB),
            ibis.date(mydob.substr(2, 4).cast("int32"), mydob.substr(0, 2).cast("int32"), 1),
        ),
        else_=ibis.null("date"),
    )
    years = t[age].try_cast("float64").floor().cast("int32")
    years = ibis.cases(
        (years.between(0, MAX_AGE_YEARS), years),
        (years.between(*INFANT_AGES), 0),
        else_=ibis.null("int32"),
    )
    when = as_date(t[activity])
    months = when.year() * 12 + when.month() - 1 - years * 12 - 6
    from_age = ibis.date(months // 12, months % 12 + 1, 1)
    return ibis.coalesce(dob, from_mydob, from_age)


def _hes_identity(t: ir.Table, source: str, key: str, when: str, age: str) -> ir.Table:
    return _identity(
        t,
        source,
        key,
        when,
        nhs_number="NEWNHSNO",
        date_of_birth=hes_birth(t, when, age),
        sex=_recoded(t.SEX, HES_SEX_AS_SEX),
        postcode="HOMEADD",
        lsoa_code=ibis.coalesce(*[t[c] for c in HES_LSOAS]),
        ethnic_category=_recoded(t.ETHNOS, HES_ETHNOS_AS_ETHNIC_CATEGORY),
        practice_code="GPPRAC",
    )


def _recoded(value: ir.StringValue, codes: Mapping[str, str]) -> ir.StringValue:
    """HES's own codes as the canonical model spells them; other values as they are."""
    return ibis.cases(*[(value == k, _text(v)) for k, v in codes.items()], else_=value)


def hes_apc(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """Episodes grouped into provider spells (``spells.group_spells``), one encounter each.

    The spell's person key is the record's person key (an NHS number, or the upstream
    pseudonym PSEUDO_HESID); with none, the spell number, and with neither the episode
    alone, so that no episode loses its spell. Without PROVSPNOPS (HES as NHS Digital
    publishes it has none) episodes are grouped by person, provider and admission date.
    """
    episodes = t.mutate(
        _nhs=normalised_nhs(t.NEWNHSNO),
        _order=t.EPIORDER.try_cast("int16"),
    )
    grouped = group_spells(
        episodes.select(
            episode_key=episodes.EPIKEY,
            person_key=ibis.coalesce(
                episodes._nhs,
                _text("spell:") + episodes.PROVSPNOPS,
                _text("episode:") + episodes.EPIKEY,
            ),
            provider_code=episodes.PROCODE3,
            provider_spell_number=episodes.PROVSPNOPS,
            episode_order=episodes._order,
            admission_date=as_date(episodes.ADMIDATE),
            episode_start=as_date(episodes.EPISTART),
            episode_end=as_date(episodes.EPIEND),
            discharge_date=as_date(episodes.DISDATE),
            admission_method=episodes.ADMIMETH,
            admission_source=episodes.ADMISORC,
            discharge_destination=episodes.DISDEST,
        )
    )
    ep = grouped.join(episodes, grouped.episode_key == episodes.EPIKEY)
    ep = ep.mutate(encounter_id=_text("apc:") + ep.spell_id)
    # The spell takes its admission from its first episode and its discharge from its last;
    # episodes with no EPIORDER are ordered by their start.
    # (engine.sort_keys: NULLs last on every engine, as spells.py orders them).
    order = engine.sort_keys(ep.episode_order, ep.episode_start)
    latest = engine.sort_keys(ep.episode_order, ep.episode_start, descending=True)
    first = engine.row_number([ep.encounter_id], order, [ep.EPIKEY])
    last = engine.row_number([ep.encounter_id], latest, [ep.EPIKEY])
    ep = ep.mutate(
        _first=first == 1,
        _last=last == 1,
        episode_order=ep.episode_order.fill_null(first.cast("int16")),
    )
    # The last episode's destination, on every row of its spell: a window, not a self-join
    # (which Spark would plan, spells and all, twice).
    last_destination = ibis.cases((ep._last, ep.DISDEST), else_=ibis.null("string"))
    ep = ep.mutate(_discharge_destination=last_destination.max().over(group_by=ep.encounter_id))
    spells = ep.filter(ep._first)
    encounter = spells.select(
        encounter_id=spells.encounter_id,
        nhs_number=spells._nhs,
        source=_text(source),
        record_key=spells.EPIKEY,
        setting=_text("apc"),
        provider_code=spells.PROCODE3,
        start_date=spells.spell_start,
        end_date=spells.spell_end,
        admission_method=spells.ADMIMETH,
        is_emergency=spells.ADMIMETH.isin(sorted(EMERGENCY_ADMISSION_METHODS)).fill_null(False),
        treatment_function=spells.TRETSPEF,
        discharge_destination=spells._discharge_destination,
        cip_spell_id=_text("apc:") + spells.cip_spell_id,
    )
    episode = ep.select(
        episode_id=ep.EPIKEY,
        encounter_id=ep.encounter_id,
        episode_order=ep.episode_order,
        start_date=ep.episode_start,
        end_date=ep.episode_end,
        main_specialty=ep.MAINSPEF,
        treatment_function=ep.TRETSPEF,
    )
    keep = {"encounter_id": ep.encounter_id, "episode_id": ep.EPIKEY}
    diagnoses = _long(ep, list(APC_DIAGNOSES), keep)
    procedures = _long(ep, list(APC_OPERATIONS), keep, extra=list(APC_OPERATION_DATES))
    return {
        "staged_encounter": encounter,
        "staged_episode": episode,
        "staged_diagnosis": diagnoses.mutate(
            code_system=_text("icd10"), code=icd10(diagnoses.code)
        ),
        "staged_procedure": procedures.mutate(
            code_system=_text("opcs4"),
            code=opcs4(procedures.code),
            procedure_date=as_date(procedures.when),
        ),
        "staged_identity": _hes_identity(t, source, "EPIKEY", "ADMIDATE", "STARTAGE"),
    }


def hes_op(t: ir.Table, source: str) -> dict[str, ir.Table]:
    encounter = _contact(
        t,
        source,
        "ATTENDKEY",
        "op",
        nhs="NEWNHSNO",
        provider_code=t.PROCODE3,
        start_date=as_date(t.APPTDATE),
        end_date=as_date(t.APPTDATE),
        is_emergency=ibis.literal(False),
        treatment_function=t.TRETSPEF,
        attended=t.ATTENDED.isin(ATTENDED_OP),
    )
    keep = {"encounter_id": _text("op:") + t.ATTENDKEY}
    diagnoses = _long(t, list(OP_DIAGNOSES), keep)
    keep["procedure_date"] = as_date(t.APPTDATE)
    procedures = _long(t, list(OP_OPERATIONS), keep)
    return {
        "staged_encounter": encounter,
        "staged_diagnosis": diagnoses.mutate(
            code_system=_text("icd10"), code=icd10(diagnoses.code)
        ),
        "staged_procedure": procedures.mutate(
            code_system=_text("opcs4"), code=opcs4(procedures.code)
        ),
        "staged_identity": _hes_identity(t, source, "ATTENDKEY", "APPTDATE", "APPTAGE"),
    }


# A&E ATTENDANCE DISPOSAL (NHS Data Dictionary): 01 admitted to a bed at this provider,
# 10 died in the department, 12 left before being treated.
AE_ADMITTED = "01"
AE_DIED = "10"
AE_LEFT_BEFORE_TREATMENT = "12"
DIED = "79"  # DISCHARGE DESTINATION: not applicable, the patient died
# DIAGNOSIS SCHEME IN USE (NHS Data Dictionary): 01 A&E diagnosis, 02 ICD-10, 04 and 05
# Read codes. HES A&E's DIAG3_nn hold ICD-10 categories only under scheme 02.
ICD10_SCHEME = "02"
_ICD10_CATEGORY = r"^[A-Z][0-9]{2}"


def hes_ae(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """Historic HES A&E (before ECDS): every attendance an emergency 'ae' encounter.

    A patient who left before being treated (disposal 12) was not seen; one who died
    in the department (10) has the discharge destination 'died'. Diagnoses are kept
    only where DIAGSCHEME says ICD-10: the A&E diagnosis scheme's codes (``040``,
    ``03``) and Read codes are not ICD-10, and read as ICD-10 would be wrong codes.
    """
    disposal = t.AEATTENDDISP
    encounter = _contact(
        t,
        source,
        "AEKEY",
        "ae",
        nhs="NEWNHSNO",
        provider_code=t.PROCODE3,
        start_date=as_date(t.ARRIVALDATE),
        end_date=as_date(t.ARRIVALDATE),
        is_emergency=ibis.literal(True),
        attended=ibis.cases(
            (disposal.isnull(), ibis.null("boolean")),
            else_=disposal != AE_LEFT_BEFORE_TREATMENT,
        ),
        discharge_destination=ibis.cases((disposal == AE_DIED, DIED), else_=ibis.null("string")),
    )
    icd = t.filter(t.DIAGSCHEME == ICD10_SCHEME)
    diagnoses = _long(icd, list(HES_AE_DIAGNOSES), {"encounter_id": _text("ae:") + icd.AEKEY})
    diagnoses = diagnoses.filter(diagnoses.code.upper().re_search(_ICD10_CATEGORY))
    return {
        "staged_encounter": encounter,
        "staged_diagnosis": diagnoses.mutate(
            code_system=_text("icd10"), code=icd10(diagnoses.code)
        ),
        "staged_identity": _hes_identity(t, source, "AEKEY", "ARRIVALDATE", "ARRIVALAGE"),
    }


def _long_codes(t: ir.Table, system: str, code: ir.StringValue, **extra) -> ir.Table:
    """Codes one row each, keyed by their record; ``long_codes`` finds the encounter once
    every file is staged."""
    return t.select(
        encounter_id=ibis.null("string"),
        episode_id=t.RECORD_KEY,
        position=t.POSITION.try_cast("int16"),
        code_system=_text(system),
        code=code,
        **extra,
    )


def hes_diagnoses_long(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """One row per diagnosis. The record key names an APC episode or an OP or A&E
    attendance; ``long_codes.resolve`` finds its encounter once every file is staged."""
    return {"staged_diagnosis": _long_codes(t, "icd10", icd10(t.CODE))}


def hes_procedures_long(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """One row per procedure, resolved to its encounter as diagnoses are."""
    dated = {"procedure_date": as_date(t.PROCEDURE_DATE)}
    return {"staged_procedure": _long_codes(t, "opcs4", opcs4(t.CODE), **dated)}


def ecds(t: ir.Table, source: str) -> dict[str, ir.Table]:
    encounter = _contact(
        t,
        source,
        "EC_IDENT",
        "ae",
        nhs="NHS_NUMBER",
        provider_code=t.DER_PROVIDER_CODE,
        start_date=as_date(t.ARRIVAL_DATE),
        end_date=as_date(t.ARRIVAL_DATE),
        is_emergency=ibis.literal(True),
        attended=ibis.literal(True),
    )
    diagnoses = t.filter(t.DIAGNOSIS_SNOMED.notnull()).select(
        encounter_id=_text("ae:") + t.EC_IDENT,
        position=ibis.literal(1, type="int16"),
        code_system=_text("snomed"),
        code=t.DIAGNOSIS_SNOMED,
    )
    identity = _identity(
        t,
        source,
        "EC_IDENT",
        "ARRIVAL_DATE",
        nhs_number="NHS_NUMBER",
        date_of_birth="DATE_OF_BIRTH",
        sex="STATED_GENDER",
        postcode="POSTCODE",
        lsoa_code="LSOA",
        ethnic_category="ETHNIC_CATEGORY",
        practice_code="GP_PRACTICE",
    )
    return {
        "staged_encounter": encounter,
        "staged_diagnosis": diagnoses,
        "staged_identity": identity,
    }


# --- primary care ------------------------------------------------------------------------


def gp_patients(t: ir.Table, source: str) -> dict[str, ir.Table]:
    identity = _identity(
        t,
        source,
        "PATIENT_ID",
        "DATE_OF_BIRTH",
        nhs_number="NHS_NUMBER",
        date_of_birth="DATE_OF_BIRTH",
        sex="SEX",
        postcode="POSTCODE",
        lsoa_code="LSOA",
        ethnic_category="ETHNIC_CATEGORY",
        practice_code="PRACTICE_CODE",
        date_of_death="DATE_OF_DEATH",
    )
    # The register is the most authoritative and current: date it after every other record.
    return {"staged_identity": identity.mutate(record_date=ibis.date(9999, 12, 31))}


def gp_registrations(t: ir.Table, source: str) -> dict[str, ir.Table]:
    return {
        "staged_registration": t.select(
            nhs_number=normalised_nhs(t.NHS_NUMBER),
            source=_text(source),
            record_key=t.REG_ID,
            practice_code=t.PRACTICE_CODE,
            start_date=as_date(t.REGISTRATION_START),
            end_date=as_date(t.REGISTRATION_END),
        )
    }


def gp_events(t: ir.Table, source: str) -> dict[str, ir.Table]:
    return {
        "staged_gp_event": t.select(
            nhs_number=normalised_nhs(t.NHS_NUMBER),
            source=_text(source),
            record_key=t.EVENT_ID,
            event_date=as_date(t.EVENT_DATE),
            code_system=_text("snomed"),
            code=t.SNOMED_CODE,
            value=t.VALUE.try_cast("float64"),
            unit=t.UNIT,
            practice_code=t.PRACTICE_CODE,
        )
    }


# --- community, mental health, ambulance, social care -------------------------------------


def community_contacts(t: ir.Table, source: str) -> dict[str, ir.Table]:
    encounter = _contact(
        t,
        source,
        "CONTACT_ID",
        "community",
        nhs="NHS_NUMBER",
        provider_code=t.PROVIDER_CODE,
        start_date=as_date(t.CONTACT_DATE),
        end_date=as_date(t.CONTACT_DATE),
        is_emergency=ibis.literal(False),
        attended=t.ATTENDED == "Y",
    )
    return {"staged_encounter": encounter}


def mental_health_contacts(t: ir.Table, source: str) -> dict[str, ir.Table]:
    encounter = _contact(
        t,
        source,
        "CONTACT_ID",
        "mental_health",
        nhs="NHS_NUMBER",
        provider_code=t.PROVIDER_CODE,
        start_date=as_date(t.CONTACT_DATE),
        end_date=as_date(t.CONTACT_DATE),
        is_emergency=t.SERVICE_TYPE == "crisis_resolution_home_treatment",
        attended=t.ATTENDED == "Y",
    )
    diagnoses = t.filter(t.PRIMARY_REASON.notnull()).select(
        encounter_id=_text("mental_health:") + t.CONTACT_ID,
        position=ibis.literal(1, type="int16"),
        code_system=_text("icd10"),
        code=icd10(t.PRIMARY_REASON),
    )
    return {"staged_encounter": encounter, "staged_diagnosis": diagnoses}


def ambulance_incidents(t: ir.Table, source: str) -> dict[str, ir.Table]:
    encounter = _contact(
        t,
        source,
        "INCIDENT_ID",
        "ambulance",
        nhs="NHS_NUMBER",
        provider_code=t.PROVIDER_CODE,
        start_date=as_date(t.INCIDENT_DATE),
        end_date=as_date(t.INCIDENT_DATE),
        is_emergency=ibis.literal(True),
    )
    identity = _identity(
        t,
        source,
        "INCIDENT_ID",
        "INCIDENT_DATE",
        nhs_number="NHS_NUMBER",
        date_of_birth="DATE_OF_BIRTH",
        sex="SEX",
        postcode="POSTCODE",
    )
    return {"staged_encounter": encounter, "staged_identity": identity}


def social_care_services(t: ir.Table, source: str) -> dict[str, ir.Table]:
    encounter = _contact(
        t,
        source,
        "SERVICE_ID",
        "social_care",
        nhs="NHS_NUMBER",
        provider_code=t.LA_CODE,
        start_date=as_date(t.START_DATE),
        end_date=as_date(t.END_DATE),
        is_emergency=ibis.literal(False),
        treatment_function=t.SERVICE_TYPE,
    )
    identity = _identity(
        t,
        source,
        "SERVICE_ID",
        "START_DATE",
        nhs_number="NHS_NUMBER",
        date_of_birth="DATE_OF_BIRTH",
        sex="SEX",
        postcode="POSTCODE",
    )
    return {"staged_encounter": encounter, "staged_identity": identity}


def opt_outs(t: ir.Table, source: str) -> dict[str, ir.Table]:
    return {
        "staged_opt_out": t.select(
            nhs_number=normalised_nhs(t.NHS_NUMBER),
            opt_out_type=t.OPT_OUT_TYPE,
            effective_date=as_date(t.EFFECTIVE_DATE),
        )
    }


# --- costing -------------------------------------------------------------------------------


def costing_ledger(t: ir.Table, source: str) -> dict[str, ir.Table]:
    return {
        "ledger": t.select(
            provider_code=t.PROVIDER_CODE,
            cost_centre=t.COST_CENTRE,
            expense_type=t.EXPENSE_TYPE,
            resource=t.RESOURCE,
            activity_type=ibis.null("string"),
            amount_pence=t.AMOUNT_PENCE.cast("int64"),
            financial_year=t.FINANCIAL_YEAR,
            cost_centre_type=t.COST_CENTRE_TYPE,
        )
    }


def overhead_bases(t: ir.Table, source: str) -> dict[str, ir.Table]:
    return {
        "overhead_basis": t.select(
            provider_code=t.PROVIDER_CODE,
            financial_year=t.FINANCIAL_YEAR,
            cost_centre=t.COST_CENTRE,
            basis=t.BASIS,
            value=t.VALUE.cast("float64"),
        )
    }


def costing_feed(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """A feed names the record it belongs to by whichever key it has (EPIKEY first)."""
    key_type = ibis.cases(*[(t[k].notnull(), k.lower()) for k in FEED_KEYS], else_=None)
    key = ibis.coalesce(*[t[k] for k in FEED_KEYS])

    def stamp(value):
        return value.replace("T", " ").try_cast("timestamp")

    return {
        "staged_activity": t.select(
            activity_id=t.RECORD_ID,
            encounter_id=ibis.null("string"),
            provider_code=t.PROVIDER_CODE,
            activity_type=t.ACTIVITY_TYPE,
            quantity=t.QUANTITY.cast("float64"),
            unit=t.UNIT,
            weight=t.WEIGHT.try_cast("float64").fill_null(1.0),
            activity_date=as_date(t.ACTIVITY_DATE),
            nhs_number=normalised_nhs(t.NHS_NUMBER),
            source=_text(source),
            record_key=t.RECORD_ID,
            source_key_type=key_type,
            source_key=key,
            start_time=stamp(t.ACTIVITY_START),
            end_time=stamp(t.ACTIVITY_END),
            cost_centre=t.COST_CENTRE,
            item=t.ITEM,
            cost_pence=t.COST_PENCE.cast("int64"),
        )
    }


# --- reference -------------------------------------------------------------------------------


def organisations(t: ir.Table, source: str) -> dict[str, ir.Table]:
    return {
        "organisation": t.select(
            code=t.code,
            kind=t.kind,
            name=t.name.fill_null(t.code),
            parent_code=t.parent_code,
            valid_from=as_date(t.valid_from),
            valid_to=as_date(t.valid_to),
            successor_code=t.successor_code,
        )
    }


#: ONS's sex letters as NHS Data Dictionary PERSON STATED GENDER CODEs.
POPULATION_SEXES = {"M": "1", "F": "2"}


def lsoas(t: ir.Table, source: str) -> dict[str, ir.Table]:
    """The LSOA lookup and, when the file carries ONS population columns, ``area``: people
    by LSOA, ESP 2013 age band and sex (single years summed into five-year bands)."""
    out = {
        "lsoa": t.select(
            lsoa_code=t.lsoa_code, place_code=t.place_code, imd_decile=t.imd_decile.cast("int8")
        )
    }
    present = [c for c in POPULATION_COLUMNS if c in t.columns]
    if not present:
        return out
    items = []
    for letter, sex in POPULATION_SEXES.items():
        for i, band in enumerate(AGE_BANDS_ESP2013):
            ages = [a for a in POPULATION_AGES if min(a // 5, len(AGE_BANDS_ESP2013) - 1) == i]
            columns = [f"{letter}{a}" for a in ages if f"{letter}{a}" in present]
            if not columns:
                continue
            # Whole numbers, also written "123.0"; anything else is no value.
            cells = [t[c].try_cast("float64").round().cast("int64") for c in columns]
            total = cells[0].fill_null(0)
            for cell in cells[1:]:
                total = total + cell.fill_null(0)
            known = ibis.or_(*(c.notnull() for c in cells))
            items.append(
                ibis.struct(
                    {
                        "age_band": _text(band),
                        "sex": _text(sex),
                        "population": ibis.ifelse(known, total, ibis.null("int64")),
                    }
                )
            )
    keep = {"lsoa_code": t.lsoa_code, "imd_decile": t.imd_decile.cast("int8")}
    rows = t.select(**keep, _item=ibis.array(items).unnest())
    rows = rows.select(*keep, **{f: rows._item[f] for f in ("age_band", "sex", "population")})
    out["area"] = rows.filter(rows.population.notnull())
    return out


MAPPERS: dict[str, Mapper] = {
    "hes_apc": hes_apc,
    "hes_op": hes_op,
    "hes_ae": hes_ae,
    "hes_diagnoses_long": hes_diagnoses_long,
    "hes_procedures_long": hes_procedures_long,
    "ecds": ecds,
    "gp_patients": gp_patients,
    "gp_registrations": gp_registrations,
    "gp_events": gp_events,
    "community_contacts": community_contacts,
    "mental_health_contacts": mental_health_contacts,
    "ambulance_incidents": ambulance_incidents,
    "social_care_services": social_care_services,
    "opt_outs": opt_outs,
    "costing_ledger": costing_ledger,
    "overhead_bases": overhead_bases,
    "costing_feed": costing_feed,
    "organisations": organisations,
    "lsoas": lsoas,
    **OMOP_MAPPERS,
}
