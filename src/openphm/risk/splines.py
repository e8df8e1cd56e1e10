"""Restricted cubic splines (Harrell's), written twice: in numpy to fit, in Ibis to score.

A restricted cubic spline with knots t_1 < ... < t_k is linear below t_1 and above t_k
and cubic between, with k - 1 basis terms: x itself, and for j = 1 .. k - 2

    ((x - t_j)+^3 - (x - t_{k-1})+^3 (t_k - t_j) / (t_k - t_{k-1})
                 + (x - t_k)+^3 (t_{k-1} - t_j) / (t_k - t_{k-1})) / (t_k - t_1)^2

(Harrell, Regression Modeling Strategies, 2nd ed., section 2.4.5; the division by
(t_k - t_1)^2 keeps the terms on the scale of x). Being piecewise polynomials, the
terms are plain arithmetic in any engine: the model fitted on a sample in Python
scores a whole population where the data live, with the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np

__all__ = ["basis_expr", "basis_numpy", "knots_at_quantiles", "term_names"]

#: Harrell's recommended knot quantiles for 3 to 5 knots (Regression Modeling
#: Strategies, table 2.3).
HARRELL_QUANTILES = {
    3: (0.10, 0.50, 0.90),
    4: (0.05, 0.35, 0.65, 0.95),
    5: (0.05, 0.275, 0.50, 0.725, 0.95),
}


def knots_at_quantiles(values: np.ndarray, n_knots: int) -> tuple[float, ...]:
    """Harrell's knots for ``n_knots`` (3-5), distinct; fewer than 3 distinct: none (linear)."""
    if n_knots not in HARRELL_QUANTILES:
        raise ValueError(f"a spline takes 3, 4 or 5 knots, not {n_knots!r}")
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return ()
    knots = np.unique(np.quantile(values, HARRELL_QUANTILES[n_knots]))
    return tuple(float(k) for k in knots) if knots.size >= 3 else ()


def term_names(feature: str, knots: Sequence[float]) -> list[str]:
    """The basis terms of a feature: the feature itself, then one per inner knot."""
    return [feature] + [f"{feature}__rcs{j}" for j in range(1, max(len(knots) - 1, 1))]


def basis_numpy(x: np.ndarray, knots: Sequence[float]) -> np.ndarray:
    """The basis terms as columns (n x (k - 1)); just x when there are no knots."""
    return np.column_stack(_terms(np.asarray(x, dtype=float), knots, _cube_np))


def basis_expr(x: ir.NumericValue, knots: Sequence[float]) -> list[ir.FloatingValue]:
    """The same basis terms as engine expressions, in the same order."""
    return _terms(x.cast("float64"), knots, _cube_expr)


def _terms(x, knots: Sequence[float], cube) -> list:
    """x, then one restricted cubic term per knot but the last two (one formula, so the
    model fitted in numpy and scored in the engine cannot drift apart)."""
    terms = [x]
    k = len(knots)
    if k >= 3:
        t = [float(v) for v in knots]
        scale = (t[-1] - t[0]) ** 2
        last, before = t[-1], t[-2]
        for j in range(k - 2):
            term = (
                cube(x - t[j])
                - cube(x - before) * ((last - t[j]) / (last - before))
                + cube(x - last) * ((before - t[j]) / (last - before))
            )
            terms.append(term / scale)
    return terms


def _cube_np(v: np.ndarray) -> np.ndarray:
    p = np.maximum(v, 0.0)
    return p * p * p


def _cube_expr(v: ir.FloatingValue) -> ir.FloatingValue:
    p = ibis.greatest(v, 0.0)
    return p * p * p
