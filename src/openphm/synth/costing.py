"""Provider cost ledgers and PLICS activity feeds: the inputs of the costing stage.

:class:`CostingGenerator` turns each chunk's clean frames (``hospital`` and
``community``, before the dirt) into activity feeds, and after the last chunk builds
every provider's ledger from the activity it accumulated. Per-record work is
vectorised and drawn from the stream passed in, in a fixed order.

Feeds (CSV, appended chunk by chunk): ``costing/feed_ward_stay`` (minutes per episode,
by ward), ``feed_theatre`` (in-room minutes per procedure: theatre, endoscopy, cath
lab), ``feed_critical_care`` (bed days, level 2/3), ``feed_pathology`` (tests per
request and test type), ``feed_imaging`` (examinations by modality), ``feed_pharmacy``
(issues at cost) and ``feed_contacts`` (minutes: outpatients, A&E, radiotherapy,
community, mental health, ambulance). Columns, in order: ``RECORD_ID`` (int64, unique
everywhere: ``(feed * 10 + source) * 10**15 + source key * 1000 + n``, sources 1 APC,
2 OP, 3 ECDS, 4 community, 5 mental health, 6 ambulance), ``PROVIDER_CODE``,
``ACTIVITY_TYPE``, the feed's keys (``FEED_KEYS``; Int64, empty when not carried),
``NHS_NUMBER``, ``ACTIVITY_DATE``, ``ACTIVITY_START``/``ACTIVITY_END`` (text
'YYYY-MM-DDTHH:MM' for ward stays, theatre, critical care, A&E and ambulance; else
''), ``COST_CENTRE`` (as in the ledger), ``ITEM`` (a ``data/unit_costs.csv`` item),
``QUANTITY`` (int64), ``UNIT``, ``WEIGHT`` (item cost / the centre's base item cost,
times ward acuity, or issue cost / £10 for pharmacy), ``COST_PENCE`` (pharmacy only),
``_person_index``. Ward stays run from admission or the episode's start to the next
episode or discharge, past the period's end for spells unfinished then.

Matching (``MATCH_SHARES``): 88% of rows carry their source key; 10% only NHS number
and date (never where the source has no NHS number); 2% match nothing: the date moved
60-240 days to where the person has no encounter within ``FAR_DAYS``, else an NHS
number from the 990 block, which nobody in the ICS has.

Once, per provider and financial year ('2023/24'; the period cut at 1 April):
``costing/ledger`` (PROVIDER_CODE, FINANCIAL_YEAR, COST_CENTRE, COST_CENTRE_TYPE
patient_facing/support/non_patient_care/income, EXPENSE_TYPE, RESOURCE, AMOUNT_PENCE
int64). A patient-facing centre costs its weighted quantity in the year (rows by their
stated dates; a stay split by its minutes in each year, nothing after the period) x
the base unit cost x mean-one lognormal noise per centre and per year x ``UPLIFT`` a
year, split into expense types with noise. Support centres add 25-30% of direct cost,
education 3%, R&D 1-2%, car parking 1%; income is about -5%. ``costing/overhead_bases``
(PROVIDER_CODE, FINANCIAL_YEAR, COST_CENTRE, BASIS, VALUE) gives each patient-facing
centre's basis values; ``SUPPORT`` says which basis each support centre is spread by.
``truth/costing_unit_costs``: per provider, year and patient-facing centre, QUANTITY,
WEIGHTED_QUANTITY, DIRECT_PENCE (its ledger lines), UNIT_COST_PENCE (per weighted
unit), OVERHEAD_PENCE (support lines spread in one step by ``SUPPORT`` bases) and
ABSORBED_UNIT_COST_PENCE. ``truth/costing_feed_links`` (per chunk): FEED, RECORD_ID,
MATCH ('key', 'nhs_date', 'none'), SOURCE_FILE, SOURCE_KEY, person_index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm import codes
from openphm.synth import reference
from openphm.synth.output import PERSON, SynthContext

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
MATCH_SHARES = (0.88, 0.10, 0.02)  # direct key; NHS number + date only; nothing
MATCH_NAMES = np.array(["key", "nhs_date", "none"], dtype=object)
FAR_DAYS = 60
FOREIGN_NHS_PREFIX = "990"  # valid numbers nobody in the ICS has (the pool uses 999..996)

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
_WARD_BY_TFC = dict.fromkeys(("100", "101", "110", "120", "130", "502"), "W04 Surgical ward")
_WARD_BY_TFC |= {"320": "W05 Cardiology ward", "420": "W06 Children's ward"}
_WARD_BY_TFC |= {"800": "W07 Oncology ward", "501": "W08 Maternity ward", "430": "W03 Elderly care"}
_THEATRE = {"theatre": "TH01 Theatres", "endoscopy": "TH02 Endoscopy"}
_THEATRE["cath_lab"] = "TH03 Cardiac catheter laboratory"
_COMMUNITY = dict.fromkeys(("district_nursing", "community_matron", "continence"), "CM01")
_COMMUNITY["health_visiting"] = "CM03"
_MH = {"crisis_resolution_home_treatment": ("MH02", "crisis_resolution_minute")}
_MH["psychological_therapies"] = ("MH03", "psychological_therapies_minute")
_OP_STAFF = {"01": "consultant", "03": "registrar", "04": "staff_grade", "08": "nurse"}
_OP_MINUTES = {"1": 30.0, "2": 17.0, "3": 20.0, "4": 12.0}  # mean by FIRSTATT

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
_BIG = 10**9  # more minutes than any date has
_BY = ["PROVIDER_CODE", "FINANCIAL_YEAR"]
_CC = [*_BY, "COST_CENTRE"]


class CostingGenerator:
    """Feeds per chunk (:meth:`feeds`), then the ledgers once (:meth:`ledgers`)."""

    def __init__(self, ctx: SynthContext, rng: np.random.Generator):
        self.ctx, self._rng = ctx, rng
        table = reference.load("unit_costs")
        self.cost = dict(zip(table["item"], table["unit_cost_pence"].astype(float), strict=True))
        self._pool = codes.synthetic_nhs_pool(FOREIGN_NHS_PREFIX)
        self._totals: list[pd.DataFrame] = []
        april = [pd.Timestamp(y, 4, 1) for y in range(ctx.start.year, ctx.end.year + 1)]
        cuts = sorted({ctx.start, ctx.end} | {c for c in april if ctx.start < c < ctx.end})
        self.years = [
            (_fy(a), _day(a) * 1440, _day(b) * 1440) for a, b in zip(cuts, cuts[1:], strict=False)
        ]

    def feeds(self, frames: dict[str, pd.DataFrame], rng: np.random.Generator) -> dict:
        """Per chunk: activity feed rows from the chunk's (clean) frames; accumulates totals."""
        built = _build(frames, self.ctx, rng)
        spans = _encounter_spans(frames)
        out, links = {}, []
        for feed in FEEDS:
            out[f"costing/feed_{feed}"], link = self._finish(feed, built[feed], spans, rng)
            links.append(link)
        out["truth/costing_feed_links"] = pd.concat(links, ignore_index=True)
        return out

    def _finish(self, feed: str, raw: dict, spans, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Matching level, keys, record ids and text columns of one feed's rows."""
        n, src, key, day = len(raw["key"]), raw["src"], raw["key"], raw["day"]
        start, end, nhs = raw["start"], raw["end"], raw["nhs"]
        u = rng.random(n)
        level = (u >= MATCH_SHARES[0]).astype(np.int8) + (u >= 1 - MATCH_SHARES[2])
        level[(level == 1) & (nhs == "")] = 0
        try_moving = rng.random(n) < 0.5
        moves = rng.integers(FAR_DAYS, 4 * FAR_DAYS, n) * rng.choice([-1, 1], n)
        foreign = codes.digit_strings(self._pool[rng.integers(0, self._pool.size, n)], 10)
        lo, hi = _day(self.ctx.start), _day(self.ctx.end)
        span = np.where(start >= 0, (end - start) // 1440, 0)
        moved = np.minimum(np.maximum(day + moves, lo), hi - 1 - span)
        far = ~_near(spans, raw["person"], moved - FAR_DAYS, moved + span + FAR_DAYS)
        shift = np.where((level == 2) & try_moving & far, moved - day, 0)
        nhs = np.where((level == 2) & (shift == 0), foreign, nhs)
        day = day + shift
        start = np.where(start >= 0, start + shift * 1440, -1)
        end = np.where(end >= 0, end + shift * 1440, -1)
        centre, centres = pd.factorize(raw["centre"])
        spec = np.array([CENTRES[c] for c in centres], dtype=object).reshape(-1, 4)
        item, items = pd.factorize(raw["item"])
        base = np.array([self.cost[b] for b in spec[:, 2]], float)[centre]
        cost = np.array([self.cost[i] for i in items], float)[item]
        weight = np.round(cost / base * raw["extra"], 6)
        record = (np.int64(FEEDS.index(feed) + 1) * 10 + src) * 10**15 + key * 1000 + raw["sub"]
        frame = {"RECORD_ID": record, "PROVIDER_CODE": raw["provider"]}
        frame["ACTIVITY_TYPE"] = spec[centre, 0]
        for column in FEED_KEYS[feed]:
            has = np.isin(src, [s for s, (_, c) in SOURCES.items() if c == column]) & (level == 0)
            frame[column] = pd.arrays.IntegerArray(np.where(has, key, 0), ~has)
        frame |= {"NHS_NUMBER": nhs, "ACTIVITY_DATE": day.astype("datetime64[D]")}
        frame |= {"ACTIVITY_START": _stamp(start), "ACTIVITY_END": _stamp(end)}
        frame |= {"COST_CENTRE": raw["centre"], "ITEM": raw["item"], "QUANTITY": raw["qty"]}
        frame |= {"UNIT": spec[centre, 1], "WEIGHT": weight}
        if feed == "pharmacy":
            frame["COST_PENCE"] = raw["cost"]
        frame[PERSON] = raw["person"]
        frame = pd.DataFrame(frame)
        frame["ACTIVITY_DATE"] = frame["ACTIVITY_DATE"].astype("datetime64[ns]")
        sources = np.array([""] + [f for f, _ in SOURCES.values()], dtype=object)
        link = pd.DataFrame({"FEED": f"costing/feed_{feed}", "RECORD_ID": record})
        link["MATCH"], link["SOURCE_FILE"] = MATCH_NAMES[level], sources[src]
        link["SOURCE_KEY"], link["person_index"] = key, raw["person"]
        self._accumulate(raw["provider"], raw["centre"], raw["qty"] * 1.0, weight, day, start, end)
        return frame, link

    def _accumulate(self, provider, centre, qty, weight, day, start, end) -> None:
        """Quantity and weighted quantity by provider, financial year and cost centre."""
        p, providers = pd.factorize(provider)
        c, centres = pd.factorize(centre)
        group, size = p * len(centres) + c, len(providers) * len(centres)
        parts = []
        for label, a, b in self.years:
            overlap = np.clip(np.minimum(end, b) - np.maximum(start, a), 0, None)
            point = ((day * 1440 >= a) & (day * 1440 < b)).astype(float)
            frac = np.where(end > start, overlap / np.maximum(end - start, 1), point)
            rows = np.flatnonzero(np.bincount(group, frac > 0, size))
            part = pd.DataFrame({"PROVIDER_CODE": providers[rows // len(centres)]})
            part["FINANCIAL_YEAR"], part["COST_CENTRE"] = label, centres[rows % len(centres)]
            part["QUANTITY"] = np.bincount(group, qty * frac, size)[rows]
            part["WEIGHTED"] = np.bincount(group, qty * weight * frac, size)[rows]
            parts.append(part)
        self._totals.append(pd.concat(parts, ignore_index=True))

    def ledgers(self) -> dict[str, pd.DataFrame]:
        """Once, after the last chunk: each provider's cost ledger, built from the totals."""
        rng = self._rng
        t = pd.concat(self._totals).groupby(_CC, as_index=False)[["QUANTITY", "WEIGHTED"]].sum()
        pairs = t[["PROVIDER_CODE", "COST_CENTRE"]].drop_duplicates(ignore_index=True)
        t = t.merge(pairs.assign(noise=_mean_one(rng, CENTRE_NOISE, len(pairs))))
        spec = np.array([CENTRES[c] for c in t["COST_CENTRE"]], dtype=object).reshape(-1, 4)
        t["ACTIVITY_TYPE"], t["UNIT"], t["BASE_ITEM"], t["kind"] = spec.T
        t["REFERENCE_UNIT_COST_PENCE"] = t["BASE_ITEM"].map(self.cost)
        year = t["FINANCIAL_YEAR"].map({y[0]: i for i, y in enumerate(self.years)})
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
        truth = truth.fillna({"OVERHEAD_PENCE": 0.0}).rename(
            columns={"WEIGHTED": "WEIGHTED_QUANTITY"}
        )
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


# ---- small helpers ----------------------------------------------------------------------


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


def _stamp(minutes: np.ndarray) -> np.ndarray:
    out, has = np.full(minutes.shape, "", dtype=object), minutes >= 0
    out[has] = np.datetime_as_string(minutes[has].astype("datetime64[m]"), unit="m")
    return out


def _mean_one(rng, sigma: float, n: int) -> np.ndarray:
    return rng.lognormal(-(sigma**2) / 2, sigma, n)


def _sum(frame, by, name, column="AMOUNT_PENCE") -> pd.DataFrame:
    return frame.groupby(by, as_index=False)[column].sum().rename(columns={column: name})


def _np(values, dtype) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=dtype)
    return np.asarray(values, dtype=dtype)


def _raw(src, key, sub, provider, nhs, person, day, centre, item, qty, **more) -> dict:
    """Feed rows before matching: a dict of equal-length arrays."""
    key = _np(key, np.int64)
    ints = dict(src=src, sub=sub, person=person, day=day, qty=qty, start=-1, end=-1, cost=-1)
    ints |= {k: v for k, v in more.items() if k != "extra"}
    out = {k: np.broadcast_to(_np(v, np.int64), key.shape) for k, v in ints.items()}
    out["extra"] = np.broadcast_to(_np(more.get("extra", 1.0), float), key.shape)
    text = dict(provider=provider, nhs=nhs, centre=centre, item=item)
    return (
        out
        | {"key": key}
        | {k: np.broadcast_to(_np(v, object), key.shape) for k, v in text.items()}
    )


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ---- feeds ------------------------------------------------------------------------------


def _build(frames: dict, ctx: SynthContext, rng) -> dict[str, dict]:
    """Every feed's rows before matching, drawn in a fixed order."""
    parts: dict[str, list] = {feed: [_raw(APC, [], 0, "", "", 0, 0, "", "", 0)] for feed in FEEDS}
    if "extracts/hes_apc" in frames:
        ep = _episodes(frames, ctx, rng)
        extra = np.array([WARD_ACUITY[c] for c in ep["centre"]])
        parts["ward_stay"].append(
            _enc(
                ep,
                slice(None),
                0,
                ep["day0"],
                ep["centre"],
                "general_and_acute_bed_minute",
                ep["end"] - ep["start"],
                extra=extra,
                start=ep["start"],
                end=ep["end"],
            )
        )
        proc = _procedures(frames, ep)
        parts["theatre"].append(_theatre(proc, rng))
        parts["critical_care"].append(_critical_care(frames["truth/critical_care"], ep, rng))
        enc = _hospital_encounters(frames, ep)
        parts["pathology"].append(_pathology(enc, rng))
        parts["imaging"] += [_imaging(enc, rng), _interventional(proc)]
        parts["pharmacy"].append(_pharmacy(enc, ep, proc, rng))
        parts["contacts"].append(_hospital_contacts(frames, proc, rng))
    if "extracts/community_contacts" in frames:
        parts["contacts"] += _community_contacts(frames)
    return {feed: _concat(found) for feed, found in parts.items()}


def _episodes(frames: dict, ctx: SynthContext, rng) -> dict:
    """APC episodes with ward-stay times, contiguous and strictly increasing in a spell."""
    apc, spells = frames["extracts/hes_apc"], frames["truth/apc_spells"].set_index("PROVSPNOPS")
    code = pd.factorize(apc["PROVSPNOPS"])[0]
    order = np.lexsort((apc["EPIORDER"].astype(int).to_numpy(), code))
    ep, s, n = apc.iloc[order], code[order], len(apc)
    first, last = np.r_[True, s[1:] != s[:-1]][:n], np.r_[s[1:] != s[:-1], True][:n]
    rank = np.cumsum(first) - 1
    leave_day = _days(spells["discharge_date"].reindex(ep["PROVSPNOPS"]))
    meth = ep["ADMIMETH"].to_numpy(dtype=str)
    planned, emergency = np.char.startswith(meth, "1"), np.char.startswith(meth, "2")
    arrive = np.round(600 + rng.normal(0, 300, n)).astype(np.int64) % 1440
    arrive = np.where(planned, rng.integers(420, 600, n), arrive)
    arrive = np.where(meth == "81", rng.integers(600, 1080, n), arrive)
    point = _days(ep["EPISTART"]) * 1440 + np.where(first, arrive, rng.integers(480, 1080, n))
    daycase = ep["CLASSPAT"].to_numpy(dtype=str) == "2"
    stay = np.where(daycase, rng.integers(180, 480, n), rng.integers(120, 600, n))
    same_day = leave_day == _days(ep["ADMIDATE"])
    leave = np.minimum(point[np.flatnonzero(first)[rank]] + stay, leave_day * 1440 + 1439)
    leave = np.where(same_day, leave, leave_day * 1440 + rng.integers(600, 1140, n))
    pos, size = np.arange(n) + rank, n + int(first.sum())
    vals, group = np.empty(size, np.int64), np.empty(size, np.int64)
    vals[pos], group[pos] = point, rank
    vals[pos[last] + 1], group[pos[last] + 1] = leave[last], rank[last]
    vals = vals[np.lexsort((vals, group))]
    j = np.arange(size) - pos[first][group]
    vals = np.maximum.accumulate(group * _BIG + vals - j) - group * _BIG + j
    tfc = ep["TRETSPEF"].astype(str)
    centre = tfc.map(_WARD_BY_TFC).fillna("W02 General medicine").to_numpy(dtype=object)
    centre[emergency & first & (centre == "W02 General medicine")] = "W01 Acute medical unit"
    centre[daycase] = "W09 Day case unit"
    out = {"src": np.full(n, APC), "key": ep["EPIKEY"].to_numpy(np.int64)}
    out |= {"provider": _np(ep["PROCODE3"], object), "nhs": _np(ep["NEWNHSNO"], object)}
    out |= {"person": ep[PERSON].to_numpy(np.int64), "start": vals[pos], "end": vals[pos + 1]}
    out |= {"day0": vals[pos] // 1440, "day1": np.minimum(vals[pos + 1] // 1440, _day(ctx.end) - 1)}
    out["profile"] = np.select([daycase, first & emergency, first], [3, 0, 1], 2)
    finished = spells["finished"].reindex(ep["PROVSPNOPS"]).to_numpy(bool)
    return out | {"centre": centre, "last": last, "finished": finished}


def _enc(enc: dict, idx, sub, day, centre, item, qty, **more) -> dict:
    """Feed rows for encounters ``enc[idx]``."""
    return _raw(
        enc["src"][idx],
        enc["key"][idx],
        sub,
        enc["provider"][idx],
        enc["nhs"][idx],
        enc["person"][idx],
        day,
        centre,
        item,
        qty,
        **more,
    )


def _procedures(frames: dict, ep: dict) -> dict:
    p = frames["truth/procedures"]
    key = p["EPIKEY"].to_numpy(np.int64)
    nhs = pd.Series(ep["nhs"], index=ep["key"]).reindex(key).to_numpy(dtype=object)
    out = {"src": np.full(len(p), APC), "key": key, "sub": p["position"].to_numpy(np.int64)}
    out |= {
        "provider": _np(p["PROCODE3"], object),
        "nhs": nhs,
        "person": _np(p["person_index"], np.int64),
    }
    out |= {"day": _days(p["procedure_date"]), "setting": _np(p["setting"], object)}
    return out | {"minutes": p["minutes"].to_numpy(np.int64)}


def _theatre(proc: dict, rng) -> dict:
    i = np.flatnonzero(np.isin(proc["setting"], list(_THEATRE)) & (proc["minutes"] > 0))
    setting, minutes = proc["setting"][i], proc["minutes"][i]
    start = proc["day"][i] * 1440 + rng.integers(480, 1020, i.size)
    return _enc(
        proc,
        i,
        proc["sub"][i],
        proc["day"][i],
        [_THEATRE[s] for s in setting],
        setting + "_minute",
        minutes,
        start=start,
        end=start + minutes,
    )


def _interventional(proc: dict) -> dict:
    i = np.flatnonzero(proc["setting"] == "imaging")
    return _enc(
        proc, i, proc["sub"][i], proc["day"][i], "IM01 Imaging", "interventional_radiology", 1
    )


def _critical_care(cc: pd.DataFrame, ep: dict, rng) -> dict:
    day, days = _days(cc["start_date"]), cc["days"].to_numpy(np.int64)
    start = day * 1440 + rng.integers(0, 1440, len(cc))
    key = cc["EPIKEY"].to_numpy(np.int64)
    nhs = pd.Series(ep["nhs"], index=ep["key"]).reindex(key)
    item = "level_" + cc["level"].astype(str) + "_bed_day"
    return _raw(
        APC,
        key,
        cc.groupby("EPIKEY").cumcount(),
        cc["PROCODE3"],
        nhs,
        cc["person_index"],
        day,
        "CC01 Critical care",
        item,
        days,
        start=start,
        end=start + days * 1440,
    )


def _hospital_encounters(frames: dict, ep: dict) -> dict:
    """Episodes, seen outpatient appointments and A&E attendances, for tests and issues."""
    parts = [
        {k: ep[k] for k in ("src", "key", "provider", "nhs", "person", "day0", "day1", "profile")}
    ]
    op = frames["extracts/hes_op"]
    op = op[op["ATTENDED"].isin(["5", "6"])]
    ae = frames["extracts/ecds"]
    for src, f, cols, profile in (
        (OP, op, ("ATTENDKEY", "PROCODE3", "NEWNHSNO", "APPTDATE"), 4),
        (
            ECDS,
            ae,
            ("EC_IDENT", "DER_PROVIDER_CODE", "NHS_NUMBER", "ARRIVAL_DATE"),
            np.where(ae["DEPARTMENT_TYPE"] == "01", 5, 6),
        ),
    ):
        day = _days(f[cols[3]])
        part = {"src": np.full(len(f), src), "key": f[cols[0]].to_numpy(np.int64)}
        part |= {"provider": _np(f[cols[1]], object), "nhs": _np(f[cols[2]], object)}
        part |= {"person": f[PERSON].to_numpy(np.int64), "day0": day, "day1": day}
        parts.append(part | {"profile": np.broadcast_to(profile, day.shape)})
    return _concat(parts)


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


def _hospital_contacts(frames: dict, proc: dict, rng) -> dict:
    """Outpatient minutes, A&E minutes in department, radiotherapy minutes."""
    op = frames["extracts/hes_op"]
    op = op[op["ATTENDED"].isin(["5", "6"])]
    mean = op["FIRSTATT"].map(_OP_MINUTES).to_numpy(float)
    minutes = np.maximum(5, np.round(rng.gamma(6.0, mean / 6.0)))
    item = "outpatient_" + op["STAFFTYP"].map(_OP_STAFF) + "_minute"
    rows = [
        _raw(
            OP,
            op["ATTENDKEY"],
            0,
            op["PROCODE3"],
            op["NEWNHSNO"],
            op[PERSON],
            _days(op["APPTDATE"]),
            "OP01 Outpatients",
            item,
            minutes,
        )
    ]
    ae = frames["extracts/ecds"]
    stay = frames["truth/ae_attendances"].set_index("EC_IDENT")["minutes_in_department"]
    minutes = stay.reindex(ae["EC_IDENT"]).to_numpy(np.int64)
    day = _days(ae["ARRIVAL_DATE"])
    start = day * 1440 + _clock(ae["ARRIVAL_TIME"])
    type1 = (ae["DEPARTMENT_TYPE"] == "01").to_numpy()
    centre = np.where(type1, "AE01 Emergency department", "AE02 Urgent treatment centre")
    rows.append(
        _raw(
            ECDS,
            ae["EC_IDENT"],
            0,
            ae["DER_PROVIDER_CODE"],
            ae["NHS_NUMBER"],
            ae[PERSON],
            day,
            centre,
            np.where(type1, "ae_type1_minute", "ae_type3_minute"),
            minutes,
            start=start,
            end=start + minutes,
        )
    )
    i = np.flatnonzero((proc["setting"] == "radiotherapy") & (proc["minutes"] > 0))
    rows.append(
        _enc(
            proc,
            i,
            proc["sub"][i],
            proc["day"][i],
            "RT01 Radiotherapy",
            "radiotherapy_minute",
            proc["minutes"][i],
        )
    )
    return _concat(rows)


def _community_contacts(frames: dict) -> list[dict]:
    """Attended community and mental health contacts, and every ambulance incident."""
    rows, names = [], {c[:4]: c for c in CENTRES}
    for src, minutes, team in (
        (COMMUNITY, "CARE_CONTACT_DURATION", "TEAM_TYPE"),
        (MH, "CONTACT_DURATION", "SERVICE_TYPE"),
    ):
        f = frames[SOURCES[src][0]]
        f = f[f["ATTENDED"] == "Y"]
        team = f[team].to_numpy(dtype=object)
        if src == COMMUNITY:
            centre = [names[_COMMUNITY.get(t, "CM02")] for t in team]
            item = team + "_minute"
        else:
            centre = [names[_MH.get(t, ("MH01",))[0]] for t in team]
            item = [_MH.get(t, ("", "mental_health_minute"))[1] for t in team]
        rows.append(
            _raw(
                src,
                f["CONTACT_ID"],
                0,
                f["PROVIDER_CODE"],
                f["NHS_NUMBER"],
                f[PERSON],
                _days(f["CONTACT_DATE"]),
                centre,
                item,
                f[minutes],
            )
        )
    amb, cm = frames["extracts/ambulance_incidents"], frames["truth/care_minutes"]
    cm = cm[cm["file"] == "extracts/ambulance_incidents"].set_index("record_id")["minutes"]
    minutes = np.maximum(1, np.round(cm.reindex(amb["INCIDENT_ID"]).to_numpy())).astype(np.int64)
    day = _days(amb["INCIDENT_DATE"])
    start = day * 1440 + _clock(amb["INCIDENT_TIME"])
    hub = (amb["OUTCOME"] == "hear_and_treat").to_numpy()
    centre = np.where(hub, "AM02 Clinical hub", "AM01 Ambulance operations")
    rows.append(
        _raw(
            AMBULANCE,
            amb["INCIDENT_ID"],
            0,
            amb["PROVIDER_CODE"],
            amb["NHS_NUMBER"],
            amb[PERSON],
            day,
            centre,
            amb["OUTCOME"] + "_minute",
            minutes,
            start=start,
            end=start + minutes,
        )
    )
    return rows


def _encounter_spans(frames: dict) -> tuple[np.ndarray, np.ndarray]:
    """Every encounter as person * _BIG + day ranges, sorted by start, with the latest end."""
    parts = []
    if "truth/apc_spells" in frames:
        s = frames["truth/apc_spells"]
        parts.append((s["person_index"], _days(s["admission_date"]), _days(s["discharge_date"])))
        for name, col in (("extracts/hes_op", "APPTDATE"), ("extracts/ecds", "ARRIVAL_DATE")):
            parts.append((frames[name][PERSON], _days(frames[name][col]), None))
    if "truth/care_minutes" in frames:
        cm = frames["truth/care_minutes"]
        cm = cm[cm["file"] != "extracts/gp_events"]
        parts.append((cm["person_index"], _days(cm["activity_date"]), None))
    lo = [np.asarray(p, np.int64) * _BIG + a for p, a, _ in parts] or [np.zeros(0, np.int64)]
    hi = [np.asarray(p, np.int64) * _BIG + (a if b is None else b) for p, a, b in parts]
    lo, hi = np.concatenate(lo), np.concatenate(hi or [np.zeros(0, np.int64)])
    order = np.argsort(lo, kind="stable")
    return lo[order], np.maximum.accumulate(hi[order]) if hi.size else hi


def _near(spans, person: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the person has an encounter overlapping days [a, b]."""
    lo, latest = spans
    if not lo.size:
        return np.zeros(person.shape, bool)
    i = np.searchsorted(lo, person * _BIG + b, side="right") - 1
    return (i >= 0) & (latest[np.maximum(i, 0)] >= person * _BIG + a)


# ---- ledger -----------------------------------------------------------------------------


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
