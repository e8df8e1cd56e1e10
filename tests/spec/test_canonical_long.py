"""HES's numbered code columns become one row per code, with its position."""

from openphm.ingest.canonical import _long
from tests.spec.harness import assert_spec, load

WIDE = {
    "EPIKEY": "string",
    "OPERTN_4_01": "string",
    "OPERTN_4_02": "string",
    "OPERTN_4_03": "string",
    "OPDATE_01": "string",
    "OPDATE_02": "string",
}


def test_each_code_is_a_row_at_its_position_with_its_date_and_empty_cells_are_none(con):
    t = load(
        con,
        "apc",
        """
        EPIKEY | OPERTN_4_01 | OPERTN_4_02 | OPERTN_4_03 | OPDATE_01  | OPDATE_02
        e1     | W401        |             | Z942        | 2024-01-02 | 2024-01-03
        e2     |             |             |             |            |
        e3     | H011        | Y751        |             | 2024-02-01 |
        """,
        WIDE,
    )
    columns = ["OPERTN_4_01", "OPERTN_4_02", "OPERTN_4_03"]
    # OPDATE_03 is not in this file: the third code has no date.
    dates = ["OPDATE_01", "OPDATE_02", "OPDATE_03"]
    assert_spec(
        _long(t, columns, {"episode_id": t.EPIKEY}, extra=dates),
        """
        episode_id | position | code | when
        e1         | 1        | W401 | 2024-01-02
        e1         | 3        | Z942 |
        e3         | 1        | H011 | 2024-02-01
        e3         | 2        | Y751 |
        """,
    )
