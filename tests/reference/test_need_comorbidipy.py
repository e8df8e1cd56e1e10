"""openphm.need against comorbidipy 0.8.0, run side by side on the same synthetic diagnoses.

comorbidipy (github.com/vvcb/comorbidipy, MIT) is the Python implementation analysts
use. Version 0.8.0 needs Python 3.13 (on 3.11 pip silently installs 0.5.0, a different
API), so it runs in a virtualenv of its own, outside the project's, built once per
machine with pinned packages in ``~/.cache/openphm/`` (``OPENPHM_COMORBIDIPY_VENV``
moves it; ``OPENPHM_PYTHON313`` names the interpreter). Without a Python 3.13 the
module is skipped; a failed install fails it.

Person by person the scores agree, except where comorbidipy departs from the
publications. Each departure is tested as exactly what it is:

1. Quan 2011 (Am J Epidemiol 173:676) weighs AIDS/HIV 4; comorbidipy 2. Its
   score is ours less 2 for each person with AIDS/HIV, and equal for everyone else.
2. Charlson and Elixhauser do not clean codes: a lower-case or space-padded code, or a
   dotted one whose list entry has 4 characters (``E13.4``, ``' I12.0'``), is silently
   missed.
   Quan 2005 lists codes, not spellings; given codes cleaned first, the two agree.
3. HFRS counts each distinct code, not each category (Gilbert 2018 awards a
   category's points once): ``F001`` and ``F009`` score 14.2 there and 7.1 here. Its
   score is ours plus the points of every extra code within a category.
4. ``score="elixhauser"`` with the default weighting raises a bare ``KeyError``.
5. HFRS sums points as floats in whatever order polars' group-by gives, so a score of
   exactly 5 (Gilbert 2018: intermediate, "5 to 15") now and then comes out
   4.999999999999999 and is banded low: (2.4 + 2.3) + 0.3 < 5. openphm sums tenths
   as whole numbers. (Found running this module: not in the issue's list.)

(``disability()``, which keeps only the last matching group, is not compared: openphm
ships no learning-disability list.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from bench.comorbidipy_sidecar import (
    COMORBIDIPY_VERSION,
    INSTALL_TIMEOUT_S,
    SIDECAR_PINS,
    _has_comorbidipy,
    _python313,
)

from openphm import codelists, engine
from openphm.codes import normalise_icd10, synthetic_nhs_numbers
from openphm.need import conditions, resolve, scores, window_start

INDEX = dt.date(2024, 3, 31)
QUAN_2011_AIDS, COMORBIDIPY_AIDS = 4, 2
BAND_BOUNDS = (5.0, 15.0)  # Gilbert 2018: low under 5, intermediate 5 to 15, high over 15

# Runs inside the sidecar: each job scores one Parquet file and writes a CSV (or the error).
DRIVER = """
import json, sys
import polars as pl
import comorbidipy
from comorbidipy import comorbidity, hfrs
assert comorbidipy.__version__ == sys.argv[2], comorbidipy.__version__
for job in json.load(open(sys.argv[1])):
    df = pl.read_parquet(job["input"])
    try:
        if job["score"] == "hfrs":
            out = hfrs(df)
        else:
            extra = {"weighting": job["weighting"]} if job.get("weighting") else {}
            out = comorbidity(df, score=job["score"], **extra)
        out.write_csv(job["output"])
    except Exception as exc:
        with open(job["output"] + ".error", "w") as f:
            json.dump({"error": type(exc).__name__, "message": str(exc)}, f)
"""


# --- the sidecar -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def comorbidipy_python() -> Path:
    default = Path.home() / ".cache" / "openphm" / f"comorbidipy-{COMORBIDIPY_VERSION}"
    venv = Path(os.environ.get("OPENPHM_COMORBIDIPY_VENV", default))
    python = venv / "bin" / "python"
    if _has_comorbidipy(python):
        return python
    base = _python313()
    if base is None:
        pytest.skip(f"comorbidipy {COMORBIDIPY_VERSION} needs Python 3.13, and none was found")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + list(SIDECAR_PINS),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    if install.returncode != 0 or not _has_comorbidipy(python):
        shutil.rmtree(venv, ignore_errors=True)
        pytest.fail(f"could not install comorbidipy into {venv}:\n{install.stderr[-2000:]}")
    return python


def run_comorbidipy(python: Path, folder: Path, jobs: dict[str, tuple]) -> dict[str, object]:
    """Run named jobs ``(frame, score, weighting)`` in one sidecar process.

    Returns each job's output as a DataFrame indexed by id, or its error as a dict.
    """
    specs = []
    for name, (frame, score, weighting) in jobs.items():
        frame[["id", "code"]].to_parquet(folder / f"{name}.parquet", index=False)
        specs.append(
            {
                "input": str(folder / f"{name}.parquet"),
                "output": str(folder / f"{name}.csv"),
                "score": score,
                "weighting": weighting,
            }
        )
    (folder / "jobs.json").write_text(json.dumps(specs))
    subprocess.run(
        [str(python), "-c", DRIVER, str(folder / "jobs.json"), COMORBIDIPY_VERSION], check=True
    )
    results: dict[str, object] = {}
    for name in jobs:
        error = folder / f"{name}.csv.error"
        if error.exists():
            results[name] = json.loads(error.read_text())
        else:
            results[name] = pd.read_csv(folder / f"{name}.csv", dtype={"id": str}).set_index("id")
    return results


# --- the same synthetic diagnoses for both ----------------------------------------------


def synthetic_diagnoses(seed: int = 2005, people: int = 3000) -> pd.DataFrame:
    """Long diagnoses over five years: codes from each list in turn (often with a 4th or
    5th character added), further codes of a category already recorded (as over several
    admissions), and codes in no list. Ids are synthetic NHS numbers (999...)."""
    rng = random.Random(seed)
    ids = synthetic_nhs_numbers(people, np.random.default_rng(seed))
    lists = [sorted({r.code for r in d.codes}) for d in resolve()]  # the scored lists
    rows = []
    for person in ids:
        codes: list[str] = []
        for _ in range(rng.choice([0, 1, 2, 3, 4, 6, 8, 12, 16, 20])):
            draw = rng.random()
            if codes and draw < 0.15:
                code = codes[-1][:3] + str(rng.randrange(10))
            elif draw < 0.8:
                code = rng.choice(rng.choice(lists))
                while len(code) < 5 and rng.random() < 0.4:
                    code += str(rng.randrange(10))
            else:
                code = f"{rng.choice('ABDHLOQTVY')}{rng.randrange(100):02d}{rng.randrange(10)}"
            codes.append(code)
            day = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(5 * 365))
            rows.append((str(person), code, day))
    return pd.DataFrame(rows, columns=["id", "code", "diagnosis_date"])


def messy(frame: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """The same codes as extracts spell them: lower case, dotted, padded, with filler."""
    rng = random.Random(seed)
    spellings = [
        lambda c: c,
        str.lower,
        lambda c: f"{c[:3]}.{c[3:]}" if len(c) > 3 else f"{c}.-",
        lambda c: f" {c} ",
        lambda c: c + "X" if len(c) == 3 else c,
    ]
    return frame.assign(code=[rng.choice(spellings)(c) for c in frame.code])


def ours(frame: pd.DataFrame, index_date: dt.date | None = None, **kwargs) -> pd.DataFrame:
    table = ibis.memtable(frame.rename(columns={"id": "person_id"}))
    result = _execute(scores(table, index_date=index_date, **kwargs))
    return result.set_index("person_id").sort_index()  # engines return rows in no fixed order


def our_conditions(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
    table = ibis.memtable(frame.rename(columns={"id": "person_id"}))
    found = _execute(conditions(table, definitions=["charlson", "elixhauser"]))
    return set(found.itertuples(index=False, name=None))


def _execute(expr) -> pd.DataFrame:
    con = engine.connect()
    try:
        return con.execute(expr)
    finally:
        engine.close(con)


def their_conditions(result: pd.DataFrame, definition: str) -> set[tuple[str, str, str]]:
    categories = codelists.load(definition).categories
    flags = result[list(categories)]
    return {(pid, definition, c) for pid, row in flags.iterrows() for c in categories if row[c]}


def extra_hfrs_codes(frame: pd.DataFrame) -> pd.Series:
    """Per person: the points comorbidipy adds by counting each extra code of a category."""
    points = {c: float(w) for c, w in codelists.load("hfrs").weight_sets[0].weights.items()}
    rows = frame.drop_duplicates(["id", "code"]).assign(category=lambda f: f.code.str[:3])
    rows = rows[rows.category.isin(points)]
    per = rows.groupby(["id", "category"]).size().rename("codes").reset_index()
    per["extra"] = (per.codes - 1) * per.category.map(points)
    return per.groupby("id").extra.sum()


@pytest.fixture(scope="module")
def dx() -> pd.DataFrame:
    return synthetic_diagnoses()


@pytest.fixture(scope="module")
def theirs(comorbidipy_python, dx, tmp_path_factory) -> dict[str, object]:
    in_window = dx[(dx.diagnosis_date <= INDEX) & (dx.diagnosis_date >= window_start(INDEX, 24))]
    one_code_per_category = dx.assign(category=dx.code.str[:3]).drop_duplicates(["id", "category"])
    spelt = messy(dx)
    return run_comorbidipy(
        comorbidipy_python,
        tmp_path_factory.mktemp("comorbidipy"),
        {
            "charlson": (dx, "charlson", "charlson"),
            "charlson_quan": (dx, "charlson", "quan"),
            "elixhauser_vw": (dx, "elixhauser", "van_walraven"),
            "elixhauser_default": (dx, "elixhauser", None),
            "hfrs": (dx, "hfrs", None),
            "hfrs_once": (one_code_per_category, "hfrs", None),
            "charlson_to_index": (dx[dx.diagnosis_date <= INDEX], "charlson", "charlson"),
            "hfrs_window": (
                in_window.assign(category=in_window.code.str[:3]).drop_duplicates(
                    ["id", "category"]
                ),
                "hfrs",
                None,
            ),
            "charlson_messy": (spelt, "charlson", "charlson"),
            "charlson_cleaned": (
                spelt.assign(code=spelt.code.map(normalise_icd10)),
                "charlson",
                "charlson",
            ),
        },
    )


@pytest.fixture(scope="module")
def mine(dx) -> pd.DataFrame:
    return ours(dx)


def aligned(mine: pd.DataFrame, their: pd.DataFrame, column: str, theirs_column: str):
    both = mine[[column]].join(their[[theirs_column]], how="left").fillna({theirs_column: 0})
    return both[column].astype(float), both[theirs_column].astype(float)


# --- agreement ------------------------------------------------------------------------


def test_the_synthetic_diagnoses_exercise_every_score(dx, mine):
    assert len(mine) == dx.id.nunique() > 2500
    assert (mine.charlson > 0).mean() > 0.5 and (mine.hfrs > 15).sum() > 20
    assert mine.elixhauser_vw.min() < 0 < mine.elixhauser_vw.max()


def test_charlson_with_1987_weights_agrees_person_by_person(mine, theirs):
    a, b = aligned(mine, theirs["charlson"], "charlson", "comorbidity_score")
    assert (a == b).all(), f"{(a != b).sum()} of {len(a)} people differ"


def test_charlson_and_elixhauser_find_the_same_conditions(dx, theirs):
    expected = their_conditions(theirs["charlson"], "charlson") | their_conditions(
        theirs["elixhauser_vw"], "elixhauser"
    )
    assert our_conditions(dx) == expected


def test_elixhauser_with_van_walraven_weights_agrees_person_by_person(mine, theirs):
    a, b = aligned(mine, theirs["elixhauser_vw"], "elixhauser_vw", "comorbidity_score")
    assert (a == b).all(), f"{(a != b).sum()} of {len(a)} people differ"


def test_hfrs_agrees_where_each_category_is_coded_once(mine, theirs):
    a, b = aligned(mine, theirs["hfrs_once"], "hfrs", "hfrs_score")
    assert np.allclose(a, b, rtol=0, atol=1e-9)
    bands = mine[["hfrs_band"]].join(theirs["hfrs_once"][["hfrs_category"]])
    same = bands.hfrs_band == bands.hfrs_category.str.lower()
    on_a_bound = a.isin(BAND_BOUNDS)  # exact here; see departure 5 for comorbidipy's floats
    assert on_a_bound.sum() > 5 and (bands.hfrs_band[on_a_bound] == "intermediate").all()
    assert same[~on_a_bound].all()


def test_the_lookback_window_agrees_with_rows_chosen_by_date_first(dx, mine, theirs):
    windowed = ours(dx, index_date=INDEX)
    a, b = aligned(windowed, theirs["charlson_to_index"], "charlson", "comorbidity_score")
    assert (a == b).all()
    a, b = aligned(windowed, theirs["hfrs_window"], "hfrs", "hfrs_score")
    assert np.allclose(a, b, rtol=0, atol=1e-9)
    assert (windowed.hfrs < mine.hfrs.reindex(windowed.index)).mean() > 0.2  # it leaves codes out


# --- comorbidipy's departures from the publications, each exactly -----------------------


def test_departure_1_quan_2011_weighs_aids_4_not_2(dx, mine, theirs):
    a, b = aligned(mine, theirs["charlson_quan"], "charlson_quan2011", "comorbidity_score")
    aids = theirs["charlson_quan"].aids.reindex(a.index, fill_value=0)
    assert aids.sum() > 20
    assert (a - b == (QUAN_2011_AIDS - COMORBIDIPY_AIDS) * aids).all()
    assert (a[aids == 0] == b[aids == 0]).all()


def test_departure_2_uncleaned_codes_are_missed_but_agree_once_cleaned(dx, theirs):
    spelt_mine = ours(messy(dx), definitions=["charlson"])
    same_mine = ours(dx, definitions=["charlson"])
    assert (spelt_mine.charlson == same_mine.charlson).all()  # spelling changes nothing here
    a, b = aligned(spelt_mine, theirs["charlson_cleaned"], "charlson", "comorbidity_score")
    assert (a == b).all()
    a, b = aligned(spelt_mine, theirs["charlson_messy"], "charlson", "comorbidity_score")
    assert (b <= a).all() and (b < a).mean() > 0.2  # all weights positive: misses only lower


def test_departure_2_in_detail(comorbidipy_python, tmp_path):
    # Quan 2005 lists E13.4 (diabetes with chronic complications) and I12.0 (renal disease).
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "code": ["E13.4", " I12.0", "e134", "I21.0", "i21"],
        }
    )
    got = run_comorbidipy(comorbidipy_python, tmp_path, {"c": (frame, "charlson", "charlson")})
    theirs = got["c"].comorbidity_score.to_dict()
    mine = ours(frame, definitions=["charlson"]).charlson.to_dict()
    assert mine == {"a": 2, "b": 2, "c": 2, "d": 1, "e": 1}
    assert theirs == {"a": 0, "b": 0, "c": 0, "d": 1, "e": 0}  # 'I21.0' still starts 'I21'


def test_departure_3_hfrs_counts_each_code_of_a_category(dx, mine, theirs):
    a, b = aligned(mine, theirs["hfrs"], "hfrs", "hfrs_score")
    extra = extra_hfrs_codes(dx).reindex(a.index, fill_value=0.0)
    assert (extra > 0).sum() > 100
    assert np.allclose(b, a + extra, rtol=0, atol=1e-9)
    assert np.allclose(a[extra == 0], b[extra == 0], rtol=0, atol=1e-9)


def test_departure_4_elixhauser_with_the_default_weighting_raises_a_bare_key_error(theirs):
    assert theirs["elixhauser_default"]["error"] == "KeyError"
    # openphm scores every weight set a definition ships, so there is no weighting to forget.
    assert codelists.load("elixhauser").score_columns == ("elixhauser_vw",)


def test_departure_5_float_sums_can_band_a_score_of_exactly_5_as_low(comorbidipy_python, tmp_path):
    # T83 (2.4), S42 (2.3) and R11 (0.3) score 5.0: intermediate. Summed as floats, the
    # answer depends on the order: comorbidipy's group-by does not fix one.
    assert (2.4 + 2.3) + 0.3 < 5.0 <= (2.4 + 0.3) + 2.3
    frame = pd.DataFrame({"id": ["a"] * 3, "code": ["T830", "S420", "R11"]})
    mine = ours(frame, definitions=["hfrs"])
    assert (mine.hfrs["a"], mine.hfrs_band["a"]) == (5.0, "intermediate")
    theirs = run_comorbidipy(comorbidipy_python, tmp_path, {"h": (frame, "hfrs", None)})["h"]
    score, band = theirs.hfrs_score["a"], theirs.hfrs_category["a"]
    assert abs(score - 5.0) < 1e-9 and band == ("Low" if score < 5.0 else "Intermediate")
