"""A small, deterministic sample population for fast tests and benchmarks.

It holds just the canonical ``person`` and ``registration`` tables the current
stages read. Person ids are pseudonym-shaped (64 hex characters); there are no
NHS numbers here at all. The demo uses the full synthetic ICS (``openphm synth``).
"""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd

from openphm.model import memtable

PRACTICES = tuple(f"Y{n:05d}" for n in range(1, 11))
# Share of England's population by five-year band, 0-4 ... 90+ (ONS mid-2022, rounded).
_AGE_SHARE = np.array(
    [5.4, 5.9, 6.1, 5.8, 6.0, 6.5, 6.8, 6.7, 6.3, 6.1, 6.6, 6.8, 6.2, 5.3, 5.0, 4.3, 2.6, 1.6, 0.9]
)


def sample_population(people: int = 2_000, seed: int = 1, on: date = date(2026, 3, 31)):
    """Return {'person': table, 'registration': table} as Ibis memtables."""
    rng = np.random.default_rng(seed)
    ids = [hashlib.sha256(f"sample:{seed}:{i}".encode()).hexdigest() for i in range(people)]
    band = rng.choice(len(_AGE_SHARE), size=people, p=_AGE_SHARE / _AGE_SHARE.sum())
    age = band * 5 + rng.integers(0, 5, size=people)
    died = rng.random(people) < 0.01 + 0.002 * band
    person = pd.DataFrame(
        {
            "person_id": ids,
            "year_of_birth": on.year - age,
            "month_of_birth": rng.integers(1, 13, size=people),
            "sex": rng.choice(["1", "2"], size=people),
            "ethnic_category": rng.choice(["A", "B", "D", "H", "J", "N", "R", "S", "Z"], people),
            "lsoa_code": [f"E0100{n:04d}" for n in rng.integers(0, 60, size=people)],
            "date_of_death": [date(on.year - 1, 6, 1) if d else None for d in died],
        }
    )
    practice = rng.choice(PRACTICES, size=people)
    moved = rng.random(people) < 0.05
    registration = pd.DataFrame(
        {
            "person_id": ids,
            "practice_code": practice,
            "start_date": [date(2015, 4, 1)] * people,
            "end_date": [date(on.year - 1, 12, 31) if m else None for m in moved],
        }
    )
    return {
        "person": memtable("person", person),
        "registration": memtable("registration", registration),
    }
