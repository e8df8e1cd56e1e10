"""OMOP ``cost``: each visit priced at national average unit costs.

Not the patient-level cost (the costing stage builds that from the providers'
ledgers): a reference price per visit, so OMOP users have a cost table to join
to. Amounts in pounds, as the CDM's cost columns are; the currency concept needs
the OMOP vocabularies, which we cannot ship, so it is 0 and the currency is GBP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from openphm.synth.omop import ID_BLOCK, SOURCE

COLUMNS = [
    "cost_id",
    "cost_event_id",
    "cost_domain_id",
    "cost_type_concept_id",
    "currency_concept_id",
    "total_charge",
    "total_cost",
    "total_paid",
    "paid_by_payer",
    "paid_by_patient",
    "paid_patient_copay",
    "paid_patient_coinsurance",
    "paid_patient_deductible",
    "paid_by_primary",
    "paid_ingredient_cost",
    "paid_dispensing_fee",
    "payer_plan_period_id",
    "amount_allowed",
    "revenue_code_concept_id",
    "revenue_code_source_value",
    "drg_concept_id",
    "drg_source_value",
]
_TYPES = {
    "cost_id": pa.int64(),
    "cost_event_id": pa.int64(),
    "cost_domain_id": pa.string(),
    "payer_plan_period_id": pa.int64(),
    "revenue_code_source_value": pa.string(),
    "drg_source_value": pa.string(),
}

# Pounds per visit by source extract (per bed day for admitted care, at least one):
# NHS National Cost Collection 2022/23 (excess bed day about £500, consultant-led
# outpatient attendance about £150, type 1 A&E about £240) and PSSRU/CHE Unit Costs
# of Health and Social Care 2023 (GP consultation of 9.2 minutes about £41, district
# nurse contact about £40, community mental health contact about £110).
POUNDS = {
    "extracts/hes_apc": 500.0,
    "extracts/hes_op": 150.0,
    "extracts/ecds": 240.0,
    "extracts/gp_events": 41.0,
    "extracts/community_contacts": 40.0,
    "extracts/mental_health_contacts": 110.0,
}
ED_PART_OF_ADMISSION = 240.0  # a 262 visit (ER and inpatient) includes the A&E attendance
ER_AND_INPATIENT = 262


def _type(column: str) -> pa.DataType:
    if column in _TYPES:
        return _TYPES[column]
    return pa.int32() if column.endswith("concept_id") else pa.float64()


def visit_costs(visits: pd.DataFrame) -> dict[str, pd.DataFrame]:
    table = pa.Table.from_pandas(visits, preserve_index=False)
    ids = table.column("visit_occurrence_id").to_numpy()
    price_of = np.zeros(max(SOURCE.values()) + 1)
    for key, number in SOURCE.items():
        price_of[number] = POUNDS.get(key, 0.0)
    source = ids // ID_BLOCK
    price = price_of[source]
    days = pc.days_between(table.column("visit_start_date"), table.column("visit_end_date"))
    days = np.maximum(pc.fill_null(days, 0).to_numpy(), 1)
    admitted = source == SOURCE["extracts/hes_apc"]
    concept = table.column("visit_concept_id").to_numpy()
    total = np.where(admitted, price * days, price)
    total = total + np.where(admitted & (concept == ER_AND_INPATIENT), ED_PART_OF_ADMISSION, 0.0)
    n = len(ids)
    data = {c: pa.nulls(n, _type(c)) for c in COLUMNS}
    data |= {
        "cost_id": pa.array(ids),
        "cost_event_id": pa.array(ids),
        "cost_domain_id": pa.array(np.full(n, "Visit", dtype=object), pa.string()),
        "cost_type_concept_id": pa.array(np.zeros(n, np.int32)),
        "currency_concept_id": pa.array(np.zeros(n, np.int32)),
        "total_cost": pa.array(np.round(total, 2)),
    }
    cost = pa.table({c: data[c] for c in COLUMNS})
    return {"omop/cost": cost.to_pandas(types_mapper=pd.ArrowDtype)}
