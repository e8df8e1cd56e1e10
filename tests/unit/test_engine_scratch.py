"""``engine.scratch_table`` on DuckDB: a temporary table written once, whose columns are
nullable whatever the query's types say (so it unions with any other table of the same
columns), and which a second table of the same name replaces."""

from __future__ import annotations

import ibis

from openphm import engine


def test_scratch_columns_are_nullable_so_the_table_unions_with_any_other(duckdb_con):
    never_null = ibis.memtable(
        {"code": ["A", "B"], "n": [1, 2]}, schema={"code": "!string", "n": "int64"}
    )
    assert not never_null.schema()["code"].nullable
    scratch = engine.scratch_table(duckdb_con, "_test_scratch", never_null)
    assert all(t.nullable for t in scratch.schema().types)
    other = ibis.memtable({"code": [None], "n": [3]}, schema={"code": "string", "n": "int64"})
    assert ibis.union(scratch, other).count().execute() == 3


def test_a_scratch_table_of_the_same_name_replaces_the_first(duckdb_con):
    engine.scratch_table(duckdb_con, "_test_again", ibis.memtable({"n": [1, 2, 3]}))
    again = engine.scratch_table(duckdb_con, "_test_again", ibis.memtable({"n": [9]}))
    assert again.n.to_pyarrow().to_pylist() == [9]
    assert duckdb_con.table("_test_again").count().execute() == 1
    assert "_test_again" in duckdb_con.list_tables(database=engine.DUCKDB_TEMP)
