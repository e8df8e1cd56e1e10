"""A&E attendances and outpatient appointments, as the indicators count them.

Outpatient appointments count towards the did-not-attend rate when their outcome is
known (``encounter.attended`` not NULL); one not attended is a DNA. HES outpatients
also record cancellations (ATTENDED 2 by the patient, 4 by the hospital), which the
HES DNA rate leaves out of both numerator and denominator; the canonical model holds
only ``attended``, so a cancellation counts as not attended until ingest records it
as unknown (NULL) or the model gains the attendance status.
"""

from __future__ import annotations

import ibis.expr.types as ir

EMERGENCY_CARE = "ae"
OUTPATIENTS = "op"


def ae_attendances(encounter: ir.Table) -> ir.Table:
    """Every emergency care attendance, dated by arrival."""
    ae = encounter.filter(encounter.setting == EMERGENCY_CARE)
    return ae.select("encounter_id", "person_id", "provider_code", event_date=ae.start_date)


def outpatient_appointments(encounter: ir.Table) -> ir.Table:
    """Outpatient appointments with a known outcome, each flagged ``did_not_attend``."""
    op = encounter.filter((encounter.setting == OUTPATIENTS) & encounter.attended.notnull())
    return op.select(
        "encounter_id",
        "person_id",
        "provider_code",
        event_date=op.start_date,
        did_not_attend=~op.attended,
    )
