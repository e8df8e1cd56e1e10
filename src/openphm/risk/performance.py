"""How well the risk model does on the later window it never saw: the performance report.

All figures come from the test index date's people (temporal validation: the model
was fitted on earlier index dates whose follow-up had ended by then):

- discrimination: AUROC and AUPRC (average precision);
- accuracy: the Brier score;
- calibration: the intercept with the prediction's logit as an offset (calibration in
  the large: 0 is right) and the slope of the outcome on that logit (1 is right; below
  1, predictions too extreme);
- at each tier cut-off (everyone in the top X% flagged): the false-positive rate
  (flagged among those without the outcome) and false-negative rate (not flagged among
  those with it);

overall and by IMD quintile, ethnic group, sex, age band and practice, with observed
against predicted by decile. A statistic is left blank where its group has fewer than
``MIN_EVENTS`` people with, or without, the outcome: too few to estimate it, and a
figure that could give back a count the disclosure gate would suppress.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["GROUP_TYPES", "MIN_EVENTS", "calibration_table", "metrics", "performance_table"]

MIN_EVENTS = 10
OVERALL = "overall"
GROUP_TYPES = ("imd_quintile", "ethnic_group", "sex", "age_band", "practice_code")
DECILES = 10
_EPS = 1e-12


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def calibration(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(intercept, slope): the intercept with logit(p) as an offset; the slope of y on it."""
    x = _logit(p)
    # Newton's method: a one-parameter, then a two-parameter logistic fit.
    a = 0.0
    for _ in range(50):
        q = expit(a + x)
        step = (y - q).sum() / max((q * (1 - q)).sum(), _EPS)
        a += step
        if abs(step) < 1e-10:
            break
    beta = np.array([0.0, 1.0])
    design = np.column_stack([np.ones_like(x), x])
    for _ in range(100):
        q = expit(design @ beta)
        w = q * (1 - q)
        hessian = design.T @ (design * w[:, None])
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), design.T @ (y - q))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(beta[1])


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    intercept, slope = calibration(y, p)
    return {
        "auroc": float(roc_auc_score(y, p)),
        "auprc": float(average_precision_score(y, p)),
        "brier": float(np.mean((p - y) ** 2)),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
    }


def cut_name(cut: float) -> str:
    return f"top_{cut:g}".replace(".", "_") + "pct"


def _groups(frame: pd.DataFrame, group_types: Sequence[str]):
    yield OVERALL, OVERALL, frame
    for gt in group_types:
        for g, rows in frame.groupby(frame[gt].fillna("Unknown").astype(str), sort=True):
            yield gt, g, rows


def performance_table(
    frame: pd.DataFrame,
    cuts: Sequence[float],
    *,
    prediction: str = "prediction",
    outcome: str = "outcome",
    group_types: Sequence[str] = GROUP_TYPES,
) -> pd.DataFrame:
    """One row per group: people, events and the statistics (NaN where too few)."""
    order = np.argsort(-frame[prediction].to_numpy(), kind="stable")
    position = np.empty(len(frame), dtype=np.int64)
    position[order] = np.arange(1, len(frame) + 1)
    flagged = {c: pd.Series(position * 100 <= c * len(frame), index=frame.index) for c in cuts}
    rows = []
    for gt, g, rows_ in _groups(frame, group_types):
        y = rows_[outcome].to_numpy(dtype=float)
        p = rows_[prediction].to_numpy(dtype=float)
        events = int(y.sum())
        row = {"group_type": gt, "group": str(g), "people": len(rows_), "events": events}
        enough = events >= MIN_EVENTS and len(rows_) - events >= MIN_EVENTS
        stats = metrics(y, p) if enough else {}
        for name in ("auroc", "auprc", "brier", "calibration_intercept", "calibration_slope"):
            row[name] = stats.get(name, np.nan)
        for c in cuts:
            f = flagged[c].loc[rows_.index].to_numpy()
            row[f"fpr_{cut_name(c)}"] = (f & (y == 0)).sum() / (y == 0).sum() if enough else np.nan
            row[f"fnr_{cut_name(c)}"] = (~f & (y == 1)).sum() / events if enough else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def calibration_table(
    frame: pd.DataFrame,
    *,
    prediction: str = "prediction",
    outcome: str = "outcome",
    by_decile: Sequence[str] = ("imd_quintile",),
    group_types: Sequence[str] = GROUP_TYPES,
) -> pd.DataFrame:
    """Observed against predicted: by decile of prediction (overall and within each group
    of ``by_decile``), and for each group of the others as a whole."""
    rows = []
    for gt, g, part in _groups(frame, group_types):
        if gt == OVERALL or gt in by_decile:
            rank = part[prediction].rank(method="first")
            decile = np.ceil(rank * DECILES / len(part)).astype(int).clip(1, DECILES)
            pieces = [(str(d), part[decile == d]) for d in range(1, DECILES + 1)]
        else:
            pieces = [("all", part)]
        for d, piece in pieces:
            people = len(piece)
            rows.append(
                {
                    "group_type": gt,
                    "group": str(g),
                    "decile": d,
                    "people": people,
                    "events": int(piece[outcome].sum()),
                    "mean_predicted_percent": 100 * piece[prediction].mean()
                    if people >= MIN_EVENTS
                    else np.nan,
                }
            )
    return pd.DataFrame(rows)
