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
from openphm.synth.costing.centres import CENTRES, WARD_ACUITY
from openphm.synth.costing.common import FEED_KEYS, FEEDS, KEYS, SOURCES, _day, _fy
from openphm.synth.costing.feeds import _build
from openphm.synth.costing.ledger import EXPENSE_TYPES, SUPPORT, _ledgers, _year_totals
from openphm.synth.costing.matching import (
    FOREIGN_NHS_PREFIX,
    MATCH_SHARES,
    _encounter_spans,
    _match,
)
from openphm.synth.costing.rows import _feed_frame
from openphm.synth.output import SynthContext

__all__ = [
    "CENTRES",
    "EXPENSE_TYPES",
    "FEEDS",
    "FEED_KEYS",
    "KEYS",
    "MATCH_SHARES",
    "SOURCES",
    "SUPPORT",
    "WARD_ACUITY",
    "CostingGenerator",
]


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
        level, nhs, day, start, end = _match(raw, spans, rng, self.ctx, self._pool)
        frame, link, weight = _feed_frame(feed, raw, self.cost, level, nhs, day, start, end)
        qty = raw["qty"] * 1.0
        totals = _year_totals(
            self.years, raw["provider"], raw["centre"], qty, weight, day, start, end
        )
        self._totals.append(totals)
        return frame, link

    def ledgers(self) -> dict[str, pd.DataFrame]:
        """Once, after the last chunk: each provider's cost ledger, built from the totals."""
        return _ledgers(self._totals, self.years, self.cost, self._rng)
