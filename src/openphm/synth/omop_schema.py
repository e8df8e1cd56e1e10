"""The OMOP CDM v5.4 tables openphm writes: their columns in order, and Arrow types.

Types follow from the column names, so every chunk writes the same Parquet schema.
"""

from __future__ import annotations

import pyarrow as pa


def _names(text: str) -> list[str]:
    return text.split()


COLUMNS = {
    "omop/person": _names(
        "person_id gender_concept_id year_of_birth month_of_birth day_of_birth birth_datetime"
        " race_concept_id ethnicity_concept_id location_id provider_id care_site_id"
        " person_source_value gender_source_value gender_source_concept_id race_source_value"
        " race_source_concept_id ethnicity_source_value ethnicity_source_concept_id"
    ),
    "omop/observation_period": _names(
        "observation_period_id person_id observation_period_start_date"
        " observation_period_end_date period_type_concept_id"
    ),
    "omop/visit_occurrence": _names(
        "visit_occurrence_id person_id visit_concept_id visit_start_date visit_start_datetime"
        " visit_end_date visit_end_datetime visit_type_concept_id provider_id care_site_id"
        " visit_source_value visit_source_concept_id admitted_from_concept_id"
        " admitted_from_source_value discharged_to_concept_id discharged_to_source_value"
        " preceding_visit_occurrence_id"
    ),
    "omop/condition_occurrence": _names(
        "condition_occurrence_id person_id condition_concept_id condition_start_date"
        " condition_start_datetime condition_end_date condition_end_datetime"
        " condition_type_concept_id condition_status_concept_id stop_reason provider_id"
        " visit_occurrence_id visit_detail_id condition_source_value"
        " condition_source_concept_id condition_status_source_value"
    ),
    "omop/procedure_occurrence": _names(
        "procedure_occurrence_id person_id procedure_concept_id procedure_date"
        " procedure_datetime procedure_end_date procedure_end_datetime"
        " procedure_type_concept_id modifier_concept_id quantity provider_id"
        " visit_occurrence_id visit_detail_id procedure_source_value"
        " procedure_source_concept_id modifier_source_value"
    ),
    "omop/death": _names(
        "person_id death_date death_datetime death_type_concept_id cause_concept_id"
        " cause_source_value cause_source_concept_id"
    ),
    "omop/care_site": _names(
        "care_site_id care_site_name place_of_service_concept_id location_id"
        " care_site_source_value place_of_service_source_value"
    ),
}
_INT32 = {"year_of_birth", "month_of_birth", "day_of_birth", "quantity"}


def arrow_type(column: str) -> pa.DataType:
    """The Arrow type of a CDM column, from its name (see the module docstring)."""
    if column.endswith("concept_id") or column in _INT32:
        return pa.int32()
    if column.endswith("_id"):
        return pa.int64()
    if column.endswith("_datetime"):
        return pa.timestamp("us")
    if column.endswith("_date"):
        return pa.date32()
    return pa.string()
