"""One chunk, built as the generator builds it, for the care generators' tests."""

import numpy as np
import pandas as pd

from openphm import synth
from openphm.synth import community, hospital
from openphm.synth.geography import build_geography
from openphm.synth.identifiers import nhs_number_pool
from openphm.synth.output import SynthContext

START = pd.Timestamp("2023-04-01")
YEARS = 3


def context(people: int, seed: int) -> SynthContext:
    """Sized for ten times the people, so each place has several practices to move between."""
    geography = build_geography(10 * people, seed)
    return SynthContext(START, START + pd.DateOffset(years=YEARS), geography, seed)


def cohort_world(people: int, seed: int, ctx: SynthContext | None = None, chunk: int = 0):
    """(ctx, cohort, emergencies) for chunk ``chunk`` of ``people`` people."""
    ctx = ctx or context(people, seed)
    models = synth.calibrate_models(ctx, min(people, synth.CALIBRATION_PEOPLE))
    numbers = nhs_number_pool((chunk + 1) * people, np.random.default_rng([seed, 0x999]))
    first = chunk * people
    cohort, emergencies, _ = synth.build_cohort(ctx, models, chunk, first, numbers[first:])
    return ctx, cohort, emergencies


def clean_frames(ctx: SynthContext, cohort, emergencies, seed: int) -> dict[str, pd.DataFrame]:
    """The hospital and community frames of a chunk, before any dirt."""
    frames = hospital.generate(ctx, cohort, emergencies, np.random.default_rng([seed, 5]))
    frames |= community.generate(ctx, cohort, emergencies, np.random.default_rng([seed, 6]))
    return frames
