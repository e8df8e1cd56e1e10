"""Pathology tests, imaging examinations and pharmacy issues, drawn per hospital encounter."""

from __future__ import annotations

import numpy as np

from openphm.synth.costing.rows import _concat, _enc

# Encounter profiles for tests, exams and issues: 0 emergency first episode, 1 other
# first episode, 2 later episode, 3 day case, 4 outpatient seen, 5 A&E type 1, 6 type 3.
# Pathology requests and pharmacy issue batches: (P(at least one), more per day of stay).
PATHOLOGY_REQUESTS = np.array(
    [(1, 0.6), (1, 0.4), (0, 0.5), (0.5, 0), (0.3, 0), (0.6, 0), (0.08, 0)]
)
TESTS_PER_REQUEST = 3.0  # 1 + Poisson
PATHOLOGY_MIX = {
    "full_blood_count": 0.22,
    "urea_and_electrolytes": 0.20,
    "liver_function": 0.12,
    "c_reactive_protein": 0.14,
    "coagulation": 0.06,
    "troponin": 0.04,
    "blood_gas": 0.04,
    "blood_culture": 0.03,
    "hba1c": 0.03,
    "lipid_profile": 0.03,
    "thyroid_function": 0.04,
    "urine_culture": 0.04,
    "histopathology": 0.01,
}
MODALITIES = np.array(["xray", "ultrasound", "ct", "mri", "fluoroscopy"], dtype=object)
IMAGING_RATES = np.array(  # P(an examination) by profile and modality
    [
        [0.50, 0.15, 0.30, 0.06, 0.02],
        [0.15, 0.08, 0.10, 0.05, 0.02],
        [0.15, 0.05, 0.08, 0.02, 0.01],
        [0.03, 0.03, 0.03, 0.02, 0.02],
        [0.07, 0.05, 0.025, 0.025, 0.005],
        [0.35, 0.03, 0.12, 0.005, 0.0],
        [0.20, 0.0, 0.0, 0.0, 0.0],
    ]
)
PHARMACY_BATCHES = np.array(
    [(1, 0.3), (1, 0.25), (0, 0.3), (0.6, 0), (0.12, 0), (0.25, 0), (0.05, 0)]
)
ITEMS_PER_BATCH = np.array([2.5, 2.5, 2.5, 1.0, 0.3, 0.0, 0.0])  # 1 + Poisson
ITEM_COST = np.array([450, 450, 450, 600, 1500, 250, 250])  # lognormal median, pence
ITEM_COST_SIGMA = 1.1
TTO_SHARE, CHEMO_COST, HIGH_COST_SHARE, HIGH_COST = 0.65, 90_000, 0.04, 50_000


def _per_encounter(enc: dict, table: np.ndarray, rng) -> tuple[np.ndarray, ...]:
    """Requests (at most 30) per encounter: (encounter, number, day)."""
    profile, span = enc["profile"], enc["day1"] - enc["day0"]
    count = (rng.random(span.size) < table[profile, 0]) + rng.poisson(table[profile, 1] * span)
    count = np.minimum(count, 30)
    idx = np.repeat(np.arange(span.size), count)
    n = np.arange(idx.size) - np.repeat(np.cumsum(count) - count, count)
    return idx, n, enc["day0"][idx] + (rng.random(idx.size) * (span[idx] + 1)).astype(np.int64)


def _pathology(enc: dict, rng) -> dict:
    idx, n, day = _per_encounter(enc, PATHOLOGY_REQUESTS, rng)
    request = np.repeat(np.arange(idx.size), 1 + rng.poisson(TESTS_PER_REQUEST, idx.size))
    mix = np.array(list(PATHOLOGY_MIX.values()))
    test = rng.choice(mix.size, size=request.size, p=mix / mix.sum())
    rows, qty = np.unique(request * 16 + test, return_counts=True)
    request, test = rows // 16, rows % 16
    item = np.array(list(PATHOLOGY_MIX), dtype=object)[test]
    return _enc(
        enc, idx[request], n[request] * 16 + test, day[request], "PA01 Pathology", item, qty
    )


def _imaging(enc: dict, rng) -> dict:
    hit = rng.random((enc["key"].size, MODALITIES.size)) < IMAGING_RATES[enc["profile"]]
    idx, modality = np.nonzero(hit)
    span = enc["day1"][idx] - enc["day0"][idx] + 1
    day = enc["day0"][idx] + (rng.random(idx.size) * span).astype(np.int64)
    return _enc(enc, idx, 50 + modality, day, "IM01 Imaging", MODALITIES[modality], 1)


def _pharmacy(enc: dict, ep: dict, proc: dict, rng) -> dict:
    """Issue batches, medicines to take home, outpatient high-cost drugs, chemotherapy."""
    idx, n, day = _per_encounter(enc, PHARMACY_BATCHES, rng)
    profile = enc["profile"][idx]
    items = 1 + rng.poisson(ITEMS_PER_BATCH[profile])
    batch = np.repeat(np.arange(idx.size), items)
    each = rng.lognormal(np.log(ITEM_COST[profile][batch]), ITEM_COST_SIGMA)
    parts = [(enc, idx, n, day, items, np.bincount(batch, each, idx.size))]
    home = ep["last"] & ep["finished"] & (ep["end"] // 1440 > ep["day0"])
    tto = np.flatnonzero(home & (rng.random(home.size) < TTO_SHARE))
    items = 1 + rng.poisson(2.0, tto.size)
    each = rng.lognormal(np.log(500), 1.0, items.sum())
    cost = np.bincount(np.repeat(np.arange(tto.size), items), each, tto.size)
    parts.append((ep, tto, 40, ep["end"][tto] // 1440, items, cost))
    seen = np.flatnonzero((enc["profile"] == 4) & (rng.random(enc["key"].size) < HIGH_COST_SHARE))
    cost = rng.lognormal(np.log(HIGH_COST), 0.6, seen.size)
    parts.append((enc, seen, 60, enc["day0"][seen], 1, cost))
    chemo = np.flatnonzero(proc["setting"] == "chemotherapy")
    cost = rng.lognormal(np.log(CHEMO_COST), 0.7, chemo.size)
    parts.append((proc, chemo, 100 + proc["sub"][chemo], proc["day"][chemo], 1, cost))
    rows = []
    for table, at, sub, when, qty, pence in parts:
        pence = np.maximum(np.round(pence), 1)
        extra = pence / (np.asarray(qty) * 1000.0)
        rows.append(
            _enc(
                table, at, sub, when, "PH01 Pharmacy", "pharmacy_item", qty, extra=extra, cost=pence
            )
        )
    return _concat(rows)
