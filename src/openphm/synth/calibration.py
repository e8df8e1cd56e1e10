"""How close a generated ICS comes to the published figures it was built to match.

Achieved values are measured from the files on disk, the way an analyst would
measure them, with DuckDB through Ibis; the targets, tolerances and sources are
data (``data/calibration_targets.csv``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from openphm import engine
from openphm.synth import hazard, reference

_BANDS = {"<1": 0, "15-64": 2, "65-74": 3, "75-84": 4, "85+": 5}


def achieved(out: Path | str) -> pd.DataFrame:
    """Targets with the achieved value and whether each is within tolerance."""
    out = Path(out)
    params = json.loads((out / "synth.json").read_text())
    start = pd.Timestamp(params["start"])
    end = start + pd.DateOffset(years=params["years"])
    con = engine.connect()
    people = pd.read_parquet(out / "truth/people.parquet")
    values: dict[tuple[str, str], float] = {}
    values.update(_population(people, end))
    values.update(_multimorbidity(people, end))
    values.update(_hospital(con, out, people, start, end))
    targets = reference.calibration_targets().copy()
    targets["achieved"] = [
        values.get((m, g), np.nan) for m, g in zip(targets.metric, targets.group, strict=True)
    ]
    targets["within"] = (targets["achieved"] - targets["target"]).abs() <= (
        targets["tolerance"] * targets["target"]
    )
    return targets


def _alive_on(people: pd.DataFrame, on: pd.Timestamp) -> pd.DataFrame:
    alive = (people["date_of_birth"] <= on) & (
        people["date_of_death"].isna() | (people["date_of_death"] > on)
    )
    return people[alive]


def _age(people: pd.DataFrame, on: pd.Timestamp) -> np.ndarray:
    return ((on - people["date_of_birth"]).dt.days / 365.25).to_numpy()


def _population(people: pd.DataFrame, end: pd.Timestamp) -> dict:
    last = end - pd.Timedelta(days=1)
    alive = _alive_on(people, last)
    age = _age(alive, last)
    return {
        ("population_share", "0-15"): float((age < 16).mean()),
        ("population_share", "65+"): float((age >= 65).mean()),
        ("population_share", "female"): float((alive["sex"] == "2").mean()),
    }


def _multimorbidity(people: pd.DataFrame, end: pd.Timestamp) -> dict:
    last = end - pd.Timedelta(days=1)
    alive = _alive_on(people, last)
    onsets = [c for c in alive.columns if c.startswith("onset_")]
    count = sum(((alive[c].notna()) & (alive[c] <= last)).astype(int) for c in onsets)
    age = _age(alive, last)
    return {
        ("multimorbidity_2plus", "all"): float((count >= 2).mean()),
        ("multimorbidity_2plus", "75+"): float((count[age >= 75] >= 2).mean()),
    }


def _hospital(con, out: Path, people: pd.DataFrame, start, end) -> dict:
    spells = pd.read_parquet(out / "truth/apc_spells.parquet")
    emergency = spells[spells["is_emergency"] & (spells["admission_date"] >= start)]
    emergency = emergency[emergency["admission_date"] < end]
    rates = hazard.realised_rates(
        people,
        emergency[["person_index", "admission_date"]],
        people["date_of_death"],
        start,
        end,
    )
    dob = people.set_index("person_index")["date_of_birth"]
    age_at = (emergency["admission_date"] - dob.loc[emergency["person_index"]].to_numpy()).dt.days
    values = {("emergency_admissions_per_1000", g): float(rates[i]) for g, i in _BANDS.items()}
    values[("mean_emergency_los_days", "all")] = float(emergency["los_days"].mean())
    values[("mean_emergency_los_days", "85+")] = float(
        emergency.loc[(age_at / 365.25 >= 85).to_numpy(), "los_days"].mean()
    )
    values[("episodes_per_spell", "all")] = float(spells["n_episodes"].mean())

    op = con.read_csv(out / "extracts/hes_op.csv", all_varchar=True)
    booked = op.filter(op.ATTENDED.isin(["5", "6", "7", "3"]))
    dna = booked.aggregate(r=(booked.ATTENDED == "3").cast("float64").mean()).execute()
    values[("outpatient_dna_rate", "all")] = float(dna["r"].iat[0])

    ae = con.read_csv(out / "extracts/ecds.csv", all_varchar=True)
    type1 = ae.filter(ae.DEPARTMENT_TYPE == "01")
    admitted = type1.aggregate(r=(type1.ADMITTED == "Y").cast("float64").mean()).execute()
    values[("type1_ae_admitted_share", "all")] = float(admitted["r"].iat[0])
    values[("ae_rate_ratio_most_vs_least_deprived_decile", "all")] = _ae_ratio(
        con, ae, people, start, end
    )
    return values


def _ae_ratio(con, ae, people: pd.DataFrame, start, end) -> float:
    """A&E attendances per person-year, most deprived decile over least."""
    by_lsoa = ae.group_by(ae.LSOA).aggregate(n=ae.count()).execute().set_index("LSOA")["n"]
    years = (
        people["date_of_death"].fillna(end).clip(upper=end)
        - people["date_of_birth"].clip(lower=start)
    ).dt.days.clip(lower=0) / 365.25
    exposure = years.groupby(people["imd_decile"]).sum()
    decile_of = people.drop_duplicates("lsoa_code").set_index("lsoa_code")["imd_decile"]
    counts = by_lsoa.groupby(decile_of.reindex(by_lsoa.index).to_numpy()).sum()
    rate = counts / exposure.reindex(counts.index)
    return float(rate.get(1, np.nan) / rate.get(10, np.nan))


def render(table: pd.DataFrame) -> str:
    lines = [f"{'metric':<46}{'group':<8}{'target':>9}{'achieved':>10}  within"]
    for r in table.itertuples(index=False):
        lines.append(
            f"{r.metric:<46}{r.group:<8}{r.target:>9.3g}{r.achieved:>10.3g}  "
            f"{'yes' if r.within else 'NO'} (±{r.tolerance:.0%})"
        )
    return "\n".join(lines)
