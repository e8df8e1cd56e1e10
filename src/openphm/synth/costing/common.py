"""What every part of the costing stage shares: the feeds, the extracts they come from and
their keys, and day and array helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEEDS = ("ward_stay", "theatre", "critical_care", "pathology", "imaging", "pharmacy", "contacts")
KEYS = ("EPIKEY", "ATTENDKEY", "EC_IDENT", "CONTACT_ID", "INCIDENT_ID")
APC, OP, ECDS, COMMUNITY, MH, AMBULANCE = range(1, 7)
SOURCES = {  # source code: (extract, key column)
    APC: ("extracts/hes_apc", "EPIKEY"),
    OP: ("extracts/hes_op", "ATTENDKEY"),
    ECDS: ("extracts/ecds", "EC_IDENT"),
    COMMUNITY: ("extracts/community_contacts", "CONTACT_ID"),
    MH: ("extracts/mental_health_contacts", "CONTACT_ID"),
    AMBULANCE: ("extracts/ambulance_incidents", "INCIDENT_ID"),
}
FEED_KEYS = dict.fromkeys(("ward_stay", "theatre", "critical_care"), KEYS[:1])
FEED_KEYS |= dict.fromkeys(("pathology", "imaging", "pharmacy"), KEYS[:3]) | {"contacts": KEYS}
_BIG = 10**9  # more minutes than any date has


def _fy(when: pd.Timestamp) -> str:
    first = when.year if when.month >= 4 else when.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def _day(when: pd.Timestamp) -> int:
    return int(np.datetime64(when.date(), "D").astype(np.int64))


def _days(values) -> np.ndarray:
    """Day numbers (since 1970-01-01) of datetimes or of 'YYYY-MM-DD' text."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values, format="%Y-%m-%d")
    return np.asarray(values, dtype="datetime64[D]").astype(np.int64)


def _clock(values) -> np.ndarray:
    """Minutes after midnight of 'HH:MM' or 'HH:MM:SS' text."""
    text = pd.Series(values, dtype="string")
    return (text.str[:2].astype(int) * 60 + text.str[3:5].astype(int)).to_numpy(np.int64)


def _np(values, dtype) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=dtype)
    return np.asarray(values, dtype=dtype)
