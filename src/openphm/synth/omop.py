"""The synthetic ICS's care as OMOP CDM v5.4 tables, one chunk at a time.

:func:`omop_tables` takes a chunk's cohort and its *clean* frames (before the dirt stage:
the OMOP copy is what a careful ETL of the extracts would give) and returns
``omop/person``, ``omop/observation_period``, ``omop/visit_occurrence``,
``omop/condition_occurrence``, ``omop/procedure_occurrence`` and ``omop/death``.
:func:`care_site` gives ``omop/care_site``, once per ICS. Columns are the CDM v5.4 fields
in specification order (``COLUMNS``); every frame is Arrow-backed with fixed types, so each
chunk gives the same Parquet schema: ``*_concept_id``, years, months, days and quantity
int32; other ``*_id`` int64 (our ids exceed 2**31: the CDM's "integer" ids as bigint);
``*_date`` date32; ``*_datetime`` timestamp[us] (midnight when the source has no time);
the rest text (at most 50 characters). Required fields are never null.

Vocabularies
    OMOP vocabularies cannot be shipped, so every ``*_concept_id`` mapped from a source
    code is 0 and the code is kept verbatim in ``*_source_value`` (ICD-10 as HES records
    it, 'I10X'; OPCS-4 without the dot, 'W371'; SNOMED CT ids; NHS ethnic category):
    mapping is a later ETL's job. Fixed concepts used: gender 8507 male, 8532 female;
    visits 9201 inpatient, 262 emergency room and inpatient, 9202 outpatient, 9203
    emergency room, 581476 home visit, 581477 office visit; type 32818 "EHR administration
    record" for the national secondary-use data sets (HES APC/OP, ECDS, CSDS, MHSDS) and
    32817 "EHR" for GP records, observation periods and deaths; condition status 32902
    primary diagnosis, 32908 secondary diagnosis. race_concept_id and
    ethnicity_concept_id are 0 (the NHS ethnic category is in race_source_value).

Identifiers (unique across chunks and runs, derived from keys that already are)
    person_id and observation_period_id are the cohort's ``person_index`` (never the NHS
    number; person_source_value is the index as text). Event ids are
    ``SOURCE[file] * ID_BLOCK + key``: visits take the record key (PROVSPNOPS as an
    integer, ATTENDKEY, EC_IDENT, EVENT_ID, CONTACT_ID); conditions and procedures on a
    coded record ``EPIKEY`` or ``ATTENDKEY * 100 + position`` (DIAG_4_nn / OPERTN_4_nn),
    one-code records the record key. care_site_id: the providers in
    ``geography.PROVIDERS`` order from 1 (RZ1 1, RZ2 2, RZ3 3, RZ4 4, RZ5 5, E06999001
    6); practice Z9nnnn is 1,000,000 + nnnn. provider_id, location_id and
    visit_detail_id are null.

Visits
    One per APC provider spell (9201; 262 when admitted via A&E: the ECDS attendance
    linked to the spell is folded into it, as OHDSI combines an ER visit with the
    admission it leads to, so the visit starts at the arrival, sometimes the evening
    before ADMIDATE; its ECDS diagnosis links to it). A spell unfinished at the period's
    end ends on the period's last day (DISDEST '98'). Admitted from/discharged to: concept
    0 with ADMISORC/DISDEST (ECDS discharge destination for 9203). One per attended
    outpatient appointment (ATTENDED 5 or 6, telephone and video included; 9202); per
    non-admitted A&E attendance (9203, type 1 and UTC alike, ending after the truth's
    minutes in department, at most at the period's end); per GP consultation (581476
    for the home visit code, else 581477, telephone and medication reviews included);
    per attended community contact (581476 for district nursing and community matrons,
    who mostly see people at home; 9202 otherwise) and mental health contact (581476 for
    crisis resolution and home treatment; 9202 otherwise). Visits are sorted by person,
    start and id; preceding_visit_occurrence_id is the person's previous visit. Not
    visits here: ambulance incidents and social care services.

Conditions
    Every DIAG_4 position of every APC episode (start EPISTART; status 32902 for
    DIAG_4_01, else 32908; status source value the column name) and of attended
    outpatient appointments; the ECDS diagnosis of each attendance (SNOMED, 32902); the
    PRIMARY_REASON (ICD-10) of attended mental health contacts (status 0); and GP records
    whose SNOMED code is a diagnosis code of ``reference.conditions()`` (no visit, no
    status; dated at onset, so often before the observation period: GP history). End
    dates are null. GP monitoring observations belong in MEASUREMENT/OBSERVATION and are
    not converted.

Procedures
    Every OPERTN_4 code of APC episodes (dated OPDATE) and of attended outpatient
    appointments (dated APPTDATE), laterality codes (Z94x) included as recorded.

Observation period and death
    One observation period per person, from the later of the period's start and the
    registration start (birth, for people born during the period) to the date of death
    or the period's last day; nobody has one who is born after the period's last day. A
    death row per person who died (type 32817, cause unknown).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from openphm.synth import reference
from openphm.synth.geography import PROVIDERS, Geography
from openphm.synth.omop_schema import COLUMNS, arrow_type
from openphm.synth.output import PERSON, SynthContext

MALE, FEMALE = 8507, 8532
INPATIENT, ER_AND_INPATIENT, OUTPATIENT, EMERGENCY = 9201, 262, 9202, 9203
HOME_VISIT, OFFICE_VISIT = 581476, 581477
EHR, EHR_ADMINISTRATION = 32817, 32818
PRIMARY, SECONDARY = 32902, 32908

ID_BLOCK = 10**14  # event id = SOURCE[file] * ID_BLOCK + key (key < ID_BLOCK)
SOURCE = {
    "extracts/hes_apc": 1,
    "extracts/hes_op": 2,
    "extracts/ecds": 3,
    "extracts/gp_events": 4,
    "extracts/community_contacts": 5,
    "extracts/mental_health_contacts": 6,
}
PRACTICE_ID_BASE = 1_000_000
HES_NULL_DATE = np.datetime64("1800-01-01", "D")  # as hospital.NULL_DATE
HOME_TEAMS = ("district_nursing", "community_matron", "crisis_resolution_home_treatment")


def care_site(geography: Geography) -> dict[str, pd.DataFrame]:
    """``omop/care_site``: the ICS's providers and practices (write it once per ICS)."""
    orgs = geography.organisations
    names = dict(zip(orgs["code"], orgs["name"], strict=True))
    codes = list(PROVIDERS) + list(geography.practices["practice_code"])
    kinds = [kind for kind, _ in PROVIDERS.values()] + ["practice"] * len(geography.practices)
    part = _part(
        "omop/care_site",
        len(codes),
        care_site_id=_care_site_ids(codes),
        care_site_name=np.array([names.get(c) for c in codes], dtype=object),
        place_of_service_concept_id=0,
        care_site_source_value=np.array(codes, dtype=object),
        place_of_service_source_value=np.array(kinds, dtype=object),
    )
    return {"omop/care_site": _frame("omop/care_site", [part])}


def omop_tables(
    ctx: SynthContext, cohort: pd.DataFrame, frames: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The chunk's OMOP tables from its cohort and clean frames (see the module docstring).

    Frames that are missing (a generator not run) contribute nothing.
    """
    last_day = np.datetime64((ctx.end - pd.Timedelta(days=1)).date(), "D")
    visits: list[pa.Table] = []
    conditions: list[pa.Table] = []
    procedures: list[pa.Table] = []
    apc, ecds = frames.get("extracts/hes_apc"), frames.get("extracts/ecds")
    if apc is not None:
        _apc(apc, ecds, last_day, visits, conditions, procedures)
    if "extracts/hes_op" in frames:
        _op(frames["extracts/hes_op"], visits, conditions, procedures)
    if ecds is not None:
        _ecds(ecds, frames.get("truth/ae_attendances"), ctx, apc is not None, visits, conditions)
    if "extracts/gp_events" in frames:
        _gp(frames["extracts/gp_events"], visits, conditions)
    for key in ("extracts/community_contacts", "extracts/mental_health_contacts"):
        if key in frames:
            _contacts(key, frames[key], visits, conditions)
    order = ["person_id", "visit_start_datetime", "visit_occurrence_id"]
    return {
        "omop/person": _person(cohort, frames.get("extracts/gp_registrations")),
        "omop/observation_period": _observation_period(ctx, cohort, last_day),
        "omop/visit_occurrence": _frame("omop/visit_occurrence", visits, order),
        "omop/condition_occurrence": _frame("omop/condition_occurrence", conditions),
        "omop/procedure_occurrence": _frame("omop/procedure_occurrence", procedures),
        "omop/death": _death(cohort),
    }


def _array(value, typ: pa.DataType, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, typ)
    if np.isscalar(value):
        return pa.repeat(pa.scalar(value, typ), n)
    value = np.asarray(value)
    if value.dtype.kind == "M":  # dates floor their datetimes
        value = value.astype("datetime64[D]" if typ == pa.date32() else "datetime64[us]")
    return pa.array(value, type=typ, from_pandas=True)


def _part(table: str, n: int, **columns) -> pa.Table:
    """``n`` rows of ``table``; columns not given are null, scalars are repeated."""
    unknown = set(columns) - set(COLUMNS[table])
    if unknown:
        raise ValueError(f"{table} has no column(s) {sorted(unknown)}")
    return pa.table({c: _array(columns.get(c), arrow_type(c), n) for c in COLUMNS[table]})


def _frame(table: str, parts: list[pa.Table], order: list[str] | None = None) -> pd.DataFrame:
    """The parts as one Arrow-backed frame; visits sorted, with their preceding visit."""
    out = pa.concat_tables(parts or [_part(table, 0)])
    if order:
        out = out.sort_by([(c, "ascending") for c in order])
        person, ids = out["person_id"].to_numpy(), out["visit_occurrence_id"].to_numpy()
        same = np.zeros(len(ids), dtype=bool)
        same[1:] = person[1:] == person[:-1]
        column = COLUMNS[table].index("preceding_visit_occurrence_id")
        previous = pa.array(np.roll(ids, 1), type=pa.int64(), mask=~same)
        out = out.set_column(column, "preceding_visit_occurrence_id", previous)
    return out.to_pandas(types_mapper=pd.ArrowDtype)


def _visits(ids, person, concept, start, end, site, source, kind=EHR_ADMINISTRATION, **more):
    """Visit rows; dates are the datetimes' days."""
    return _part(
        "omop/visit_occurrence",
        len(ids),
        visit_occurrence_id=ids,
        person_id=person,
        visit_concept_id=concept,
        visit_start_date=start,
        visit_start_datetime=start,
        visit_end_date=end,
        visit_end_datetime=end,
        visit_type_concept_id=kind,
        care_site_id=_care_site_ids(site),
        visit_source_value=np.asarray(source, dtype=object),
        visit_source_concept_id=0,
        **more,
    )


def _conditions(ids, person, day, codes, visit=None, status=None, status_of=None, kind=None):
    return _part(
        "omop/condition_occurrence",
        len(ids),
        condition_occurrence_id=ids,
        person_id=person,
        condition_concept_id=0,
        condition_start_date=day,
        condition_start_datetime=day,
        condition_type_concept_id=kind or EHR_ADMINISTRATION,
        condition_status_concept_id=status,
        visit_occurrence_id=visit,
        condition_source_value=np.asarray(codes, dtype=object),
        condition_source_concept_id=0,
        condition_status_source_value=status_of,
    )


def _positions(frame, prefix: str, count: int, block: int, key, person, visit, day, table):
    """Condition (DIAG_4) or procedure (OPERTN_4) rows of the coded positions, row-major."""
    cells = frame[[f"{prefix}{i:02d}" for i in range(1, count + 1)]].to_numpy(dtype=object)
    row, pos = np.nonzero((cells != "") & (cells != "-"))  # '-': no procedure
    ids, codes = block + key[row] * 100 + pos + 1, cells[row, pos]
    day = day[row] if day.ndim == 1 else day[row, pos]
    if table == "omop/condition_occurrence":
        status = np.where(pos == 0, PRIMARY, SECONDARY)
        names = np.char.add(prefix, np.char.zfill((pos + 1).astype(str), 2)).astype(object)
        return _conditions(ids, person[row], day, codes, visit[row], status, names)
    return _part(
        table,
        len(row),
        procedure_occurrence_id=ids,
        person_id=person[row],
        procedure_concept_id=0,
        procedure_date=day,
        procedure_datetime=day,
        procedure_type_concept_id=EHR_ADMINISTRATION,
        visit_occurrence_id=visit[row],
        procedure_source_value=codes,
        procedure_source_concept_id=0,
    )


def _day(values) -> np.ndarray:
    """datetime64[D] from datetimes or ISO text ('' -> NaT)."""
    arr = np.asarray(values)
    return (arr if arr.dtype.kind == "M" else arr.astype(object)).astype("datetime64[D]")


def _care_site_ids(codes) -> np.ndarray:
    """care_site_id of provider and practice codes (ValueError for another code)."""
    inverse, unique = pd.factorize(pd.Series(np.asarray(codes, dtype=object)))
    providers = {code: i + 1 for i, code in enumerate(PROVIDERS)}
    ids = np.empty(len(unique), dtype=np.int64)
    for i, code in enumerate(unique):
        if code in providers:
            ids[i] = providers[code]
        elif code.startswith("Z9") and code[2:].isdigit():
            ids[i] = PRACTICE_ID_BASE + int(code[2:])
        else:
            raise ValueError(f"no care_site_id for organisation code {code!r}")
    return ids[inverse]


def _person(cohort: pd.DataFrame, registrations: pd.DataFrame | None) -> pd.DataFrame:
    dob = pd.to_datetime(cohort["date_of_birth"])
    sex = cohort["sex"].to_numpy(dtype=object)
    practice = cohort["practice_code"].to_numpy(dtype=object)
    if registrations is not None and len(registrations):  # the latest registration
        latest = registrations.sort_values("REG_ID").drop_duplicates(PERSON, keep="last")
        found = latest.set_index(PERSON)["PRACTICE_CODE"].reindex(cohort["person_index"])
        practice = np.where(found.isna(), practice, found.to_numpy(dtype=object))
    part = _part(
        "omop/person",
        len(cohort),
        person_id=cohort["person_index"].to_numpy(np.int64),
        gender_concept_id=np.select([sex == "1", sex == "2"], [MALE, FEMALE], 0),
        year_of_birth=dob.dt.year.to_numpy(),
        month_of_birth=dob.dt.month.to_numpy(),
        day_of_birth=dob.dt.day.to_numpy(),
        birth_datetime=dob.to_numpy(),
        race_concept_id=0,
        ethnicity_concept_id=0,
        care_site_id=_care_site_ids(practice),
        person_source_value=cohort["person_index"].astype(str).to_numpy(dtype=object),
        gender_source_value=sex,
        gender_source_concept_id=0,
        race_source_value=cohort["ethnic_category"].to_numpy(dtype=object),
        race_source_concept_id=0,
    )
    return _frame("omop/person", [part])


def _observation_period(ctx, cohort: pd.DataFrame, last_day) -> pd.DataFrame:
    start = np.maximum(_day(cohort["registered_from"]), np.datetime64(ctx.start.date(), "D"))
    death = _day(cohort["date_of_death"])
    end = np.where(np.isnat(death), last_day, np.minimum(death, last_day))
    keep = start <= end
    person = cohort["person_index"].to_numpy(np.int64)[keep]
    part = _part(
        "omop/observation_period",
        len(person),
        observation_period_id=person,
        person_id=person,
        observation_period_start_date=start[keep],
        observation_period_end_date=end[keep],
        period_type_concept_id=EHR,
    )
    return _frame("omop/observation_period", [part])


def _death(cohort: pd.DataFrame) -> pd.DataFrame:
    died = cohort["date_of_death"].notna().to_numpy()
    day = _day(cohort["date_of_death"])[died]
    part = _part(
        "omop/death",
        len(day),
        person_id=cohort["person_index"].to_numpy(np.int64)[died],
        death_date=day,
        death_datetime=day,
        death_type_concept_id=EHR,
    )
    return _frame("omop/death", [part])


def _arrival_times(ecds: pd.DataFrame) -> np.ndarray:
    """Arrival date and time ('HH:MM') of each attendance, datetime64[us]."""
    clock = ecds["ARRIVAL_TIME"].astype(str)
    minutes = clock.str.slice(0, 2).astype(int) * 60 + clock.str.slice(3, 5).astype(int)
    day = _day(ecds["ARRIVAL_DATE"]).astype("datetime64[us]")
    return day + minutes.to_numpy(np.int64).astype("timedelta64[m]")


def _apc(apc, ecds, last_day, visits, conditions, procedures) -> None:
    """Spells as visits (262 from their A&E arrival), episodes' diagnoses and operations."""
    block = SOURCE["extracts/hes_apc"] * ID_BLOCK
    visit = block + apc["PROVSPNOPS"].astype("int64").to_numpy()
    first = ~apc["PROVSPNOPS"].duplicated().to_numpy()  # a spell's episodes are in order
    last = ~apc["PROVSPNOPS"].duplicated(keep="last").to_numpy()
    f = apc.loc[first, [PERSON, "PROVSPNOPS", "PROCODE3", "ADMIDATE", "ADMIMETH", "ADMISORC"]]
    arrival = np.full(len(f), np.datetime64("NaT", "us"))
    if ecds is not None:
        linked = (ecds["LINKED_SPELL"] != "").to_numpy()
        spells = ecds["LINKED_SPELL"].to_numpy(dtype=object)[linked]
        when = pd.Series(_arrival_times(ecds)[linked], index=spells)
        arrival = when.reindex(f["PROVSPNOPS"].to_numpy(dtype=object)).to_numpy("datetime64[us]")
    via_ae = ~np.isnat(arrival)
    start = np.where(via_ae, arrival, _day(f["ADMIDATE"]).astype("datetime64[us]"))
    end = _day(apc.loc[last, "DISDATE"])
    end = np.maximum(np.where(end == HES_NULL_DATE, last_day, end).astype("datetime64[us]"), start)
    classpat = apc.loc[first, "CLASSPAT"].to_numpy(dtype=object)
    source = "APC ADMIMETH " + f["ADMIMETH"].to_numpy(dtype=object) + " CLASSPAT " + classpat
    concept = np.where(via_ae, ER_AND_INPATIENT, INPATIENT)
    person = f[PERSON].to_numpy(np.int64)
    more = dict(admitted_from_concept_id=0, discharged_to_concept_id=0)
    more["admitted_from_source_value"] = f["ADMISORC"].to_numpy(dtype=object)
    more["discharged_to_source_value"] = apc.loc[last, "DISDEST"].to_numpy(dtype=object)
    site = f["PROCODE3"]
    visits.append(_visits(visit[first], person, concept, start, end, site, source, **more))
    key, person = apc["EPIKEY"].to_numpy(np.int64), apc[PERSON].to_numpy(np.int64)
    day = _day(apc["EPISTART"])
    table = "omop/condition_occurrence"
    conditions.append(_positions(apc, "DIAG_4_", 20, block, key, person, visit, day, table))
    day = apc[[f"OPDATE_{i:02d}" for i in range(1, 25)]].to_numpy()
    table = "omop/procedure_occurrence"
    procedures.append(_positions(apc, "OPERTN_4_", 24, block, key, person, visit, day, table))


def _op(op, visits, conditions, procedures) -> None:
    """Attended appointments as visits, with their diagnoses and procedures."""
    block = SOURCE["extracts/hes_op"] * ID_BLOCK
    seen = op[op["ATTENDED"].isin(["5", "6"]).to_numpy()]
    key, person = seen["ATTENDKEY"].to_numpy(np.int64), seen[PERSON].to_numpy(np.int64)
    day, site = _day(seen["APPTDATE"]), seen["PROCODE3"]
    source = "OP FIRSTATT " + seen["FIRSTATT"]
    visits.append(_visits(block + key, person, OUTPATIENT, day, day, site, source))
    args = (block, key, person, block + key, day)
    conditions.append(_positions(seen, "DIAG_4_", 12, *args, "omop/condition_occurrence"))
    procedures.append(_positions(seen, "OPERTN_4_", 24, *args, "omop/procedure_occurrence"))


def _ecds(ecds, truth, ctx, merged: bool, visits, conditions) -> None:
    """Non-admitted attendances as visits; every attendance's diagnosis."""
    block = SOURCE["extracts/ecds"] * ID_BLOCK
    key, person = ecds["EC_IDENT"].to_numpy(np.int64), ecds[PERSON].to_numpy(np.int64)
    arrival = _arrival_times(ecds)
    admitted = merged & (ecds["LINKED_SPELL"] != "").to_numpy()
    visit = block + key
    spell = ecds["LINKED_SPELL"].to_numpy(dtype=object)[admitted].astype(np.int64)
    visit[admitted] = SOURCE["extracts/hes_apc"] * ID_BLOCK + spell
    minutes = np.zeros(len(ecds))
    if truth is not None:
        found = truth.set_index("EC_IDENT")["minutes_in_department"].reindex(key)
        minutes = found.fillna(0).to_numpy(dtype=float)
    end = arrival + (minutes * 60).astype("timedelta64[s]")
    end = np.minimum(end, np.datetime64(ctx.end - pd.Timedelta(minutes=1), "us"))
    own = ~admitted
    source = "ECDS DEPARTMENT_TYPE " + ecds["DEPARTMENT_TYPE"][own]
    site = ecds["DER_PROVIDER_CODE"][own]
    more = dict(discharged_to_concept_id=0)
    more["discharged_to_source_value"] = ecds["DISCHARGE_DESTINATION_SNOMED"][own].to_numpy()
    args = (visit[own], person[own], EMERGENCY, arrival[own], end[own], site, source)
    visits.append(_visits(*args, **more))
    coded = (ecds["DIAGNOSIS_SNOMED"] != "").to_numpy()
    args = (block + key[coded], person[coded], arrival[coded], ecds["DIAGNOSIS_SNOMED"][coded])
    conditions.append(_conditions(*args, visit[coded], PRIMARY, "DIAGNOSIS_SNOMED"))


def _gp(events, visits, conditions) -> None:
    """Consultations as visits; diagnosis codes as conditions without a visit."""
    block = SOURCE["extracts/gp_events"] * ID_BLOCK
    gp = reference.gp_codes()
    contact = gp.loc[gp["kind"] == "contact"]
    home = contact.loc[contact["label"].str.lower().str.contains("home visit"), "snomed_code"]
    diagnosis = reference.codes(reference.conditions()["snomed_codes"])
    events = events[[PERSON, "EVENT_ID", "EVENT_DATE", "PRACTICE_CODE", "SNOMED_CODE"]]
    for kind in ("visit", "condition"):
        wanted = contact["snomed_code"] if kind == "visit" else diagnosis
        rows = events[events["SNOMED_CODE"].isin(wanted).to_numpy()]
        ids, person = block + rows["EVENT_ID"].to_numpy(np.int64), rows[PERSON].to_numpy(np.int64)
        day, code = _day(rows["EVENT_DATE"]), rows["SNOMED_CODE"]
        if kind == "visit":
            concept = np.where(code.isin(home), HOME_VISIT, OFFICE_VISIT)
            site = rows["PRACTICE_CODE"]
            visits.append(_visits(ids, person, concept, day, day, site, "GP " + code, EHR))
        else:
            conditions.append(_conditions(ids, person, day, code, kind=EHR))


def _contacts(name: str, contacts, visits, conditions) -> None:
    """Attended community (CSDS-like) or mental health (MHSDS-like) contacts."""
    block = SOURCE[name] * ID_BLOCK
    mental = name == "extracts/mental_health_contacts"
    rows = contacts[(contacts["ATTENDED"] == "Y").to_numpy()]
    team = rows["SERVICE_TYPE" if mental else "TEAM_TYPE"]
    ids, person = block + rows["CONTACT_ID"].to_numpy(np.int64), rows[PERSON].to_numpy(np.int64)
    day, site = _day(rows["CONTACT_DATE"]), rows["PROVIDER_CODE"]
    concept = np.where(team.isin(HOME_TEAMS), HOME_VISIT, OUTPATIENT)
    source = ("MHSDS " if mental else "CSDS ") + team
    visits.append(_visits(ids, person, concept, day, day, site, source))
    if mental:
        coded = (rows["PRIMARY_REASON"] != "").to_numpy()
        args = (ids[coded], person[coded], day[coded], rows["PRIMARY_REASON"][coded])
        conditions.append(_conditions(*args, ids[coded], 0, "PRIMARY_REASON"))
