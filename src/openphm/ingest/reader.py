r"""Reading delivered files into staging Parquet, text only, with every line accounted for.

A reader never guesses types and never drops a line. Every value is kept as
trimmed text (empty means missing) beside ``_line``, the physical line it came
from (for Parquet files, the row number), so the checks can name the line of
every fault. Rows the parser cannot split into the header's columns, rows that
are not valid text in the file's encoding, and rows with a field too long to be
real are set aside here as rejects with a reason. So for every file:

    rows read = rows staged + rows rejected

A missing column is not a row problem: it stops the run with an error naming
the file, every missing column (with the closest header found) and the setting
that maps it. Headers are matched to the layout's columns by ``match_columns``
and renamed to the layout's names, so every later step sees layout names.

How the source writes its values is its ``[sources.NAME]`` settings (``Values``):
tokens such as ``NULL`` read as no value in every column, beside the layout's own;
in the columns the checks check as dates, ISO date-times (``2023-06-04
00:00:00.000``) and the source's ``date_formats`` are rewritten to ISO dates, in
pyarrow, batch by batch; a value none reads stays as delivered for the checks to
report with its line.

How a CSV file is split into rows (pinned by ``tests/property/test_reader_props.py``),
with "," standing for the source's delimiter (one character: comma, pipe, tab...):

- A line ends at ``\n``, ``\r\n`` or a lone ``\r``; a missing final line break is fine.
  ``_line`` is the physical line a row starts on, counting the header as line 1.
- A quote opens a quoted value only as the first character of a field; it may hold
  commas and line breaks (the row then spans several lines) and ``""`` for a quote.
  A quote anywhere else is an ordinary character, as is text after a closing quote
  (``"ab"cd`` reads as ``abcd``).
- A quote that opens a field and is never closed would swallow the rest of the file:
  that row is rejected (``wrong_field_count``, "a quote opens in this field and is never
  closed") and reading starts again on the line after the quote. A stray quote that a
  later quote closes makes one row of all the lines between, as CSV says it must; that
  row nearly always fails as ``wrong_field_count`` or ``field_too_long``.
- An empty line, or one of only commas, is rejected as ``empty_row``; a line of only
  spaces is one field, so ``wrong_field_count``.
- Bytes that are not valid in the file's encoding (latin-1 bytes in a UTF-8 file,
  cp1252's five undefined bytes) and NUL bytes (never text: a zero-filled block from a
  failed transfer, or UTF-16 read as UTF-8) reject their row as ``invalid_encoding``,
  shown as ``\xNN``, unless the row does not split (``wrong_field_count``). The reader
  decodes each such byte to a private-use character in U+10FF00..U+10FFFF so that the
  parser never fails on it; real text never holds those, and a row that does is rejected
  the same way.
- A byte order mark before the header is ignored, and so is one at the very start of
  line 2 (pyarrow drops it where its stream starts, as it does on the line after an
  unclosed quote); anywhere else it is kept as part of the value for the checks to judge.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
from collections.abc import Mapping
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
MAX_HEADER_BYTES = 1 << 20
UNCLOSED_QUOTE = "a quote opens in this field and is never closed"
BOM = b"\xef\xbb\xbf"
_BREAK = re.compile(rb"\r\n|\r|\n")


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


def header_key(name: str) -> str:
    """Headers match ignoring case, spaces and underscores: 'Admission Date',
    'ADMISSION_DATE' and 'admission_date' are one header."""
    return "".join(name.split()).replace("_", "").lower()


_VALUE = re.compile(r"[0-9][0-9 \-/.:]*")  # a number or a date, not a column name
#: How a layout column's header was found, for ``openphm sources check``.
CONFIGURED, OWN_NAME, ALIAS = "configured", "own name", "alias"


@dataclass(frozen=True)
class Matched:
    header: str  # the file's header
    how: str  # CONFIGURED, OWN_NAME or ALIAS
    exact: bool  # False: matched only ignoring case, spaces or underscores


@dataclass(frozen=True)
class ColumnMatch:
    """Which of a file's headers holds each layout column, and what is left over."""

    matched: Mapping[str, Matched]  # layout column -> its header
    missing: tuple[tuple[str, str | None], ...]  # required column, closest unused header
    extra: tuple[str, ...]  # headers no layout column uses

    @property
    def mapping(self) -> dict[str, str]:
        """{header: layout column}"""
        return {m.header: column for column, m in self.matched.items()}


def match_columns(
    source: Path, found: list[str], layout: Layout, configured: Mapping[str, str] | None = None
) -> ColumnMatch:
    """Which header holds each layout column: the name the source configures for it
    (``columns`` in ``[sources.NAME]``), else the layout's own name, else its aliases in
    order, all ignoring case, spaces and underscores. Raises only for a line 1 that is not
    a header (``is_header``: then none of it is shown), a header repeated, a configured
    column the layout lacks, or two headers that differ only in case."""
    configured = dict(configured or {})
    unknown = sorted(set(configured) - set(layout.all_columns))
    if unknown:
        raise IngestError(
            f"{source}: columns {unknown} in [sources] are not columns of layout "
            f"{layout.name!r}; its columns are: {', '.join(layout.all_columns)}"
        )
    if not is_header(found, layout, configured):
        raise IngestError(_not_a_header(source, found, layout))
    repeated = sorted({c for c in found if found.count(c) > 1})
    if repeated:
        raise IngestError(f"{source}: column(s) {repeated} appear more than once in the header")
    by_key: dict[str, list[str]] = {}
    for header in found:
        by_key.setdefault(header_key(header), []).append(header)
    matched: dict[str, Matched] = {}
    used: set[str] = set()
    for column in layout.all_columns:
        names = [(configured[column], CONFIGURED)] if column in configured else []
        names += [(column, OWN_NAME), *((a, ALIAS) for a in layout.aliases.get(column, ()))]
        for name, how in names:
            headers = [h for h in by_key.get(header_key(name), []) if h not in used]
            if len(headers) > 1:
                raise IngestError(
                    f"{source}: headers {headers} differ only in case or spaces; "
                    f"name the one that holds {column!r} with columns = "
                    f'{{ {column} = "..." }} in [sources]'
                )
            if headers:
                matched[column] = Matched(headers[0], how, headers[0] == name)
                used.add(headers[0])
                break
    unused = [h for h in found if h not in used]
    missing = []
    for column in layout.columns:
        if column in matched:
            continue
        close = difflib.get_close_matches(column, unused, n=1, cutoff=0.6)
        if not close:
            keys = {header_key(h): h for h in unused}
            close = difflib.get_close_matches(header_key(column), list(keys), n=1, cutoff=0.6)
            close = [keys[c] for c in close]
        missing.append((column, close[0] if close else None))
    return ColumnMatch(matched, tuple(missing), tuple(unused))


def is_header(found: list[str], layout: Layout, configured: Mapping[str, str]) -> bool:
    """Line 1 is shown in messages only if it is a header: at least one of its fields
    names a layout column (its own name, an alias or the configured header). A file
    without a header line has a person's details there (an NHS number, a date of
    birth, a postcode), and a file that is not an extract at all (a link to
    /etc/shadow) has whatever it holds: neither is ever echoed."""
    names = {header_key(n) for c in layout.all_columns for n in (c, *layout.aliases.get(c, ()))}
    names |= {header_key(n) for n in configured.values()}
    return any(header_key(h) in names for h in found)


def _not_a_header(source: Path, found: list[str], layout: Layout) -> str:
    values = sum(bool(_VALUE.fullmatch(h)) for h in found)
    what = (
        f"holds values, not column names ({values} of its {len(found)} fields are numbers or dates)"
        if values
        else f"names none of the columns of layout {layout.name!r} (its {len(found)} "
        "field(s) are not shown: without a header line they would be someone's details)"
    )
    return (
        f"{source}: line 1 {what}, and no column of layout {layout.name!r} was found: the "
        f"file needs a header line of column names (openphm layouts {layout.name} lists "
        "them). If the file names its columns otherwise, map them in [sources] with "
        'columns = { LAYOUT_COLUMN = "FILE HEADER" }'
    )


def missing_message(source: Path, layout: Layout, match: ColumnMatch, found: list[str]) -> str:
    lines = [
        f"  {column!r}" + (f" (did you mean {close!r}?)" if close else "")
        for column, close in match.missing
    ]
    return (
        f"{source}: {len(match.missing)} required column(s) of layout {layout.name!r} are "
        "missing:\n" + "\n".join(lines) + "\nIf the file calls a column something else, "
        'map it in [sources] with columns = { LAYOUT_COLUMN = "FILE HEADER" }. '
        f"Columns found: {', '.join(found) or '(none)'}"
    )


def resolve_columns(
    source: Path, found: list[str], layout: Layout, configured: Mapping[str, str] | None = None
) -> dict[str, str]:
    """{header: layout column} (``match_columns``); stops with one error that lists every
    missing required column, each with the closest header found and the setting that
    maps it."""
    match = match_columns(source, found, layout, configured)
    if match.missing:
        raise IngestError(missing_message(source, layout, match, found))
    return match.mapping


# Undecodable bytes. The parser gets the file through a codec that turns each byte the
# file's encoding cannot decode into the private-use character U+10FF00 + byte, so the
# parser sees valid UTF-8 whatever the file holds (pyarrow otherwise stops the whole file
# when such a byte is in a row it cannot split, or in any row of a non-UTF-8 file), and
# the row can still be rejected as invalid_encoding with the byte shown.
_MARK = 0x10FF00
_MARKS = re.compile("([\U0010ff00-\U0010ffff])")
_MARKS_RE2 = "[\\x{10FF00}-\\x{10FFFF}]"
_CODEC_PREFIX = "openphm_marked_"


class _MarkCount:
    """How many bytes have been marked, so batches are only searched once one has been."""

    seen = 0


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _MarkCount.seen += 1
    return chr(_MARK + exc.object[exc.start]), exc.start + 1


def _marked_codec(name: str) -> codecs.CodecInfo | None:
    if not name.startswith(_CODEC_PREFIX):
        return None
    base = codecs.lookup(name[len(_CODEC_PREFIX) :])

    class Decoder(base.incrementaldecoder):
        def __init__(self, errors: str = "openphm.mark"):
            super().__init__(errors)

        def decode(self, data, final=False):
            text = super().decode(data, final)
            if "\x00" in text:  # never text; and DuckDB cannot take it in SQL
                _MarkCount.seen += 1
                text = text.replace("\x00", chr(_MARK))
            return text

    return codecs.CodecInfo(base.encode, base.decode, incrementaldecoder=Decoder, name=name)


codecs.register_error("openphm.mark", _mark_undecodable)
codecs.register(_marked_codec)


def _unmark(text: str) -> str:
    """Marked bytes shown as \\xNN, as a reject's value."""
    return _MARKS.sub(lambda m: f"\\x{ord(m.group()) - _MARK:02x}", text)


def _raw(text: str, encoding: str) -> bytes:
    """The bytes a (marked) text was decoded from."""
    if codecs.lookup(encoding).name == "utf-8-sig":
        encoding = "utf-8"  # the signature is only ever at the start of the file
    parts = _MARKS.split(text)
    return b"".join(
        bytes([ord(part) - _MARK]) if i % 2 else part.encode(encoding)
        for i, part in enumerate(parts)
    )


def _csv_header(
    path: Path, encoding: str, delimiter: str = ",", shown: Path | None = None
) -> tuple[list[str], int]:
    """The header's column names, and the byte offset of line 2 (where the rows start).
    ``shown``: the file the messages name (the delivered one, when ``path`` is its
    UTF-8 copy)."""
    named = shown or path
    with open(path, "rb") as fh:
        head = fh.read(MAX_HEADER_BYTES + 2)
    end = _BREAK.search(head)
    if len(head) > MAX_HEADER_BYTES and (end is None or end.start() >= MAX_HEADER_BYTES):
        raise IngestError(
            f"{named}: line 1 (the header) has no line break in its first "
            f"{MAX_HEADER_BYTES:,} bytes; expected a header line of column names"
        )
    first, body = (head[: end.start()], end.end()) if end else (head, len(head))
    try:
        text = first.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError:
        raise IngestError(
            f"{named}: line 1 (the header) is not valid {encoding}; "
            "set encoding for this source in openphm.toml (for example cp1252)"
        ) from None
    if not text.strip():
        raise IngestError(f"{named}: the file is empty; expected a header line of column names")
    names = [name.strip() for name in next(csv.reader(io.StringIO(text), delimiter=delimiter))]
    if len(names) == 1:  # every layout has two columns or more
        _one_column(named, names[0], delimiter)
    return names, body


def _one_column(path: Path, header: str, delimiter: str) -> None:
    """A header that does not split: say which separator it seems to use, and the setting."""
    for other, shown in (("|", "|"), ("\t", "\\t"), (";", ";"), (",", ",")):
        if other != delimiter and other in header:
            raise IngestError(
                f"{path}: line 1 (the header) does not split into columns at "
                f"{_shown(delimiter)!r} but holds {shown!r}: the file looks "
                f'{_NAMES[other]}-separated; set delimiter = "{shown}" for this source in '
                "[sources] in openphm.toml"
            )


_NAMES = {"|": "pipe", "\t": "tab", ";": "semicolon", ",": "comma"}


def _shown(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def _breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _line_breaks(batch: pa.RecordBatch) -> np.ndarray:
    """Extra physical lines each row spans (quoted line breaks inside values)."""
    extra = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        text = column.cast(pa.binary())
        extra += pc.count_substring(text, "\n").to_numpy(zero_copy_only=False)
        cr = pc.count_substring(text, "\r").to_numpy(zero_copy_only=False)
        if cr.any():  # a CRLF is one line break
            extra += cr - pc.count_substring(text, "\r\n").to_numpy(zero_copy_only=False)
    return extra


_QUOTED = re.compile(r'"(?:[^"]|"")*')  # an opening quote up to its closing quote


def _unclosed_quote(text: str, delimiter: str = ",") -> tuple[int, int] | None:
    """(field number, position) of a quote that opens a field of one row's text and is
    never closed, by the parser's rules (a quote opens a value only as a field's first
    character; after the closing quote the field runs on to the next delimiter)."""
    pos, field_number = 0, 0
    while True:
        if text.startswith('"', pos):
            close = _QUOTED.match(text, pos).end()
            if close >= len(text):
                return field_number, pos
            pos = close + 1
        comma = text.find(delimiter, pos)
        if comma < 0:
            return None
        pos, field_number = comma + 1, field_number + 1


def _line_after(path: Path, offset: int) -> int:
    """The offset where the line after the one holding byte ``offset`` starts (or the end)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        while chunk := fh.read(1 << 20):
            found = _BREAK.search(chunk)
            if found:
                end = offset + found.end()
                if found.group() == b"\r" and found.end() == len(chunk) and fh.read(1) == b"\n":
                    end += 1
                return end
            offset += len(chunk)
    return offset


class _Source(io.RawIOBase):
    """The file from ``offset`` on, then ``sentinel`` (for the parser)."""

    def __init__(self, path: Path, offset: int, sentinel: bytes):
        self._file = open(path, "rb")  # noqa: SIM115 (closed with the source)
        self._file.seek(offset)
        self._sentinel = sentinel

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._file.read(size)
        if size is None or size < 0 or len(data) < size:
            n = len(self._sentinel) if size is None or size < 0 else size - len(data)
            data, self._sentinel = data + self._sentinel[:n], self._sentinel[n:]
        return data

    def close(self) -> None:
        self._file.close()
        super().close()


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


@dataclass(frozen=True)
class Values:
    """How a source writes its values (``[sources.NAME]``): the tokens it writes for no
    value, and its date formats, for the columns the checks check as dates."""

    null_values: tuple[str, ...] = ()
    dates: Mapping[str, str] = field(default_factory=dict)  # column -> "date" | "datetime"
    date_formats: tuple[str, ...] = ()


# Dates as the checks read them, and ISO date-times (a space or T, optional seconds,
# fractions, Z or an offset) as extracts from SQL Server and OMOP databases write them.
_ISO = {
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "datetime": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
}
_ISO_DATE_TIME = {
    "date": (
        r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
        r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$",
        r"\1",
    ),
    "datetime": (
        r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2}(:[0-9]{2})?)(\.[0-9]+)?Z?$",
        r"\1T\2",
    ),
}
_TO_ISO = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%dT%H:%M:%S"}
_LEADING_ZEROS = r"(^|[^0-9])0+([0-9])"


def _all(mask: pa.Array) -> bool:
    return pc.all(mask).as_py() is not False  # nulls (missing values) are skipped


def _iso_dates(text: pa.Array, kind: str, formats: tuple[str, ...]) -> pa.Array:
    """A date column's values in ISO form, where they can be read: ISO date-times cut to
    the date (``date``) or to YYYY-MM-DDTHH:MM:SS (``datetime``), then each format in
    order. A value no format reads is left as delivered for the checks to report.

    The work is done on the distinct values (a batch holds few distinct dates), then
    spread back to the rows."""
    if _all(pc.match_substring_regex(pc.unique(text), _ISO[kind])):
        return text  # the usual case: every value already ISO
    encoded = pc.dictionary_encode(text)
    return pc.take(_iso_values(encoded.dictionary, kind, formats), encoded.indices)


def _iso_values(text: pa.Array, kind: str, formats: tuple[str, ...]) -> pa.Array:
    pattern, replacement = _ISO_DATE_TIME[kind]
    text = pc.replace_substring_regex(text, pattern=pattern, replacement=replacement)
    if not formats:
        return text
    done = pc.fill_null(pc.match_substring_regex(text, _ISO[kind]), True)
    for fmt in formats:
        if _all(done):
            break
        parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        # strptime rolls 31/02 over to 03/03: a value counts as read only if writing the
        # date back in its format gives the value again (leading zeros and case aside).
        back = pc.strftime(parsed, format=fmt)
        same = pc.equal(_loose(back), _loose(text))
        use = pc.and_(pc.invert(done), pc.fill_null(same, False))
        text = pc.if_else(use, pc.strftime(parsed, format=_TO_ISO[kind]), text)
        done = pc.or_(done, use)
    return text


def _loose(text: pa.Array) -> pa.Array:
    lower = pc.utf8_lower(text)
    return pc.replace_substring_regex(lower, pattern=_LEADING_ZEROS, replacement=r"\1\2")


def _clean(
    column: pa.Array,
    null_tokens: tuple[str, ...],
    date_kind: str | None = None,
    date_formats: tuple[str, ...] = (),
) -> pa.Array:
    """Trimmed text; dates in ISO form where they can be read (``_iso_dates``); empty
    strings and the null tokens (the layout's and the source's) become missing."""
    text = pc.utf8_trim_whitespace(column)
    if date_kind is not None:
        text = _iso_dates(text, date_kind, date_formats)
    missing = pc.equal(text, "")
    if null_tokens:
        missing = pc.or_(missing, pc.is_in(text, value_set=pa.array(null_tokens)))
    return pc.if_else(missing, pa.scalar(None, pa.string()), text)


def _decode(
    name: str, column: pa.Array, bad: np.ndarray, rejects: dict[int, Reject], lines, marked=False
):
    """Binary to text; rows that are not valid text are marked bad (slow path, rare).

    ``marked``: the CSV reader's codec has marked undecodable bytes since this read began,
    so the text is searched for them.
    """
    try:
        text = column.cast(pa.string())
    except pa.ArrowInvalid:
        values = [
            None if raw is None else raw.decode("utf-8", "openphm.mark")
            for raw in column.to_pylist()
        ]
        text, marked = pa.array(values, type=pa.string()), True
    if not marked:
        return text
    hits = pc.match_substring_regex(text, _MARKS_RE2).to_numpy(zero_copy_only=False)
    hits = np.flatnonzero(np.nan_to_num(hits, nan=0).astype(bool))
    if not len(hits):
        return text
    values = text.to_pylist()
    for i in hits:
        if not bad[i]:
            bad[i] = True
            shown = _short(_unmark(values[i]))
            rejects[int(lines[i])] = Reject(int(lines[i]), "invalid_encoding", name, shown)
        values[i] = None
    return pa.array(values, type=pa.string())


def _stage_batch(
    batch: pa.RecordBatch,
    lines: np.ndarray,
    layout: Layout,
    staging: _Staging,
    rejects,
    marked=False,
    values: Values = Values(),
) -> None:
    bad = np.zeros(batch.num_rows, dtype=bool)
    found: dict[int, Reject] = {}
    texts = {}
    for name in batch.schema.names:
        texts[name] = _decode(name, batch.column(name), bad, found, lines, marked)
    for name, text in texts.items():
        long = pc.greater(pc.utf8_length(text), MAX_FIELD_CHARS).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(np.nan_to_num(long, nan=0).astype(bool) & ~bad):
            bad[i] = True
            found[int(lines[i])] = Reject(
                int(lines[i]), "field_too_long", name, f"{len(text[i].as_py())} characters"
            )
    cleaned = {
        n: _clean(
            t,
            layout.null_tokens(n) + values.null_values,
            values.dates.get(n),
            values.date_formats,
        )
        for n, t in texts.items()
    }
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


def read_csv(
    path: Path,
    layout: Layout,
    out: Path,
    encoding: str = "utf-8",
    columns: Mapping[str, str] | None = None,
    delimiter: str = ",",
    values: Values = Values(),
) -> ReadResult:
    """A CSV file (any one-character delimiter) staged as text, ``_line`` each row's line.

    A file in an encoding where line breaks, quotes and delimiters are not their ASCII
    bytes (UTF-16, UTF-32) is first copied to UTF-8 beside ``out`` (``transcode``), and
    the copy read; the copy is removed when the read ends."""
    if ascii_compatible(encoding):
        return _read_csv(path, path, layout, out, _Dialect(encoding, delimiter, values), columns)
    copy = out.with_name(out.name + ".utf-8.csv")
    try:
        marked = transcode(path, encoding, copy)
        dialect = _Dialect("utf-8", delimiter, values, marked)
        return _read_csv(copy, path, layout, out, dialect, columns)
    finally:
        copy.unlink(missing_ok=True)


def _read_csv(path, shown, layout, out, dialect, columns) -> ReadResult:
    header, body = _csv_header(path, dialect.encoding, dialect.delimiter, shown)
    mapping = resolve_columns(shown, header, layout, columns)
    block = BLOCK_BYTES
    while True:
        try:
            return _read_csv_blocks(path, layout, out, dialect, header, body, block, mapping)
        except pa.ArrowInvalid as exc:
            if "straddling" not in str(exc) or block >= MAX_BLOCK_BYTES:
                raise IngestError(f"{shown}: cannot be parsed as CSV ({exc})") from None
            block *= 4


@dataclass(frozen=True)
class _Dialect:
    encoding: str
    delimiter: str
    values: Values
    marked: bool = False  # the text holds marked bytes from transcoding: search for them


# Every printable ASCII character, tab and the line breaks: what a CSV's structure is made of.
_ASCII = bytes([9, 10, 13, *range(32, 127)])
TRANSCODE_BYTES = 1 << 20


def ascii_compatible(encoding: str) -> bool:
    """Whether the file's bytes for line breaks, quotes, delimiters and header names are
    their ASCII bytes (UTF-8, cp1252, latin-1), so the file can be split as it is."""
    try:
        return _ASCII.decode(encoding) == _ASCII.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def transcode(path: Path, encoding: str, out: Path, max_lines: int | None = None) -> bool:
    """``path`` (in ``encoding``) copied to ``out`` in UTF-8, streaming; returns whether
    any byte could not be decoded (marked, so its row is rejected as invalid_encoding).
    ``max_lines``: stop soon after this many lines (a sample)."""
    seen = _MarkCount.seen
    decoder = codecs.getincrementaldecoder(_CODEC_PREFIX + encoding)()
    lines = 0
    try:
        with open(path, "rb") as src, open(out, "wb") as dst:
            while True:
                chunk = src.read(TRANSCODE_BYTES)
                text = decoder.decode(chunk, final=not chunk)
                dst.write(text.encode("utf-8", "surrogatepass"))
                lines += _breaks(text)
                if not chunk or (max_lines is not None and lines > max_lines):
                    break
    except UnicodeError as exc:  # not a decode error: e.g. UTF-16 without a byte order mark
        raise IngestError(
            f"{path}: cannot be read as {encoding} ({exc}); for UTF-16 without a byte order "
            'mark set encoding = "utf-16-le" (or "utf-16-be") for this source in '
            "openphm.toml"
        ) from None
    return _MarkCount.seen != seen


def _read_csv_blocks(path, layout, out, dialect, header, body, block, mapping) -> ReadResult:
    result = ReadResult(out, extra_columns=tuple(c for c in header if c not in mapping))
    staging = _Staging(out, list(layout.all_columns))
    size = path.stat().st_size
    start: tuple[int, int] | None = (body, 2)
    try:
        while start is not None and start[0] < size:
            start = _read_rows(
                path, size, start, layout, dialect, header, block, staging, result, mapping
            )
    finally:
        staging.close()
    result.rows_staged = staging.rows
    result.rows_read = staging.rows + len(result.rejects)
    result.rejects.sort(key=lambda r: r.line)
    return result


def _open_csv(source, header, dialect: _Dialect, block, on_invalid):
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(
            use_threads=False,  # threads would hide the row numbers of bad rows
            block_size=block,
            encoding=_CODEC_PREFIX + dialect.encoding,
            column_names=header,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=dialect.delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.binary() for c in header},  # every column, for its line breaks
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _read_rows(path, size, start, layout, dialect, header, block, staging, result, mapping):
    """Read the rows from byte offset ``start[0]`` (physical line ``start[1]``) to the end
    of the file. Returns (offset, line) to read on from if the last row opens a quote that
    it never closes, else None.

    pyarrow numbers rows, not lines, and skips the rows it cannot split: each row's first
    line is found by adding up the lines of the rows before it, the skipped ones included
    (their text says how many lines they span).

    pyarrow reads a quote still open at the end of the file as closed there. To tell, the
    parser is given the file followed by a sentinel: a line holding one quote. If the file
    ends outside quotes, that line is a row of one field (never a whole row: every layout
    has two columns or more); if a quote is still open, the sentinel's quote closes it.
    """
    offset, line = start
    encoding = dialect.encoding
    with open(path, "rb") as fh:
        fh.seek(offset)
        rest = fh.read(len(BOM) + 1)
    if rest == BOM:
        return None  # pyarrow drops a byte order mark where its stream starts
    with open(path, "rb") as fh:
        fh.seek(size - 1)
        sentinel = b'"' if fh.read(1) in (b"\n", b"\r") else b'\n"'
    invalid: dict[int, pacsv.InvalidRow] = {}

    def on_invalid(row) -> str:
        invalid[row.number] = row
        return "skip"

    def reject(row, at: int) -> None:
        shown = f"{row.actual_columns} fields, expected {row.expected_columns}"
        result.rejects.append(Reject(at, "wrong_field_count", "", shown))

    wanted = [c for c in header if c in mapping]
    names = [mapping[c] for c in wanted]
    marks = _MarkCount.seen

    def stage(batch, lines) -> None:
        marked = dialect.marked or _MarkCount.seen != marks
        named = batch.select(wanted).rename_columns(names)
        _stage_batch(named, lines, layout, staging, result.rejects, marked, dialect.values)

    held = None  # the last batch read, and its lines: its last row may be the unclosed one
    record = 1  # pyarrow's number for the next row
    with _Source(path, offset, sentinel) as source:
        for batch in _open_csv(source, header, dialect, block, on_invalid):
            if batch.num_rows == 0:
                continue
            skipped = sorted(k for k in invalid if k >= record)
            numbers = np.arange(record, record + batch.num_rows + len(skipped))
            numbers = numbers[~np.isin(numbers, skipped)][: batch.num_rows]
            skipped = [k for k in skipped if k < numbers[-1]]
            spans = np.ones(int(numbers[-1]) - record + 1, dtype=np.int64)
            spans[numbers - record] += _line_breaks(batch)
            for k in skipped:
                spans[k - record] += _breaks(invalid[k].text)
            starts = line + np.concatenate([[0], np.cumsum(spans)[:-1]])
            for k in skipped:
                reject(invalid.pop(k), int(starts[k - record]))
            if held is not None:
                stage(*held)
            held = (batch, starts[numbers - record].astype(np.int64))
            record, line = int(numbers[-1]) + 1, int(starts[-1] + spans[-1])

    trailing = [invalid[k] for k in sorted(invalid)]  # the rows after the last good one
    unclosed = not trailing or trailing[-1].text != '"'
    if not unclosed:
        trailing.pop()  # the sentinel
    last = trailing.pop() if unclosed and trailing else None
    for row in trailing:
        reject(row, line)
        line += 1 + _breaks(row.text)
    if not unclosed or (last is None and held is None):
        if held is not None:
            stage(*held)
        return None
    if last is not None:  # a row that does not split
        if held is not None:
            stage(*held)
        text = last.text[: -len(sentinel)]
        field_number, pos = _unclosed_quote(text, dialect.delimiter) or (len(header), 0)
        column = header[field_number] if field_number < len(header) else ""
        quote = size - len(_raw(text[pos:], encoding))
        quote_line = line + _breaks(text[:pos])
    else:  # the last column of the last staged row
        batch, lines = held
        stage(batch.slice(0, batch.num_rows - 1), lines[:-1])
        row = batch.slice(batch.num_rows - 1)
        value = row.column(len(header) - 1)[0].as_py().decode("utf-8")
        value = value.removesuffix(sentinel[:-1].decode())  # the sentinel's line break
        column, line = header[-1], int(lines[-1])
        quote = size - len(_raw('"' + value.replace('"', '""'), encoding))
        quote_line = line + int(_line_breaks(row.select(range(len(header) - 1))).sum())
    result.rejects.append(Reject(line, "wrong_field_count", column, UNCLOSED_QUOTE))
    return _line_after(path, quote), quote_line + 1


def read_parquet(
    path: Path,
    layout: Layout,
    out: Path,
    columns: Mapping[str, str] | None = None,
    values: Values = Values(),
) -> ReadResult:
    """A Parquet file (OMOP CDM tables): every column as text, ``_line`` the row number.

    Typed columns are written as a CSV would hold them: dates and timestamps in ISO form,
    whole numbers without a decimal part (``65363002.0`` as ``65363002``)."""
    try:
        source = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise IngestError(f"{path}: cannot be read as Parquet ({exc})") from None
    found = source.schema_arrow.names
    mapping = resolve_columns(path, found, layout, columns)
    wanted = [c for c in found if c in mapping]
    result = ReadResult(out, extra_columns=tuple(c for c in found if c not in wanted))
    staging = _Staging(out, list(layout.all_columns))
    row = 1
    try:
        for batch in source.iter_batches(columns=wanted, batch_size=256_000):
            text = pa.RecordBatch.from_arrays(
                [_as_text(batch.column(i)) for i in range(batch.num_columns)],
                names=[mapping[name] for name in batch.schema.names],
            )
            lines = np.arange(row, row + batch.num_rows, dtype=np.int64)
            row += batch.num_rows
            _stage_batch(text, lines, layout, staging, result.rejects, values=values)
    finally:
        staging.close()
    result.rows_staged = staging.rows
    result.rows_read = staging.rows + len(result.rejects)
    return result


def _as_text(column: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S").cast(pa.binary())
    text = column.cast(pa.string())
    if pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
        # ids and concept ids held as floats or decimals: 65363002.0 is the integer 65363002
        text = pc.replace_substring_regex(text, pattern=r"^(-?[0-9]+)\.0+$", replacement=r"\1")
    return text.cast(pa.binary())
