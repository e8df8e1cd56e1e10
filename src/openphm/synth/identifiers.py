"""Synthetic NHS numbers for a whole ICS, unique across chunks.

Numbers starting 999 are never issued, and hold 909,091 valid numbers. A larger
synthetic population continues into 998, 997 and so on: the whole 9 range is
"not to be issued" (reserved for synthetic and test patients), so no real
person's number can appear, though the pipeline's tests should not assume 999.
"""

from __future__ import annotations

import numpy as np

from openphm import codes

EXTRA_PREFIXES = ("998", "997", "996")


def nhs_number_pool(people: int, rng: np.random.Generator) -> np.ndarray:
    """``people`` distinct valid NHS numbers in a random order, 999 range first."""
    parts, needed = [], people
    for prefix in (codes.SYNTHETIC_NHS_PREFIX, *EXTRA_PREFIXES):
        if needed <= 0:
            break
        pool = codes.synthetic_nhs_pool(prefix)
        take = min(needed, pool.size)
        parts.append(pool[rng.choice(pool.size, size=take, replace=False)])
        needed -= take
    if needed > 0:
        raise ValueError(f"at most {people - needed:,} synthetic NHS numbers are available")
    return codes.digit_strings(np.concatenate(parts), 10)
