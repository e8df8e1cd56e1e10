"""People of the synthetic ICS, one chunk at a time.

Ages and sexes follow England's structure (ONS mid-2022), LSOAs are drawn by
their weight, ethnic category by the LSOA's IMD quintile (Census 2021), and
people register with a practice in their own place. A shared latent frailty
(standard normal) is drawn here: conditions cluster through it, and the
emergency admission hazard rises with it.

The frame returned is the *cohort*: one row per person, the contract every
care generator reads (see ``COHORT_COLUMNS``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth import reference
from openphm.synth.geography import Geography

COHORT_COLUMNS = {
    "person_index": "global row number of the person, 0 .. people-1",
    "nhs_number": "synthetic NHS number, 999 range, valid check digit",
    "sex": "'1' male, '2' female",
    "date_of_birth": "datetime64[ns]",
    "ethnic_category": "NHS ethnic category code",
    "lsoa_code": "LSOA of residence",
    "imd_decile": "1 = most deprived",
    "postcode": "synthetic postcode (ZZ area, never a real one)",
    "place_code": "sub-ICB place of the registered practice",
    "practice_code": "practice registered with at the start of the period",
    "registered_from": "datetime64[ns], start of that registration",
    "frailty": "latent frailty, standard normal",
    "access": "planned-care access for the same need (1 = none lost)",
    "date_of_death": "datetime64[ns], NaT if alive at the end of the period",
}

# Access bias, on by default: for the same need, people in the most deprived
# quintile and in some ethnic groups get less planned care (and, through the
# hazard, more emergency care). Multipliers on planned-care rates.
ACCESS_BY_IMD_QUINTILE = {1: 0.75, 2: 0.85, 3: 0.95, 4: 1.0, 5: 1.0}
BIRTHS_PER_YEAR = 0.0105
ACCESS_BY_ETHNIC_GROUP = {"H": 0.85, "J": 0.85, "K": 0.85, "M": 0.8, "N": 0.8, "P": 0.85}


def _age_sex_table() -> pd.DataFrame:
    t = reference.age_sex().copy()
    t["lo"] = t["age_band"].str.extract(r"^(\d+)").astype(int)[0]
    t["width"] = np.where(t["age_band"].str.endswith("+"), 10, 5)
    t["p"] = t["population"] / t["population"].sum()
    return t.reset_index(drop=True)


def make_people(
    geo: Geography,
    first_index: int,
    nhs_numbers: np.ndarray,
    period_start: pd.Timestamp,
    rng: np.random.Generator,
    access_bias: bool = True,
    birth_years: float = 0.0,
) -> pd.DataFrame:
    """One person per NHS number, indices from ``first_index``, as on ``period_start``.

    With ``birth_years``, some are born in the ``birth_years`` after the start.
    """
    n = len(nhs_numbers)
    table = _age_sex_table()
    cell = rng.choice(len(table), size=n, p=table["p"].to_numpy())
    age_years = table["lo"].to_numpy()[cell] + rng.random(n) * table["width"].to_numpy()[cell]
    # Some are born during the period (England: about 1.05% of the population a year).
    born_later = rng.random(n) < BIRTHS_PER_YEAR * birth_years
    age_years = np.where(born_later, -rng.random(n) * birth_years, age_years)
    dob = period_start - pd.to_timedelta(np.floor(age_years * 365.25), unit="D")
    if birth_years:  # the floor can give the day after the period: its last day instead
        end = period_start + pd.DateOffset(
            years=int(birth_years), days=round(birth_years % 1 * 365.25)
        )
        dob = dob.where(dob < end, end - pd.Timedelta(days=1))

    lsoa_i = rng.choice(len(geo.lsoa), size=n, p=geo.lsoa["weight"].to_numpy())
    lsoa = geo.lsoa.iloc[lsoa_i].reset_index(drop=True)
    imd = lsoa["imd_decile"].to_numpy()
    quintile = (imd + 1) // 2

    eth = reference.ethnicity_by_imd()
    ethnic = np.empty(n, dtype=object)
    for q in range(1, 6):
        rows = eth[eth["imd_quintile"] == q]
        mask = quintile == q
        shares = rows["share"].to_numpy() / rows["share"].sum()
        ethnic[mask] = rng.choice(rows["ethnic_category"].to_numpy(), size=mask.sum(), p=shares)

    practice_code, place = _register(geo, lsoa["place_code"].to_numpy(), rng)
    years_registered = rng.exponential(9.0, size=n)
    registered_from = np.maximum(
        period_start - pd.to_timedelta(np.floor(years_registered * 365.25), unit="D"), dob
    )
    access = np.ones(n)
    if access_bias:
        access = pd.Series(quintile).map(ACCESS_BY_IMD_QUINTILE).to_numpy() * (
            pd.Series(ethnic).map(ACCESS_BY_ETHNIC_GROUP).fillna(1.0).to_numpy()
        )
    return pd.DataFrame(
        {
            "person_index": np.arange(first_index, first_index + n, dtype="int64"),
            "nhs_number": np.asarray(nhs_numbers, dtype=str),
            "sex": table["sex"].to_numpy()[cell],
            "date_of_birth": dob,
            "ethnic_category": ethnic.astype(str),
            "lsoa_code": lsoa["lsoa_code"].to_numpy(),
            "imd_decile": imd.astype("int8"),
            "postcode": _postcodes(lsoa["postcode_district"].to_numpy(), lsoa_i, rng),
            "place_code": place,
            "practice_code": practice_code,
            "registered_from": registered_from,
            "frailty": rng.standard_normal(n),
            "access": access,
            "date_of_death": pd.NaT,
        }
    ).astype({"date_of_death": "datetime64[ns]"})


def _register(geo: Geography, home_place: np.ndarray, rng: np.random.Generator):
    """A practice in the person's own place, by practice size."""
    practice = np.empty(len(home_place), dtype=object)
    for place, group in geo.practices.groupby("place_code"):
        mask = home_place == place
        weights = group["weight"].to_numpy() / group["weight"].sum()
        practice[mask] = rng.choice(group["practice_code"].to_numpy(), size=mask.sum(), p=weights)
    return practice.astype(str), home_place.astype(str)


_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))  # letters real postcode units use


def _postcodes(district: np.ndarray, lsoa_i: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """'ZZ3 4AB': the sector follows the LSOA, the unit is random."""
    sector = (lsoa_i % 9 + 1).astype(str)
    units = _UNIT_LETTERS[rng.integers(0, len(_UNIT_LETTERS), size=(len(district), 2))]
    return np.char.add(
        np.char.add(np.char.add(district.astype(str), " "), sector),
        np.char.add(units[:, 0], units[:, 1]),
    )
