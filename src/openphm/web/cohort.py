"""The two views that read the warehouse: a care team's cohort list and analysts' profiles.

- ``care_team_list``: the risk stage's ``risk_score`` rows for one practice, highest
  risk first. Pseudonymised, and only ever for the practice the signed-in care-team
  user is bound to; the caller writes an audit record for every view.
- ``cohort_profile``: the cohort by practice and risk tier, passed through the
  disclosure gate on the fly (the same gate and policy as published tables).

Both read the risk stage's restricted copy of its scores
(``quarantine/risk/risk_score.parquet``, 0600, replaced atomically by each risk run),
never the warehouse: a run holds the warehouse's lock for minutes, and the dashboard
must keep answering while it does (it once failed 78 of 83 care-team requests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd

from openphm import engine
from openphm.disclosure import FLAG_SUFFIX, gate
from openphm.publish.writer import SUPPRESSED_MARK
from openphm.runner import restricted_path
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


class NotRun(LookupError):
    """The risk stage has not written ``risk_score`` to this workspace."""


@dataclass(frozen=True)
class CohortList:
    practice: str
    columns: tuple[str, ...]
    rows: list[tuple]
    total: int


def snapshot_path(root: Path) -> Path:
    return restricted_path(Workspace(root), f"risk/{RISK_TABLE}")


@contextmanager
def _risk_scores(root: Path) -> Iterator[tuple[Workspace, ir.Table]]:
    """The risk stage's scores from its restricted snapshot, in an in-memory engine."""
    ws = Workspace(root)  # the configuration only: no warehouse is opened
    path = snapshot_path(root)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]  # Spark: part files
    if not files or not files[0].is_file():
        raise NotRun("the risk stage has not run in this workspace: no cohort yet")
    con = engine.connect()
    try:
        yield ws, con.read_parquet([str(f) for f in files])
    finally:
        engine.close(con)


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
