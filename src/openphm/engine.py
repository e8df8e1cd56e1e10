"""Engines: the one module that knows DuckDB and Spark exist.

Every transform in openphm is an Ibis expression, so the same code runs on the
embedded DuckDB default and on Spark. The few places where the engines differ
(session time zone, where NULLs sort, hash functions, how tables are stored)
are settled here and nowhere else; no other module imports duckdb or pyspark.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis.backends import BaseBackend

DUCKDB_MEMORY = "duckdb://"
SPARK_LOCAL = "spark://local[2]"
# Small: openphm's shuffles are per-region aggregates, and 200 (Spark's default)
# empty partitions cost more than they save on a laptop or a CI runner.
SPARK_SHUFFLE_PARTITIONS = 4
_NULL_MARK = "\u2400"  # stands in for NULL when rows are hashed


class EngineError(ValueError):
    """An engine URL or session that openphm cannot use."""


def _out_of_memory() -> tuple[type[BaseException], ...]:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - DuckDB is a dependency
        return ()
    return (duckdb.OutOfMemoryException,)


#: What an engine raises when a query needs more memory than it may use (DuckDB past its
#: memory_limit with nothing left to spill), so the command line can say what to change.
OUT_OF_MEMORY = _out_of_memory()


def connect(
    url: Any = DUCKDB_MEMORY, *, base_dir: Path | None = None, memory_limit: str | None = None
) -> BaseBackend:
    """Connect to an engine and return its Ibis backend.

    - ``duckdb://`` or ``duckdb://:memory:``: an in-memory DuckDB;
    - ``duckdb:///abs/path.duckdb`` or ``duckdb://relative.duckdb``: a DuckDB file,
      relative paths resolved against ``base_dir`` (the workspace);
    - ``spark://local[N]``: a local Spark session (tests, a single large machine);
    - a ``SparkSession`` object: an existing cluster session (Databricks or the like).

    Sessions are put on UTC so dates never shift with the machine's clock.
    ``memory_limit`` caps DuckDB's working memory (it spills to disk beyond it); a
    Spark session's memory is the cluster's business.
    """
    if not isinstance(url, str):
        return _spark_backend(url)
    scheme, sep, rest = url.partition("://")
    if scheme == "duckdb" and sep:
        con = _duckdb_backend(rest, base_dir)
        if memory_limit:
            con.raw_sql(f"SET memory_limit = '{memory_limit}'")
        return con
    if scheme == "spark" and sep:
        return _spark_backend(_local_spark_session(rest or "local[2]", base_dir))
    raise EngineError(
        f"engine url {url!r} is not one openphm knows; use duckdb:// (in memory), "
        "duckdb:///path/to/warehouse.duckdb, duckdb://warehouse.duckdb (relative to the "
        "workspace) or spark://local[N]"
    )


def _duckdb_backend(path: str, base_dir: Path | None) -> BaseBackend:
    if path in ("", ":memory:"):
        con = ibis.duckdb.connect()
    else:
        file = Path(path)
        if not file.is_absolute():
            file = (base_dir or Path.cwd()) / file
        file.parent.mkdir(parents=True, exist_ok=True)
        con = ibis.duckdb.connect(str(file))
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def _local_spark_session(master: str, base_dir: Path | None) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EngineError(
            "spark:// needs pyspark; install it with: pip install 'openphm[spark]'"
        ) from exc
    # Without a workspace, a private folder: processes must not share table files.
    warehouse = (base_dir or Path(tempfile.mkdtemp(prefix="openphm-spark-"))) / "spark-warehouse"
    session = (
        SparkSession.builder.master(master)
        .appName("openphm")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.shuffle.partitions", str(SPARK_SHUFFLE_PARTITIONS))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _spark_backend(session: Any) -> BaseBackend:
    if not hasattr(session, "sparkContext"):
        raise EngineError(f"connect() was given a {type(session).__name__}, not a SparkSession")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    # Without Arrow, Spark turns a pandas column of nullable integers into all NULLs.
    session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    return ibis.pyspark.connect(session)


def engine_name(con: BaseBackend) -> str:
    """'duckdb' or 'spark'."""
    return "spark" if con.name == "pyspark" else con.name


def close(con: BaseBackend) -> None:
    """Release a DuckDB file (Spark sessions are shared and left running)."""
    if engine_name(con) == "duckdb":
        # Release cached tables while connected; Ibis would otherwise try to drop
        # them from a closed connection when their expressions are collected.
        for name in list(getattr(con, "_cache_name_to_entry", {})):
            con._finalize_cached_table(name)
        con.disconnect()


# --- storage ---------------------------------------------------------------


def write_table(con: BaseBackend, name: str, obj: ir.Table | Any) -> None:
    """Create or replace a physical table from an expression or a DataFrame."""
    if engine_name(con) == "spark":
        _adopt_spark_files(con, name)
    con.create_table(name, obj=obj, overwrite=True)


DUCKDB_TEMP = ("temp", "main")  # where DuckDB keeps a session's temporary tables


def scratch_table(con: BaseBackend, name: str, obj: ir.Table) -> ir.Table:
    """A table that lives as long as the session: for tests and intermediate steps.

    DuckDB has temporary tables. Ibis's Spark backend offers temporary views
    instead, which Spark would recompute at every use; so the view is cached
    (eagerly, spilling to disk) and the work is done once, as on DuckDB.
    """
    if engine_name(con) == "spark":
        view = con.create_view(name, obj, overwrite=True)
        con._session.sql(f"CACHE TABLE `{name}`")
        return view
    if name in con.list_tables(database=DUCKDB_TEMP):
        return con.create_table(name, obj, temp=True, overwrite=True)
    # A new name is written once: ibis's overwrite writes the rows to a table of a made-up
    # name, then copies them all to this one (for a file's checked rows, seconds at 100k).
    # Its columns are nullable, as the copy's are, so the table unions with any other.
    nullable = ibis.schema({n: t.copy(nullable=True) for n, t in obj.schema().items()})
    return con.create_table(name, obj, schema=nullable, temp=True)


def snapshot_table(con: BaseBackend, name: str, obj: ir.Table) -> ir.Table:
    """``scratch_table`` for a result made by a large query and read several times.

    A cached Spark view still holds its query: each reader re-parses and re-analyses it
    before the cache is found, which for a wide table built from many lists takes
    seconds per read. On Spark the rows are computed once into a local checkpoint
    (memory, spilling to disk) whose plan is only the rows; DuckDB's temporary table
    is that already. Dropped with ``drop_scratch``.
    """
    if engine_name(con) != "spark":
        return scratch_table(con, name, obj)
    con.create_view(name, obj, overwrite=True)
    con._session.table(name).localCheckpoint(eager=True).createOrReplaceTempView(name)
    return con.table(name)


def derived_table(con: BaseBackend, name: str, obj: ir.Table) -> ir.Table:
    """Cheap columns derived from a scratch table, read by several queries.

    On DuckDB the expression itself: each reader evaluates it as it scans, with no copy.
    On Spark a snapshot (``snapshot_table``): inlined, a wide derivation is compiled into
    every reader's generated code, and Janino ran out of heap on ingest's checked rows.
    Dropped with ``drop_scratch`` (a no-op on DuckDB, where nothing was made).
    """
    return snapshot_table(con, name, obj) if engine_name(con) == "spark" else obj


def write_parquet(con: BaseBackend, table: ir.Table, path: Path) -> None:
    """Stream a table to Parquet without holding it in Python: a file (DuckDB) or a
    folder of part files (Spark). The write is atomic: a partial result never shows."""
    partial = path.with_name(path.name + ".partial")
    remove_path(partial)
    con.to_parquet(table, str(partial))
    remove_path(path)
    os.replace(partial, path)


def read_parquet(con: BaseBackend, path: Path) -> ir.Table:
    return con.read_parquet(str(path))


def remove_path(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def drop_scratch(con: BaseBackend, name: str) -> None:
    if engine_name(con) == "spark":
        con._session.sql(f"UNCACHE TABLE IF EXISTS `{name}`")
        con.drop_view(name, force=True)
    else:
        con.drop_table(name, force=True)


def read_table(con: BaseBackend, name: str) -> ir.Table:
    if engine_name(con) == "spark":
        _adopt_spark_files(con, name)
    return con.table(name)


def drop_table(con: BaseBackend, name: str) -> None:
    if engine_name(con) == "spark":
        _adopt_spark_files(con, name)
        con.drop_table(name, force=True)
        shutil.rmtree(_spark_warehouse(con) / name, ignore_errors=True)
        return
    con.drop_table(name, force=True)


def table_names(con: BaseBackend) -> list[str]:
    names = set(con.list_tables())
    if engine_name(con) == "spark" and _spark_warehouse(con).exists():
        names |= {p.name for p in _spark_warehouse(con).iterdir() if p.is_dir()}
    return sorted(names)


def _spark_warehouse(con: BaseBackend) -> Path:
    return Path(con._session.conf.get("spark.sql.warehouse.dir").removeprefix("file:"))


def _adopt_spark_files(con: BaseBackend, name: str) -> None:
    """Register table files an earlier local session wrote.

    A local Spark session keeps its catalog in memory, so a new process sees the
    workspace's table files but not the tables. A cluster's metastore needs none of this.
    """
    location = _spark_warehouse(con) / name
    if name not in con.list_tables() and location.exists():
        con._session.sql(f"CREATE TABLE `{name}` USING parquet LOCATION '{location}'")


# --- the differences between engines, settled once --------------------------


def sort_keys(*columns: ir.Column, descending: bool = False) -> list[ir.Value]:
    """Sort keys with NULLs always last, whatever the engine's default.

    DuckDB sorts NULLs last and Spark first, and Ibis's ``nulls_first`` flag is
    not honoured on every backend; an explicit is-null key is.
    """
    keys: list[ir.Value] = []
    for col in columns:
        keys.append(col.isnull().asc())
        keys.append(col.desc() if descending else col.asc())
    return keys


def row_number(
    group_by: Sequence[ir.Column], order_by: Sequence[ir.Value], tie_break: Sequence[ir.Column]
) -> ir.IntegerColumn:
    """1-based row number per group with a total order, so engines agree on ties.

    ``tie_break`` must make the order unique (usually the table's key).
    """
    keys = list(order_by) + sort_keys(*tie_break)
    return ibis.row_number().over(group_by=list(group_by), order_by=keys) + 1


@ibis.udf.agg.builtin(name="bit_or")
def _bit_or(value: dt.int64) -> dt.int64:  # type: ignore[empty-body]
    """SQL's BIT_OR aggregate, which DuckDB and Spark (3.0 on) both have."""


def bit_or(value: ir.IntegerValue, where: ir.BooleanValue | None = None) -> ir.IntegerScalar:
    """The bitwise OR of an int64 column's values (NULL if none): exact, and idempotent,
    so a flag set by many rows is set once. Ibis 12 compiles its own ``bit_or`` on DuckDB
    but not on PySpark, so both engines get the builtin by name."""
    return _bit_or(value.cast("int64"), where=where)


def epoch_days(date: ir.DateValue) -> ir.IntegerValue:
    """Days since 1970-01-01: date arithmetic as integers, identical on every engine."""
    return date.delta(ibis.date(1970, 1, 1), unit="day")


def fingerprint(table: ir.Table) -> tuple[str, int]:
    """An order-independent content fingerprint and the row count of a table.

    Each row is hashed in the engine and the hashes are summed under two moduli,
    so no rows leave the engine. Hash functions differ between engines, so
    fingerprints compare only within one engine.
    """
    cols = [table[c].cast("string").fill_null(_NULL_MARK) for c in table.columns]
    row = (ibis.literal("\u241f").join(cols) if cols else ibis.literal("")).hash()
    agg = table.aggregate(
        n=ibis._.count(),
        a=(row % 2_147_483_647).sum(),
        b=(row % 1_000_003).sum(),
    )
    n, a, b = agg.mutate(a=agg.a.fill_null(0), b=agg.b.fill_null(0)).execute().iloc[0]
    schema = ",".join(f"{k}:{v}" for k, v in table.schema().items())
    digest = hashlib.sha256(f"{schema}|{n}|{a}|{b}".encode()).hexdigest()
    return digest[:32], int(n)
