"""The patient-facing cost centres: the activity, unit and base item each one costs."""

from __future__ import annotations

# Patient-facing cost centres: activity type, unit, base item (weight 1), kind.
_WARD = ("ward_stay", "minutes", "general_and_acute_bed_minute", "ward")
WARD_ACUITY = {
    "W01 Acute medical unit": 1.3,
    "W02 General medicine": 1.0,
    "W03 Elderly care": 0.95,
    "W04 Surgical ward": 1.05,
    "W05 Cardiology ward": 1.15,
    "W06 Children's ward": 1.25,
    "W07 Oncology ward": 1.1,
    "W08 Maternity ward": 1.1,
    "W09 Day case unit": 0.8,
}
CENTRES = dict.fromkeys(WARD_ACUITY, _WARD) | {
    "TH01 Theatres": ("theatre", "minutes", "theatre_minute", "theatre"),
    "TH02 Endoscopy": ("theatre", "minutes", "endoscopy_minute", "theatre"),
    "TH03 Cardiac catheter laboratory": ("theatre", "minutes", "cath_lab_minute", "theatre"),
    "CC01 Critical care": ("critical_care", "days", "level_2_bed_day", "critical_care"),
    "PA01 Pathology": ("pathology", "tests", "pathology_test", "pathology"),
    "IM01 Imaging": ("imaging", "tests", "xray", "imaging"),
    "PH01 Pharmacy": ("pharmacy", "items", "pharmacy_item", "pharmacy"),
    "OP01 Outpatients": ("contact", "minutes", "outpatient_consultant_minute", "outpatient"),
    "AE01 Emergency department": ("contact", "minutes", "ae_type1_minute", "emergency"),
    "AE02 Urgent treatment centre": ("contact", "minutes", "ae_type3_minute", "emergency"),
    "RT01 Radiotherapy": ("contact", "minutes", "radiotherapy_minute", "radiotherapy"),
    "CM01 Community nursing": ("contact", "minutes", "district_nursing_minute", "nursing"),
    "CM02 Community therapies": ("contact", "minutes", "physiotherapy_minute", "therapy"),
    "CM03 Health visiting": ("contact", "minutes", "health_visiting_minute", "nursing"),
    "MH01 Community mental health teams": ("contact", "minutes", "mental_health_minute", "mh"),
    "MH02 Crisis resolution and home treatment": (
        "contact",
        "minutes",
        "crisis_resolution_minute",
        "mh",
    ),
    "MH03 Psychological therapies": ("contact", "minutes", "psychological_therapies_minute", "mh"),
    "AM01 Ambulance operations": ("contact", "minutes", "see_and_treat_minute", "ambulance"),
    "AM02 Clinical hub": ("contact", "minutes", "hear_and_treat_minute", "hub"),
}
