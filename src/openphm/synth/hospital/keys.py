"""Record keys of the hospital extracts: scrambled per-person counters, unique everywhere."""

from __future__ import annotations

import numpy as np

from openphm.synth.arrays import scramble as _scramble
from openphm.synth.arrays import sequence

_KEY_SALT = {"epikey": 11, "spell": 23, "op": 37, "ecds": 53}


def _key(person_index: np.ndarray, kind: str, per_person: int = 1000) -> np.ndarray:
    """Record keys from ``person_index * per_person + n`` (n numbers a person's records,
    which must come sorted by person), scrambled: unique across chunks and runs."""
    seq = sequence(person_index)
    if len(seq) and seq.max() >= per_person:
        raise ValueError(f"a person has more than {per_person} {kind} records")
    return _scramble(person_index * per_person + seq, _KEY_SALT[kind])
