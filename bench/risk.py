"""``python -m bench.risk``: fit the risk model and score 1M people in the engine.

A feature table of ``--people`` rows with every feature the risk stage uses (ages,
deprivation, segments, condition flags, prior use) is drawn from a fixed seed, with an
outcome from a known logistic model, and written once to Parquet (not timed). Then,
each the median of ``--repeats`` runs after a warm-up:

- **fit**: ``risk.model.fit`` (scikit-learn, penalised logistic regression on the
  spline terms) on a ``--sample`` of rows in pandas, as the stage does;
- **score in the engine**: an in-memory DuckDB reads the Parquet, computes every
  person's probability, three factors and tier (``model.scored``, ``tiers.ranked``)
  and writes the result as a table;
- **score in Python**: ``model.predict_numpy`` on the same rows in pandas (no factors,
  no tiers), for the ratio.

Aim (issue 8): scoring 1M people in under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from openphm import codelists, engine
from openphm.risk import model as M
from openphm.risk import tiers
from openphm.risk.features import load_features

SEGMENTS = ("healthy", "long_term_conditions", "frailty_dementia", "maternal_infant")


def features_frame(people: int, seed: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    features = load_features(codelists.load("ltc"))
    age = rng.integers(0, 100, people).astype(float)
    frame = {
        "person_id": [f"{i:012d}" for i in range(people)],
        "practice_code": rng.choice(["Z1", "Z2", "Z3", "Z4"], people),
    }
    eta = -3.2 + 0.03 * (age - 50)
    for f in features:
        if f.name in ("age",):
            frame[f.name] = age
        elif f.kind == "binary":
            flag = rng.random(people) < (0.02 + age / 400)
            frame[f.name] = flag
            eta = eta + 0.3 * flag
        elif f.kind == "categorical":
            frame[f.name] = rng.choice(SEGMENTS, people, p=[0.6, 0.25, 0.05, 0.1])
        elif f.name.startswith("days_since"):
            frame[f.name] = np.where(rng.random(people) < 0.4, rng.integers(1, 730, people), 730)
        else:
            counts = rng.poisson(0.2 + age / 100, people).astype(float)
            frame[f.name] = counts
            eta = eta + 0.1 * np.log1p(counts)
    frame["outcome"] = rng.random(people) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame(frame)


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up
    runs, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    features = load_features(codelists.load("ltc"))
    with tempfile.TemporaryDirectory(prefix="bench-risk-") as tmp:
        frame = features_frame(args.people)
        path = Path(tmp) / "features.parquet"
        frame.drop(columns="outcome").to_parquet(path)
        sample = frame.sample(n=min(args.sample, len(frame)), random_state=1)

        fit_s, model = timed(lambda: M.fit(sample, "outcome", features), args.repeats)
        con = engine.connect("duckdb://")
        table = engine.read_parquet(con, path)

        def score():
            scored = tiers.ranked(M.scored(table, model), "prediction", tiers.default_cuts())
            con.create_table("scored", scored, overwrite=True)

        engine_s, _ = timed(score, args.repeats)
        python_s, _ = timed(lambda: M.predict_numpy(model, frame), args.repeats)
        check = con.table("scored").select("person_id", "prediction").to_pandas()
        check = check.set_index("person_id").prediction.loc[frame.person_id].to_numpy()
        diff = float(np.abs(check - M.predict_numpy(model, frame)).max())
        engine.close(con)
    print(f"risk model: {len(model.terms)} terms from {len(features)} features")
    print(f"fit on {len(sample):,} rows (scikit-learn):           median {fit_s:7.2f} s")
    print(
        f"score {args.people:,} people in DuckDB (+factors, tiers): median {engine_s:7.2f} s "
        f"({args.people / engine_s:,.0f} people/s)"
    )
    print(
        f"score {args.people:,} people in Python (probability only): median {python_s:7.2f} s;"
        f" engine/python {engine_s / python_s:.1f}x; largest difference {diff:.1e}"
    )


if __name__ == "__main__":
    main()
