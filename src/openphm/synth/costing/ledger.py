"""Provider cost ledgers: activity totals by financial year, priced, split into expense
lines, with support, non-patient and income lines, overhead bases and the unit cost truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.costing.centres import CENTRES

# Ledger: noise, uplift a year, support costs / direct costs.
CENTRE_NOISE, YEAR_NOISE, UPLIFT, SUPPORT_RATE = 0.12, 0.03, 0.035, (0.25, 0.30)
_PAY = ("pay_consultants", "pay_nursing", "pay_other_clinical", "pay_admin")
EXPENSE_TYPES = (*_PAY, "drugs", "clinical_supplies", "non_clinical_supplies", "depreciation")
EXPENSE_TYPES += ("premises", "other")
EXPENSES = {  # shares of EXPENSE_TYPES by kind of cost centre
    "ward": (0.20, 0.50, 0.10, 0.04, 0, 0.08, 0.03, 0.02, 0, 0.03),
    "theatre": (0.25, 0.30, 0.12, 0.02, 0, 0.22, 0, 0.06, 0, 0.03),
    "critical_care": (0.20, 0.55, 0.08, 0.02, 0, 0.10, 0, 0.03, 0, 0.02),
    "pathology": (0.10, 0, 0.45, 0.05, 0, 0.32, 0, 0.06, 0, 0.02),
    "imaging": (0.25, 0, 0.40, 0.06, 0, 0.12, 0, 0.14, 0, 0.03),
    "pharmacy": (0, 0, 0.08, 0.02, 0.88, 0, 0, 0, 0, 0.02),
    "outpatient": (0.45, 0.20, 0.08, 0.15, 0, 0.07, 0, 0, 0, 0.05),
    "emergency": (0.30, 0.40, 0.10, 0.08, 0, 0.08, 0, 0, 0, 0.04),
    "radiotherapy": (0.15, 0, 0.45, 0.05, 0, 0.05, 0, 0.25, 0, 0.05),
    "nursing": (0, 0.70, 0.08, 0.08, 0, 0.06, 0.03, 0, 0, 0.05),
    "therapy": (0, 0.03, 0.72, 0.10, 0, 0.07, 0.03, 0, 0, 0.05),
    "mh": (0.18, 0.40, 0.25, 0.10, 0, 0, 0.03, 0, 0, 0.04),
    "ambulance": (0, 0, 0.62, 0.05, 0, 0.06, 0.10, 0.12, 0, 0.05),
    "hub": (0, 0.10, 0.70, 0.12, 0, 0, 0.03, 0.02, 0, 0.03),
    "ES01": (0, 0, 0, 0.15, 0, 0, 0.10, 0.20, 0.55, 0),
    "CL01": (0, 0, 0, 0.75, 0, 0, 0.20, 0, 0, 0.05),
    "IT01": (0, 0, 0, 0.40, 0, 0, 0.25, 0.30, 0, 0.05),
    "FI01": (0, 0, 0, 0.85, 0, 0, 0, 0, 0, 0.15),
    "HR01": (0, 0, 0, 0.85, 0, 0, 0, 0, 0, 0.15),
    "CA01": (0, 0, 0, 0.50, 0, 0, 0.45, 0, 0, 0.05),
    "ED01": (0.30, 0.20, 0.20, 0.20, 0, 0, 0, 0, 0, 0.10),
    "RD01": (0.35, 0.15, 0.25, 0.15, 0, 0.05, 0, 0, 0, 0.05),
    "NP01": (0, 0, 0, 0.50, 0, 0, 0.15, 0.10, 0.15, 0.10),
}
RESOURCE = dict(
    zip(
        EXPENSE_TYPES,
        (
            "consultants",
            "nurses",
            "allied_health",
            "admin",
            "drugs",
            "supplies",
            "supplies",
            "equipment",
            "premises",
            "other",
        ),
        strict=True,
    )
)
SUPPORT = {  # share of support costs, step-down basis
    "ES01 Estates": (0.32, "floor_area_m2"),
    "CL01 Cleaning": (0.10, "floor_area_m2"),
    "IT01 Information technology": (0.16, "it_devices"),
    "FI01 Finance": (0.10, "staff_wte"),
    "HR01 Human resources": (0.10, "staff_wte"),
    "CA01 Catering": (0.07, "patient_meals"),  # only where there are wards
}
NON_PATIENT = {  # share of direct + support costs: low, high
    "ED01 Education and training": (0.027, 0.033),
    "RD01 Research and development": (0.01, 0.02),
    "NP01 Car parking and other non-patient services": (0.008, 0.012),
}
INCOME = ("IN01 Income", 0.045, 0.055)  # other operating income, negative, share of costs
FLOOR_M2_PER_K = {"ward": 0.3, "critical_care": 0.25, "theatre": 0.16, "pathology": 0.12}
FLOOR_M2_PER_K |= {"imaging": 0.2, "pharmacy": 0.02, "outpatient": 0.35, "emergency": 0.25}
WTE_PENCE = 5_500_000  # £55,000 a whole-time equivalent
_BY = ["PROVIDER_CODE", "FINANCIAL_YEAR"]
_CC = [*_BY, "COST_CENTRE"]


def _year_totals(years, provider, centre, qty, weight, day, start, end) -> pd.DataFrame:
    """Quantity and weighted quantity by provider, financial year and cost centre."""
    p, providers = pd.factorize(provider)
    c, centres = pd.factorize(centre)
    group, size = p * len(centres) + c, len(providers) * len(centres)
    parts = []
    for label, a, b in years:
        overlap = np.clip(np.minimum(end, b) - np.maximum(start, a), 0, None)
        point = ((day * 1440 >= a) & (day * 1440 < b)).astype(float)
        frac = np.where(end > start, overlap / np.maximum(end - start, 1), point)
        rows = np.flatnonzero(np.bincount(group, frac > 0, size))
        part = pd.DataFrame({"PROVIDER_CODE": providers[rows // len(centres)]})
        part["FINANCIAL_YEAR"], part["COST_CENTRE"] = label, centres[rows % len(centres)]
        part["QUANTITY"] = np.bincount(group, qty * frac, size)[rows]
        part["WEIGHTED"] = np.bincount(group, qty * weight * frac, size)[rows]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _ledgers(totals: list[pd.DataFrame], years, cost: dict, rng) -> dict[str, pd.DataFrame]:
    """Each provider's cost ledger, overhead bases and unit cost truth, from the totals."""
    t = pd.concat(totals).groupby(_CC, as_index=False)[["QUANTITY", "WEIGHTED"]].sum()
    pairs = t[["PROVIDER_CODE", "COST_CENTRE"]].drop_duplicates(ignore_index=True)
    t = t.merge(pairs.assign(noise=_mean_one(rng, CENTRE_NOISE, len(pairs))))
    spec = np.array([CENTRES[c] for c in t["COST_CENTRE"]], dtype=object).reshape(-1, 4)
    t["ACTIVITY_TYPE"], t["UNIT"], t["BASE_ITEM"], t["kind"] = spec.T
    t["REFERENCE_UNIT_COST_PENCE"] = t["BASE_ITEM"].map(cost)
    year = t["FINANCIAL_YEAR"].map({y[0]: i for i, y in enumerate(years)})
    t["amount"] = t["WEIGHTED"] * t["REFERENCE_UNIT_COST_PENCE"] * t["noise"]
    t["amount"] *= (1 + UPLIFT) ** year * _mean_one(rng, YEAR_NOISE, len(t))
    direct = _lines(t.assign(COST_CENTRE_TYPE="patient_facing"), rng)
    t = t.merge(_sum(direct, _CC, "DIRECT_PENCE"), on=_CC)
    pay = _sum(direct[direct["EXPENSE_TYPE"].isin(_PAY)], _CC, "pay")
    t = t.merge(pay, on=_CC, how="left").fillna({"pay": 0})
    bases = _bases(t, rng)
    years = _sum(t, _BY, "direct", "DIRECT_PENCE")
    support = _support(years, bases, rng)
    years = years.merge(_sum(support, _BY, "support", "amount"), on=_BY)
    npc = years[_BY].merge(pd.DataFrame({"COST_CENTRE": list(NON_PATIENT)}), how="cross")
    low, high = np.array(list(NON_PATIENT.values())).T
    share = rng.uniform(np.tile(low, len(years)), np.tile(high, len(years)))
    npc["amount"] = np.repeat((years["direct"] + years["support"]).to_numpy(), 3) * share
    npc["kind"], npc["COST_CENTRE_TYPE"] = npc["COST_CENTRE"].str[:4], "non_patient_care"
    income = years[_BY].assign(COST_CENTRE=INCOME[0], COST_CENTRE_TYPE="income")
    total = years["direct"] + years["support"] + _sum(npc, _BY, "n", "amount")["n"]
    income["AMOUNT_PENCE"] = -np.round(total * rng.uniform(*INCOME[1:], len(years)))
    income = income.astype({"AMOUNT_PENCE": np.int64})
    income = income.assign(EXPENSE_TYPE="other", RESOURCE="income")
    ledger = pd.concat([direct, _lines(support, rng), _lines(npc, rng), income])
    columns = [*_CC, "COST_CENTRE_TYPE", "EXPENSE_TYPE", "RESOURCE", "AMOUNT_PENCE"]
    ledger = ledger[columns].sort_values([*_CC, "EXPENSE_TYPE"], ignore_index=True)
    lines = ledger[ledger["COST_CENTRE_TYPE"] == "support"]
    truth = t.merge(_spread(_sum(lines, _CC, "amount"), bases), on=_CC, how="left")
    truth = truth.fillna({"OVERHEAD_PENCE": 0.0}).rename(columns={"WEIGHTED": "WEIGHTED_QUANTITY"})
    truth["UNIT_COST_PENCE"] = truth["DIRECT_PENCE"] / truth["WEIGHTED_QUANTITY"]
    truth["ABSORBED_UNIT_COST_PENCE"] = (
        truth["UNIT_COST_PENCE"] + truth["OVERHEAD_PENCE"] / truth["WEIGHTED_QUANTITY"]
    )
    keep = [
        *_CC,
        "ACTIVITY_TYPE",
        "UNIT",
        "BASE_ITEM",
        "REFERENCE_UNIT_COST_PENCE",
        "QUANTITY",
        "WEIGHTED_QUANTITY",
        "DIRECT_PENCE",
        "UNIT_COST_PENCE",
        "OVERHEAD_PENCE",
        "ABSORBED_UNIT_COST_PENCE",
    ]
    return {
        "costing/ledger": ledger,
        "costing/overhead_bases": bases,
        "truth/costing_unit_costs": truth[keep],
    }


def _mean_one(rng, sigma: float, n: int) -> np.ndarray:
    return rng.lognormal(-(sigma**2) / 2, sigma, n)


def _sum(frame, by, name, column="AMOUNT_PENCE") -> pd.DataFrame:
    return frame.groupby(by, as_index=False)[column].sum().rename(columns={column: name})


def _lines(frame: pd.DataFrame, rng) -> pd.DataFrame:
    """Each row's amount split into expense lines: shares by kind, with a little noise."""
    shares = np.array([EXPENSES[k] for k in frame["kind"]], float).reshape(-1, len(EXPENSE_TYPES))
    noisy = np.where(shares > 0, rng.gamma(np.maximum(shares, 1e-9) * 300), 0.0)
    noisy /= noisy.sum(axis=1, keepdims=True)
    amounts = np.round(noisy * frame["amount"].to_numpy()[:, None]).astype(np.int64)
    rows, cols = np.nonzero(amounts)
    out = frame.iloc[rows][[*_CC, "COST_CENTRE_TYPE"]].reset_index(drop=True)
    out["EXPENSE_TYPE"] = np.array(EXPENSE_TYPES, dtype=object)[cols]
    out["RESOURCE"] = out["EXPENSE_TYPE"].map(RESOURCE)
    out.loc[out["COST_CENTRE_TYPE"] == "support", "RESOURCE"] = "overheads"
    out["AMOUNT_PENCE"] = amounts[rows, cols]
    return out


def _bases(t: pd.DataFrame, rng) -> pd.DataFrame:
    """Step-down bases of each patient-facing cost centre."""
    n = len(t)
    wte = np.round(t["pay"] / WTE_PENCE * _mean_one(rng, 0.05, n), 2)
    per_k = t["kind"].map(FLOOR_M2_PER_K).fillna(0.08)
    values = {
        "floor_area_m2": np.round(t["DIRECT_PENCE"] / 1e5 * per_k * _mean_one(rng, 0.25, n), 1),
        "staff_wte": wte,
        "it_devices": np.round(wte * 0.7 * _mean_one(rng, 0.2, n), 1),
        "patient_meals": np.where(t["kind"] == "ward", np.round(t["QUANTITY"] / 1440 * 3), 0),
    }
    out = pd.concat([t[_CC].assign(BASIS=b, VALUE=np.asarray(v, float)) for b, v in values.items()])
    return out[out["VALUE"] > 0].sort_values([*_CC, "BASIS"], ignore_index=True)


def _support(years: pd.DataFrame, bases: pd.DataFrame, rng) -> pd.DataFrame:
    """Support cost centres: a share of each provider's direct costs, split with noise."""
    providers = sorted(years["PROVIDER_CODE"].unique())
    rate = dict(zip(providers, rng.uniform(*SUPPORT_RATE, len(providers)), strict=True))
    out = years.merge(pd.DataFrame({"COST_CENTRE": list(SUPPORT)}), how="cross")
    meals = bases.loc[bases["BASIS"] == "patient_meals", _BY].drop_duplicates()
    has_meals = out[_BY].merge(meals, how="left", indicator=True)["_merge"] == "both"
    out = out[has_meals.to_numpy() | (out["COST_CENTRE"] != "CA01 Catering")]
    share = out["COST_CENTRE"].map({c: s for c, (s, _) in SUPPORT.items()}).to_numpy()
    out = out.assign(w=rng.gamma(share * 400))
    rate = out["PROVIDER_CODE"].map(rate) * out["direct"]
    out["amount"] = rate * out["w"] / out.groupby(_BY)["w"].transform("sum")
    return out.assign(kind=out["COST_CENTRE"].str[:4], COST_CENTRE_TYPE="support")


def _spread(support: pd.DataFrame, bases: pd.DataFrame) -> pd.DataFrame:
    """Each support centre's cost over the patient-facing centres by its basis, one step."""
    basis = support["COST_CENTRE"].map({c: b for c, (_, b) in SUPPORT.items()})
    m = support.rename(columns={"COST_CENTRE": "FROM"}).assign(BASIS=basis)
    m = m.merge(bases, on=[*_BY, "BASIS"])
    share = m["VALUE"] / m.groupby([*_BY, "FROM"])["VALUE"].transform("sum")
    m["OVERHEAD_PENCE"] = m["amount"] * share
    return m.groupby(_CC, as_index=False)["OVERHEAD_PENCE"].sum()
