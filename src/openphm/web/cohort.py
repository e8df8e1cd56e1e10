"""The two views that read the warehouse: a care team's cohort list and analysts' profiles.

- ``care_team_list``: the risk stage's ``risk_score`` rows for one practice, highest
  risk first. Pseudonymised, and only ever for the practice the signed-in care-team
  user is bound to; the caller writes an audit record for every view.
- ``cohort_profile``: the cohort by practice and risk tier, passed through the
  disclosure gate on the fly (the same gate and policy as published tables).

The warehouse is opened for each request and closed after it (one at a time), so
the dashboard never holds DuckDB's file lock while ``openphm run`` needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd

from openphm.disclosure import FLAG_SUFFIX, gate
from openphm.publish.writer import SUPPRESSED_MARK
from openphm.workspace import Workspace

RISK_TABLE = "risk_score"
LIST_COLUMNS = (
    "rank",
    "person_id",
    "index_date",
    "probability",
    "tier",
    "factor_1",
    "factor_2",
    "factor_3",
)
UNREGISTERED = "Unregistered"
MAX_LIST = 500  # rows in one care-team list: the top of the practice's ranking
_warehouse = threading.Lock()


class NotRun(LookupError):
    """The risk stage has not written ``risk_score`` to this workspace."""


@dataclass(frozen=True)
class CohortList:
    practice: str
    columns: tuple[str, ...]
    rows: list[tuple]
    total: int


@contextmanager
def _risk_scores(root: Path) -> Iterator[tuple[Workspace, ir.Table]]:
    """The risk stage's scores, read under the warehouse lock; the workspace closed after."""
    with _warehouse:
        ws = Workspace(root)
        try:
            if not ws.has(RISK_TABLE):
                raise NotRun("the risk stage has not run in this workspace: no cohort yet")
            yield ws, ws.table(RISK_TABLE)
        finally:
            ws.close()


def care_team_list(root: Path, practice: str) -> CohortList:
    with _risk_scores(root) as (_, t):
        mine = t.filter(t.practice_code == practice)
        total = int(mine.count().execute())
        columns = tuple(c for c in LIST_COLUMNS if c in t.columns)
        frame = (
            mine.select(*columns)
            .order_by(*(["rank"] if "rank" in columns else []), "person_id")
            .limit(MAX_LIST)
            .execute()
        )
    rows = [tuple(_cell(v) for v in r) for r in frame.itertuples(index=False)]
    return CohortList(practice, columns, rows, total)


def cohort_profile(root: Path) -> pd.DataFrame:
    """People by practice and risk tier, with totals, through the disclosure gate."""
    with _risk_scores(root) as (ws, t):
        # People with no current registration belong to no practice: counted apart.
        t = t.mutate(practice_code=t.practice_code.fill_null(UNREGISTERED))
        counts = t.group_by("practice_code", "tier").aggregate(people=t.count())
        gated = gate(
            "cohort_profile",
            counts,
            keys=["practice_code", "tier"],
            counts=["people"],
            margins=["practice_code", "tier"],
            policy=ws.config.disclosure,
        )
        frame = gated.table.execute()
    flagged = frame[f"people{FLAG_SUFFIX}"].notna()
    frame["people"] = (
        frame["people"].astype("Int64").astype("string").mask(flagged, SUPPRESSED_MARK)
    )
    frame = frame.drop(columns=[f"people{FLAG_SUFFIX}"]).astype(str)
    return frame.sort_values(["practice_code", "tier"]).reset_index(drop=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
