"""Over-dispersion for funnel plots: z-scores, trimming, phi and tau squared.

Real units vary more than chance alone allows (unmeasured case mix, coding), so a
funnel with pure sampling limits flags too many of them. Spiegelhalter (2005, 2012)
measures the excess from the units' z-scores, after trimming the extremes so that true
outliers do not hide themselves:

- z-scores on a variance-stabilising scale: log (SHMI) or square root (CQC) for
  ratios of observed to expected counts, arcsine-square-root for proportions;
- trimming: winsorising (clip the lowest and highest ``trim`` fraction to the
  quantiles there) or, for SHMI, truncating (drop them), as NHS England's SHMI does;
- the dispersion ratio phi = mean(trimmed z^2), over the units kept;
- the between-unit variance tau^2 of an additive random-effects model
  (DerSimonian and Laird 1986), zero unless n * phi exceeds n - 1.

The formulas are FunnelPlotR's (``transformed_zscore``, ``winsorisation``,
``truncation``, ``phi_func``, ``tau_func``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

SHMI = "shmi"  # log transform, truncation
CQC = "cqc"  # square-root transform, winsorisation
RATIO_METHODS = (SHMI, CQC)
DEFAULT_TRIM = 0.1  # 10% at each end, as SHMI and FunnelPlotR


@dataclass(frozen=True)
class ZScores:
    """Each unit's value ``y`` and standard error ``s`` on the transformed scale."""

    y: np.ndarray
    target: float  # the target on the transformed scale
    s: np.ndarray

    @property
    def z(self) -> np.ndarray:
        return (self.y - self.target) / self.s


def ratio_z_scores(observed: np.ndarray, expected: np.ndarray, method: str) -> ZScores:
    """z-scores of observed / expected against 1: log (SHMI) or square root (CQC)."""
    ratio = observed / expected
    if method == SHMI:
        with np.errstate(divide="ignore"):
            return ZScores(y=np.log(ratio), target=0.0, s=1 / np.sqrt(expected))
    return ZScores(y=np.sqrt(ratio), target=1.0, s=1 / (2 * np.sqrt(expected)))


def proportion_z_scores(numerator: np.ndarray, denominator: np.ndarray, target: float) -> ZScores:
    """z-scores of numerator / denominator against ``target`` on the arcsine-root scale."""
    return ZScores(
        y=np.arcsin(np.sqrt(numerator / denominator)),
        target=float(np.arcsin(np.sqrt(target))),
        s=1 / (2 * np.sqrt(denominator)),
    )


def winsorise(z: np.ndarray, trim: float = DEFAULT_TRIM) -> np.ndarray:
    """z with values beyond the ``trim`` and ``1 - trim`` quantiles set to those quantiles."""
    low, high = np.quantile(z, [trim, 1 - trim])  # numpy's default is R's type 7
    return np.clip(z, low, high)


def truncate(z: np.ndarray, trim: float = DEFAULT_TRIM) -> np.ndarray:
    """z with the lowest and highest ``trim`` fraction set to NaN, by SHMI's rank rule.

    Units are ranked (ties averaged) and put into 1/trim groups by
    floor(rank * groups / (n + 1)); the first and last groups are dropped.
    """
    groups = 1 / trim
    group = np.floor(rankdata(z, method="average") * groups / (len(z) + 1))
    kept = (group > 0) & (group < groups - 1)
    return np.where(kept, z, np.nan)


def dispersion_ratio(trimmed_z: np.ndarray) -> float:
    """phi: the mean squared trimmed z-score (NaN entries are truncated units)."""
    kept = trimmed_z[~np.isnan(trimmed_z)]
    return float(np.mean(kept**2)) if len(kept) else float("nan")


def between_unit_variance(phi: float, s: np.ndarray) -> float:
    """tau^2 from phi and the standard errors ``s`` of the units phi was computed on."""
    n = len(s)
    if n < 2 or not n * phi > n - 1:
        return 0.0
    w = 1 / s**2
    return max(0.0, (n * phi - (n - 1)) / (w.sum() - (w**2).sum() / w.sum()))
