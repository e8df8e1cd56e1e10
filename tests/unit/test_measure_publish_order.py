"""The publish writer's reading order, made fast for the measure stage's large tables.

The writer sorts every published file by its keys in natural order ('5-9' before
'10-14', totals after the cells they total). It used to call ``_natural`` on every cell
of every key inside the sort; it now ranks each key's distinct values once. The files
must not change by a byte: the order is checked here against the original definition,
sorting each row by its list of natural keys.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from openphm.disclosure import TOTAL
from openphm.publish.writer import _in_reading_order, _natural


def _original(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    order = sorted(range(len(frame)), key=lambda i: [_natural(frame[k].iat[i]) for k in keys])
    return frame.iloc[order].reset_index(drop=True)


CELLS = st.one_of(
    st.sampled_from(["0-4", "5-9", "10-14", "90+", "Unknown", TOTAL, "", "a7", "a07", "P12"]),
    st.sampled_from(["2024/25", "2023/24", "2024-04", "2024-10", "X1A", "X12A"]),
    st.none(),
)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(CELLS, CELLS, st.integers(0, 3)), min_size=0, max_size=40))
def test_the_rows_come_in_the_order_the_original_sort_gave(rows):
    # Ties (equal keys, and keys equal only in natural order: 'a7' and 'a07') keep
    # their order; the row number shows it.
    frame = pd.DataFrame(rows, columns=["a", "b", "c"]).astype({"a": object, "b": object})
    frame["row"] = np.arange(len(frame))
    for keys in (("a",), ("a", "b"), ("b", "c", "a")):
        expected = _original(frame, keys)
        got = _in_reading_order(frame, keys)
        assert got.row.tolist() == expected.row.tolist(), keys


def test_missing_values_and_numbers_sort_as_their_text():
    frame = pd.DataFrame(
        {
            "g": pd.array(["10", None, "9", TOTAL, "x"], dtype="string"),
            "v": [1.5, np.nan, 10.0, 2.0, 1.0],
        }
    )
    for keys in (("g",), ("v",), ("g", "v")):
        assert _in_reading_order(frame, keys).equals(_original(frame, keys))
    assert _in_reading_order(frame, ("g",)).g.tolist()[-1] == TOTAL
