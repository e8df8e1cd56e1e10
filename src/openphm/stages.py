"""The stages in run order. Each later issue adds its stage here."""

from __future__ import annotations

from openphm.cost import stage as cost
from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.measure import stage as measure
from openphm.need import stage as need
from openphm.publish import stage as publish
from openphm.risk import stage as risk
from openphm.runner import Stage

STAGES: tuple[Stage, ...] = (
    ingest.STAGE,
    link.STAGE,
    need.STAGE,
    cost.STAGE,
    risk.STAGE,
    measure.STAGE,
    publish.STAGE,
)
