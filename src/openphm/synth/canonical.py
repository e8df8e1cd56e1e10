"""The generator's truth as canonical ``person`` and ``registration`` tables.

Until the ingest and link stages land, the demo reads the people it generated
straight from the truth files. Person ids are pseudonym-shaped (SHA-256 of the
seed and the person's index), never NHS numbers: raw NHS numbers belong only to
ingest and link.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd

from openphm.model import memtable


def _person_id(seed: int, index: pd.Series) -> list[str]:
    return [hashlib.sha256(f"synth:{seed}:{i}".encode()).hexdigest() for i in index]


def from_truth(out: Path | str, seed: int) -> dict[str, ir.Table]:
    out = Path(out)
    people = pd.read_parquet(out / "truth/people.parquet")
    regs = pd.read_parquet(out / "truth/registrations.parquet")
    ids = pd.Series(_person_id(seed, people["person_index"]), index=people["person_index"])
    person = pd.DataFrame(
        {
            "person_id": ids.to_numpy(),
            "year_of_birth": people["date_of_birth"].dt.year.to_numpy(),
            "month_of_birth": people["date_of_birth"].dt.month.to_numpy(),
            "sex": people["sex"].to_numpy(),
            "ethnic_category": people["ethnic_category"].to_numpy(),
            "lsoa_code": people["lsoa_code"].to_numpy(),
            "date_of_death": people["date_of_death"].dt.date.to_numpy(),
        }
    )
    registration = pd.DataFrame(
        {
            "person_id": ids.loc[regs["person_index"]].to_numpy(),
            "practice_code": regs["practice_code"].to_numpy(),
            "start_date": regs["start"].dt.date.to_numpy(),
            "end_date": regs["end"].dt.date.to_numpy(),
        }
    )
    return {
        "person": memtable("person", person),
        "registration": memtable("registration", registration),
    }
