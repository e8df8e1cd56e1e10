"""The measure stage's indicator tables are the same on DuckDB and on local Spark.

A few hundred linked people over three financial years (2023/24 to 2025/26), built
here as canonical tables so every rule the indicators apply is exercised: emergency and
elective spells, transfers chained into one continuous inpatient spell, readmissions
0, 29 and 30 days after discharge, obstetric, cancer and chemotherapy spells, chronic
ACSC codes (J20 with and without a secondary J41-J44/J47), pneumonia with and without
sickle-cell disease (D57), zero length of stay stays, deaths in hospital, A&E
attendances, outpatient appointments attended, missed and of unknown outcome, and a
practice merged into its successor (and two places merged) in the middle of the period.

``indicators.compute`` runs on both engines over the same tables; every row of
indicator_values, indicator_dsr, indicator_funnel and indicator_spc must match, text
and integers exactly and floats to 1e-9 relative.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest

from openphm import engine
from openphm.measure import indicators
from openphm.measure.aggregate import KEYS
from openphm.model import TABLES

INDEX_DATE = date(2026, 3, 31)
FIRST_DAY = date(2023, 1, 1)  # a little before the first year measured: readmissions span it
DAYS = (INDEX_DATE - FIRST_DAY).days
PEOPLE = 400
SEED = 11
RELATIVE = 1e-9
COMPARED = (indicators.VALUES, indicators.DSR, indicators.FUNNEL, indicators.SPC)

ORGANISATION = [
    # code, kind, parent, valid_from, valid_to, successor
    ("ICB", "icb", None, "2019-04-01", None, None),
    ("P1", "sub_icb", "ICB", "2019-04-01", "2024-03-31", "P12"),
    ("P2", "sub_icb", "ICB", "2019-04-01", "2024-03-31", "P12"),
    ("P12", "sub_icb", "ICB", "2024-04-01", None, None),
    ("P3", "sub_icb", "ICB", "2019-04-01", None, None),
    ("N1", "pcn", "P1", "2019-04-01", "2024-03-31", None),
    ("N1", "pcn", "P12", "2024-04-01", None, None),
    ("N2", "pcn", "P2", "2019-04-01", "2024-03-31", None),
    ("N2", "pcn", "P12", "2024-04-01", None, None),
    ("N3", "pcn", "P3", "2019-04-01", None, None),
    ("N4", "pcn", "P3", "2019-04-01", None, None),
    ("A1", "practice", "N1", "2019-04-01", None, None),
    ("A2", "practice", "N1", "2019-04-01", "2024-09-30", "A1"),  # merged into A1
    ("B1", "practice", "N2", "2019-04-01", None, None),
    ("C1", "practice", "N3", "2019-04-01", None, None),
    ("C2", "practice", "N3", "2019-04-01", None, None),
    ("D1", "practice", "N4", "2019-04-01", None, None),
    ("R1", "provider", "ICB", "2019-04-01", None, None),
    ("R2", "provider", "ICB", "2019-04-01", "2024-12-31", "R1"),
    ("R3", "provider", None, "2019-04-01", None, None),
]
PRACTICES = ("A1", "A2", "B1", "C1", "C2", "D1")
PROVIDERS = ("R1", "R2", "R3")
LSOAS = {"L1": ("P1", 1), "L2": ("P2", 4), "L3": ("P3", 7), "L4": ("P3", 10)}
ETHNIC = ("A", "B", "D", "H", "M", "R", "Z", "99")

# Primary diagnosis, secondary diagnoses: every ACSC rule and exclusion has its case.
DIAGNOSES = (
    ("J20", ("J44",)),  # acute bronchitis with COPD: chronic ACSC
    ("J20", ()),  # without: not an ACSC
    ("J181", ()),  # pneumonia: vaccine-preventable
    ("J181", ("D570",)),  # with sickle-cell disease: not
    ("I20", ()),
    ("E119", ()),
    ("J45", ()),
    ("I50", ("I10",)),
    ("L03", ()),
    ("N390", ()),
    ("R074", ()),
    ("S720", ()),
    ("O800", ()),  # obstetric: excluded from readmissions
    ("C189", ()),  # cancer: excluded
    ("Z511", ()),  # chemotherapy: excluded
)
EMERGENCY_METHODS = ("21", "21", "21", "22", "23", "28", "2D")
ELECTIVE_METHODS = ("11", "12", "13")


def _linked(people: int, seed: int) -> dict[str, pd.DataFrame]:
    """Canonical tables of a small ICS, as ingest and link would commit them."""
    rng = np.random.default_rng(seed)
    person, registration = [], []
    for i in range(people):
        pid = f"p{i:04d}"
        yob = int(rng.integers(1925, 2024))
        died = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 700)))
        person.append(
            {
                "person_id": pid,
                "year_of_birth": yob,
                "month_of_birth": int(rng.integers(1, 13)),
                "sex": str(rng.choice(["1", "2", "2", "1", "9"], p=[0.45, 0.45, 0, 0, 0.1])),
                "ethnic_category": str(rng.choice(ETHNIC)),
                "lsoa_code": None if i % 37 == 0 else str(rng.choice(list(LSOAS))),
                "date_of_death": died if i % 23 == 0 else None,
            }
        )
        if i % 29 == 0:
            continue  # never registered: their activity is Unknown
        practice = str(rng.choice(PRACTICES))
        start = date(2005, 1, 1) + timedelta(days=int(rng.integers(0, 7000)))
        if i % 11 == 0:  # moved practice in the middle of the period
            moved = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 500)))
            registration.append((pid, practice, start, moved - timedelta(days=1)))
            registration.append((pid, str(rng.choice(PRACTICES)), moved, None))
        else:
            registration.append((pid, practice, start, None))
    encounter, diagnosis, episode, procedure = [], [], [], []

    def spell(pid, n, day, los, method, provider, cip=None, destination="19", code=None):
        eid = f"apc:{pid}:{n}"
        end = None if los is None else day + timedelta(days=los)
        encounter.append(
            {
                "encounter_id": eid,
                "person_id": pid,
                "setting": "apc",
                "provider_code": provider,
                "start_date": day,
                "end_date": end,
                "admission_method": method,
                "is_emergency": method.startswith("2"),
                "discharge_destination": destination,
                "cip_spell_id": cip or eid,
            }
        )
        primary, secondary = code or DIAGNOSES[int(rng.integers(len(DIAGNOSES)))]
        episodes = 2 if rng.random() < 0.2 else 1
        for e in range(episodes):
            specialty = "501" if primary.startswith("O") else str(rng.choice(["300", "100"]))
            episode.append((f"{eid}:e{e}", eid, pid, e + 1, day, end, specialty))
        # The first episode's primary diagnosis counts; a later episode's is another code.
        diagnosis.append((eid, pid, 1, primary, f"{eid}:e0"))
        for k, extra in enumerate(secondary, start=2):
            diagnosis.append((eid, pid, k, extra, f"{eid}:e0"))
        if episodes == 2:
            diagnosis.append((eid, pid, 1, "R69", f"{eid}:e1"))
        if rng.random() < 0.1:
            procedure.append((eid, pid, 1, str(rng.choice(["X352", "X723", "K401", "W371"]))))
        return eid, end

    for i in range(people):
        pid = f"p{i:04d}"
        n = 0
        for _ in range(int(rng.poisson(1.6))):
            day = FIRST_DAY + timedelta(days=int(rng.integers(0, DAYS)))
            los = int(rng.choice([0, 0, 1, 2, 3, 5, 9]))
            emergency = rng.random() < 0.7
            methods = EMERGENCY_METHODS if emergency else ELECTIVE_METHODS
            method = "31" if rng.random() < 0.04 else str(rng.choice(methods))
            provider = str(rng.choice(PROVIDERS))
            open_spell = rng.random() < 0.01
            eid, end = spell(pid, n, day, None if open_spell else los, method, provider)
            n += 1
            if end is None:
                continue
            if rng.random() < 0.08:  # transferred to another provider the same day
                other = PROVIDERS[(PROVIDERS.index(provider) + 1) % len(PROVIDERS)]
                _, end = spell(pid, n, end, int(rng.integers(0, 6)), "2B", other, cip=eid)
                n += 1
            if rng.random() < 0.25:  # back as an emergency 0, 29 or 30 days later
                gap = int(rng.choice([0, 1, 14, 29, 30, 45]))
                back = end + timedelta(days=gap)
                if back < INDEX_DATE:
                    dies = "79" if rng.random() < 0.1 else "19"
                    spell(pid, n, back, int(rng.integers(0, 4)), "21", provider, destination=dies)
                    n += 1
        for k in range(int(rng.poisson(2.0))):
            day = FIRST_DAY + timedelta(days=int(rng.integers(0, DAYS)))
            encounter.append(
                {
                    "encounter_id": f"ae:{pid}:{k}",
                    "person_id": pid,
                    "setting": "ae",
                    "provider_code": str(rng.choice(PROVIDERS)),
                    "start_date": day,
                    "end_date": day,
                    "is_emergency": True,
                }
            )
        for k in range(int(rng.poisson(2.5))):
            day = FIRST_DAY + timedelta(days=int(rng.integers(0, DAYS)))
            attended = rng.choice([True, True, True, False, None])
            encounter.append(
                {
                    "encounter_id": f"op:{pid}:{k}",
                    "person_id": pid,
                    "setting": "op",
                    "provider_code": str(rng.choice(PROVIDERS)),
                    "start_date": day,
                    "end_date": day,
                    "is_emergency": False,
                    "attended": None if attended is None else bool(attended),
                }
            )
    return {
        "person": pd.DataFrame(person),
        "registration": pd.DataFrame(
            registration, columns=["person_id", "practice_code", "start_date", "end_date"]
        ),
        "encounter": pd.DataFrame(encounter).assign(link_method="nhs_number", source="test"),
        "diagnosis": pd.DataFrame(
            diagnosis, columns=["encounter_id", "person_id", "position", "code", "episode_id"]
        ).assign(code_system="icd10"),
        "episode": pd.DataFrame(
            episode,
            columns=[
                "episode_id",
                "encounter_id",
                "person_id",
                "episode_order",
                "start_date",
                "end_date",
                "main_specialty",
            ],
        ),
        "procedure": pd.DataFrame(
            procedure, columns=["encounter_id", "person_id", "position", "code"]
        ).assign(code_system="opcs4"),
        "organisation": pd.DataFrame(
            [
                {
                    "code": c,
                    "kind": k,
                    "name": c,
                    "parent_code": p,
                    "valid_from": date.fromisoformat(f),
                    "valid_to": date.fromisoformat(t) if t else None,
                    "successor_code": s,
                }
                for c, k, p, f, t, s in ORGANISATION
            ]
        ),
        "lsoa": pd.DataFrame(
            [
                {"lsoa_code": code, "place_code": place, "imd_decile": decile}
                for code, (place, decile) in LSOAS.items()
            ]
        ),
    }


def _load(con, name: str, frame: pd.DataFrame):
    """A canonical table in the engine (a scratch table: a cached view on Spark)."""
    schema = ibis.schema({n: t.copy(nullable=True) for n, t in TABLES[name].schema().items()})
    frame = frame.reindex(columns=list(schema.names))
    for column, dtype in schema.items():
        if dtype.is_integer():
            frame[column] = frame[column].astype("Int64")
        elif dtype.is_boolean():
            frame[column] = frame[column].astype("boolean")
        else:  # text and dates: None for a missing value, never NaN
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return engine.scratch_table(con, f"parity_{name}", ibis.memtable(frame, schema=schema))


def _compute(con, linked: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    tables = {name: _load(con, name, frame) for name, frame in linked.items()}
    try:
        return indicators.compute(tables, INDEX_DATE, con)
    finally:
        for name in reversed(list(tables)):
            engine.drop_scratch(con, f"parity_{name}")


@pytest.fixture(scope="module")
def linked():
    return _linked(PEOPLE, SEED)


@pytest.fixture(scope="module")
def on_duckdb(linked):
    con = engine.connect("duckdb://")
    try:
        yield _compute(con, linked)
    finally:
        engine.close(con)


@pytest.fixture(scope="module")
def on_spark(linked, spark_con):
    return _compute(spark_con, linked)


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(KEYS), kind="stable").reset_index(drop=True)


def _mismatches(name: str, a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Cells that differ (text and integers exactly, floats to ``RELATIVE``)."""
    problems = []
    for column in a.columns:
        for i, (x, y) in enumerate(zip(a[column], b[column], strict=True)):
            missing = (
                x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)),
                y is None or y is pd.NA or (isinstance(y, float) and math.isnan(y)),
            )
            if all(missing):
                continue
            if any(missing):
                same = False
            elif isinstance(x, float) or isinstance(y, float):
                same = math.isclose(float(x), float(y), rel_tol=RELATIVE, abs_tol=1e-12)
            else:
                same = x == y
            if not same:
                key = "/".join(str(a.at[i, k]) for k in KEYS)
                problems.append(f"{name}.{column} at {key}: duckdb {x!r}, spark {y!r}")
    return problems


def test_the_inputs_hold_every_case_the_indicators_distinguish(linked):
    enc = linked["encounter"]
    apc = enc[enc.setting == "apc"]
    assert (apc.cip_spell_id != apc.encounter_id).sum() >= 5  # transfers chained
    assert set(apc.admission_method) >= {"21", "2B", "31", "11"}
    assert (apc.end_date == apc.start_date).sum() >= 20  # zero length of stay
    assert (apc.discharge_destination == "79").any()
    assert enc[enc.setting == "op"].attended.isna().any()
    codes = set(linked["diagnosis"].code)
    assert {"J20", "J44", "J181", "D570", "O800", "C189", "Z511"} <= codes


@pytest.mark.spark
@pytest.mark.parametrize("name", COMPARED)
def test_duckdb_and_spark_give_the_same_indicator_rows(on_duckdb, on_spark, name):
    a, b = _rows(on_duckdb[name]), _rows(on_spark[name])
    assert len(a) > 0, f"{name} is empty: the comparison would prove nothing"
    assert list(a.columns) == list(b.columns)
    assert a[list(KEYS)].equals(b[list(KEYS)]), f"{name}: the engines give different rows"
    problems = _mismatches(name, a, b)
    assert not problems, f"{len(problems)} cells differ, first: " + "; ".join(problems[:5])


def test_the_indicators_cover_what_the_parity_test_compares(on_duckdb):
    values = on_duckdb[indicators.VALUES]
    year = values[(values.period_type == "year") & (values.breakdown == "ics")]
    counted = year.groupby("indicator").numerator.sum()
    for ind in (
        "emergency_admissions",
        "emergency_readmissions_30d",
        "acsc_chronic",
        "acsc_vaccine_preventable",
        "emergency_admissions_zero_los",
        "ae_conversion",
        "outpatient_dna",
    ):
        assert counted.get(ind, 0) > 0, ind
    practices = values[(values.breakdown == "practice") & (values.org_basis == "current")]
    assert "A2" not in set(practices.group_code)  # merged into A1: recast onto today's
    at_time = values[(values.breakdown == "practice") & (values.org_basis == "at_time")]
    assert "A2" in set(at_time.group_code)
    assert len(on_duckdb[indicators.FUNNEL]) > 0 and len(on_duckdb[indicators.SPC]) > 0
    dsr = on_duckdb[indicators.DSR]
    isr = dsr[dsr.indicator == "emergency_readmissions_30d"]
    assert set(isr.method) <= {"indirect, byar", "indirect, exact"} and len(isr) > 0
    assert "provider" in set(isr.breakdown)  # readmissions are standardised in discharges
