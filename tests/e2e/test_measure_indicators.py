"""The indicators on a synthetic ICS, measured against the truth it was generated from.

One 20,000-person ICS through ingest, link, measure and publish on DuckDB, with the
sources the indicators read. The generator knows each person's emergency admission
rate in each financial year (truth/risk) and who died when (truth/people), so it knows
the rate each place should show: these tests hold the measured rates to it. Its places
differ by deprivation (place 1 most deprived, place 4 least; places 1 and 2 merge on
1 April 2024), which the funnel plot should find.
"""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from openphm import stats
from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.measure import INDICATOR_SOURCES
from openphm.measure import stage as measure
from openphm.publish import stage as publish
from openphm.runner import run_stage
from openphm.synth import generate
from openphm.synth.hazard import DIED_IN_HOSPITAL
from tests.e2e.workspaces import configure_sources

PEOPLE = 20_000
SEED = 5  # a world whose places differ enough to tell apart at this size (asserted)
MERGED = {"X1A": "X12A", "X2A": "X12A"}  # the generator's merger of places 1 and 2
COVERAGE = 0.95
DETECTABLE = 1.96 + 2.33  # z beyond the 95% limit by 2.33 SE: flagged with 99% power


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, people=PEOPLE, seed=SEED)
    ws = configure_sources(tmp_path_factory.mktemp("ws"), out)
    config = ws.root / "openphm.toml"
    blocks = re.split(r"\n(?=\[sources\.)", config.read_text())
    kept = [b for b in blocks if not b.startswith("[sources.") or _source(b) in INDICATOR_SOURCES]
    config.write_text("\n".join(kept))
    ws.close()
    ws = type(ws)(ws.root)
    for stage in (ingest.STAGE, link.STAGE, measure.STAGE, publish.STAGE):
        run_stage(ws, stage)
    yield out, ws
    ws.close()


def _source(block: str) -> str:
    return block.split("]", 1)[0].removeprefix("[sources.")


def _truth(out) -> pd.DataFrame:
    """Expected emergency admissions and person-years by year, place, age band and sex.

    Expected admissions are the generator's rate times the time each person was alive in
    the year, plus the admissions it adds at the end of life (``DIED_IN_HOSPITAL`` of
    deaths). People with an opt-out are left out: the national opt-out removes them
    from every table, and the type 1 opt-out removes their registration, so their
    admissions belong to no place.
    """
    people = pd.read_parquet(
        out / "truth/people.parquet",
        columns=[
            "person_index",
            "sex",
            "date_of_birth",
            "place_code",
            "date_of_death",
            "opt_out_national",
            "opt_out_type_1",
        ],
    )
    people = people[~people.opt_out_national & ~people.opt_out_type_1]
    risk = pd.read_parquet(out / "truth/risk.parquet").merge(people, on="person_index")
    start = pd.to_datetime(risk.window_start)
    end = start + pd.DateOffset(years=1)
    death = risk.date_of_death
    enter = np.maximum(start, risk.date_of_birth)
    leave = death.where(death.notna() & (death < end), end)
    years = (leave - enter).dt.days.clip(lower=0) / 365.25
    died = death.notna() & (death >= start) & (death < end)
    census = start + pd.DateOffset(months=6)  # 1 October, as the denominators
    age = (
        census.dt.year
        - risk.date_of_birth.dt.year
        - (census.dt.month < risk.date_of_birth.dt.month)
    )
    band = np.minimum(age.clip(lower=0) // 5, len(stats.ESP2013_AGE_BANDS) - 1)
    return pd.DataFrame(
        {
            "period": [f"{y}/{(y + 1) % 100:02d}" for y in start.dt.year],
            "place_code": risk.place_code,
            "age_band": np.asarray(stats.ESP2013_AGE_BANDS)[band],
            "sex": risk.sex,
            "expected": risk.emergency_rate * years + DIED_IN_HOSPITAL * died,
            "years": years,
        }
    )


def _places(truth: pd.DataFrame, basis: str) -> pd.DataFrame:
    """The truth by each place as the indicators report it on one basis."""
    merged = truth.place_code.replace(MERGED)
    if basis == "current":
        place = merged
    else:  # the merged place exists from 2024/25
        place = truth.place_code.where(truth.period == "2023/24", merged)
    return truth.assign(group_code=place, org_basis=basis)


def _truth_rates(out) -> pd.DataFrame:
    """Each place-year's truth-implied DSR (per 1,000) and indirectly standardised ratio."""
    truth = _truth(out)
    weights = {
        (b, s): w / 2
        for b, w in zip(stats.ESP2013_AGE_BANDS, stats.ESP2013, strict=True)
        for s in ("1", "2")
    }
    frames = []
    for basis in ("current", "at_time"):
        t = _places(truth, basis)
        keys = ["period", "org_basis", "group_code"]
        cells = t.groupby([*keys, "age_band", "sex"])[["expected", "years"]].sum().reset_index()
        cells = cells[cells.years > 0]
        cells["w"] = [weights[k] for k in zip(cells.age_band, cells.sex, strict=True)]
        cells["rate"] = cells.expected / cells.years
        ics = cells.groupby(["period", "age_band", "sex"])[["expected", "years"]].transform("sum")
        cells["at_ics_rates"] = cells.years * ics.expected / ics.years
        cells["weighted"] = cells.w * cells.rate
        by = cells.groupby(keys)
        rates = pd.DataFrame(
            {
                "truth_dsr": by.weighted.sum() / by.w.sum() * 1000,
                "truth_ratio": by.expected.sum() / by.at_ics_rates.sum(),
            }
        )
        frames.append(rates.reset_index())
    return pd.concat(frames, ignore_index=True)


def _emergency(ws, table: str) -> pd.DataFrame:
    t = ws.table(table).execute()
    return t[(t.indicator == "emergency_admissions") & (t.breakdown == "place")]


def test_standardised_emergency_admission_rates_by_place_recover_the_truth(world):
    """Each place-year's DSR has the truth-implied rate inside its 95% interval, as
    often as a 95% interval should: at least 95% of them, or, with few place-years,
    no fewer than chance allows (the 1st percentile of the binomial)."""
    out, ws = world
    dsr = _emergency(ws, "indicator_dsr").merge(
        _truth_rates(out), on=["period", "org_basis", "group_code"]
    )
    assert len(dsr) >= 15  # 3 years, 3 or 4 places, 2 bases
    inside = (dsr.truth_dsr >= dsr.lower95_0cl) & (dsr.truth_dsr <= dsr.upper95_0cl)
    allowed_misses = binom.ppf(0.01, len(dsr), 1 - COVERAGE)
    misses = int((~inside).sum())
    print(f"DSR by place: truth inside the 95% interval in {inside.sum()} of {len(dsr)}")
    assert inside.mean() >= COVERAGE or misses <= max(allowed_misses, 1), dsr.to_string()
    # And not by luck of wide intervals: the estimates sit close to the truth.
    assert (dsr.value / dsr.truth_dsr - 1).abs().median() < 0.05


def test_the_funnel_flags_the_places_the_generator_made_different(world):
    """A place-year the generator made different, so far from the ICS that a 95% funnel
    should flag it at least 99 times in 100 (its truth-implied ratio more than
    ``DETECTABLE`` standard errors from 1 on the log scale), is flagged, on its side;
    and no place is flagged at 99.8% on the side opposite its truth."""
    out, ws = world
    funnel = _emergency(ws, "indicator_funnel").merge(
        _truth_rates(out), on=["period", "org_basis", "group_code"]
    )
    assert len(funnel) >= 15
    z = np.log(funnel.truth_ratio) * np.sqrt(funnel.expected)
    high, low = z > DETECTABLE, z < -DETECTABLE
    print(
        f"funnel by place: {int((high | low).sum())} place-years made different, "
        f"{int((funnel.flag95_0 != 0).sum())} flagged at 95% of {len(funnel)}"
    )
    assert (high | low).sum() >= 3, "this world's places should differ"
    assert (funnel.flag95_0[high] == 1).all(), funnel[high].to_string()
    assert (funnel.flag95_0[low] == -1).all(), funnel[low].to_string()
    assert (funnel.truth_ratio[funnel.flag99_8 == 1] > 1).all()
    assert (funnel.truth_ratio[funnel.flag99_8 == -1] < 1).all()


def test_every_published_indicator_file_passes_the_disclosure_rules(world):
    _, ws = world
    files = sorted(ws.published_dir.glob("indicator_*.csv"))
    assert len(files) >= 15  # 11 indicators, 4 statistics files, the definitions
    checked = 0
    for path in files:
        sidecar = json.loads(path.with_suffix(".disclosure.json").read_text())
        assert sidecar["disclosure"]["enabled"], path.name
        counts = {k.rsplit("_", 1)[0] for k in sidecar["disclosure"]["suppressed"]}
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                for column in counts:
                    value = row[column]
                    if value in ("", "*"):
                        continue
                    n = int(value)
                    assert n == 0 or (n > 7 and n % 5 == 0), (path.name, column, value)
                    checked += 1
    assert checked > 10_000


def test_statistics_are_never_shown_beside_a_withheld_count(world):
    _, ws = world
    with (ws.published_dir / "indicator_intervals.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        if row["numerator"] in ("", "*") or row["denominator"] in ("", "*"):
            assert row["value"] == "" and row["lower95_0cl"] == "", row
    shown = [r for r in rows if r["value"]]
    assert len(shown) > 100
