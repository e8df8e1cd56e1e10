"""The need stage gives identical rows on DuckDB and on local Spark.

A few hundred made-up people, built to reach the corners where engines could part:
ICD-10 codes from every shipped list in the spellings extracts use (dotted, lower case,
space-padded, ``X`` and ``-`` filler), GP SNOMED CT events (some padded, some in a code
system the lists do not hold), SNOMED CT diagnoses on A&E and community encounters,
records dated on, and a day either side of, the index date and the first days of the
12-month (maternity, emergency admissions) and 24-month (HFRS) lookbacks, ages either
side of HFRS's 75, people who died before or after the index date, LSOAs with and
without an IMD decile, and emergency admissions. The stage runs on both engines from
the same tables; ``person_need``, ``segment`` and ``need_summary`` must hold
the same rows, value for value; the counts and notes must agree.
"""

from __future__ import annotations

import datetime as dt
import random

import ibis
import pandas as pd
import pytest

from openphm import codelists, engine
from openphm.config import Config
from openphm.model import TABLES
from openphm.need import stage as need
from openphm.need.scores import window_start
from openphm.runner import StageInput
from tests.e2e.parity import sorted_rows

PEOPLE = 400
SEED = 20250331
INDEX = dt.date(2025, 3, 31)
CONFIG = Config.model_validate(
    {
        "name": "parity",
        "governance": {
            "controller": "ICB",
            "purpose": "planning",
            "lawful_basis_article6": "6(1)(e)",
            "lawful_basis_article9": "9(2)(h)",
        },
        "pseudonymisation": {"key_env": "K"},
        "stages": {"need": {"index_date": INDEX.isoformat()}},
    }
)
# Dates on the edges the stage decides on, and a day either side of each.
EDGES = [
    day + dt.timedelta(days=shift)
    for day in (INDEX, window_start(INDEX, 12), window_start(INDEX, 24))
    for shift in (-1, 0, 1)
]
SPELLINGS = (
    lambda c: c,
    lambda c: f"{c[:3]}.{c[3:]}" if len(c) > 3 else c,
    str.lower,
    lambda c: f" {c} ",
    lambda c: c + "X" if len(c) == 3 else c,
    lambda c: c + "-" if len(c) == 3 else c,
)


def _codes(system: str) -> list[str]:
    names = ("charlson", "elixhauser", "hfrs", "ltc", "maternity")
    listed = {r.code for n in names for r in codelists.load(n).codes if r.code_system == system}
    return sorted(listed)


def _day(rng: random.Random) -> dt.date:
    if rng.random() < 0.5:
        return rng.choice(EDGES)
    return INDEX - dt.timedelta(days=rng.randrange(-60, 4 * 365))


def population() -> dict[str, pd.DataFrame]:
    """The canonical tables the need stage reads, for PEOPLE people."""
    rng = random.Random(SEED)
    on_encounters = random.Random(SEED + 1)  # SNOMED CT on encounters: the rest as before
    icd10, snomed = _codes("icd10"), _codes("snomed")
    frailty = sorted({r.code for r in codelists.load("hfrs").codes})
    lsoas = [f"E0100000{i}" for i in range(8)]
    tables: dict[str, list[dict]] = {n: [] for n in ("person", "encounter", "diagnosis")}
    tables["gp_event"] = []
    tables["lsoa"] = [
        {"lsoa_code": code, "place_code": f"P{i % 3}", "imd_decile": i + 1}
        for i, code in enumerate(lsoas[:-1])  # the last LSOA has no row: decile unknown
    ]
    for p in range(PEOPLE):
        pid = f"p{p:03d}"
        # Half are 74 to 76 on the index date (HFRS counts from 75); a few born that month.
        age = rng.choice([74, 75, 76]) if p % 2 else rng.randrange(0, 100)
        died = rng.random() < 0.08
        tables["person"].append(
            {
                "person_id": pid,
                "year_of_birth": INDEX.year - age - rng.choice([0, 1]),
                "month_of_birth": rng.randrange(1, 13),
                "sex": rng.choice(["1", "2"]),
                "ethnic_category": rng.choice(["A", "B", "H", "M", "Z"]),
                "lsoa_code": rng.choice([*lsoas, None]),
                "date_of_death": INDEX + dt.timedelta(days=rng.choice([-30, 0, 1, 30]))
                if died
                else None,
            }
        )
        for e in range(rng.randrange(0, 10)):
            eid = f"{pid}e{e}"
            setting = rng.choice(["apc", "apc", "op", "ae", "community"])
            tables["encounter"].append(
                {
                    "encounter_id": eid,
                    "person_id": pid,
                    "setting": setting,
                    "provider_code": "RXX",
                    "start_date": _day(rng),
                    "is_emergency": setting == "apc" and rng.random() < 0.4,
                    "link_method": "deterministic",
                    "source": "apc",
                }
            )
            for position in range(1, rng.randrange(2, 6)):
                pool = rng.choices([icd10, frailty, ["Z000", "R69X"]], [0.5, 0.4, 0.1])[0]
                code = rng.choice(pool)
                code = code + rng.choice(["", "0", "9"]) if len(code) == 3 else code
                tables["diagnosis"].append(
                    {
                        "encounter_id": eid,
                        "person_id": pid,
                        "position": position,
                        "code_system": "icd10",
                        "code": rng.choice(SPELLINGS)(code),
                    }
                )
            if setting in ("ae", "community") and on_encounters.random() < 0.6:
                code = on_encounters.choice(snomed)
                tables["diagnosis"].append(
                    {
                        "encounter_id": eid,
                        "person_id": pid,
                        "position": position + 1,
                        "code_system": "snomed",
                        "code": on_encounters.choice([code, f" {code} "]),
                    }
                )
        for _ in range(rng.randrange(0, 5)):
            code = rng.choice(snomed)
            tables["gp_event"].append(
                {
                    "person_id": pid,
                    "event_date": _day(rng),
                    "code_system": rng.choice(["snomed", "snomed", "snomed", "ctv3"]),
                    "code": rng.choice([code, f" {code} "]),
                }
            )
    return {name: pd.DataFrame(rows) for name, rows in tables.items()}


def _loaded(con, frames: dict[str, pd.DataFrame]) -> dict:
    tables = {}
    for name, frame in frames.items():
        schema = ibis.schema({n: t.copy(nullable=True) for n, t in TABLES[name].schema().items()})
        blank = pd.Series([None] * len(frame), dtype=object)  # columns the need stage ignores
        frame = pd.DataFrame({n: frame.get(n, blank) for n in schema.names})
        ints = [n for n, t in schema.items() if t.is_integer()]
        frame = frame.astype({n: "Int64" for n in ints})
        memtable = ibis.memtable(frame, schema=schema)
        tables[name] = engine.scratch_table(con, f"parity_{name}", memtable)
    return tables


def _outputs(con, frames) -> dict:
    """Each output table's rows, and the counts and notes."""
    out = need.build(StageInput(_loaded(con, frames), CONFIG))
    try:
        rows = {name: sorted_rows(table) for name, table in out.tables.items()}
        return {**rows, "counts": out.counts["need"], "notes": out.notes}
    finally:
        for step in out.cleanup:
            step()


@pytest.fixture(scope="module")
def frames():
    return population()


@pytest.fixture(scope="module")
def on_duckdb(frames):
    con = engine.connect("duckdb://")
    try:
        yield _outputs(con, frames)
    finally:
        engine.close(con)


def test_the_population_reaches_the_corners(on_duckdb):
    # Not a parity check: it shows the data exercise what the parity test compares.
    people = on_duckdb["person_need"]
    assert len(people) > 350  # the dead before the index date are left out
    assert people.hfrs.isna().sum() > 50 and (people.hfrs.dropna() > 0).sum() > 50
    assert {"low", "intermediate", "high"} <= set(people.hfrs_band.dropna())
    pregnant = people.maternity_pregnancy.astype(bool)
    assert pregnant.sum() > 5 and (~pregnant).sum() > 5
    assert people.segment.nunique() >= 5
    assert people.imd_decile.isna().sum() > 10 and people.core20.sum() > 10
    assert (people.emergency_admissions_12m > 0).sum() > 20
    assert (people.charlson > 0).sum() > 100 and (people.elixhauser_vw < 0).sum() > 5
    assert on_duckdb["counts"]["people"] == len(people) and on_duckdb["notes"] == []


@pytest.mark.spark
def test_person_need_segment_and_need_summary_are_identical_on_duckdb_and_spark(
    frames, on_duckdb, spark_con
):
    on_spark = _outputs(spark_con, frames)
    tables = {"person_need", "segment", "need_summary"}
    assert set(on_spark) == set(on_duckdb) == tables | {"counts", "notes"}
    assert on_spark["counts"] == on_duckdb["counts"]
    assert on_spark["notes"] == on_duckdb["notes"]
    for name in sorted(tables):
        expected, got = on_duckdb[name], on_spark[name]
        assert list(got.columns) == list(expected.columns), name
        assert len(got) == len(expected), name
        assert got.values.tolist() == expected.values.tolist(), name
