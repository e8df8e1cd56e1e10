"""The care-team view failed during ``openphm run`` (issue 16): 78 of 83 requests gave a
500 on the warehouse lock. The dashboard now reads the risk stage's restricted snapshot,
so another process holding the warehouse changes nothing."""

from __future__ import annotations

import subprocess
import sys
import time

from fastapi.testclient import TestClient

from openphm.web import create_app
from openphm.web.accounts import Accounts
from tests.unit.test_report import PRACTICES, tiny_workspace
from tests.unit.test_web import PASSWORD, direct_care, sign_in

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # read-write: DuckDB's file lock, as a run holds it
con.execute("create table if not exists _busy as select 1 as x")
print("holding", flush=True)
time.sleep(120)
"""


def test_care_teams_and_analysts_are_answered_while_another_process_holds_the_warehouse(
    tmp_path,
):
    ws = tiny_workspace(tmp_path / "ws")
    direct_care(ws.root)
    warehouse = ws.root / "warehouse.duckdb"
    ws.close()
    accounts = Accounts(ws.root)
    accounts.add("carol", "care_team", PASSWORD, practice=PRACTICES[0])
    accounts.add("ana", "analyst", PASSWORD)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        care, analyst = (
            TestClient(create_app(ws.root, secure_cookies=False), follow_redirects=False)
            for _ in range(2)
        )
        assert sign_in(care, "carol").status_code == 303
        assert sign_in(analyst, "ana").status_code == 303
        started = time.monotonic()
        statuses = [care.get("/api/care-team/cohort").status_code for _ in range(5)]
        statuses += [analyst.get("/api/cohort-profile").status_code for _ in range(5)]
        assert statuses == [200] * 10
        assert time.monotonic() - started < 60  # answered, not waiting for the lock
        assert care.get("/api/care-team/cohort").json()["rows"]
    finally:
        holder.kill()
        holder.wait()
