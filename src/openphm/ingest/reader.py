"""Reading delivered files into staging Parquet, text only, with every line accounted for.

A reader never guesses types and never drops a line. Every value is kept as
trimmed text (empty means missing) beside ``_line``, the physical line it came
from (for Parquet files, the row number), so the checks can name the line of
every fault. Rows the parser cannot split into the header's columns, rows that
are not valid text in the file's encoding, and rows with a field too long to be
real are set aside here as rejects with a reason. So for every file:

    rows read = rows staged + rows rejected

A missing column is not a row problem: it stops the run with an error naming
the file, the column and the columns found.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openphm.ingest.layouts import Layout

LINE = "_line"
BLOCK_BYTES = 16 << 20  # grows when one row is longer than a block
MAX_BLOCK_BYTES = 1 << 30
MAX_FIELD_CHARS = 4096  # no field of any NHS extract is near this; longer is corruption
SHOWN_CHARS = 80  # of a rejected value, in the restricted quarantine file


class IngestError(ValueError):
    """A delivered file cannot be read at all; the message says which and why."""


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    column: str
    value: str


@dataclass
class ReadResult:
    path: Path  # the staging Parquet file
    rows_read: int = 0
    rows_staged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    extra_columns: tuple[str, ...] = ()


def _short(value: str) -> str:
    return value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "..."


def check_columns(source: Path, found: list[str], layout: Layout) -> None:
    """Stop with a clear error if a required column is missing or a name repeats."""
    repeated = sorted({c for c in found if found.count(c) > 1})
    if repeated:
        raise IngestError(f"{source}: column(s) {repeated} appear more than once in the header")
    for column in layout.columns:
        if column not in found:
            close = difflib.get_close_matches(column, found, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise IngestError(
                f"{source}: required column {column!r} for layout {layout.name!r} is missing"
                f"{hint} Columns found: {', '.join(found) or '(none)'}"
            )


def _csv_header(path: Path, encoding: str) -> list[str]:
    with open(path, "rb") as fh:
        first = fh.readline()
    if not first.strip():
        raise IngestError(f"{path}: the file is empty; expected a header line of column names")
    try:
        text = first.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError:
        raise IngestError(
            f"{path}: line 1 (the header) is not valid {encoding}; "
            "set encoding for this source in openphm.toml (for example cp1252)"
        ) from None
    return [name.strip() for name in next(csv.reader(io.StringIO(text)))]


def _line_breaks(batch: pa.RecordBatch) -> np.ndarray:
    """Extra physical lines each row spans (quoted line breaks inside values)."""
    extra = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        text = column.cast(pa.binary())
        crlf = pc.count_substring(text, "\r\n").to_numpy(zero_copy_only=False)
        extra += pc.count_substring(text, "\n").to_numpy(zero_copy_only=False)
        extra += pc.count_substring(text, "\r").to_numpy(zero_copy_only=False) - crlf
    return extra


def _assign_lines(start: int, spans: np.ndarray, invalid: list[int]) -> tuple[np.ndarray, int]:
    """Physical first line of each accepted row, skipping the lines of rejected rows."""
    starts = start + np.concatenate([[0], np.cumsum(spans)[:-1]]) if len(spans) else spans
    for bad in sorted(x for x in invalid if x >= start):
        starts[starts >= bad] += 1
    end = int(starts[-1] + spans[-1]) if len(spans) else start
    return starts.astype(np.int64), end


class _Staging:
    """Writes text batches (plus ``_line``) to one Parquet file."""

    def __init__(self, path: Path, columns: list[str]):
        self.path = path
        self.schema = pa.schema([(c, pa.string()) for c in columns] + [(LINE, pa.int64())])
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.rows = 0

    def write(self, columns: dict[str, pa.Array], lines: np.ndarray) -> None:
        arrays = [columns[name] for name in self.schema.names[:-1]] + [pa.array(lines)]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += len(lines)

    def close(self) -> None:
        self._writer.close()


def _clean(column: pa.Array, null_tokens: tuple[str, ...]) -> pa.Array:
    """Trimmed text; empty strings and the layout's null tokens become missing."""
    text = pc.utf8_trim_whitespace(column)
    missing = pc.equal(text, "")
    if null_tokens:
        missing = pc.or_(missing, pc.is_in(text, value_set=pa.array(null_tokens)))
    return pc.if_else(missing, pa.scalar(None, pa.string()), text)


def _decode(name: str, column: pa.Array, bad: np.ndarray, rejects: dict[int, Reject], lines):
    """Binary to text; rows that are not valid UTF-8 are marked bad (slow path, rare)."""
    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    values = column.to_pylist()
    out = []
    for i, raw in enumerate(values):
        try:
            out.append(None if raw is None else raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
            if not bad[i]:
                bad[i] = True
                shown = _short(raw.decode("utf-8", errors="backslashreplace"))
                rejects[int(lines[i])] = Reject(int(lines[i]), "invalid_encoding", name, shown)
    return pa.array(out, type=pa.string())


def _stage_batch(
    batch: pa.RecordBatch, lines: np.ndarray, layout: Layout, staging: _Staging, rejects
) -> None:
    bad = np.zeros(batch.num_rows, dtype=bool)
    found: dict[int, Reject] = {}
    texts = {}
    for name in batch.schema.names:
        texts[name] = _decode(name, batch.column(name), bad, found, lines)
    for name, text in texts.items():
        long = pc.greater(pc.utf8_length(text), MAX_FIELD_CHARS).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(np.nan_to_num(long, nan=0).astype(bool) & ~bad):
            bad[i] = True
            found[int(lines[i])] = Reject(
                int(lines[i]), "field_too_long", name, f"{len(text[i].as_py())} characters"
            )
    cleaned = {n: _clean(t, layout.null_tokens(n)) for n, t in texts.items()}
    empty = np.ones(batch.num_rows, dtype=bool)
    for text in cleaned.values():
        empty &= text.is_null().to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(empty & ~bad):
        bad[i] = True
        found[int(lines[i])] = Reject(int(lines[i]), "empty_row", "", "")
    rejects.extend(found[k] for k in sorted(found))
    keep = pa.array(~bad)
    columns = {n: pc.filter(t, keep) for n, t in cleaned.items()}
    for name in layout.all_columns:
        if name not in columns:
            columns[name] = pa.nulls(int((~bad).sum()), pa.string())
    staging.write(columns, lines[~bad])


def read_csv(path: Path, layout: Layout, out: Path, encoding: str = "utf-8") -> ReadResult:
    header = _csv_header(path, encoding)
    check_columns(path, header, layout)
    wanted = [c for c in header if c in layout.all_columns]
    block = BLOCK_BYTES
    while True:
        try:
            return _read_csv_blocks(path, layout, out, encoding, header, wanted, block)
        except pa.ArrowInvalid as exc:
            if "straddling" not in str(exc) or block >= MAX_BLOCK_BYTES:
                raise IngestError(f"{path}: cannot be parsed as CSV ({exc})") from None
            block *= 4


def _read_csv_blocks(path, layout, out, encoding, header, wanted, block) -> ReadResult:
    result = ReadResult(out, extra_columns=tuple(c for c in header if c not in layout.all_columns))
    invalid: list[int] = []

    def on_invalid(row) -> str:
        invalid.append(row.number)
        result.rejects.append(
            Reject(
                row.number,
                "wrong_field_count",
                "",
                f"{row.actual_columns} fields, expected {row.expected_columns}",
            )
        )
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=False,  # threads would hide the line numbers of bad rows
            block_size=block,
            encoding=encoding,
            skip_rows=1,
            column_names=header,
        ),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.binary() for c in header},
            include_columns=wanted,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    staging = _Staging(out, list(layout.all_columns))
    next_line = 2
    try:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            spans = 1 + _line_breaks(batch)
            lines, next_line = _assign_lines(next_line, spans, invalid)
            _stage_batch(batch, lines, layout, staging, result.rejects)
    finally:
        staging.close()
    result.rows_staged = staging.rows
    result.rows_read = staging.rows + len(result.rejects)
    result.rejects.sort(key=lambda r: r.line)
    return result


def read_parquet(path: Path, layout: Layout, out: Path) -> ReadResult:
    """A Parquet file (OMOP CDM tables): every column as text, ``_line`` the row number."""
    try:
        source = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise IngestError(f"{path}: cannot be read as Parquet ({exc})") from None
    found = source.schema_arrow.names
    check_columns(path, found, layout)
    wanted = [c for c in found if c in layout.all_columns]
    result = ReadResult(out, extra_columns=tuple(c for c in found if c not in wanted))
    staging = _Staging(out, list(layout.all_columns))
    row = 1
    try:
        for batch in source.iter_batches(columns=wanted, batch_size=256_000):
            text = pa.RecordBatch.from_arrays(
                [_as_text(batch.column(i)) for i in range(batch.num_columns)],
                names=batch.schema.names,
            )
            lines = np.arange(row, row + batch.num_rows, dtype=np.int64)
            row += batch.num_rows
            _stage_batch(text, lines, layout, staging, result.rejects)
    finally:
        staging.close()
    result.rows_staged = staging.rows
    result.rows_read = staging.rows + len(result.rejects)
    return result


def _as_text(column: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S").cast(pa.binary())
    return column.cast(pa.string()).cast(pa.binary())
