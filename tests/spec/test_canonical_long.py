"""HES admitted care as canonical rows: numbered code columns become one row per
code, with its position; a spell's episodes become one encounter."""

# ruff: noqa: E501 (a spec table keeps one row per line)

from openphm.ingest.canonical import _long, hes_apc
from openphm.ingest.layouts import LAYOUTS
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


APC = {c: "string" for c in LAYOUTS["hes_apc"].all_columns}


def test_an_admitted_spell_is_one_encounter_ending_where_its_last_episode_went(con):
    # Spell 7: two consultant episodes; the second discharges home (19). Spell 8 is
    # still in hospital. The encounter carries the spell's discharge and destination.
    t = load(
        con,
        "apc",
        """
        EPIKEY | PROCODE3 | PROVSPNOPS | NEWNHSNO   | ADMIDATE   | ADMIMETH | EPISTART   | EPIEND     | EPIORDER | DISDATE    | DISDEST | TRETSPEF
        k1     | RA1      | 7          | 9990000018 | 2024-03-01 | 21       | 2024-03-01 | 2024-03-03 | 01       |            | 98      | 300
        k2     | RA1      | 7          | 9990000018 | 2024-03-01 | 21       | 2024-03-03 | 2024-03-06 | 02       | 2024-03-06 | 19      | 100
        k3     | RA1      | 8          | 9990000026 | 2024-03-02 | 11       | 2024-03-02 |            | 01       |            |         | 100
        """,
        APC,
    )
    assert_spec(
        hes_apc(t, "hes")["staged_encounter"],
        """
        encounter_id | record_key | start_date | end_date   | is_emergency | discharge_destination | treatment_function
        apc:RA1-s7   | k1         | 2024-03-01 | 2024-03-06 | true         | 19                    | 300
        apc:RA1-s8   | k3         | 2024-03-02 |            | false        |                       | 100
        """,
    )
