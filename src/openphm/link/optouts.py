"""Opt-outs, applied by NHS number before anything is pseudonymised.

Which apply depends on the purpose the workspace is configured for:

- direct care: neither. Both opt-outs are about uses beyond a person's own care.
- planning and research: the national data opt-out removes every record of the
  person, from every setting; a type 1 opt-out (registered with the GP) stops
  the person's GP data leaving the practice, so their GP records (register,
  registrations, coded events) are removed and their hospital and other care is
  kept.

Records that arrive without an NHS number are matched to people by probabilistic
linkage; one that links to a person with a national opt-out is removed then
(see ``link.stage``), so no opted-out person's record leaves the stage.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

NATIONAL = "national"
TYPE_1 = "type_1"
# The layouts a type 1 opt-out withholds: data held by the GP practice.
GP_SOURCES_LAYOUTS = ("gp_patients", "gp_registrations", "gp_events")


def applicable(purpose: str) -> tuple[str, ...]:
    return () if purpose == "direct_care" else (NATIONAL, TYPE_1)


def opted_out(opt_outs: ir.Table, kind: str, purpose: str) -> ir.Table:
    """The distinct NHS numbers with an opt-out of ``kind`` that applies to the purpose."""
    applies = ibis.literal(kind in applicable(purpose))
    chosen = opt_outs.filter(
        applies & (opt_outs.opt_out_type == kind) & opt_outs.nhs_number.notnull()
    )
    return chosen.select("nhs_number").distinct()


def without(table: ir.Table, numbers: ir.Table) -> ir.Table:
    """Rows whose NHS number is not in ``numbers`` (rows without one are kept)."""
    return table.anti_join(numbers, table.nhs_number == numbers.nhs_number)


def without_gp(table: ir.Table, numbers: ir.Table, gp_sources: list[str]) -> ir.Table:
    """Rows from GP sources whose NHS number is in ``numbers`` removed; others kept."""
    if not gp_sources:
        return table
    opted = numbers.select(_opted=numbers.nhs_number)
    flagged = table.left_join(opted, table.nhs_number == opted._opted)
    removed = flagged.source.isin(gp_sources) & flagged._opted.notnull()
    return flagged.filter(~removed).drop("_opted")
