"""The staged tables ingest hands to link: canonical shape, still identifiable.

Between ingest and link a record does not yet have a person_id. Each staged
table is its canonical table with ``person_id`` replaced by the raw
``nhs_number`` (normalised to 10 digits; null where missing), the
``upstream_id`` (the pseudonym a pseudonymised source keys its people by, e.g.
HES's PSEUDO_HESID, as delivered; null for other sources) and the record's
``source`` and ``record_key``, by which link finds the record's demographics in
``staged_identity`` for probabilistic linkage. Tables whose rows belong to an
encounter (episode, diagnosis, procedure) carry no person at all: link gives
them their encounter's person. Staged tables hold raw identifiers, so link
consumes them: they leave the warehouse when link commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import ibis
import ibis.expr.types as ir

from openphm.model import table_spec

PREFIX = "staged_"
_PERSON_LINK = {
    "nhs_number": "string",
    "upstream_id": "string",
    "source": "string",
    "record_key": "string",
}
# Canonical tables whose rows link to a person through their own NHS number.
LINKED = ("encounter", "registration", "gp_event", "activity")
# ... and those that reach a person through their encounter.
BY_ENCOUNTER = ("episode", "diagnosis", "procedure")

#: One row per source record that tells who someone is: what probabilistic linkage and the
#: person table are built from.
IDENTITY = ibis.schema(
    {
        "source": "string",
        "record_key": "string",
        "nhs_number": "string",
        "upstream_id": "string",
        "date_of_birth": "date",
        "sex": "string",
        "postcode": "string",
        "lsoa_code": "string",
        "ethnic_category": "string",
        "practice_code": "string",
        "date_of_death": "date",
        "record_date": "date",
    }
)
OPT_OUT = ibis.schema({"nhs_number": "string", "opt_out_type": "string", "effective_date": "date"})


def _staged(name: str) -> ibis.Schema:
    spec = table_spec(name)
    columns: dict[str, str] = {}
    for col in spec.columns:
        if col.name == "person_id":
            if name in LINKED:
                columns.update(_PERSON_LINK)
            continue
        columns[col.name] = col.dtype
    if name in LINKED:
        columns.setdefault("source", "string")
    return ibis.schema(columns)


SCHEMAS: Mapping[str, ibis.Schema] = MappingProxyType(
    {
        **{PREFIX + n: _staged(n) for n in LINKED + BY_ENCOUNTER},
        PREFIX + "identity": IDENTITY,
        PREFIX + "opt_out": OPT_OUT,
    }
)


def conform(table: ir.Table, schema: ibis.Schema) -> ir.Table:
    """Exactly the schema's columns, in its order and types; absent ones as nulls."""
    return table.select(
        *[
            (table[n] if n in table.columns else ibis.null()).cast(t).name(n)
            for n, t in schema.items()
        ]
    )


def empty(schema: ibis.Schema) -> ir.Table:
    return ibis.memtable(schema.to_pyarrow().empty_table())
