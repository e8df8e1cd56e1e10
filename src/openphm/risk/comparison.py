"""A gradient-boosted model beside the transparent one, for comparison only.

The need model is a penalised regression whose coefficients are published and whose
scoring is an engine expression. A boosted tree ensemble is the usual rival: if it
ranked people much better on the same features, the transparent model would be
leaving something out. It is fitted to the same training rows and terms, judged on the
same test rows, and reported beside the need model in ``risk_performance`` (model
``COMPARISON``); it never scores anyone and is not kept.

Settings are fixed (no early stopping, so no random validation split): the same rows in
the same order give the same model on every engine and every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from openphm.risk.model import Term, design_matrix

__all__ = ["COMPARISON", "fit", "predict"]

COMPARISON = "gradient boosting (comparison)"
SETTINGS = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 50,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}


def fit(frame: pd.DataFrame, label: str, terms: Sequence[Term]):
    """A boosted classifier on the need model's raw terms (before standardising)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**SETTINGS)
    return model.fit(design_matrix(frame, terms), frame[label].to_numpy(dtype=int))


def predict(model, frame: pd.DataFrame, terms: Sequence[Term]) -> np.ndarray:
    """The probability of the outcome for each row of ``frame``."""
    return model.predict_proba(design_matrix(frame, terms))[:, 1]
