"""How the risk stage's aggregate tables pass the disclosure gate (the publish stage).

The counts (people, events) are the disclosure risk and the gate owns them. The
statistics (AUROC, shares, indices, pounds) travel as key columns, as the measure
stage's do; each was already left blank where its group had fewer than ten people or
events (``performance.MIN_EVENTS``, ``equity.MIN_PEOPLE``), so none can give back a
count the gate withholds. Person-level tables (``risk_score``) are never published.
"""

from __future__ import annotations

from openphm.disclosure import Rate

__all__ = ["GATES", "TABLES"]

PERFORMANCE = "risk_performance"
CALIBRATION = "risk_calibration"
TIERS = "risk_tiers"
EQUITY = "equity_audit"
CONDITIONS = "equity_conditions"
FAIR_SHARES = "fair_shares"
TABLES = (PERFORMANCE, CALIBRATION, TIERS, EQUITY, CONDITIONS, FAIR_SHARES)


def _keys(columns, counts):
    return [c for c in columns if c not in counts]


PERFORMANCE_COLUMNS = [
    "model",
    "group_type",
    "group",
    "auroc",
    "auprc",
    "brier",
    "calibration_intercept",
    "calibration_slope",
]  # plus fpr_/fnr_ columns per tier cut, found at publish time

#: Gate specs by table: keys (statistics included), counts, rates. ``None`` keys mean
#: every column but the counts (the statistics columns depend on the tier cuts).
GATES = {
    PERFORMANCE: dict(keys=None, counts=["people", "events"]),
    CALIBRATION: dict(
        keys=None,
        counts=["people", "events"],
        rates={"observed_percent": Rate("events", "people")},
    ),
    TIERS: dict(keys=["tier", "segment"], counts=["people"], margins=["tier", "segment"]),
    EQUITY: dict(keys=None, counts=["people", "need_people"]),
    CONDITIONS: dict(keys=None, counts=["people"]),
    FAIR_SHARES: dict(keys=None, counts=["people"]),
}


def gate_spec(name: str, columns) -> dict:
    """The gate's arguments for a risk table with these columns."""
    spec = dict(GATES[name])
    if spec["keys"] is None:
        excluded = set(spec["counts"]) | set(_PENCE)
        spec["keys"] = [c for c in columns if c not in excluded]
    return spec


# Warehouse-only columns (whole pence; the published file shows whole pounds).
_PENCE = (
    "fair_share_pence",
    "actual_spend_pence",
    "shock_fair_share_pence",
    "shock_change_pence",
)
