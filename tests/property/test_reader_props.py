"""The CSV reader accounts for every line of a malformed file, at the right line.

Files are built from generated records: well-formed rows of a layout's columns (some
with quoted commas, quotes and line breaks, some with values of the wrong type) and
deliberately malformed lines (too few or too many fields, truncated rows, stray and
unclosed quotes, latin-1 and invalid UTF-8 bytes, byte order marks, NUL bytes, fields of
up to 100 kB, empty and whitespace-only lines), ended by LF, CRLF or a lone CR, the last
one sometimes not at all. Two oracles say what the reader must find:

- the generator's own account: each record starts on the line after the previous one
  ends, and a row whose quote never closes is rejected with reading resumed on the next
  line;
- ``split``, a reference splitter written here from CSV's rules as the reader documents
  them, independent of pyarrow. It must agree with the generator whenever the
  generator's account is unambiguous (a stray quote that a later quote closes makes one
  row of all the lines between, as CSV says; only the splitter knows that row).

The reader must match the reference row for row: each staged row's line and values,
each reject's line, reason, column and value. So rows read = rows staged + rejects =
records in the file, and lines are unique and increasing. Then the checks must split
the staged rows into accepted and quarantined, every row exactly once.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from unittest import mock

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openphm import engine
from openphm.ingest import checks, reader
from openphm.ingest.layouts import LAYOUTS, Layout
from openphm.ingest.reader import LINE, IngestError, read_csv

WINDOW = checks.Window(date(1900, 1, 1), date(2026, 11, 22))
TINY = Layout("tiny", "two columns, for byte soup", "A", ("A", "B"))
BOM = b"\xef\xbb\xbf"
ENDINGS = (b"\n", b"\r\n", b"\r")
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Small blocks put rows across pyarrow's block boundaries (the reader grows a block
# that is too small for a row).
BLOCKS = st.sampled_from([reader.BLOCK_BYTES, reader.BLOCK_BYTES, 256, 1024])


# --- the reference splitter -------------------------------------------------------

_QUOTED = re.compile(rb'"((?:[^"]|"")*+)"([^,\r\n]*)')  # closed quote, then text to the comma
_UNQUOTED = re.compile(rb"[^,\r\n]*")
_BREAK = re.compile(rb"\r\n|\r|\n")


def breaks(raw: bytes) -> int:
    return len(_BREAK.findall(raw))


@dataclass(frozen=True)
class Row:
    line: int
    fields: tuple[bytes, ...] | None  # None: a quote opens in field `column`, never closed
    column: int = 0
    empty: bool = False  # an empty line


def split(body: bytes, utf8: bool) -> list[Row]:
    """The rows of everything after the header line, by the rules in reader's docstring.

    pyarrow drops a UTF-8 byte order mark where its stream starts: line 2, and the line
    after an unclosed quote, where the reader starts a new stream.
    """
    rows: list[Row] = []
    pos, line, stream_start = 0, 2, True
    while True:
        if stream_start and utf8 and body.startswith(BOM, pos):
            pos += len(BOM)
        stream_start = False
        if pos >= len(body):
            return rows
        start, fields = pos, []
        while True:
            if body.startswith(b'"', pos):
                quoted = _QUOTED.match(body, pos)
                if quoted is None:  # the quote never closes: reject, and resume after its line
                    rows.append(Row(line, None, len(fields)))
                    after = _BREAK.search(body, pos)
                    if after is None:
                        return rows
                    line += breaks(body[start:pos]) + 1  # the line after the quote's
                    pos, stream_start = after.end(), True
                    break
                fields.append(quoted.group(1).replace(b'""', b'"') + quoted.group(2))
                pos = quoted.end()
            else:
                unquoted = _UNQUOTED.match(body, pos)
                fields.append(unquoted.group())
                pos = unquoted.end()
            if body.startswith(b",", pos):
                pos += 1
                continue
            rows.append(Row(line, tuple(fields), empty=pos == start))
            line += breaks(body[start:pos])
            end = _BREAK.match(body, pos)
            if end:
                pos, line = end.end(), line + 1
            break


def short(value: str) -> str:
    return value if len(value) <= reader.SHOWN_CHARS else value[: reader.SHOWN_CHARS] + "..."


def expected(rows: list[Row], header: list[str], layout: Layout, encoding: str):
    """(staged rows as dicts with _line, rejects as (line, reason, column, value))."""
    staged, rejects = [], []
    for row in rows:
        if row.fields is None:
            column = header[row.column] if row.column < len(header) else ""
            rejects.append((row.line, "wrong_field_count", column, reader.UNCLOSED_QUOTE))
            continue
        fields = (b"",) * len(header) if row.empty else row.fields
        if len(fields) != len(header):
            shown = f"{len(fields)} fields, expected {len(header)}"
            rejects.append((row.line, "wrong_field_count", "", shown))
            continue
        raws = {n: raw for n, raw in zip(header, fields, strict=True) if n in layout.all_columns}
        texts, reject = {}, None
        for name, raw in raws.items():
            with contextlib.suppress(UnicodeDecodeError):
                texts[name] = raw.decode(encoding)
            if name not in texts or b"\x00" in raw:  # NUL is never text either
                shown = short(raw.decode(encoding, "backslashreplace").replace("\x00", "\\x00"))
                reject = reject or (row.line, "invalid_encoding", name, shown)
        for name, text in texts.items():
            if len(text) > reader.MAX_FIELD_CHARS:
                reject = reject or (row.line, "field_too_long", name, f"{len(text)} characters")
        if reject is None and all(not t.strip() for t in texts.values()):
            reject = (row.line, "empty_row", "", "")
        if reject:
            rejects.append(reject)
            continue
        values = {n: (texts.get(n) or "").strip() or None for n in layout.all_columns}
        staged.append(values | {LINE: row.line})
    return staged, rejects


# --- files built from records -----------------------------------------------------


@dataclass(frozen=True)
class Record:
    raw: bytes  # without its line ending
    stray: bool = False  # opens a quote (on its only line) that nothing in it closes


PLAUSIBLE = [
    "9434765919", "943 476 5919", "9434765918", "2020-01-01", "2020-02-30", "1800-01-01",
    "2031-05-05", "22298006", "38341003", "22298007", "A81001", "RX1", "12.5", "-3", "abc",
    "1e5", "ATTENDED", "5", "NaN", "", " ", "  padded  ", "\tx",
]  # fmt: skip
TEXT = {
    "utf-8": "abcXYZ019 -_.:/é£–漢😀\x00\t",
    "cp1252": "abcXYZ019 -_.:/é£–€\x00\t",
}
BAD_BYTES = {
    "utf-8": [b"\xe9", b"\xa3", b"\xff", b"\xc3(", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf"],
    "cp1252": [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"],
}
SPECIAL = ',"\r\n'  # what makes a value need quotes
VALID = {  # a row that passes every check, so some rows are accepted
    "NHS_NUMBER": "9434765919", "PRACTICE_CODE": "A81001", "EVENT_DATE": "2020-01-01",
    "SNOMED_CODE": "22298006", "VALUE": "12.5", "UNIT": "mmol/L", "PROVIDER_CODE": "RX1",
    "CONTACT_DATE": "2021-03-04", "CARE_CONTACT_DURATION": "30", "TEAM_TYPE": "A01",
    "ATTENDED": "Y", "NOTES": "seen, \"well\"\nreview in 6/12",
}  # fmt: skip


def values(encoding: str, special: bool = True):
    alphabet = TEXT[encoding] + (SPECIAL if special else "")
    return st.one_of(st.sampled_from(PLAUSIBLE), st.text(alphabet, max_size=10))


def render(value: str | bytes, encoding: str, quote: bool) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode(encoding)
    if quote or any(c.encode() in raw for c in SPECIAL):
        return b'"' + raw.replace(b'"', b'""') + b'"'
    return raw


@st.composite
def good_row(draw, ncols: int, encoding: str) -> list[bytes]:
    row = draw(st.lists(values(encoding), min_size=ncols, max_size=ncols))
    return [render(v, encoding, draw(st.booleans())) for v in row]


@st.composite
def plain_row(draw, ncols: int, encoding: str) -> list[bytes]:
    """No quotes and no line breaks: the row is exactly one line."""
    row = draw(st.lists(values(encoding, special=False), min_size=ncols, max_size=ncols))
    return [v.encode(encoding) for v in row]


@st.composite
def record(draw, header: list[str], encoding: str) -> Record:
    ncols = len(header)
    kind = draw(
        st.sampled_from(
            ["good"] * 4
            + ["valid"] * 3
            + ["count", "truncated", "encoding", "huge", "blank", "nul", "bom", "stray"]
            + ["midquote", "after_close"]
        )
    )
    if kind == "bom" and encoding != "utf-8":
        kind = "good"
    fields = draw(good_row(ncols, encoding))
    i = draw(st.integers(0, ncols - 1))
    if kind == "valid":
        key = str(draw(st.integers(1, 10**6)))
        fields = [render(VALID.get(c, key), encoding, draw(st.booleans())) for c in header]
    elif kind == "count":  # a stray delimiter, or fields missing
        n = draw(st.integers(1, ncols + 3).filter(lambda k: k != ncols))
        fields = (fields + draw(good_row(3, encoding)))[:n]
    elif kind == "truncated":
        raw = b",".join(draw(plain_row(ncols, encoding)))
        return Record(raw[: draw(st.integers(1, max(1, len(raw) - 1)))])
    elif kind == "encoding":
        raw = draw(values(encoding)).encode(encoding)
        at = draw(st.integers(0, len(raw)))
        bad = draw(st.sampled_from(BAD_BYTES[encoding]))
        fields[i] = render(raw[:at] + bad + raw[at:], encoding, draw(st.booleans()))
    elif kind == "huge":
        size = draw(st.sampled_from([4096, 4097, 5000, 100_000]))
        fields[i] = render("x" * size, encoding, draw(st.booleans()))
    elif kind == "blank":
        return Record(draw(st.sampled_from([b"", b" ", b"   ", b"\t", b"," * (ncols - 1), b" , "])))
    elif kind == "nul":
        if draw(st.booleans()):
            return Record(b"\x00")
        fields[i] = render(b"a\x00" + draw(values(encoding)).encode(encoding), encoding, False)
    elif kind == "bom":
        return Record(BOM + b",".join(draw(plain_row(ncols, encoding))))  # no quote after it
    elif kind == "stray":  # a quote opens a field and nothing on the line closes it
        fields = draw(plain_row(ncols, encoding))
        fields[i] = b'"' + draw(st.text(TEXT[encoding] + ",", max_size=8)).encode(encoding)
        return Record(b",".join(fields), stray=True)
    elif kind == "midquote":  # a quote inside an unquoted value is an ordinary character
        fields[i] = b"ab" + b'"' + draw(st.text(TEXT[encoding], max_size=4)).encode(encoding)
    elif kind == "after_close":  # text after a closing quote joins the value
        fields[i] = b'"ab"cd'
    return Record(b",".join(fields))


@dataclass
class File:
    layout: Layout
    header: list[str]
    encoding: str
    records: list[Record] | None  # None: not built from records
    data: bytes
    body: bytes

    def intent(self) -> list[tuple[int, bool]] | None:
        """(first line, rejected for a quote never closed) of each record, as generated;
        None when a stray quote may be closed by a later quote."""
        if self.records is None:
            return None
        for i, rec in enumerate(self.records):
            if rec.stray and any(b'"' in later.raw for later in self.records[i + 1 :]):
                return None
        out, line = [], 2
        for rec in self.records:
            out.append((line, rec.stray))
            line += 1 + breaks(rec.raw)
        return out


@st.composite
def files(draw, layout_names=("gp_events", "community_contacts"), encodings=("utf-8",)):
    layout = LAYOUTS[draw(st.sampled_from(layout_names))]
    encoding = draw(st.sampled_from(encodings))
    header = list(layout.columns) + [c for c in layout.optional if draw(st.booleans())]
    header += ["NOTES"] if draw(st.booleans()) else []
    header = list(draw(st.permutations(header)))
    records = draw(st.lists(record(header, encoding), max_size=20))
    mixed = draw(st.booleans())
    style = draw(st.sampled_from(ENDINGS))
    endings = [draw(st.sampled_from(ENDINGS)) if mixed else style for _ in records]
    if records and records[-1].raw and draw(st.booleans()):
        endings[-1] = b""  # no final line break
    previous = draw(st.sampled_from(ENDINGS))  # the header's
    for i, rec in enumerate(records):  # "\r" then an empty line's "\n" would be one CRLF
        if previous == b"\r" and rec.raw == b"" and endings[i] == b"\n":
            endings[i] = b"\r\n"
        previous = endings[i]
    body = b"".join(r.raw + e for r, e in zip(records, endings, strict=True))
    head = (BOM if encoding == "utf-8" and draw(st.booleans()) else b"") + ",".join(header).encode()
    header_ending = draw(st.sampled_from(ENDINGS)) if records else b""
    if records and header_ending == b"\r" and records[0].raw == b"" and endings[0] == b"\n":
        header_ending = b"\n"
    return File(layout, header, encoding, records, head + header_ending + body, body)


def read(directory: Path, data: bytes, layout: Layout, encoding: str, block: int):
    path = directory / "delivered.csv"
    path.write_bytes(data)
    with mock.patch.object(reader, "BLOCK_BYTES", block):
        result = read_csv(path, layout, directory / "staged.parquet", encoding)
    return result, pq.read_table(result.path).to_pylist()


def assert_reconciles(result, staged: list[dict]) -> None:
    assert result.rows_staged == len(staged)
    assert result.rows_read == result.rows_staged + len(result.rejects)
    lines = sorted([row[LINE] for row in staged] + [r.line for r in result.rejects])
    assert lines == sorted(set(lines)), "two rows claim one line"
    assert [row[LINE] for row in staged] == sorted(row[LINE] for row in staged)
    assert all(line >= 2 for line in lines)


def assert_matches_reference(f: File, result, staged: list[dict]) -> None:
    rows = split(f.body, utf8=f.encoding == "utf-8")
    intent = f.intent()
    if intent is not None:  # the reference agrees with the generator where it can say
        assert [(r.line, r.fields is None) for r in rows] == intent
    want_staged, want_rejects = expected(rows, f.header, f.layout, f.encoding)
    assert result.rows_read == len(rows)
    got_rejects = [(r.line, r.reason, r.column, r.value) for r in result.rejects]
    assert got_rejects == want_rejects
    assert staged == want_staged


# --- properties -------------------------------------------------------------------


@FUZZ
@given(f=files(), block=BLOCKS)
def test_every_record_is_staged_or_rejected_at_its_line(tmp_path_factory, f, block):
    result, staged = read(tmp_path_factory.mktemp("read"), f.data, f.layout, f.encoding, block)
    assert_reconciles(result, staged)
    assert_matches_reference(f, result, staged)


@settings(FUZZ, max_examples=40)
@given(f=files(encodings=("cp1252",)), block=BLOCKS)
def test_cp1252_files_with_undefined_bytes(tmp_path_factory, f, block):
    result, staged = read(tmp_path_factory.mktemp("read"), f.data, f.layout, "cp1252", block)
    assert_reconciles(result, staged)
    assert_matches_reference(f, result, staged)


# Commas and pipes exchanged, byte for byte: neither is ever part of a multi-byte
# character in UTF-8 or cp1252, and no generated value holds a pipe.
SWAP = bytes.maketrans(b",|", b"|,")


def unswapped(text: str) -> str:
    return text.translate(str.maketrans(",|", "|,"))


@settings(FUZZ, max_examples=40)
@given(f=files(encodings=("utf-8", "cp1252")), block=BLOCKS)
def test_a_pipe_delimited_file_reads_as_the_same_file_with_commas(tmp_path_factory, f, block):
    """Every splitting rule holds for any delimiter: the file with its commas and pipes
    exchanged, read with delimiter "|", gives the reference's rows, lines and rejects."""
    directory = tmp_path_factory.mktemp("read")
    path = directory / "delivered.psv"
    path.write_bytes(f.data.translate(SWAP))
    with mock.patch.object(reader, "BLOCK_BYTES", block):
        result = read_csv(path, f.layout, directory / "staged.parquet", f.encoding, delimiter="|")
    staged = [
        {k: unswapped(v) if isinstance(v, str) else v for k, v in row.items()}
        for row in pq.read_table(result.path).to_pylist()
    ]
    result.rejects = [  # the values shown from the file, not the reader's own words
        replace(r, value=unswapped(r.value)) if r.reason == "invalid_encoding" else r
        for r in result.rejects
    ]
    assert_reconciles(result, staged)
    assert_matches_reference(f, result, staged)


SOUP = st.lists(
    st.sampled_from(
        [b",", b'"', b'""', b"\r", b"\n", b"\r\n", b"a", b"bc", b" ", b"\x00", b"\xe9", BOM]
        + [b"\xc3\xa9", b"\xe2\x82", b"x" * 5000]
    ),
    max_size=40,
).map(b"".join)


@FUZZ
@given(body=SOUP, block=BLOCKS)
def test_byte_soup_after_a_good_header(tmp_path_factory, body, block):
    """Any bytes at all after the header: the reader matches the reference exactly."""
    f = File(TINY, ["A", "B"], "utf-8", None, b"A,B\n" + body, body)
    result, staged = read(tmp_path_factory.mktemp("read"), f.data, TINY, "utf-8", block)
    assert_reconciles(result, staged)
    assert_matches_reference(f, result, staged)


@settings(FUZZ, max_examples=60)
@given(data=st.one_of(st.binary(max_size=60), SOUP.map(lambda b: b"A" + b)))
def test_any_file_is_read_or_refused_with_ingest_error(tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("read")
    try:
        result, staged = read(directory, data, TINY, "utf-8", reader.BLOCK_BYTES)
    except IngestError as exc:
        assert str(directory / "delivered.csv") in str(exc)
    else:
        assert_reconciles(result, staged)


@pytest.fixture(scope="module")
def duckdb():
    con = engine.connect("duckdb://")
    yield con
    engine.close(con)


@settings(FUZZ, max_examples=50)
@given(f=files())
def test_checks_accept_or_quarantine_every_staged_row_once(tmp_path_factory, duckdb, f):
    result, staged = read(
        tmp_path_factory.mktemp("read"), f.data, f.layout, f.encoding, reader.BLOCK_BYTES
    )
    accepted, quarantined = checks.evaluate(duckdb.read_parquet(result.path), f.layout, WINDOW)
    kept = accepted.to_pyarrow()[LINE].to_pylist()
    out = quarantined.to_pyarrow()
    held = out["line"].to_pylist()
    assert len(kept) + len(held) == result.rows_staged
    assert not set(kept) & set(held)
    assert sorted(kept + held) == [row[LINE] for row in staged]
    assert set(out["reason"].to_pylist()) <= set(checks.REASONS)


# --- examples, one per reject reason ----------------------------------------------

GP = LAYOUTS["gp_events"]
GP_HEADER = b"EVENT_ID,NHS_NUMBER,PRACTICE_CODE,EVENT_DATE,SNOMED_CODE,VALUE,UNIT\n"


def gp_row(event_id: int, value: bytes = b"1.5") -> bytes:
    return b"%d,9434765919,A81001,2020-01-01,22298006,%s,mmol/L\n" % (event_id, value)


def read_example(tmp_path: Path, data: bytes, encoding: str = "utf-8", layout: Layout = GP):
    path = tmp_path / "gp_events.csv"
    path.write_bytes(data)
    result = read_csv(path, layout, tmp_path / "staged.parquet", encoding)
    staged = pq.read_table(result.path).to_pylist()
    assert_reconciles(result, staged)
    rejects = [(r.line, r.reason, r.column, r.value) for r in result.rejects]
    return result, staged, rejects


def test_wrong_field_count_names_the_line_after_quoted_line_breaks(tmp_path):
    data = (
        GP_HEADER
        + gp_row(1, b'"two\nlines"')  # lines 2-3
        + b'9,9434765919,"A\r\n1",2020-01-01,22298006\n'  # lines 4-5: 5 fields
        + b"9,9434765919,A81001,2020-01-01,22298006,1,mmol/L,extra\n"  # line 6
        + gp_row(2)  # line 7
        + b"9,9434765919\n"  # line 8: truncated
    )
    result, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2, 7]
    assert rejects == [
        (4, "wrong_field_count", "", "5 fields, expected 7"),
        (6, "wrong_field_count", "", "8 fields, expected 7"),
        (8, "wrong_field_count", "", "2 fields, expected 7"),
    ]
    assert result.rows_read == 5


def test_invalid_encoding_even_in_a_row_that_does_not_split(tmp_path):
    data = (
        GP_HEADER
        + gp_row(1)
        + gp_row(2, b"caf\xe9")  # line 3: latin-1 in a UTF-8 file
        + b"3,9434765919,caf\xe9\n"  # line 4: used to stop the whole file
        + gp_row(4, b"\xc3(")  # line 5: an invalid UTF-8 sequence
        + gp_row(5, "café".encode())
    )
    _, staged, rejects = read_example(tmp_path, data)
    assert [(r[LINE], r["VALUE"]) for r in staged] == [(2, "1.5"), (6, "café")]
    assert rejects == [
        (3, "invalid_encoding", "VALUE", "caf\\xe9"),
        (4, "wrong_field_count", "", "3 fields, expected 7"),
        (5, "invalid_encoding", "VALUE", "\\xc3("),
    ]


def test_nul_bytes_are_not_text(tmp_path):
    data = GP_HEADER + gp_row(1, b"1\x00") + b"\x00\x00\x00\n" + gp_row(3)
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [4]
    assert rejects == [
        (2, "invalid_encoding", "VALUE", "1\\x00"),
        (3, "wrong_field_count", "", "1 fields, expected 7"),
    ]


def test_field_too_long(tmp_path):
    data = GP_HEADER + gp_row(1, b"x" * 4096) + gp_row(2, b"x" * 4097) + gp_row(3)
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2, 4]
    assert rejects == [(3, "field_too_long", "VALUE", "4097 characters")]


def test_empty_rows_and_blank_lines(tmp_path):
    data = GP_HEADER + gp_row(1) + b"\n" + b",,,,,,\n" + b"  \n" + b" , ,,,,,\r" + gp_row(2)
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2, 7]
    assert rejects == [
        (3, "empty_row", "", ""),
        (4, "empty_row", "", ""),
        (5, "wrong_field_count", "", "1 fields, expected 7"),
        (6, "empty_row", "", ""),
    ]


def test_a_quote_never_closed_rejects_its_row_and_reading_resumes(tmp_path):
    data = (
        GP_HEADER
        + gp_row(1)
        + b'2,9434765919,"A81001,2020-01-01,22298006,1,x\r\n'  # line 3
        + gp_row(3)
        + gp_row(4)
    )
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2, 4, 5]
    assert rejects == [(3, "wrong_field_count", "PRACTICE_CODE", reader.UNCLOSED_QUOTE)]

    data = (
        GP_HEADER
        + b'1,"9434\n765919",A81001,"2020-01-01\r\n",22298006,"1,x\n'  # lines 2-4; opens on 4
        + gp_row(2)  # line 5
    )
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [5]
    assert rejects == [(2, "wrong_field_count", "VALUE", reader.UNCLOSED_QUOTE)]

    data = GP_HEADER + gp_row(1) + gp_row(2) + gp_row(3, b'"no end')[:-1]  # line 4, no \n
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2, 3]
    assert rejects == [(4, "wrong_field_count", "VALUE", reader.UNCLOSED_QUOTE)]


def test_a_value_ending_in_a_line_break_at_the_end_of_the_file_is_closed(tmp_path):
    for ending in (b"\n", b"\r\n", b"\r", b""):
        data = GP_HEADER + gp_row(1) + b'2,9434765919,A81001,2020-01-01,22298006,1,"a\n"' + ending
        _, staged, rejects = read_example(tmp_path, data)
        assert [(r[LINE], r["UNIT"]) for r in staged] == [(2, "mmol/L"), (3, "a")]
        assert rejects == []


def test_a_stray_quote_closed_by_a_later_one_makes_one_row_of_the_lines_between(tmp_path):
    data = (
        GP_HEADER
        + gp_row(1)
        + b'2,9434765919,"A81001,2020-01-01,22298006,1,x\n'  # line 3: the quote opens
        + gp_row(3)
        + gp_row(4, b'"closes')  # line 5: and closes here, then ",mmol/L"
        + gp_row(5)
    )
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2, 6]
    assert rejects == [(3, "wrong_field_count", "", "4 fields, expected 7")]


def test_line_endings_and_quoted_breaks_in_a_column_not_read(tmp_path):
    data = (
        b"EVENT_ID,NHS_NUMBER,PRACTICE_CODE,EVENT_DATE,SNOMED_CODE,VALUE,NOTES\r"
        + b'1,9434765919,A81001,2020-01-01,22298006,1,"a\rb\r\nc"\r'  # lines 2-4
        + b"2,9434765919,A81001,2020-01-01,22298006,1,\xe9\r"  # line 5: not read, not checked
        + b"3,9434765919\r"  # line 6
        + b"4,9434765919,A81001,2020-01-01,22298006,1,"  # line 7, no final line break
    )
    result, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2, 5, 7]
    assert rejects == [(6, "wrong_field_count", "", "2 fields, expected 7")]
    assert result.extra_columns == ("NOTES",)


def test_header_only(tmp_path):
    for data in (GP_HEADER, GP_HEADER.rstrip(), b"\xef\xbb\xbf" + GP_HEADER):
        result, staged, _ = read_example(tmp_path, data)
        assert result.rows_read == 0 and staged == []


def test_missing_column_names_the_file_the_column_and_the_columns_found(tmp_path):
    path = tmp_path / "gp_events.csv"
    path.write_bytes(b"EVENT_ID,NHS_NUMBER,PRACTICE_CODE,EVENT_DATE,SNOMED,VALUE\n1,2,3,4,5,6\n")
    with pytest.raises(IngestError) as caught:
        read_csv(path, GP, tmp_path / "staged.parquet")
    message = str(caught.value)
    assert str(path) in message
    assert "'SNOMED_CODE'" in message
    assert "did you mean 'SNOMED'?" in message
    assert (
        "Columns found: EVENT_ID, NHS_NUMBER, PRACTICE_CODE, EVENT_DATE, SNOMED, VALUE" in message
    )


def test_empty_file_is_refused(tmp_path):
    for data in (b"", b"\n", b"  \r\n", BOM, BOM + b"\n" + gp_row(1)):
        path = tmp_path / "gp_events.csv"
        path.write_bytes(data)
        with pytest.raises(IngestError, match="the file is empty"):
            read_csv(path, GP, tmp_path / "staged.parquet")


def test_cp1252_file_read_with_its_encoding(tmp_path):
    data = (
        GP_HEADER
        + gp_row(1, "£5 – café €".encode("cp1252"))
        + gp_row(2, b"\x81")  # one of cp1252's five undefined bytes
        + b"3,9434765919,\x9d\n"  # and in a row that does not split
        + gp_row(4, "naïve".encode("cp1252"))
    )
    _, staged, rejects = read_example(tmp_path, data, encoding="cp1252")
    assert [(r[LINE], r["VALUE"]) for r in staged] == [(2, "£5 – café €"), (5, "naïve")]
    assert rejects == [
        (3, "invalid_encoding", "VALUE", "\\x81"),
        (4, "wrong_field_count", "", "3 fields, expected 7"),
    ]
    _, _, as_utf8 = read_example(tmp_path, data)
    assert [r[:2] for r in as_utf8] == [
        (2, "invalid_encoding"),
        (3, "invalid_encoding"),
        (4, "wrong_field_count"),
        (5, "invalid_encoding"),
    ]


def test_a_bad_byte_in_a_lone_cr_file_is_not_blamed_on_the_header(tmp_path):
    data = (GP_HEADER + gp_row(1) + gp_row(2, b"\xe9")).replace(b"\n", b"\r")
    _, staged, rejects = read_example(tmp_path, data)
    assert [r[LINE] for r in staged] == [2]
    assert rejects == [(3, "invalid_encoding", "VALUE", "\\xe9")]
