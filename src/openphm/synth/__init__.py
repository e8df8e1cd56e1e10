"""``openphm synth``: a whole synthetic integrated care system, chunk by chunk.

The same seed gives byte-identical files. People are generated in chunks of
``CHUNK_PEOPLE``, each with its own random stream derived from (seed, chunk), so
memory stays flat however large the population and the output never depends on
anything but the seed and the size. Layout of the output folder::

    extracts/   the files an ICS receives (HES-like APC/OP, ECDS, GP, community,
                mental health, ambulance, social care) as CSV
    omop/       the same care as OMOP CDM v5.4 tables
    costing/    provider ledgers and activity feeds
    reference/  organisations and LSOAs (the canonical organisation and area tables)
    truth/      what the generator knows and the pipeline must find (Parquet)
    manifest.json  rows and SHA-256 of every file
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from openphm.synth import health, hazard
from openphm.synth.geography import Geography, build_geography
from openphm.synth.identifiers import nhs_number_pool
from openphm.synth.output import SynthContext, Writer
from openphm.synth.people import make_people

CHUNK_PEOPLE = 50_000
CALIBRATION_PEOPLE = 50_000
DEFAULT_START = date(2023, 4, 1)
DEFAULT_YEARS = 3

# Components draw from separate streams so adding one never shifts another.
_STREAM = {"people": 1, "health": 2, "hazard": 3, "hospital": 4, "community": 5, "dirt": 6}
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
    progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Generate the ICS into ``out`` (created; existing files are replaced)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    period_start = pd.Timestamp(start)
    ctx = SynthContext(
        period_start, period_start + pd.DateOffset(years=years), build_geography(people, seed), seed
    )
    pool = nhs_number_pool(people, np.random.default_rng([seed, 0x999]))
    models = _calibrate(ctx, min(people, CALIBRATION_PEOPLE), access_bias)
    writer = Writer(out)
    writer.write(_reference_tables(ctx.geography))
    chunks = range(0, people, CHUNK_PEOPLE)
    for i, first in enumerate(chunks):
        numbers = pool[first : first + CHUNK_PEOPLE]
        writer.write(_chunk(ctx, models, i, first, numbers, access_bias))
        if progress:
            progress(i + 1, len(chunks))
    manifest = writer.close()
    rows = {name: spec["rows"] for name, spec in manifest["files"].items()}
    return SynthResult(out, people, seed, rows)


def _calibrate(ctx: SynthContext, n: int, access_bias: bool) -> hazard.HazardModel:
    """Condition lifetime risks and hazard normalisers from a calibration sample."""
    rng = _rng(ctx.seed, _CALIBRATION_CHUNK, "people")
    numbers = np.zeros(n, dtype="U10")
    sample = make_people(ctx.geography, 0, numbers, ctx.start, rng, access_bias, ctx.years)
    conditions = health.calibrate(sample, ctx.end - pd.Timedelta(days=1))
    sample = health.assign_conditions(sample, conditions, _rng(ctx.seed, _CALIBRATION_CHUNK, "health"))
    hazard_rng = _rng(ctx.seed, _CALIBRATION_CHUNK, "hazard")
    return hazard.calibrate(sample, conditions, ctx.start, ctx.years, hazard_rng)


def _chunk(ctx, models, index: int, first: int, numbers, access_bias) -> dict[str, pd.DataFrame]:
    rng = _rng(ctx.seed, index, "people")
    cohort = make_people(ctx.geography, first, numbers, ctx.start, rng, access_bias, ctx.years)
    cohort = health.assign_conditions(cohort, models.conditions, _rng(ctx.seed, index, "health"))
    emergencies, risk, death = hazard.simulate(
        cohort, models, ctx.start, ctx.years, _rng(ctx.seed, index, "hazard")
    )
    cohort["date_of_death"] = death
    cohort = _no_onset_after_death(cohort)
    frames = {"truth/people": _truth_people(cohort), "truth/risk": risk}
    for name, generate_care in _generators():
        frames.update(generate_care(ctx, cohort, emergencies, _rng(ctx.seed, index, name)))
    return frames


def _no_onset_after_death(cohort: pd.DataFrame) -> pd.DataFrame:
    death = cohort["date_of_death"]
    for col in [c for c in cohort.columns if c.startswith("onset_")]:
        cohort[col] = cohort[col].where(death.isna() | (cohort[col] <= death))
    return cohort


def _truth_people(cohort: pd.DataFrame) -> pd.DataFrame:
    """Each person's real identity, demographics, condition onsets and death."""
    return cohort.copy()


def _reference_tables(geo: Geography) -> dict[str, pd.DataFrame]:
    area = geo.lsoa[["lsoa_code", "place_code", "imd_decile"]]
    return {"reference/organisation": geo.organisations, "reference/lsoa": area}
