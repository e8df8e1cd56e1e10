"""Spec: the risk model scores in the engine exactly as it predicts in Python.

The model is fitted with scikit-learn on a pandas sample; its coefficients become data
(``risk_model``) and scoring becomes an engine expression: restricted cubic splines as
piecewise polynomials, categorical levels as 1/0 terms, flags, capped and log1p
counts. On the same rows, the engine's probability equals ``predict_proba`` of the
fitted scikit-learn estimator to 1e-9, on DuckDB and on local Spark, and the factors
name the features whose contributions are largest.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from openphm import engine
from openphm.risk import model as M
from openphm.risk import splines
from openphm.risk.features import Feature

FEATURES = (
    Feature("age", "age", "spline", 4),
    Feature("visits", "emergency admissions in the last year", "spline", (0.0, 1.0, 3.0), "log1p"),
    Feature("days_since", "recent A&E attendance", "linear", None, "log1p", 730.0),
    Feature("frail", "coded frailty", "binary"),
    Feature("segment", "segment", "categorical"),
)


def population(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 100, n).astype(float)
    visits = rng.poisson(0.3 + age / 80, n).astype(float)
    frail = rng.random(n) < age / 200
    segment = rng.choice(
        ["healthy", "long_term_conditions", "frailty_dementia"], n, p=[0.6, 0.3, 0.1]
    )
    days = np.where(rng.random(n) < 0.3, rng.integers(1, 2000, n), 730).astype(float)
    eta = -4 + 0.0004 * (age - 40) ** 2 + 0.6 * np.log1p(visits) + 0.8 * frail
    eta += (segment == "frailty_dementia") * 0.7 - 0.1 * np.log1p(np.minimum(days, 730))
    outcome = rng.random(n) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame(
        {
            "person_id": [f"p{i:05d}" for i in range(n)],
            "age": age,
            "visits": visits,
            "days_since": days,
            "frail": frail,
            "segment": segment,
            "outcome": outcome,
        }
    )


@pytest.fixture(scope="module")
def fitted():
    train = population(4000, seed=1)
    model = M.fit(train, "outcome", FEATURES)
    return model, population(300, seed=2)


def test_engine_probabilities_equal_scikit_learn_predict_proba(con, fitted):
    from sklearn.linear_model import LogisticRegression

    model, rows = fitted
    table = engine.scratch_table(
        con,
        f"risk_rows_{engine.engine_name(con)}",
        ibis.memtable(rows.drop(columns="outcome")),
    )
    got = M.scored(table, model).select("person_id", "prediction").to_pandas()
    got = got.set_index("person_id").prediction.loc[rows.person_id].to_numpy()
    # scikit-learn's own estimator, rebuilt from the model's coefficients as data.
    design = M.design_matrix(rows, model.terms)
    z = (design - [t.mean for t in model.terms]) / [t.scale for t in model.terms]
    estimator = LogisticRegression()
    estimator.classes_ = np.array([False, True])
    estimator.coef_ = np.array([[t.coefficient for t in model.terms]])
    estimator.intercept_ = np.array([model.intercept])
    expected = estimator.predict_proba(z)[:, 1]
    assert np.abs(got - expected).max() < 1e-9
    assert np.abs(M.predict_numpy(model, rows) - expected).max() < 1e-12
    assert got.std() > 0.01  # a real spread of risk, not a constant


def test_model_round_trips_through_its_table(fitted):
    model, rows = fitted
    again = M.from_frame(M.to_frame(model), "need")
    assert np.abs(M.predict_numpy(again, rows) - M.predict_numpy(model, rows)).max() == 0
    table = M.to_frame(model)
    spline_terms = table[table.feature == "age"]
    assert list(spline_terms.term) == splines.term_names("age", model.terms[0].knots)
    assert set(table.kind) == {"intercept", "spline", "linear", "binary", "categorical"}
    # The commonest segment is the reference level and has no term.
    assert set(table[table.feature == "segment"].level) == {
        "frailty_dementia",
        "long_term_conditions",
    }


def test_factors_name_the_largest_positive_contributions(con):
    # A hand-made model: age raises risk by 0.02 a year above 50 (the mean), frailty by
    # 1.0 (mean 0.5), the frailty_dementia segment by 0.3 (healthy the reference).
    terms = (
        M.Term("age", "age", "linear", "age", mean=50.0, scale=1.0, coefficient=0.02),
        M.Term("frail", "frail", "binary", "coded frailty", mean=0.5, scale=1.0, coefficient=1.0),
        M.Term(
            "segment",
            "segment=frailty_dementia",
            "categorical",
            "segment: frailty_dementia",
            level="frailty_dementia",
            mean=0.0,
            scale=1.0,
            coefficient=0.3,
        ),
    )
    model = M.RiskModel("need", "logit", -2.0, terms)
    rows = pd.DataFrame(
        {
            "person_id": ["a", "b", "c"],
            "age": [90.0, 60.0, 20.0],  # contributions +0.8, +0.2, -0.6
            "frail": [True, False, False],  # +0.5, -0.5, -0.5
            "segment": ["frailty_dementia", "healthy", "healthy"],  # +0.3, 0, 0
        }
    )
    table = engine.scratch_table(con, f"factor_rows_{engine.engine_name(con)}", ibis.memtable(rows))
    got = M.scored(table, model).to_pandas().set_index("person_id")
    assert list(got.loc["a", ["factor_1", "factor_2", "factor_3"]]) == [
        "age",
        "coded frailty",
        "segment: frailty_dementia",
    ]
    assert got.loc["b", "factor_1"] == "age"
    assert got.loc["b", ["factor_2", "factor_3"]].isna().all()  # nothing else raised it
    assert got.loc["c", ["factor_1", "factor_2", "factor_3"]].isna().all()
    eta = -2.0 + 0.8 + 0.5 + 0.3
    assert got.loc["a", "prediction"] == pytest.approx(1 / (1 + np.exp(-eta)), abs=1e-12)
