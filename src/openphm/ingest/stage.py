"""The ingest stage: delivered files in, checked and staged canonical tables out.

For each configured source, in order (the GP register first, since other files'
dates are checked against its births and deaths): read the file to staging
Parquet (``reader``), run the checks (``checks``), map the accepted rows (their
unusable values nulled) to staged canonical tables (``canonical``), and count.
Rows that cannot be used go to the restricted ``quarantine/ingest/quarantine.parquet``
with their source, file, line, column, value and reason, one row each; every failure
of every row, quarantined or nulled, goes to ``quarantine/ingest/field_issues.parquet``
and is counted in ``dq_validity``. The staged tables hold raw NHS numbers and
demographics: the link stage consumes them.

A source with ``identifier = "pseudonym"`` keys its people by an upstream
pseudonym (HES's PSEUDO_HESID, a DSCRO or UDAL pseudonym) in the layout's NHS
number column: its NHS-number checks do not apply, and its staged rows carry the
token as ``upstream_id`` with no NHS number, for link to re-key. Opt-outs are
applied by NHS number, so such a source is read only when the workspace declares
that the supplier applied them (``[governance] opt_outs_applied_upstream``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from openphm import engine
from openphm.config import Source
from openphm.ingest import checks, long_codes, omop_join, quality, staged
from openphm.ingest.canonical import MAPPERS
from openphm.ingest.checks import Window, checks_for, issues, split
from openphm.ingest.layouts import LAYOUTS, Layout
from openphm.ingest.paths import shown_path, source_file
from openphm.ingest.reader import ReadResult, Values, read_csv, read_parquet
from openphm.model import table_spec
from openphm.runner import STAGING_PREFIX, Stage, StageError, StageInput, StageOutput

# Canonical tables ingest writes directly: they hold nobody's identity.
DIRECT = ("ledger", "overhead_basis", "organisation", "lsoa", "area")
REGISTER_LAYOUTS = ("gp_patients",)
PSEUDONYM = "pseudonym"
# Staged tables whose rows name a person: a pseudonymised source's go to upstream_id.
PERSON_KEYED = tuple(staged.PREFIX + n for n in (*staged.LINKED, "identity"))
READERS = 2  # files read at once
# Extracts that are never empty when delivered whole (a small service's community or
# ambulance file may be): a header with no rows is a delivery that failed.
NEVER_EMPTY = ("hes_apc", "hes_op", "hes_ae", "ecds", "gp_patients", "gp_registrations")
NEVER_EMPTY += ("gp_events", "omop_person", "omop_visit_occurrence")
DATE_CHECKS = ("date", "datetime")  # checks whose columns are rewritten to ISO at staging
QUARANTINE = {
    "source": "string",
    "file": "string",
    "line": "int64",
    "provider_code": "string",
    "column": "string",
    "value": "string",
    "reason": "string",
}
# Every failure of every row: the quarantine's columns and what was done.
FIELD_ISSUES = {**QUARANTINE, "action": "string"}


def _register(accepted: ir.Table) -> ir.Table:
    """Each NHS number's date of birth and death, from the GP register."""
    mapped = MAPPERS["gp_patients"](accepted, "register")["staged_identity"]
    valid = mapped.filter(mapped.nhs_number.notnull())
    return valid.group_by("nhs_number").aggregate(
        date_of_birth=valid.date_of_birth.min(), date_of_death=valid.date_of_death.max()
    )


def _read(path: Path, source: Source, out: Path) -> ReadResult:
    """``path``: checked by ``paths.source_file``."""
    layout = LAYOUTS[source.layout]
    values = reading_values(source, layout)
    if source.file_format(layout.format) == "parquet":
        return read_parquet(path, layout, out, source.columns, values)
    return read_csv(path, layout, out, source.encoding, source.columns, source.separator, values)


def reading_values(source: Source, layout: Layout) -> Values:
    """The source's null tokens and date formats, and the columns the checks check as
    dates (rewritten to ISO at staging)."""
    dates = {column: c.check for column, c in checks_for(layout) if c.check in DATE_CHECKS}
    return Values(tuple(source.null_values), dates, tuple(source.date_formats))


def _rejects(result: ReadResult, name: str, shown_path: str) -> pd.DataFrame:
    """The reader's rejected lines, as quarantine rows (each is also a field issue)."""
    return pd.DataFrame(
        {
            "source": name,
            "file": shown_path,
            "line": [r.line for r in result.rejects],
            "provider_code": quality.UNKNOWN,
            "column": [r.column for r in result.rejects],
            "value": [r.value for r in result.rejects],
            "reason": [r.reason for r in result.rejects],
        },
        columns=list(QUARANTINE),
    )


def pseudonymised(sources: dict[str, Source]) -> list[str]:
    """The sources whose person column holds an upstream pseudonym, by name."""
    return sorted(name for name, s in sources.items() if s.identifier == PSEUDONYM)


def _refuse_undeclared(inp: StageInput, toml: Path) -> None:
    """A pseudonymised source cannot have the national data opt-out applied here: it is
    read only when the workspace declares that it was applied upstream."""
    names = pseudonymised(inp.config.sources)
    opt_outs = [n for n in names if inp.config.sources[n].layout == "opt_outs"]
    if opt_outs:
        raise StageError(
            f"source(s) {', '.join(opt_outs)}: an opt-outs file lists NHS numbers; "
            f'remove identifier = "pseudonym" from it in {toml}'
        )
    if names and not inp.config.governance.opt_outs_applied_upstream:
        raise StageError(
            f'source(s) {", ".join(names)} have identifier = "pseudonym": their records carry '
            "no NHS number, so the national data opt-out (and type 1 opt-outs) cannot be "
            "applied to them here. Read them only if the supplier applied the opt-outs before "
            "pseudonymising, and declare it with opt_outs_applied_upstream = true under "
            f"[governance] in {toml}"
        )


def _escaped(value: ir.StringValue) -> ir.StringValue:
    """A token the mappers' NHS-number normalising (spaces and hyphens removed) leaves
    intact, so tokens that differ only there stay different; ``_unescaped`` undoes it."""
    return value.replace("%", "%25").replace(" ", "%20").replace("-", "%2D")


def _unescaped(value: ir.StringValue) -> ir.StringValue:
    return value.replace("%2D", "-").replace("%20", " ").replace("%25", "%")


def _upstream(part: ir.Table, escaped: bool) -> ir.Table:
    """A pseudonymised source's mapped rows: the token as ``upstream_id``, no NHS number."""
    if "nhs_number" not in part.columns:
        token = ibis.null("string")
    else:
        token = _unescaped(part.nhs_number) if escaped else part.nhs_number
    if "upstream_id" in part.columns:  # set by the mapper itself (OMOP's person ids)
        token = part.upstream_id.fill_null(token)
    return part.mutate(upstream_id=token, nhs_number=ibis.null("string"))


def _refuse_repeated_files(sources: dict[str, Source], root: Path) -> None:
    """One file configured under two names would count its activity twice."""
    seen: dict[Path, str] = {}
    for name, source in sources.items():
        path = (root / source.path).resolve()
        if path in seen:
            raise StageError(
                f"sources {seen[path]!r} and {name!r} name the same file "
                f"({shown_path(root, source.path)}): its rows would be counted twice. "
                "Keep one of them"
            )
        seen[path] = name


def _ordered(sources: dict[str, Source]) -> list[tuple[str, Source]]:
    first = [(n, s) for n, s in sources.items() if s.layout in REGISTER_LAYOUTS]
    return first + [(n, s) for n, s in sources.items() if s.layout not in REGISTER_LAYOUTS]


def _union(parts: list[ir.Table], schema: ibis.Schema) -> ir.Table:
    conformed = [staged.conform(p, schema) for p in parts]
    if not conformed:
        return staged.empty(schema)
    return ibis.union(*conformed) if len(conformed) > 1 else conformed[0]


def build(inp: StageInput) -> StageOutput:
    ws = inp.workspace
    if ws is None:
        raise StageError("the ingest stage reads files and needs a workspace")
    sources = inp.config.sources
    if not sources:
        raise StageError(
            "no sources configured: add [sources.NAME] entries (path and layout) to "
            f"{ws.root / 'openphm.toml'}"
        )
    _refuse_undeclared(inp, ws.root / "openphm.toml")
    _refuse_repeated_files(sources, ws.root)
    # Every file is checked before any is read: a link or a missing file stops the run early.
    files_at = {name: source_file(ws.root, name, source) for name, source in sources.items()}
    options = inp.config.stages.ingest
    window = Window(options.earliest_date, options.extract_date or date.today())
    scratch = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=ws.root))
    con = ws.con
    parts: dict[str, list[ir.Table]] = defaultdict(list)
    quarantine_frames: list[pd.DataFrame] = []
    quarantine_tables: list[ir.Table] = []
    issue_tables: list[ir.Table] = []
    dq: dict[str, list[pd.DataFrame]] = defaultdict(list)
    files = []
    notes: list[str] = []
    scratch_names: list[str] = []
    ordered = _ordered(sources)
    # Files are read ahead, in parallel (pyarrow parses without the GIL), while the
    # engine checks the ones already read.
    reading = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="openphm-read")
    reads = [
        reading.submit(_read, files_at[name], source, scratch / f"{i}.parquet")
        for i, (name, source) in enumerate(ordered)
    ]
    try:
        for i, (name, source) in enumerate(ordered):
            layout = LAYOUTS[source.layout]
            shown = shown_path(ws.root, source.path)  # never an absolute path: it is published
            result = reads[i].result()
            if result.rows_read == 0 and layout.name in NEVER_EMPTY:
                raise StageError(
                    f"source {name!r} ({shown}, layout {layout.name}) holds a header and no "
                    "rows: a delivery that failed or was cut short would lose all its activity "
                    "downstream. Fetch the extract again, or remove it from [sources]"
                )
            staged_rows = con.read_parquet(str(result.path))
            # The checks run once, into the rows' flags; accepted and quarantined rows are
            # filters of the checked rows, which read the flags (``checks.label``).
            flagged = engine.scratch_table(
                con,
                f"_ingest_checked_{i}",
                checks.flag(staged_rows, layout, window, identifier=source.identifier),
            )
            scratch_names.append(f"_ingest_checked_{i}")
            checked = engine.derived_table(
                con,
                f"_ingest_cleaned_{i}",
                checks.cleaned(flagged, layout, checks.fired(flagged, layout)),
            )
            scratch_names.append(f"_ingest_cleaned_{i}")
            accepted, bad = split(checked, layout)
            counted = quality.profile(checked, layout, name)
            n_accepted, n_bad = counted.accepted, counted.quarantined
            if n_accepted + n_bad != result.rows_staged:
                raise StageError(f"{shown}: rows do not reconcile after the checks")
            files.append(
                {
                    "source": name,
                    "layout": layout.name,
                    "file": shown,
                    "rows_read": result.rows_read,
                    "rows_accepted": n_accepted,
                    "rows_quarantined": n_bad + len(result.rejects),
                }
            )
            if counted.nulled:
                notes.append(
                    f"{name}: {counted.nulled:,} of {n_accepted:,} rows kept had values that "
                    "failed their checks, now NULL or the Data Dictionary's 'not known' code "
                    "(dq_validity counts them by column and reason)"
                )
            quarantine_frames.append(_rejects(result, name, shown))
            where = {"source": ibis.literal(name), "file": ibis.literal(shown)}
            quarantine_tables.append(bad.mutate(**where))
            issue_tables.append(issues(checked, layout).mutate(**where))
            if layout.name in REGISTER_LAYOUTS and source.identifier != PSEUDONYM:
                # Every later file is checked against it: computed once.
                register = engine.scratch_table(con, "_ingest_register", _register(accepted))
                scratch_names.append("_ingest_register")
                window = Window(window.earliest, window.latest, register)
            by_pseudonym = source.identifier == PSEUDONYM and layout.nhs_column is not None
            if by_pseudonym:
                accepted = accepted.mutate(
                    **{layout.nhs_column: _escaped(accepted[layout.nhs_column])}
                )
            for table_name, part in MAPPERS[layout.name](accepted, name).items():
                if source.identifier == PSEUDONYM and table_name in PERSON_KEYED:
                    part = _upstream(part, escaped=by_pseudonym)
                parts[table_name].append(part)
            dq["dq_completeness"].append(counted.completeness)
            dq["dq_timeliness"].append(counted.timeliness)

        # An OMOP database's tables name each other by id: joined once every file is read.
        def keep(name: str, table: ir.Table) -> ir.Table:
            scratch_names.append(name)
            return engine.snapshot_table(con, name, table)

        notes += omop_join.note_texts(omop_join.assemble(parts, keep))
    except BaseException:
        reading.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(scratch, ignore_errors=True)
        # Newest first: on Spark a file's checks read the register, an earlier scratch view.
        for name in reversed(scratch_names):
            engine.drop_scratch(con, name)
        raise
    reading.shutdown()
    quarantine = _quarantine(quarantine_frames, quarantine_tables)
    rejects = [f.assign(action="quarantined") for f in quarantine_frames]
    # Read twice (the restricted file and dq_validity): unpacked from the checks once.
    field_issues = engine.scratch_table(
        con, "_ingest_field_issues", _field_issues(rejects, issue_tables)
    )
    scratch_names.append("_ingest_field_issues")
    validity = field_issues.group_by(
        ["source", "provider_code", "column", "reason", "action"]
    ).aggregate(rows=field_issues.count())
    restricted = {name: _union(parts[name], schema) for name, schema in staged.SCHEMAS.items()}
    restricted["quarantine"] = quarantine
    restricted["field_issues"] = field_issues
    notes += long_codes.place(restricted, {s.layout for s in sources.values()})
    tables = {}
    for name in DIRECT:
        tables[name] = _union(parts[name], table_spec(name).schema())
    tables["dq_files"] = quality.table("dq_files", [pd.DataFrame(files)])
    tables["dq_validity"] = validity
    tables["dq_completeness"] = quality.table("dq_completeness", dq["dq_completeness"])
    tables["dq_timeliness"] = quality.table("dq_timeliness", dq["dq_timeliness"])
    read = sum(f["rows_read"] for f in files)
    bad_rows = sum(f["rows_quarantined"] for f in files)
    return StageOutput(
        tables=tables,
        rows_quarantined=bad_rows,
        rows_read=read,
        rows_out=sum(f["rows_accepted"] for f in files),
        restricted=restricted,
        counts={"files": files},
        notes=notes,
        cleanup=[scratch, *[_dropper(con, n) for n in reversed(scratch_names)]],
    )


def _dropper(con, name: str):
    return lambda: engine.drop_scratch(con, name)


def _quarantine(frames: list[pd.DataFrame], tables: list[ir.Table]) -> ir.Table:
    return _rows(QUARANTINE, frames, tables)


def _field_issues(frames: list[pd.DataFrame], tables: list[ir.Table]) -> ir.Table:
    return _rows(FIELD_ISSUES, frames, tables)


def _rows(columns: dict[str, str], frames: list[pd.DataFrame], tables: list[ir.Table]):
    """The reader's rejects (in memory) and the checks' rows (in the engine), as one table."""
    schema = ibis.schema(columns)
    rejects = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(schema))
    parts = [ibis.memtable(rejects[list(schema)].astype({"line": "int64"}), schema=schema)]
    parts += [staged.conform(t, schema) for t in tables]
    return ibis.union(*parts)


OUTPUTS = (*DIRECT, *quality.SCHEMAS)

STAGE = Stage(
    name="ingest",
    description="read the configured files, check every row, quarantine the bad, stage the rest",
    inputs=(),
    outputs=OUTPUTS,
    build=build,
)
