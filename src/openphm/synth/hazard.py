"""Emergency admissions and deaths: the hazards, the events, and the truth.

A person's emergency admission rate is their age band's rate (HES 2022-23, see
``EMERGENCY_PER_1000``) scaled by their conditions, latent frailty, deprivation
and lost access to planned care, normalised within the band so each band keeps
its published rate. Deaths follow a Gompertz curve, raised by conditions and
frailty. Rates are held constant through each 12-month window of the period;
the truth file records, per window, the probability of an emergency admission
or death in it, which is exactly what the events are drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.synth.health import ConditionModel, age_years, condition_count, has_condition

# Emergency admissions per 1,000 people a year by age (HES 2022-23; 1-14 read
# off the same tables). The upper bound of each band is exclusive.
EMERGENCY_PER_1000 = (
    (0, 1, 300.0),
    (1, 15, 70.0),
    (15, 65, 75.0),
    (65, 75, 160.0),
    (75, 85, 300.0),
    (85, 200, 550.0),
)
# Latent frailty's direct effect, on top of the conditions it clusters (which records
# show): log rate per SD. A modelling assumption, and the share of risk no record can
# reveal: at 0.5 even a model told every true condition, onset and access value reached
# only 0.95 of the truth's AUROC; at 0.3 the direct effect stays but most risk is visible.
FRAILTY_EFFECT = 0.3
DEPRIVATION_EFFECT = 0.6  # most vs least deprived: 1.6x the emergency rate
ACCESS_EFFECT = 0.5  # planned care lost raises emergencies: (1/access)^0.5
# Gompertz mortality, roughly England's life table: 1 in 16 at 80, 1 in 6 at 90.
GOMPERTZ_A, GOMPERTZ_B = 1.3e-5, 0.1
DEATH_PER_CONDITION = 0.25
DEATH_FRAILTY = 0.2  # log death rate per SD of latent frailty (as above)
DIED_IN_HOSPITAL = 0.45


@dataclass(frozen=True)
class HazardModel:
    conditions: ConditionModel
    band_norm: dict[int, float]  # mean relative rate within each band, for normalising


def _band_index(age: np.ndarray) -> np.ndarray:
    out = np.zeros(len(age), dtype=int)
    for i, (lo, hi, _) in enumerate(EMERGENCY_PER_1000):
        out[(age >= lo) & (age < hi)] = i
    return out


def _relative_rate(cohort: pd.DataFrame, model: ConditionModel, on: pd.Timestamp) -> np.ndarray:
    rel = np.exp(FRAILTY_EFFECT * cohort["frailty"].to_numpy())
    dep = (10 - cohort["imd_decile"].to_numpy()) / 9.0
    rel *= 1 + DEPRIVATION_EFFECT * dep
    rel *= (1 / cohort["access"].to_numpy()) ** ACCESS_EFFECT
    # Conditions add their excess risks rather than multiply them: a product of
    # fifteen relative rates would give the most multimorbid thousands of times
    # the usual rate, far beyond what admissions data show.
    excess = sum(
        np.where(has_condition(cohort, row.condition, on), row.emergency_rr - 1.0, 0.0)
        for row in model.conditions.itertuples(index=False)
    )
    return rel * (1.0 + excess)


def calibrate(
    sample: pd.DataFrame, model: ConditionModel, start: pd.Timestamp, years: int, rng
) -> HazardModel:
    """Normalise each band so its *realised* rate matches the published one.

    The frailest die soonest, so survivors' rates fall below the band's mean
    hazard at the start; one simulated pass over the sample measures by how much.
    """
    band = _band_index(age_years(sample, start))
    rel = _relative_rate(sample, model, start)
    norm = {i: float(rel[band == i].mean()) if (band == i).any() else 1.0 for i in range(6)}
    first = HazardModel(model, norm)
    adm, _, death = simulate(sample, first, start, years, rng)
    end = start + pd.DateOffset(years=years)
    realised = realised_rates(sample, adm, death, start, end)
    target = np.array([rate for _, _, rate in EMERGENCY_PER_1000])
    scale = np.where(realised > 0, realised / target, 1.0)
    return HazardModel(model, {i: norm[i] * float(scale[i]) for i in range(6)})


def emergency_rate(cohort: pd.DataFrame, hazard: HazardModel, on: pd.Timestamp) -> np.ndarray:
    """Expected emergency admissions per person-year from ``on``."""
    band = _band_index(age_years(cohort, on))
    base = np.array([rate for _, _, rate in EMERGENCY_PER_1000])[band] / 1000.0
    norm = np.array([hazard.band_norm[i] for i in range(6)])[band]
    return base * _relative_rate(cohort, hazard.conditions, on) / norm


def death_rate(cohort: pd.DataFrame, hazard: HazardModel, on: pd.Timestamp) -> np.ndarray:
    age = age_years(cohort, on)
    n_conditions = condition_count(cohort, list(hazard.conditions.conditions["condition"]), on)
    return (
        GOMPERTZ_A
        * np.exp(GOMPERTZ_B * age)
        * (1 + DEATH_PER_CONDITION * n_conditions)
        * np.exp(DEATH_FRAILTY * cohort["frailty"].to_numpy())
    )


def windows(start: pd.Timestamp, years: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Consecutive 12-month windows [from, to) covering the period."""
    return [
        (start + pd.DateOffset(years=y), start + pd.DateOffset(years=y + 1)) for y in range(years)
    ]


def simulate(
    cohort: pd.DataFrame, hazard: HazardModel, start: pd.Timestamp, years: int, rng
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Draw deaths and emergency admission dates; return (admissions, truth, date_of_death).

    ``admissions``: person_index, admission_date (one row per emergency admission).
    ``truth``: person_index, window_start, emergency_rate, death_rate, p_admission_or_death,
    for everyone alive at some point of the window. People born during the period
    are at risk from birth.
    """
    n = len(cohort)
    death = pd.Series(pd.NaT, index=cohort.index, dtype="datetime64[ns]")
    alive = np.ones(n, dtype=bool)  # not yet dead (possibly not yet born)
    dob = cohort["date_of_birth"]
    admissions, truth = [], []
    for w_from, w_to in windows(start, years):
        days = (w_to - w_from).days
        begin = np.clip((dob - w_from).dt.days.to_numpy(), 0, days)  # birth inside the window
        at_risk = alive & (begin < days)
        lam = emergency_rate(cohort, hazard, w_from)
        mu = death_rate(cohort, hazard, w_from)
        truth.append(
            pd.DataFrame(
                {
                    "person_index": cohort["person_index"].to_numpy()[at_risk],
                    "window_start": w_from,
                    "emergency_rate": lam[at_risk],
                    "death_rate": mu[at_risk],
                    "p_admission_or_death": 1 - np.exp(-(lam + mu)[at_risk]),
                }
            )
        )
        t_death = begin + rng.exponential(1.0, size=n) / mu * 365.25
        dies = at_risk & (t_death < days)
        death[dies] = w_from + pd.to_timedelta(np.floor(t_death[dies]), unit="D")
        exposure = (np.where(dies, t_death, days) - begin) * at_risk
        count = rng.poisson(lam * exposure / 365.25)
        who = np.repeat(np.arange(n), count)
        offset = begin[who] + np.floor(rng.random(len(who)) * exposure[who])
        admissions.append(
            pd.DataFrame(
                {
                    "person_index": cohort["person_index"].to_numpy()[who],
                    "admission_date": w_from + pd.to_timedelta(offset, unit="D"),
                }
            )
        )
        # Many deaths come at the end of an emergency admission (about 45% of
        # deaths in England are in hospital): a terminal admission 0-14 days before.
        terminal = np.flatnonzero(dies & (rng.random(n) < DIED_IN_HOSPITAL))
        lead = np.minimum(
            rng.integers(0, 15, size=len(terminal)), t_death[terminal] - begin[terminal]
        )
        admissions.append(
            pd.DataFrame(
                {
                    "person_index": cohort["person_index"].to_numpy()[terminal],
                    "admission_date": death.iloc[terminal].to_numpy()
                    - pd.to_timedelta(np.floor(np.maximum(lead, 0)), unit="D").to_numpy(),
                }
            )
        )
        alive &= ~dies
    adm = pd.concat(admissions, ignore_index=True).sort_values(
        ["person_index", "admission_date"], kind="stable", ignore_index=True
    )
    return adm, pd.concat(truth, ignore_index=True), death


def person_years_by_band(
    dob: pd.Series, death: pd.Series, start: pd.Timestamp, end: pd.Timestamp
) -> np.ndarray:
    """Person-years lived in [start, end) within each emergency age band."""
    alive_to = death.fillna(end).clip(upper=end)
    out = []
    for lo, hi, _ in EMERGENCY_PER_1000:
        enter = (dob + pd.to_timedelta(lo * 365.25, unit="D")).clip(lower=start)
        leave = (dob + pd.to_timedelta(hi * 365.25, unit="D")).clip(upper=alive_to)
        out.append(((leave - enter).dt.days.clip(lower=0)).sum() / 365.25)
    return np.array(out)


def realised_rates(
    cohort: pd.DataFrame, admissions: pd.DataFrame, death: pd.Series, start, end
) -> np.ndarray:
    """Emergency admissions per 1,000 person-years by age band, as HES would count them."""
    dob = cohort.set_index("person_index")["date_of_birth"]
    at = admissions["admission_date"].to_numpy() - dob.loc[admissions["person_index"]].to_numpy()
    band = _band_index(at / np.timedelta64(1, "D") / 365.25)
    counts = np.bincount(band, minlength=len(EMERGENCY_PER_1000))
    years = person_years_by_band(cohort["date_of_birth"], death, start, end)
    return 1000 * counts / np.maximum(years, 1e-9)
