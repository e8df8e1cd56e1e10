"""Writing the synthetic ICS to disk, chunk by chunk, byte-identically for a seed.

Generators return frames keyed by their path under the output folder, without
extension: ``extracts/hes_apc``, ``costing/feed_theatre``, ``truth/people``.
Extracts, ledgers and feeds are CSV, as they are delivered; the truth is
Parquet. An extract frame may carry a ``_person_index`` column: it is never
written to the extract, but goes to ``truth/record_person`` with the file name
and the record's key (the frame's first column), so tests can tell which person
every record really belongs to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openphm.files import file_sha256

PERSON = "_person_index"
TRUTH_DIR = "truth"
PARQUET_DIRS = ("truth/", "omop/")  # everything else is CSV, as it is delivered


@dataclass(frozen=True)
class SynthContext:
    """What every generator needs besides the cohort and its random stream."""

    start: pd.Timestamp  # first day of the period
    end: pd.Timestamp  # the day after the last day of the period
    geography: object  # synth.geography.Geography
    seed: int

    @property
    def years(self) -> int:
        return round((self.end - self.start).days / 365.25)


def _csv_bytes(frame: pd.DataFrame, header: bool) -> bytes:
    """CSV through Arrow: dates as YYYY-MM-DD, text quoted, missing values empty.

    Fixed formatting is what makes the same seed give the same bytes, and Arrow
    writes CSV several times faster than pandas.
    """
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            columns[name] = _text(column)
        else:
            array = pa.array(column, from_pandas=True)
            columns[name] = array.cast(pa.date32()) if pa.types.is_timestamp(array.type) else array
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=header, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _text(column: pd.Series) -> pa.Array:
    """Object columns as text; mixed ones (a dirty date among dates) via pandas."""
    try:
        return pa.array(column, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(column.astype("string"), type=pa.string(), from_pandas=True)


@dataclass
class Writer:
    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    _parquet: dict[str, pq.ParquetWriter] = field(default_factory=dict)

    def write(self, frames: dict[str, pd.DataFrame]) -> None:
        for key, frame in frames.items():
            if PERSON in frame.columns:
                self._record_truth(key, frame)
                frame = frame.drop(columns=PERSON)
            if key.startswith(PARQUET_DIRS):
                self._write_parquet(key, frame)
            else:
                self._write_csv(key, frame)
            self.rows[key] = self.rows.get(key, 0) + len(frame)

    def _record_truth(self, key: str, frame: pd.DataFrame) -> None:
        link = pd.DataFrame(
            {
                "file": key,
                "record_key": frame.iloc[:, 0].astype(str).to_numpy(),
                "person_index": frame[PERSON].to_numpy(),
            }
        )
        self.write({f"{TRUTH_DIR}/record_person": link})

    def _write_csv(self, key: str, frame: pd.DataFrame) -> None:
        path = self.out / f"{key}.csv"
        first = key not in self.rows
        if first:
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb" if first else "ab") as fh:
            fh.write(_csv_bytes(frame, header=first))

    def _write_parquet(self, key: str, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = self._parquet.get(key)
        if writer is None:
            path = self.out / f"{key}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, table.schema)
            self._parquet[key] = writer
        writer.write_table(table.cast(writer.schema))

    def close(self) -> dict:
        """Finish every file; write and return ``manifest.json`` (rows and SHA-256)."""
        for writer in self._parquet.values():
            writer.close()
        files = {}
        for key in sorted(self.rows):
            ext = "parquet" if key.startswith(PARQUET_DIRS) else "csv"
            path = self.out / f"{key}.{ext}"
            files[f"{key}.{ext}"] = {"rows": self.rows[key], "sha256": file_sha256(path)}
        manifest = {"files": files}
        (self.out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return manifest
