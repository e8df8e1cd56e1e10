"""Small vectorised NumPy helpers shared by the hospital and community generators."""

from __future__ import annotations

import numpy as np


def sequence(group: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within runs of equal values of a sorted array."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, group[1:] != group[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def choose_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, with probability proportional to the row's weights
    (rows need not sum to 1)."""
    if len(weights) == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def scramble(counter: np.ndarray, salt: int) -> np.ndarray:
    """A fixed bijection of 0 .. 10**12 - 1: a four-round Feistel network on two halves
    of six digits, whose round function mixes every bit (so no digit of the key follows
    a digit of the counter)."""
    m, mask = 10**6, 0xFFFFFFFF
    hi, lo = np.divmod(np.asarray(counter, dtype=np.int64), m)
    for r in range(4):
        x = ((hi + salt * 1_000_003 + r * 7_919) * 2_654_435_761) & mask
        x ^= x >> 13
        x = (x * 40_503) & mask
        x ^= x >> 16
        hi, lo = (lo + x) % m, hi
    return hi * m + lo
