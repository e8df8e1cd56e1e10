"""Long-term conditions: who has which, and since when.

For each condition in ``data/conditions.csv``, a person is ever affected with a
probability that rises with deprivation (the condition's ``imd_gradient``) and,
through a shared latent frailty, together with their other conditions (the
condition's ``frailty_loading`` is the correlation of its liability with the
frailty). The age of onset is normal around the condition's typical age and
comes ``DEPRIVATION_YEARS_EARLIER`` earlier in the most deprived decile than in
the least, so multimorbidity arrives 10 to 15 years earlier there (Barnett et
al., Lancet 2012).

Lifetime risks are calibrated, once per run, so that register prevalence on the
period's last day matches QOF (the ``qof_prevalence_all_ages`` column).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from openphm.synth import reference

DEPRIVATION_YEARS_EARLIER = 12.0
MAX_EVER = 0.98
CALIBRATION_SEED = 20_230_401  # fixed draws: calibration is the same for every run


@dataclass(frozen=True)
class ConditionModel:
    conditions: pd.DataFrame  # from reference.conditions()
    lifetime: dict[str, float]  # calibrated lifetime risk at median deprivation


def deprivation(imd_decile: np.ndarray) -> np.ndarray:
    """0 in the least deprived decile, 1 in the most."""
    return (10 - np.asarray(imd_decile, dtype=float)) / 9.0


def _ever_probability(row, lifetime: float, dep: np.ndarray, sex: np.ndarray) -> np.ndarray:
    rel = row.imd_gradient ** (dep - 0.5)  # geometric centre at mid deprivation
    eligible = (sex == row.sex_only) if row.sex_only else np.ones(len(sex), dtype=bool)
    return np.where(eligible, np.minimum(lifetime * rel, MAX_EVER), 0.0)


def _onset_age(row, dep: np.ndarray, noise: np.ndarray) -> np.ndarray:
    return row.onset_age_mean - DEPRIVATION_YEARS_EARLIER * dep + row.onset_age_sd * noise


def _draws(row, frailty: np.ndarray, rng: np.random.Generator):
    """A condition's liability (against which ``ever`` is judged) and onset noise.

    Both lean on the shared frailty: the frail are affected more often, and younger.
    """
    n, rho = len(frailty), row.frailty_loading
    liability = rho * frailty + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    noise = -0.5 * rho * frailty + np.sqrt(1 - 0.25 * rho**2) * rng.standard_normal(n)
    return ndtr(liability), noise


def calibrate(sample: pd.DataFrame, on: pd.Timestamp) -> ConditionModel:
    """Lifetime risks so each condition's prevalence on ``on`` matches QOF.

    Simulated on the sample with fixed draws (common random numbers), because the
    frail are both more often affected and affected younger, so prevalence is not
    the product of the two chances; a bisection on the lifetime risk finds it.
    """
    conditions = reference.conditions()
    age = _age_years(sample["date_of_birth"], on)
    dep = deprivation(sample["imd_decile"].to_numpy())
    sex = sample["sex"].to_numpy()
    frailty = sample["frailty"].to_numpy()
    rng = np.random.default_rng(CALIBRATION_SEED)
    lifetime = {}
    for row in conditions.itertuples(index=False):
        chance, noise = _draws(row, frailty, rng)
        reached = _onset_age(row, dep, noise) <= age
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = (lo + hi) / 2
            ever = chance > 1 - _ever_probability(row, mid, dep, sex)
            if np.mean(ever & reached) < row.qof_prevalence_all_ages:
                lo = mid
            else:
                hi = mid
        lifetime[row.condition] = (lo + hi) / 2
    return ConditionModel(conditions, lifetime)


def assign_conditions(
    cohort: pd.DataFrame, model: ConditionModel, rng: np.random.Generator
) -> pd.DataFrame:
    """Add ``onset_<condition>`` dates (NaT: never affected in this life).

    An onset can fall before the period (a prevalent condition), inside it (an
    incident one) or after it; the orchestrator drops onsets after death.
    """
    dep = deprivation(cohort["imd_decile"].to_numpy())
    frailty = cohort["frailty"].to_numpy()
    sex = cohort["sex"].to_numpy()
    dob = cohort["date_of_birth"].to_numpy()
    out = {}
    for row in model.conditions.itertuples(index=False):
        chance, noise = _draws(row, frailty, rng)
        ever = chance > 1 - _ever_probability(row, model.lifetime[row.condition], dep, sex)
        onset_age = np.clip(_onset_age(row, dep, noise), 0.0, 110.0)
        onset = dob + (onset_age * 365.25 * 86400).astype("timedelta64[s]")
        out[f"onset_{row.condition}"] = np.where(ever, onset, np.datetime64("NaT"))
    frame = pd.DataFrame(out, index=cohort.index).astype("datetime64[ns]")
    return pd.concat([cohort, frame], axis=1)


def has_condition(cohort: pd.DataFrame, condition: str, on: pd.Timestamp) -> np.ndarray:
    onset = cohort[f"onset_{condition}"]
    return (onset.notna() & (onset <= on)).to_numpy()


def condition_count(cohort: pd.DataFrame, conditions: list[str], on: pd.Timestamp) -> np.ndarray:
    return sum(has_condition(cohort, c, on).astype(int) for c in conditions)


def _age_years(dob: pd.Series, on: pd.Timestamp) -> np.ndarray:
    return ((on - dob).dt.days / 365.25).to_numpy()


def age_years(cohort: pd.DataFrame, on: pd.Timestamp) -> np.ndarray:
    return _age_years(cohort["date_of_birth"], on)
