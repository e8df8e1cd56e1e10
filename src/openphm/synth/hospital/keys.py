"""Record keys of the hospital extracts: scrambled per-person counters, unique everywhere."""

from __future__ import annotations

import numpy as np

from openphm.synth.arrays import sequence

_KEY_SALT = {"epikey": 11, "spell": 23, "op": 37, "ecds": 53}


def _scramble(counter: np.ndarray, salt: int) -> np.ndarray:
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


def _key(person_index: np.ndarray, kind: str, per_person: int = 1000) -> np.ndarray:
    """Record keys from ``person_index * per_person + n`` (n numbers a person's records,
    which must come sorted by person), scrambled: unique across chunks and runs."""
    seq = sequence(person_index)
    if len(seq) and seq.max() >= per_person:
        raise ValueError(f"a person has more than {per_person} {kind} records")
    return _scramble(person_index * per_person + seq, _KEY_SALT[kind])
