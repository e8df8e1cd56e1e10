"""``openphm synth``: a whole synthetic integrated care system, chunk by chunk.

The same seed gives byte-identical files. People are generated in chunks of
``CHUNK_PEOPLE``, each with its own random stream derived from (seed, chunk), so
memory stays flat however large the population and the output never depends on
anything but the seed and the size. Layout of the output folder::

    extracts/   the files an ICS receives (HES-like APC/OP, ECDS, the GP patient
                register, GP registrations and events, community, mental health,
                ambulance, social care, opt-outs) as CSV
    omop/       the same care as OMOP CDM v5.4 tables
    costing/    provider ledgers and activity feeds
    reference/  organisations and LSOAs (the canonical organisation and area tables)
    truth/      what the generator knows and the pipeline must find (Parquet)
    manifest.json  rows and SHA-256 of every file
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from openphm.synth import hazard, health, omop
from openphm.synth.costing import CostingGenerator
from openphm.synth.dirt import Columns, Dirt
from openphm.synth.dirt import apply as apply_dirt
from openphm.synth.geography import Geography, build_geography
from openphm.synth.identifiers import nhs_number_pool
from openphm.synth.omop_cost import visit_costs
from openphm.synth.output import PERSON, SynthContext, Writer
from openphm.synth.people import make_people

CHUNK_PEOPLE = 50_000
DEFAULT_DIRT = Dirt()
CALIBRATION_PEOPLE = 50_000
DEFAULT_START = date(2023, 4, 1)
DEFAULT_YEARS = 3

# Components draw from separate streams so adding one never shifts another.
_STREAM = {
    "people": 1,
    "health": 2,
    "hazard": 3,
    "hospital": 4,
    "community": 5,
    "dirt": 6,
    "opt_out": 7,
    "costing": 8,
}
# England, 2024: about 5.4% have a national data opt-out; type 1 (GP) opt-outs
# are rarer. Type 1 stops GP data leaving the practice for purposes beyond care.
OPT_OUT_RATES = {"national": 0.054, "type_1": 0.03}
OPT_OUT_YEARS_BEFORE = 3  # opt-outs on the lists date from up to this long before the period
# Which columns of each extract the dirt may touch.
DIRT_COLUMNS = {
    "extracts/hes_apc": Columns(nhs="NEWNHSNO", start="ADMIDATE", icd10="DIAG_4_01"),
    "extracts/hes_op": Columns(nhs="NEWNHSNO", start="APPTDATE"),
    "extracts/ecds": Columns(nhs="NHS_NUMBER", start="ARRIVAL_DATE", snomed="DIAGNOSIS_SNOMED"),
    "extracts/gp_events": Columns(nhs="NHS_NUMBER", start="EVENT_DATE", snomed="SNOMED_CODE"),
    "extracts/gp_registrations": Columns(
        nhs="NHS_NUMBER", start="REGISTRATION_START", end="REGISTRATION_END"
    ),
    "extracts/community_contacts": Columns(nhs="NHS_NUMBER", start="CONTACT_DATE"),
    "extracts/mental_health_contacts": Columns(nhs="NHS_NUMBER", start="CONTACT_DATE"),
    "extracts/ambulance_incidents": Columns(
        nhs="NHS_NUMBER", start="INCIDENT_DATE", dob="DATE_OF_BIRTH", postcode="POSTCODE"
    ),
    "extracts/social_care_services": Columns(
        nhs="NHS_NUMBER",
        start="START_DATE",
        end="END_DATE",
        dob="DATE_OF_BIRTH",
        postcode="POSTCODE",
    ),
    # Last, so adding it left every other extract's dirt as it was. The NHS number
    # only: dates of birth and death stay the truth's, on every row.
    "extracts/gp_patients": Columns(nhs="NHS_NUMBER"),
}
_CALIBRATION_CHUNK = 2**31 - 1


@dataclass(frozen=True)
class SynthResult:
    out: Path
    people: int
    seed: int
    rows: dict[str, int]


def _rng(seed: int, chunk: int, component: str) -> np.random.Generator:
    return np.random.default_rng([seed, chunk, _STREAM[component]])


def _generators() -> list[tuple[str, Callable]]:
    """The care generators, imported late so a missing optional one fails clearly."""
    from openphm.synth import community, hospital

    return [("hospital", hospital.generate), ("community", community.generate)]


def generate(
    out: Path | str,
    people: int = 100_000,
    seed: int = 1,
    start: date = DEFAULT_START,
    years: int = DEFAULT_YEARS,
    access_bias: bool = True,
    dirt: Dirt = DEFAULT_DIRT,
    progress: Callable[[int, int], None] | None = None,
    chunk_people: int = CHUNK_PEOPLE,
) -> SynthResult:
    """Generate the ICS into ``out`` (created; existing files are replaced).

    The files depend on the seed, the size and ``chunk_people`` (keep the default
    for files comparable between runs); memory grows with the chunk, not the ICS.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    period_start = pd.Timestamp(start)
    ctx = SynthContext(
        period_start, period_start + pd.DateOffset(years=years), build_geography(people, seed), seed
    )
    pool = nhs_number_pool(people, np.random.default_rng([seed, 0x999]))
    models = calibrate_models(ctx, min(people, CALIBRATION_PEOPLE), access_bias)
    writer = Writer(out)
    writer.write(_reference_tables(ctx.geography))
    writer.write(omop.care_site(ctx.geography))
    costs = CostingGenerator(ctx, np.random.default_rng([seed, 0xC057]))
    chunks = range(0, people, chunk_people)
    for i, first in enumerate(chunks):
        numbers = pool[first : first + chunk_people]
        writer.write(_chunk(ctx, models, i, first, numbers, access_bias, dirt, costs))
        if progress:
            progress(i + 1, len(chunks))
    writer.write(costs.ledgers())
    manifest = writer.close()
    parameters = {"people": people, "seed": seed, "start": start.isoformat(), "years": years}
    parameters["access_bias"] = access_bias
    (out / "synth.json").write_text(json.dumps(parameters, indent=2, sort_keys=True))
    rows = {name: spec["rows"] for name, spec in manifest["files"].items()}
    return SynthResult(out, people, seed, rows)


def calibrate_models(
    ctx: SynthContext, n: int = CALIBRATION_PEOPLE, access_bias: bool = True
) -> hazard.HazardModel:
    """Condition lifetime risks and hazard normalisers from a calibration sample."""
    rng = _rng(ctx.seed, _CALIBRATION_CHUNK, "people")
    numbers = np.zeros(n, dtype="U10")
    sample = make_people(ctx.geography, 0, numbers, ctx.start, rng, access_bias, ctx.years)
    conditions = health.calibrate(sample, ctx.end - pd.Timedelta(days=1))
    sample = health.assign_conditions(
        sample, conditions, _rng(ctx.seed, _CALIBRATION_CHUNK, "health")
    )
    hazard_rng = _rng(ctx.seed, _CALIBRATION_CHUNK, "hazard")
    return hazard.calibrate(sample, conditions, ctx.start, ctx.years, hazard_rng)


def build_cohort(
    ctx: SynthContext,
    models: hazard.HazardModel,
    index: int,
    first: int,
    numbers: np.ndarray,
    access_bias: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Chunk ``index``'s people with their conditions and deaths: the cohort every
    care generator reads, its emergency admissions, and the risk truth."""
    rng = _rng(ctx.seed, index, "people")
    cohort = make_people(ctx.geography, first, numbers, ctx.start, rng, access_bias, ctx.years)
    cohort = health.assign_conditions(cohort, models.conditions, _rng(ctx.seed, index, "health"))
    emergencies, risk, death = hazard.simulate(
        cohort, models, ctx.start, ctx.years, _rng(ctx.seed, index, "hazard")
    )
    cohort["date_of_death"] = death
    return _no_onset_after_death(cohort), emergencies, risk


def _chunk(
    ctx, models, index: int, first: int, numbers, access_bias, dirt, costs
) -> dict[str, pd.DataFrame]:
    cohort, emergencies, risk = build_cohort(ctx, models, index, first, numbers, access_bias)
    opt_outs = _opt_outs(cohort, ctx, _rng(ctx.seed, index, "opt_out"))
    frames = {"truth/risk": risk, "extracts/opt_outs": opt_outs}
    for name, generate_care in _generators():
        frames.update(generate_care(ctx, cohort, emergencies, _rng(ctx.seed, index, name)))
    # The second format and the costing feeds come from the clean records.
    frames.update(omop.omop_tables(ctx, cohort, frames))
    frames.update(visit_costs(frames["omop/visit_occurrence"]))
    frames.update(costs.feeds(frames, _rng(ctx.seed, index, "costing")))
    frames = _dirty(frames, dirt, _rng(ctx.seed, index, "dirt"))
    frames["truth/people"] = _truth_people(cohort, opt_outs)
    return frames


def _opt_outs(cohort: pd.DataFrame, ctx: SynthContext, rng) -> pd.DataFrame:
    """National data opt-outs and type 1 (GP) opt-outs, as the lists arrive.

    Each is effective on a day drawn uniformly from ``OPT_OUT_YEARS_BEFORE`` years
    before the period to its last day, squeezed into the person's lifetime: never
    before birth, never after death.
    """
    n = len(cohort)
    first = np.datetime64((ctx.start - pd.Timedelta(days=OPT_OUT_YEARS_BEFORE * 365)).date())
    window = (ctx.end - ctx.start).days + OPT_OUT_YEARS_BEFORE * 365
    last = first + window - 1
    lo = np.maximum(cohort["date_of_birth"].to_numpy("datetime64[D]"), first)
    death = cohort["date_of_death"].to_numpy("datetime64[D]")
    hi = np.where(np.isnat(death), last, np.minimum(death, last))
    kinds = []
    for kind, rate in OPT_OUT_RATES.items():
        who = np.flatnonzero(rng.random(n) < rate)
        draw = rng.integers(0, window, size=len(who))
        span = (hi[who] - lo[who]).astype(np.int64) + 1  # the whole window for most people
        kinds.append(
            pd.DataFrame(
                {
                    "NHS_NUMBER": cohort["nhs_number"].to_numpy()[who],
                    "OPT_OUT_TYPE": kind,
                    "EFFECTIVE_DATE": (lo[who] + draw * span // window).astype("datetime64[ns]"),
                    PERSON: cohort["person_index"].to_numpy()[who],
                }
            )
        )
    return pd.concat(kinds, ignore_index=True).sort_values(
        [PERSON, "OPT_OUT_TYPE"], ignore_index=True
    )


def _dirty(frames: dict[str, pd.DataFrame], dirt: Dirt, rng) -> dict[str, pd.DataFrame]:
    logs = []
    for key, cols in DIRT_COLUMNS.items():
        if key in frames:
            frames[key], log = apply_dirt(key, frames[key], cols, dirt, rng)
            logs.extend(log)
    columns = ["file", "record_key", "column", "kind", "before", "after"]
    frames["truth/dirt"] = (
        pd.concat(logs, ignore_index=True)
        if logs
        else pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    )
    return frames


def _no_onset_after_death(cohort: pd.DataFrame) -> pd.DataFrame:
    death = cohort["date_of_death"]
    for col in [c for c in cohort.columns if c.startswith("onset_")]:
        cohort[col] = cohort[col].where(death.isna() | (cohort[col] <= death))
    return cohort


def _truth_people(cohort: pd.DataFrame, opt_outs: pd.DataFrame) -> pd.DataFrame:
    """Each person's real identity, demographics, condition onsets, death and opt-outs."""
    truth = cohort.copy()
    for kind in OPT_OUT_RATES:
        chosen = opt_outs.loc[opt_outs["OPT_OUT_TYPE"] == kind, PERSON]
        truth[f"opt_out_{kind}"] = truth["person_index"].isin(chosen)
    return truth


def _reference_tables(geo: Geography) -> dict[str, pd.DataFrame]:
    area = geo.lsoa[["lsoa_code", "place_code", "imd_decile"]]
    return {"reference/organisation": geo.organisations, "reference/lsoa": area}
