"""What the DuckDB-and-Spark parity tests share."""

from __future__ import annotations

import pandas as pd


def sorted_rows(table) -> pd.DataFrame:
    """A table's rows in one order, whatever order the engine returned them in (NULLs
    as None), so two engines' outputs compare row by row."""
    frame = table.to_pandas()
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.sort_values(list(frame.columns), key=lambda s: s.astype(str)).reset_index(
        drop=True
    )
