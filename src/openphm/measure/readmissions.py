"""Emergency readmissions within 30 days of discharge, by continuous inpatient spell.

NHS Digital's definition (Compendium I02040, NHS OF 3b, CCG OIS 3.2): the denominator
is finished CIP spells, the numerator those of them followed by an emergency admission
0 to 29 days (inclusive) after discharge. A readmission is judged against the *last,
previous* discharge only: each person's CIP spells are taken in order of admission and
each is paired with the one after it. Admissions for cancer and obstetrics are left out
as they may be part of a care plan, on either side of the pair (the codes and fields
used are the ``readmission_exclusions`` code list; see ``indicators.toml``). A patient
who died in hospital has no discharge to return from, so is not in the denominator.

Discharges whose 30 days run past the last day observed (the index date) are left out,
so the last weeks of the data do not show falsely low readmission rates.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import ibis
import ibis.expr.types as ir

from openphm import engine
from openphm.measure.admissions import ADMITTED_CARE, DIED, is_emergency_admission
from openphm.measure.codematch import starts_with_any
from openphm.measure.definitions import CodeList

# The admission method groups readmissions are standardised by (with age band and sex),
# as NHS Digital's indicator standardises by method of admission.
EMERGENCY = "emergency"
ELECTIVE = "elective"
OTHER = "other"  # maternity, transfers in, other and unknown methods
ELECTIVE_METHODS = ("11", "12", "13")  # ADMISSION METHOD: waiting list, booked, planned
DIAGNOSIS = "diagnosis"
PROCEDURE = "procedure"
MAIN_SPECIALTY = "main_specialty"
ADMISSION_METHOD = "admission_method"


def excluded_spells(
    encounter: ir.Table,
    diagnosis: ir.Table,
    procedure: ir.Table,
    episode: ir.Table,
    exclusions: CodeList,
) -> ir.Table:
    """The CIP spells an exclusion applies to: cip_spell_id, reason (one row per pair)."""
    spells = encounter.filter(encounter.setting == ADMITTED_CARE)
    spells = spells.select(
        _encounter=spells.encounter_id,
        cip_spell_id=spells.cip_spell_id.fill_null(spells.encounter_id),
        admission_method=spells.admission_method,
    )
    codes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in exclusions.rows:
        codes[(row["field"], row["reason"])].append(row["code"])
    sources = {
        DIAGNOSIS: diagnosis.select(_encounter=diagnosis.encounter_id, value=diagnosis.code),
        PROCEDURE: procedure.select(_encounter=procedure.encounter_id, value=procedure.code),
        MAIN_SPECIALTY: episode.select(
            _encounter=episode.encounter_id, value=episode.main_specialty
        ),
    }
    parts = []
    for (field, reason), prefixes in codes.items():
        if field == ADMISSION_METHOD:
            hit = spells.filter(spells.admission_method.isin(prefixes).fill_null(False))
            parts.append(hit.select("cip_spell_id", reason=ibis.literal(reason)))
            continue
        rows = sources[field]
        if field == MAIN_SPECIALTY:  # specialties are whole codes, not prefixes
            rows = rows.filter(rows.value.isin(prefixes).fill_null(False))
        else:
            rows = rows.filter(starts_with_any(rows.value, prefixes))
        hit = rows.join(spells, "_encounter")
        parts.append(hit.select("cip_spell_id", reason=ibis.literal(reason)))
    return ibis.union(*parts, distinct=True)


def index_discharges(
    spells: ir.Table, excluded: ir.Table, window_days: int, observed_to: date
) -> ir.Table:
    """Finished CIP spells that count as discharges, each flagged ``readmitted`` or not.

    ``spells`` are every CIP spell (``admissions.cip_spells``); ``excluded`` the spells an
    exclusion applies to. Adds ``event_date`` (the discharge date), ``provider_code``
    (the discharging provider), ``days_to_next_admission``, ``readmitted`` and
    ``method_group`` (the spell's admission method: ``EMERGENCY``, ``ELECTIVE``, ``OTHER``).
    """
    marks = excluded.select(_x=excluded.cip_spell_id).distinct()
    flagged = spells.left_join(marks, spells.cip_spell_id == marks._x)
    flagged = flagged.mutate(_excluded=flagged._x.notnull()).drop("_x")
    ordered = flagged.mutate(
        _seq=engine.row_number(
            [flagged.person_id], engine.sort_keys(flagged.start_date), [flagged.cip_spell_id]
        )
    )
    following = ordered.select(
        _person=ordered.person_id,
        _seq_before=ordered._seq - 1,
        _next_start=ordered.start_date,
        _next_counts=is_emergency_admission(ordered) & ~ordered._excluded,
    )
    paired = ordered.left_join(
        following,
        [ordered.person_id == following._person, ordered._seq == following._seq_before],
    )
    gap = engine.epoch_days(paired._next_start) - engine.epoch_days(paired.end_date)
    last_observed = date.fromordinal(observed_to.toordinal() - (window_days - 1))
    discharges = paired.filter(
        paired.end_date.notnull()
        & ~paired._excluded
        & (paired.discharge_destination != DIED).fill_null(True)
        & (paired.end_date <= ibis.literal(last_observed, type="date"))
    )
    kept = {c: discharges[c] for c in spells.columns}
    elective = discharges.admission_method.isin(list(ELECTIVE_METHODS)).fill_null(False)
    return discharges.select(
        **kept,
        method_group=ibis.cases(
            (is_emergency_admission(discharges), EMERGENCY), (elective, ELECTIVE), else_=OTHER
        ),
        event_date=discharges.end_date,
        days_to_next_admission=gap,
        readmitted=(discharges._next_counts & gap.between(0, window_days - 1)).fill_null(False),
    ).mutate(provider_code=ibis._.discharging_provider)
