"""``openphm sources check``: what a run would make of each configured file, before any run.

For each ``[sources.NAME]`` it reads a sample (the first rows) with the source's own
settings, shows how the file was read (format, delimiter, encoding), which header
holds each layout column and how it was found, the required columns that are missing
and the headers no column uses; then it runs the ingest checks on the sample in an
in-memory engine and counts, per column and reason, the rows that would be
quarantined or have the value nulled, with the setting that would fix it when one
would. Nothing is written to the workspace (the sample is staged in a temporary
folder), and nothing from the data is ever shown: counts, reasons, header names and
formats only.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from openphm import engine
from openphm.config import Config, Source
from openphm.ingest import checks
from openphm.ingest.layouts import LAYOUTS, Layout
from openphm.ingest.paths import source_file
from openphm.ingest.reader import (
    _BREAK,
    ColumnMatch,
    IngestError,
    ReadResult,
    _csv_header,
    ascii_compatible,
    match_columns,
    read_csv,
    read_parquet,
    transcode,
)
from openphm.ingest.stage import reading_values

SAMPLE_ROWS = 10_000
# Date formats met in NHS extracts that a source may need to name (strftime codes).
COMMON_DATE_FORMATS = ("%d/%m/%Y", "%Y%m%d", "%d-%m-%Y", "%d %b %Y", "%d-%b-%Y", "%d.%m.%Y")
_TIMES = ("", " %H:%M", " %H:%M:%S")
# Text that systems write for "no value" (SQL Server and Excel exports, pandas, R).
NULL_TOKENS = ("NULL", "null", "Null", "N/A", "n/a", "#N/A", "None", "NONE", "nan", "NaN")
# A share of the sample's values above which a pattern is the file's way, not a slip.
MOST = 0.5
_NHS_DIGITS = re.compile(r"[0-9]{10}")


@dataclass
class Finding:
    """Rows of the sample failing one check in one column."""

    column: str
    reason: str
    rows: int
    nulled: bool  # the value would be nulled and the row kept; else the row is quarantined
    fix: str | None = None


@dataclass
class SourceCheck:
    name: str
    source: Source
    layout: Layout
    format: str
    delimiter: str | None  # None for Parquet
    error: str | None = None  # the file cannot be read at all
    match: ColumnMatch | None = None
    rows: int = 0  # sample rows read
    findings: list[Finding] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


def check_sources(
    root: Path, config: Config, only: str | None = None, rows: int = SAMPLE_ROWS
) -> list[SourceCheck]:
    """A ``SourceCheck`` for each configured source (or the one named)."""
    if only is not None and only not in config.sources:
        known = ", ".join(config.sources) or "(none)"
        raise IngestError(f"no source {only!r} in [sources]; the sources are: {known}")
    window = checks.Window(
        config.stages.ingest.earliest_date, config.stages.ingest.extract_date or date.today()
    )
    out = []
    with tempfile.TemporaryDirectory(prefix="openphm-sources-check-") as scratch:
        con = engine.connect("duckdb://")
        try:
            for i, (name, source) in enumerate(config.sources.items()):
                if only is None or name == only:
                    work = Path(scratch) / str(i)
                    work.mkdir()
                    out.append(_check(root, name, source, rows, window, con, work))
        finally:
            engine.close(con)
    return out


def _check(root, name, source, rows, window, con, work) -> SourceCheck:
    layout = LAYOUTS[source.layout]
    fmt = source.file_format(layout.format)
    found = SourceCheck(name, source, layout, fmt, source.separator if fmt == "csv" else None)
    try:
        path = source_file(root, name, source)
        encoding = source.encoding
        if fmt == "csv" and not ascii_compatible(encoding):  # UTF-16: a UTF-8 copy's sample
            copy = work / "transcoded.csv"
            transcode(path, encoding, copy, max_lines=rows + 1)
            path, encoding = copy, "utf-8"
        headers = _headers(path, fmt, source, encoding)
        found.match = match_columns(path, headers, layout, source.columns)
        if found.match.missing:
            return found
        sample = work / ("sample.parquet" if fmt == "parquet" else "sample.csv")
        values = reading_values(source, layout)
        staged = work / "staged.parquet"
        if fmt == "parquet":
            _parquet_sample(path, sample, rows)
            result = read_parquet(sample, layout, staged, source.columns, values)
        else:
            _csv_sample(path, sample, rows)
            result = read_csv(
                sample, layout, staged, encoding, source.columns, source.separator, values
            )
    except IngestError as exc:
        delivered = str(root / source.path)
        found.error = str(exc)
        for scratch in ("sample.csv", "transcoded.csv"):
            found.error = found.error.replace(str(work / scratch), delivered)
        return found
    found.rows = result.rows_read
    _findings(found, result, con, window)
    return found


def _headers(path: Path, fmt: str, source: Source, encoding: str) -> list[str]:
    if fmt == "parquet":
        try:
            return pq.ParquetFile(path).schema_arrow.names
        except (OSError, pa.ArrowInvalid) as exc:
            raise IngestError(f"{path}: cannot be read as Parquet ({exc})") from None
    return _csv_header(path, encoding, source.separator)[0]


def _csv_sample(path: Path, out: Path, rows: int) -> None:
    """The header and the next ``rows`` lines (a quoted line break may cut the last row)."""
    with open(path, "rb") as fh:
        head = b""
        while len(_BREAK.findall(head)) <= rows:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            head += chunk
    ends = [m.end() for m in _BREAK.finditer(head)]
    out.write_bytes(head[: ends[rows]] if len(ends) > rows else head)


def _parquet_sample(path: Path, out: Path, rows: int) -> None:
    source = pq.ParquetFile(path)
    batch = next(source.iter_batches(batch_size=rows), None)
    schema = source.schema_arrow
    table = pa.Table.from_batches([batch]) if batch is not None else schema.empty_table()
    pq.write_table(table, out)


def _failures(checked, layout: Layout) -> tuple[list[str], list[str], list[str], list[bool]]:
    """(column, reason, value as delivered, nulled) of each failure in a ``label``-led
    sample: every failure of every row where the checks record them all
    (``checks.issues``), else each quarantined row's first, with its check's severity."""
    every = getattr(checks, "issues", None)
    if every is not None:
        found = every(checked, layout).to_pyarrow().to_pydict()
        return (
            found["column"],
            found["reason"],
            found["value"],
            [a != "quarantined" for a in found["action"]],
        )
    severity = {
        (column, c.reason): getattr(c, "severity", "quarantine")
        for column, c in checks.checks_for(layout)
    }
    _, bad = checks.split(checked, layout)
    found = bad.to_pyarrow().to_pydict()
    nulled = [
        severity.get(key, "quarantine") != "quarantine"
        for key in zip(found["column"], found["reason"], strict=True)
    ]
    return found["column"], found["reason"], found["value"], nulled


def _findings(found: SourceCheck, result: ReadResult, con, window) -> None:
    layout = found.layout
    staged = con.read_parquet(str(result.path))
    checked = checks.label(staged, layout, window)
    by_check: dict[tuple[str, str, bool], list[str | None]] = {}
    for column, reason, value, nulled in zip(*_failures(checked, layout), strict=True):
        by_check.setdefault((column, reason, nulled), []).append(value)
    for reject in result.rejects:
        by_check.setdefault((reject.column, reject.reason, False), []).append(None)
    text = pq.read_table(result.path).to_pydict()
    for (column, reason, nulled), values in sorted(by_check.items()):
        finding = Finding(column, reason, len(values), nulled)
        finding.fix = _fix(found, column, reason, values, text)
        found.findings.append(finding)
    tokens = _null_tokens(text, layout)
    if tokens:
        shown = ", ".join(f'"{t}"' for t in tokens)
        columns = sorted({c for t in tokens for c in tokens[t]})
        found.suggestions.append(
            f"{sum(sum(c.values()) for c in tokens.values()):,} values in "
            f"{len(columns)} column(s) are {' or '.join(tokens)}: if that means no value, set "
            f"null_values = [{shown}]"
        )


def _fix(found, column, reason, values, text) -> str | None:
    """The setting that would make the failing values good, if one would."""
    present = [v for v in values if v]
    if reason in ("invalid_date", "invalid_datetime") and present:
        fmt = _date_format(present)
        if fmt:
            return f'date_formats = ["{fmt}"]'
    if reason == "invalid_nhs_number" and found.source.identifier == "nhs_number":
        filled = sum(v is not None for v in text.get(column, []))
        tokens = sum(not _NHS_DIGITS.fullmatch(re.sub(r"[ \-]", "", v)) for v in present)
        if filled and len(present) > MOST * filled and tokens > MOST * len(present):
            return 'identifier = "pseudonym" (the column holds pseudonyms, not NHS numbers)'
    if reason == "wrong_field_count" and found.delimiter is not None:
        return f"check delimiter (read with {_shown(found.delimiter)!r}) and quoting"
    return None


def _date_format(values: list[str]) -> str | None:
    """The common format that reads most of the values (most of them, or none)."""
    best, best_count = None, 0
    for base in COMMON_DATE_FORMATS:
        for fmt in (base + t for t in _TIMES):
            count = sum(_parses(v, fmt) for v in values)
            if count > best_count:
                best, best_count = fmt, count
    return best if best_count > MOST * len(values) else None


def _parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value.split(".")[0] if "%S" in fmt else value, fmt)
    except ValueError:
        return False
    return True


def _null_tokens(text: dict[str, list], layout: Layout) -> dict[str, Counter]:
    """token -> {column: values}, for the null tokens the sample holds."""
    out: dict[str, Counter] = {}
    tokens = pa.array(NULL_TOKENS)
    for column in layout.all_columns:
        values = pa.array(text.get(column, []), pa.string())
        hits = pc.filter(values, pc.is_in(values, value_set=tokens))
        for token, n in Counter(hits.to_pylist()).items():
            out.setdefault(token, Counter())[column] = n
    return out


def _shown(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def runs(columns) -> str:
    """Columns with HES's numbered runs shown as ranges: DIAG_4_01..DIAG_4_20."""
    out: list[list[str]] = []
    for column in columns:
        stem, number = column.rstrip("0123456789"), column[len(column.rstrip("0123456789")) :]
        last = out[-1][-1] if out else ""
        last_stem = last.rstrip("0123456789")
        if (
            number
            and out
            and last_stem == stem
            and last[len(last_stem) :].isdigit()
            and int(last[len(last_stem) :]) + 1 == int(number)
        ):
            out[-1].append(column)
        else:
            out.append([column])
    return ", ".join(run[0] if len(run) < 3 else f"{run[0]}..{run[-1]}" for run in out)


def render(results: list[SourceCheck]) -> str:
    """The report ``openphm sources check`` prints: names, counts and settings only."""
    blocks = []
    for r in results:
        lines = [f"source {r.name}: {r.source.path.as_posix()} (layout {r.layout.name})"]
        how = f"read as {r.format}"
        if r.delimiter is not None:
            how += f", delimiter {_shown(r.delimiter)!r}, encoding {r.source.encoding}"
        lines.append("  " + how)
        if r.match is not None:
            lines += _columns(r)
        if r.error is not None:
            lines.append(f"  cannot be read: {r.error}")
        elif r.match is not None and not r.match.missing:
            lines += _checks(r)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _columns(r: SourceCheck) -> list[str]:
    match = r.match
    same = [c for c in r.layout.all_columns if c in match.matched and match.matched[c].header == c]
    other = [c for c in r.layout.all_columns if c in match.matched and c not in same]
    lines = [f"  columns found under their own names ({len(same)}): {runs(same) or '(none)'}"]
    if other:
        width = max(len(c) for c in other)
        lines.append("  columns found otherwise (layout column <- file header, how):")
        for column in other:
            m = match.matched[column]
            how = m.how if m.exact else f"{m.how}, ignoring case and spaces"
            lines.append(f"    {column:<{width}} <- {m.header} ({how})")
    absent = [c for c in r.layout.optional if c not in match.matched]
    if absent:
        lines.append(f"  optional columns not in the file: {runs(absent)}")
    if match.missing:
        lines.append(f"  missing required columns ({len(match.missing)}):")
        for column, close in match.missing:
            hint = f' (did you mean {close!r}? set columns = {{ {column} = "{close}" }})'
            lines.append(f"    {column}" + (hint if close else ""))
        lines.append(
            "  map a column the file names otherwise in [sources."
            f'{r.name}] with columns = {{ LAYOUT_COLUMN = "FILE HEADER" }}'
        )
    if match.extra:
        lines.append(f"  extra columns ignored ({len(match.extra)}): {runs(match.extra)}")
    return lines


def _checks(r: SourceCheck) -> list[str]:
    lines = [f"  checks on a sample of {r.rows:,} rows:"]
    if not r.findings:
        lines.append("    no row would be quarantined and no value nulled")
    for f in r.findings:
        what = "values nulled (rows kept)" if f.nulled else "rows quarantined"
        where = f.column or "(whole row)"
        line = f"    {where}: {f.reason}: {f.rows:,} {what}"
        lines.append(line + (f"; fix: set {f.fix}" if f.fix else ""))
    lines += [f"  suggestion: {s}" for s in r.suggestions]
    return lines
