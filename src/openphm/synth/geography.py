"""The shape of a synthetic ICS: places, PCNs, practices, LSOAs, providers.

Sized from the population: about 1,600 people per LSOA and 9,000 per practice
(England's averages), five practices to a PCN, four places. Codes are made up
in ranges that real organisations do not use, so nothing here can be mistaken
for a real one: LSOAs E019xxxxx, practices Z9xxxx, PCNs U9xxxx, providers RZx.
Places 1 and 2 merge into a new place on ``MERGER_DATE``, as CCGs did into
sub-ICB locations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

PEOPLE_PER_LSOA = 1_600
PEOPLE_PER_PRACTICE = 9_000
PRACTICES_PER_PCN = 5
PLACES = 4
ICB_CODE = "QZZ"
MERGER_DATE = date(2024, 4, 1)
ORG_START = date(2019, 4, 1)

# Provider roles and codes: two acute trusts, then one of each other kind.
PROVIDERS = {
    "RZ1": ("acute", "Synthetic General Hospitals NHS Trust"),
    "RZ2": ("acute", "Synthetic Teaching Hospitals NHS Foundation Trust"),
    "RZ3": ("mental_health", "Synthetic Mental Health NHS Trust"),
    "RZ4": ("community", "Synthetic Community Health Services NHS Trust"),
    "RZ5": ("ambulance", "Synthetic Ambulance Service NHS Trust"),
    "E06999001": ("council", "Synthetic Unitary Council (adult social care)"),
}


@dataclass(frozen=True)
class Geography:
    lsoa: pd.DataFrame  # lsoa_code, place_code, imd_decile, weight, postcode_district
    practices: pd.DataFrame  # practice_code, pcn_code, place_code, weight
    organisations: pd.DataFrame  # the canonical organisation table

    def provider(self, role: str) -> list[str]:
        return [code for code, (kind, _) in PROVIDERS.items() if kind == role]


def build_geography(people: int, seed: int) -> Geography:
    rng = np.random.default_rng([seed, 0xC0DE])
    n_lsoa = max(PLACES * 2, round(people / PEOPLE_PER_LSOA))
    n_practice = max(PLACES, round(people / PEOPLE_PER_PRACTICE))
    places = [f"X{p}A" for p in range(1, PLACES + 1)]

    # Each place has its own deprivation profile, from the most deprived (place 1)
    # to the least (the last), so that comparing places means something.
    lsoa_place = np.sort(rng.integers(0, PLACES, size=n_lsoa))
    tilt = (lsoa_place / (PLACES - 1) - 0.5) * 4.0  # -2 .. +2 deciles
    imd = np.clip(np.round(rng.uniform(0.5, 10.5, size=n_lsoa) + tilt), 1, 10).astype("int8")
    lsoa = pd.DataFrame(
        {
            "lsoa_code": [f"E019{i:05d}" for i in range(1, n_lsoa + 1)],
            "place_code": [places[p] for p in lsoa_place],
            "imd_decile": imd,
            "weight": rng.gamma(20.0, 1.0, size=n_lsoa),
            "postcode_district": [f"ZZ{1 + i // 40}" for i in range(n_lsoa)],
        }
    )
    lsoa["weight"] /= lsoa["weight"].sum()

    practice_place = np.sort(np.arange(n_practice) % PLACES)
    practices = pd.DataFrame(
        {
            "practice_code": [f"Z9{i:04d}" for i in range(1, n_practice + 1)],
            "pcn_code": [f"U9{i // PRACTICES_PER_PCN + 1:04d}" for i in range(n_practice)],
            "place_code": [places[p] for p in practice_place],
            "weight": rng.gamma(6.0, 1.0, size=n_practice),
        }
    )
    # A PCN never spans places: number PCNs within each place.
    practices["pcn_code"] = [
        f"U9{p + 1}{i // PRACTICES_PER_PCN + 1:03d}"
        for p, i in zip(practice_place, practices.groupby("place_code").cumcount(), strict=True)
    ]
    return Geography(lsoa, practices, _organisations(places, practices))


def _organisations(places: list[str], practices: pd.DataFrame) -> pd.DataFrame:
    merged = "X12A"
    rows = [("icb", ICB_CODE, "Synthetic Integrated Care Board", None, ORG_START, None, None)]
    for code in places:
        ends = code in places[:2]
        rows.append(
            (
                "sub_icb",
                code,
                f"Synthetic place {code}",
                ICB_CODE,
                ORG_START,
                _day_before(MERGER_DATE) if ends else None,
                merged if ends else None,
            )
        )
    rows.append(("sub_icb", merged, "Synthetic merged place", ICB_CODE, MERGER_DATE, None, None))
    for pcn, place in (
        practices[["pcn_code", "place_code"]].drop_duplicates().itertuples(index=False)
    ):
        rows.append(("pcn", pcn, f"Synthetic PCN {pcn}", place, ORG_START, None, None))
    for code, pcn in practices[["practice_code", "pcn_code"]].itertuples(index=False):
        rows.append(("practice", code, f"Synthetic practice {code}", pcn, ORG_START, None, None))
    for code, (_, name) in PROVIDERS.items():
        rows.append(("provider", code, name, ICB_CODE, ORG_START, None, None))
    columns = ["kind", "code", "name", "parent_code", "valid_from", "valid_to", "successor_code"]
    return pd.DataFrame(rows, columns=columns)


def _day_before(d: date) -> date:
    return date.fromordinal(d.toordinal() - 1)
