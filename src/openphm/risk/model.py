"""A transparent risk model: penalised regression on spline terms, kept as data.

Fitting happens in Python (scikit-learn, on a sample pulled into pandas); scoring
happens in the engine, from the model's coefficients as a table (``risk_model``), so
a whole region is scored where its data live. Both sides build each term the same way
(``terms_numpy`` and ``terms_expr``):

- a binary feature is 1 or 0; a categorical one gives a 1/0 term per level but the
  commonest in the training sample (the reference);
- a number is capped (``cap``), transformed (``log1p``) and, for a spline, expanded
  into restricted cubic spline terms (``risk.splines``);
- every term is standardised with the training sample's mean and standard deviation
  before the penalised fit, so the penalty treats terms alike.

The linear predictor is the intercept plus the sum of coefficient x standardised term;
the probability is its logistic (``link = "logit"``), or, for a cost model, its
exponential (``"log"``). A feature's contribution for a person is the sum of its
terms' coefficient x (term - training mean): how far it moves their score from an
average person's. The features with the largest positive contributions are the
factors that raised the score most (``factors``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from openphm.risk import splines
from openphm.risk.features import Feature

__all__ = [
    "INTERCEPT",
    "RiskModel",
    "Term",
    "design_matrix",
    "fit",
    "scored",
    "from_frame",
    "linear_predictor",
    "prediction",
    "to_frame",
]

INTERCEPT = "(intercept)"
#: The penalty: scikit-learn's C (inverse L2 strength) on standardised terms. Large
#: samples barely feel it; it keeps rare flags from running away on small ones.
LOGISTIC_C = 0.002
#: The cost model's L2 penalty (scikit-learn PoissonRegressor's alpha).
COST_ALPHA = 1e-4
MAX_ITERATIONS = 5000
N_FACTORS = 3
#: Subtracted from each contribution times its feature's number before the factors are
#: picked: far below any difference that matters, it makes ties go to the first listed.
TIE_STEP = 1e-12


@dataclass(frozen=True)
class Term:
    """One column of the design: which feature, how it is built, and its coefficient."""

    feature: str
    name: str
    kind: str  # binary, linear, spline, categorical
    label: str
    index: int = 0  # which spline term (0 = the value itself)
    level: str | None = None  # a categorical term's level
    knots: tuple[float, ...] = ()  # spline knots, on the transformed scale
    transform: str | None = None
    cap: float | None = None
    mean: float = 0.0
    scale: float = 1.0
    coefficient: float = 0.0


@dataclass(frozen=True)
class RiskModel:
    """Coefficients as data: the terms, the intercept and the link."""

    name: str
    link: str  # logit or log
    intercept: float
    terms: tuple[Term, ...]

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.feature for t in self.terms))


# --- building the terms -------------------------------------------------------


def _prepared_np(values: pd.Series, f: Term | Feature) -> np.ndarray:
    x = values.astype("float64").to_numpy()
    if f.cap is not None:
        x = np.minimum(x, float(f.cap))
    if f.transform == "log1p":
        x = np.log1p(x)
    return x


def _prepared_expr(value: ir.Value, t: Term) -> ir.FloatingValue:
    x = value.cast("float64")
    if t.cap is not None:
        x = ibis.least(x, float(t.cap))
    if t.transform == "log1p":
        x = x.log1p() if hasattr(x, "log1p") else (x + 1.0).ln()
    return x


def layout(frame: pd.DataFrame, features: Sequence[Feature]) -> tuple[Term, ...]:
    """The terms for ``features``, with knots and reference levels from ``frame``."""
    terms: list[Term] = []
    for f in features:
        if f.name not in frame.columns:
            raise KeyError(f"feature {f.name!r} is not a column of the feature table")
        if f.kind == "categorical":
            counts = frame[f.name].astype("string").fillna("Unknown").value_counts()
            levels = sorted(counts.index[1:]) if len(counts) > 1 else []
            terms += [
                Term(f.name, f"{f.name}={lv}", f.kind, f"{f.label}: {lv}", level=lv)
                for lv in levels
            ]
            continue
        if f.kind == "spline":
            if isinstance(f.knots, tuple):
                knots = tuple(float(np.log1p(k)) if f.transform == "log1p" else k for k in f.knots)
            else:
                knots = splines.knots_at_quantiles(_prepared_np(frame[f.name], f), f.knots)
            names = splines.term_names(f.name, knots)
            terms += [
                Term(
                    f.name,
                    n,
                    f.kind,
                    f.label,
                    index=i,
                    knots=knots,
                    transform=f.transform,
                    cap=f.cap,
                )
                for i, n in enumerate(names)
            ]
            continue
        terms.append(Term(f.name, f.name, f.kind, f.label, transform=f.transform, cap=f.cap))
    return tuple(terms)


def design_matrix(frame: pd.DataFrame, terms: Sequence[Term]) -> np.ndarray:
    """The raw (unstandardised) terms as an n x terms array."""
    columns: list[np.ndarray] = []
    bases: dict[str, np.ndarray] = {}
    for t in terms:
        if t.kind == "categorical":
            values = frame[t.feature].astype("string").fillna("Unknown")
            columns.append((values == t.level).to_numpy(dtype="float64"))
        elif t.kind == "spline":
            if t.feature not in bases:
                bases[t.feature] = splines.basis_numpy(_prepared_np(frame[t.feature], t), t.knots)
            columns.append(bases[t.feature][:, t.index])
        else:
            columns.append(_prepared_np(frame[t.feature], t))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


def terms_expr(table: ir.Table, terms: Sequence[Term]) -> list[ir.FloatingValue]:
    """The same raw terms as engine expressions, in the same order."""
    out: list[ir.FloatingValue] = []
    bases: dict[str, list[ir.FloatingValue]] = {}
    for t in terms:
        column = table[t.feature]
        if t.kind == "categorical":
            out.append((column.cast("string").fill_null("Unknown") == t.level).cast("float64"))
        elif t.kind == "spline":
            if t.feature not in bases:
                bases[t.feature] = splines.basis_expr(_prepared_expr(column, t), t.knots)
            out.append(bases[t.feature][t.index])
        else:
            out.append(_prepared_expr(column, t))
    return out


# --- fitting ------------------------------------------------------------------


def fit(
    frame: pd.DataFrame,
    label: str,
    features: Sequence[Feature],
    *,
    name: str = "need",
    link: str = "logit",
    terms: Sequence[Term] | None = None,
) -> RiskModel:
    """Fit on ``frame`` (one row per person and index date) to the column ``label``."""
    from sklearn.linear_model import LogisticRegression, PoissonRegressor

    terms = tuple(terms) if terms is not None else layout(frame, features)
    raw = design_matrix(frame, terms)
    mean = raw.mean(axis=0)
    scale = raw.std(axis=0)
    scale[scale == 0] = 1.0
    z = (raw - mean) / scale
    y = frame[label].to_numpy()
    if link == "logit":
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"the {name} model's training sample has only one outcome value; it needs "
                "people with and without the outcome (more people, or more index dates)"
            )
        estimator = LogisticRegression(C=LOGISTIC_C, max_iter=MAX_ITERATIONS)
        estimator.fit(z, y.astype(int))
        coefs, intercept = estimator.coef_[0], float(estimator.intercept_[0])
    elif link == "log":
        estimator = PoissonRegressor(
            alpha=COST_ALPHA, solver="newton-cholesky", max_iter=MAX_ITERATIONS
        )
        estimator.fit(z, y.astype("float64"))
        coefs, intercept = estimator.coef_, float(estimator.intercept_)
    else:
        raise ValueError(f"link must be 'logit' or 'log', not {link!r}")
    fitted = tuple(
        replace(t, mean=float(m), scale=float(s), coefficient=float(c))
        for t, m, s, c in zip(terms, mean, scale, coefs, strict=True)
    )
    return RiskModel(name, link, intercept, fitted)


def predict_numpy(model: RiskModel, frame: pd.DataFrame) -> np.ndarray:
    """The model's prediction in Python (the reference the engine must match)."""
    raw = design_matrix(frame, model.terms)
    mean = np.array([t.mean for t in model.terms])
    scale = np.array([t.scale for t in model.terms])
    coef = np.array([t.coefficient for t in model.terms])
    eta = model.intercept + ((raw - mean) / scale) @ coef
    return 1 / (1 + np.exp(-eta)) if model.link == "logit" else np.exp(eta)


# --- scoring in the engine -----------------------------------------------------------


def linear_predictor(table: ir.Table, model: RiskModel) -> ir.FloatingValue:
    terms = terms_expr(table, model.terms)
    parts = [
        (x - t.mean) * (t.coefficient / t.scale)
        for x, t in zip(terms, model.terms, strict=True)
        if t.coefficient != 0
    ]
    return _balanced_sum([ibis.literal(model.intercept, "float64"), *parts])


def prediction(table: ir.Table, model: RiskModel) -> ir.FloatingValue:
    """The probability (logit link) or expected value (log link), as an engine expression."""
    eta = linear_predictor(table, model)
    return 1.0 / (1.0 + (-eta).exp()) if model.link == "logit" else eta.exp()


def contributions(table: ir.Table, model: RiskModel) -> dict[str, ir.FloatingValue]:
    """Each feature's contribution to the linear predictor, against an average person."""
    terms = terms_expr(table, model.terms)
    by_feature: dict[str, list[ir.FloatingValue]] = {}
    for x, t in zip(terms, model.terms, strict=True):
        if t.coefficient != 0:
            by_feature.setdefault(t.feature, []).append((x - t.mean) * (t.coefficient / t.scale))
    return {f: _balanced_sum(parts) for f, parts in by_feature.items()}


def feature_labels(model: RiskModel) -> dict[str, str]:
    """Each feature's words; a categorical feature reads as its own name."""
    labels: dict[str, str] = {}
    for t in model.terms:
        labels.setdefault(t.feature, t.label.split(":")[0] if t.kind == "categorical" else t.label)
    return labels


CONTRIBUTION_PREFIX = "_contrib__"


def scored(table: ir.Table, model: RiskModel, n: int = N_FACTORS) -> ir.Table:
    """``table`` plus ``prediction`` and ``factor_1`` .. ``factor_n``, in the engine.

    The factors are the features that raised the score most, in words: the largest
    positive contribution first, NULL when fewer features raised it; a categorical
    feature names the person's own level ("segment: frailty_dementia"). Each person's
    contributions go into one array, each less ``TIE_STEP`` times its feature's number,
    so no two are equal and a tie goes to the feature listed first; the array is sorted
    once and each of the first few found again by value, so the work and the SQL grow
    with the number of features, not with its square.
    """
    contrib = contributions(table, model)
    names = list(contrib)
    labels = feature_labels(model)
    col = {f: CONTRIBUTION_PREFIX + f for f in names}
    t = table.mutate(**{col[f]: c for f, c in contrib.items()})
    eta = _balanced_sum([ibis.literal(model.intercept, "float64"), *(t[col[f]] for f in names)])
    # Minus each contribution (less a step per feature number, so none are equal):
    # sorted ascending, the largest contributions come first.
    negated = ibis.array([-(t[col[f]] - i * TIE_STEP) for i, f in enumerate(names)])
    t = t.mutate(_eta=eta, _negated=negated)
    t = t.mutate(_sorted=t._negated.sort())
    t = t.mutate(
        **{f"_top_{k}": -t._sorted[k - 1] for k in range(1, n + 1)},
        **{f"_number_{k}": t._negated.index(t._sorted[k - 1]) for k in range(1, n + 1)},
    )
    tops = [f"_top_{k}" for k in range(1, n + 1)]
    numbers = [f"_number_{k}" for k in range(1, n + 1)]
    # One list of the words, indexed by feature number: a CASE would repeat the number's
    # expression in every branch once the engine merges the projections.
    words = ibis.array([ibis.literal(labels[f]) for f in names])
    categorical = [(i, f) for i, f in enumerate(names) if _is_categorical(model, f)]
    factors = {}
    for k, (top, number) in enumerate(zip(tops, numbers, strict=True), start=1):
        number = t[number]
        word = words[number.cast("int32")]  # Spark indexes arrays with an int
        for i, f in categorical:
            level = t[f].cast("string").fill_null("Unknown")
            word = ibis.ifelse(number == i, ibis.literal(f"{labels[f]}: ") + level, word)
        factors[f"factor_{k}"] = ibis.ifelse(t[top] > 0, word, ibis.null("string"))
    value = 1.0 / (1.0 + (-t._eta).exp()) if model.link == "logit" else t._eta.exp()
    return t.select(*table.columns, prediction=value, **factors)


def _is_categorical(model: RiskModel, feature: str) -> bool:
    return any(t.feature == feature and t.kind == "categorical" for t in model.terms)


def _balanced_sum(terms: list[ir.FloatingValue]) -> ir.FloatingValue:
    while len(terms) > 1:
        terms = [a + b for a, b in zip(terms[::2], terms[1::2], strict=False)] + (
            [terms[-1]] if len(terms) % 2 else []
        )
    return terms[0]


# --- the model as a table -------------------------------------------------------------

COLUMNS = {
    "model": "string",
    "link": "string",
    "feature": "string",
    "term": "string",
    "kind": "string",
    "label": "string",
    "term_index": "int64",
    "level": "string",
    "knots": "string",
    "transform": "string",
    "cap": "float64",
    "mean": "float64",
    "scale": "float64",
    "coefficient": "float64",
}


def to_frame(model: RiskModel) -> pd.DataFrame:
    """The ``risk_model`` rows: the intercept, then one row per term."""
    rows = [
        {
            "model": model.name,
            "link": model.link,
            "feature": INTERCEPT,
            "term": INTERCEPT,
            "kind": "intercept",
            "label": "intercept",
            "term_index": 0,
            "level": None,
            "knots": "[]",
            "transform": None,
            "cap": None,
            "mean": 0.0,
            "scale": 1.0,
            "coefficient": model.intercept,
        }
    ]
    for t in model.terms:
        rows.append(
            {
                "model": model.name,
                "link": model.link,
                "feature": t.feature,
                "term": t.name,
                "kind": t.kind,
                "label": t.label,
                "term_index": t.index,
                "level": t.level,
                "knots": json.dumps(list(t.knots)),
                "transform": t.transform,
                "cap": t.cap,
                "mean": t.mean,
                "scale": t.scale,
                "coefficient": t.coefficient,
            }
        )
    return pd.DataFrame(rows).astype({k: v for k, v in COLUMNS.items() if v != "string"})


def from_frame(frame: pd.DataFrame, name: str = "need") -> RiskModel:
    """A model back from its ``risk_model`` rows (for scoring again, or a cohort)."""
    rows = frame[frame["model"] == name].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"risk_model holds no model called {name!r}")
    intercept = rows[rows.feature == INTERCEPT]
    terms = []
    for r in rows[rows.feature != INTERCEPT].itertuples(index=False):
        terms.append(
            Term(
                r.feature,
                r.term,
                r.kind,
                r.label,
                index=int(r.term_index),
                level=None if pd.isna(r.level) else r.level,
                knots=tuple(json.loads(r.knots)),
                transform=None if pd.isna(r.transform) else r.transform,
                cap=None if pd.isna(r.cap) else float(r.cap),
                mean=float(r.mean),
                scale=float(r.scale),
                coefficient=float(r.coefficient),
            )
        )
    return RiskModel(name, rows.link.iloc[0], float(intercept.coefficient.iloc[0]), tuple(terms))
