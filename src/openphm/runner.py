"""The stage runner: read declared inputs, build outputs, commit atomically, audit.

A stage declares the tables it reads and writes and provides one pure-ish
function from input tables to output tables (and, for publish, gated tables).
The runner does all the I/O: it reads the inputs from the workspace, commits the
outputs together, writes gated tables as a new published set, and appends one
audit record per run with fingerprints, row counts and disclosure decisions.

Each step is one atomic change, in this order, so a kill at any point leaves the
workspace whole (tests/security/test_fault_injection.py kills a real run at each):

1. restricted files are written to ``quarantine/.pending-RUN/``;
2. the warehouse commit (the catalog swap) names the outputs ``TABLE__rRUN``;
3. the restricted files are moved into place (a kill before this is finished by the
   next run, because the catalog shows the commit happened; an uncommitted pending
   folder is removed);
4. the publish stage writes its set beside ``published/`` (publish/sets.py);
5. the audit record is appended, naming the set and its manifest's digest;
6. ``published`` is switched to the set (a kill before this is rolled forward by the
   next run, because the audit names the set; an unaudited set is removed).
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

import openphm
from openphm import engine, key_continuity
from openphm.codes import is_valid_nhs_number
from openphm.config import Config, ConfigError
from openphm.disclosure import GatedTable
from openphm.publish import cells, sets
from openphm.workspace import Workspace, new_run_id

RESTRICTED_DIR_MODE = 0o700
RESTRICTED_FILE_MODE = 0o600
STAGING_PREFIX = "staging-"  # ingest's scratch folders in the workspace
PENDING_PREFIX = ".pending-"  # restricted files written before their stage's commit
CONSUMED_FILE = "consumed.json"  # in a pending folder: restricted inputs its commit consumes

#: Test-only fault injection: with OPENPHM_FAULT="STAGE:POINT" the run kills itself
#: (SIGKILL, as the out-of-memory killer or a power cut would stop it) when STAGE
#: reaches POINT, so tests/security/test_fault_injection.py can show that a kill
#: anywhere leaves the workspace whole. It only ever stops the process. Points:
#: built (the stage's build returned), committed (warehouse commit done, restricted
#: files still pending), writing (the publish stage's first file written), written
#: (the whole set and its manifest written), audited (audit record appended, set not
#: yet switched), switched (set switched, old set not yet removed).
FAULT_ENV = "OPENPHM_FAULT"
FAULT_POINTS = ("built", "committed", "writing", "written", "audited", "switched")


class StageError(RuntimeError):
    """A stage that cannot run, or that broke its declared contract."""


@dataclass(frozen=True)
class StageInput:
    tables: Mapping[str, ir.Table]
    config: Config
    workspace: Workspace | None = None  # for stages that read files (ingest)


@dataclass
class StageOutput:
    tables: dict[str, Any] = field(default_factory=dict)
    published: list[GatedTable] = field(default_factory=list)
    rows_quarantined: int = 0
    rows_read: int | None = None  # rows read from files, for stages whose inputs are files
    # Rows the stage kept (ingest: rows accepted), where its output tables' rows are not
    # that count (ingest's outputs are data-quality aggregates).
    rows_out: int | None = None
    # Row-level files for the restricted quarantine/ folder (bad rows, clerical review),
    # never published: name -> table.
    restricted: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)  # for the audit record and summary
    # Scratch folders (removed) or callables (called) once the outputs are committed.
    cleanup: list[Any] = field(default_factory=list)
    # What the stage could not do, or did only in part, and why: plain sentences with
    # counts and names of code lists, sources or settings, never a row's values. They
    # reach the summary, the audit record and the report.
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    build: Callable[[StageInput], StageOutput]
    publishes: bool = False
    # Inputs that must not outlive this stage (raw identifiers): dropped at its commit.
    consumes: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # inputs read when the workspace has them
    # Restricted row-level files an earlier stage wrote, as "stage/name" (never in the
    # warehouse: they hold raw identifiers). Those also in ``consumes`` are deleted once
    # this stage has committed.
    restricted_inputs: tuple[str, ...] = ()
    # Reads the pseudonymisation key: runs only with the workspace's key (key_continuity).
    reads_key: bool = False


@dataclass(frozen=True)
class StageSummary:
    stage: str
    rows_in: int
    rows_out: int
    rows_quarantined: int
    seconds: float
    published: tuple[Path, ...] = ()
    counts: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def code_version() -> str:
    """Package version, plus the git commit when run from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(openphm.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{openphm.__version__}+{commit}" if commit else openphm.__version__


@contextmanager
def workspace_lock(ws: Workspace) -> Iterator[None]:
    """One writer at a time, so a run never collects another run's tables."""
    with open(ws.root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _describe(tables: Mapping[str, ir.Table]) -> list[dict[str, Any]]:
    out = []
    for name, table in tables.items():
        digest, rows = engine.fingerprint(table)
        out.append({"table": name, "fingerprint": digest, "rows": rows})
    return out


def _audit(ws: Workspace, action: str, inputs: list, outputs: list, **extra: Any) -> None:
    """One audit record: who, why, under what basis, with which code, on what data."""
    gov = ws.config.governance
    ws.audit.append(
        {
            "action": action,
            "user": getpass.getuser(),
            "purpose": gov.purpose,
            "lawful_basis": gov.lawful_basis,
            "controller": gov.controller,
            "code_version": code_version(),
            "inputs": inputs,
            "outputs": outputs,
            **extra,
        }
    )


def _fault(stage: str, point: str) -> None:
    """The one place FAULT_ENV is read (see its comment)."""
    if os.environ.get(FAULT_ENV) == f"{stage}:{point}":
        os.kill(os.getpid(), signal.SIGKILL)


def run_stage(ws: Workspace, stage: Stage, rekey: bool = False) -> StageSummary:
    """Run one stage; ``rekey`` lets a stage that reads the key take a new one."""
    started = time.perf_counter()
    run_id = new_run_id()
    with workspace_lock(ws):
        _require_intact_audit(ws, stage.name)
        key = key_continuity.check(ws, f"stage {stage.name!r}", rekey) if stage.reads_key else None
        settle(ws)
        catalog = ws.catalog()
        missing = [t for t in stage.inputs if t not in catalog]
        if missing:
            raise StageError(
                f"stage {stage.name!r} needs table(s) {missing}, which the workspace does not "
                "hold yet; run the stages before it (openphm run) or load the sources"
            )
        present = [t for t in stage.optional if t in catalog]
        inputs = {t: ws.table(t) for t in (*stage.inputs, *present)}
        restricted_in = {r: restricted_path(ws, r) for r in stage.restricted_inputs}
        absent = [r for r, path in restricted_in.items() if not path.exists()]
        if absent:
            raise StageError(
                f"stage {stage.name!r} needs {absent} from an earlier stage, which the "
                "workspace does not hold (it is consumed by each run); run the stages before it"
            )
        for r, path in restricted_in.items():
            inputs[r.split("/")[-1]] = engine.read_parquet(ws.con, path)
        in_desc = _describe(inputs)
        result = stage.build(StageInput(inputs, ws.config, ws))
        _fault(stage.name, "built")
        pending = _pending_dir(ws, run_id)
        try:
            notes = [check_note(stage.name, n) for n in result.notes]
            if set(result.tables) != set(stage.outputs):
                raise StageError(
                    f"stage {stage.name!r} declared outputs {sorted(stage.outputs)} "
                    f"but built {sorted(result.tables)}"
                )
            if result.published and not stage.publishes:
                raise StageError(
                    f"stage {stage.name!r} gave tables to publish, but only a stage declared "
                    "with publishes=True writes published/; give them to the publish stage"
                )
            for n, t in result.restricted.items():
                write_restricted(ws, stage.name, n, t, folder=pending)
            consumed = [restricted_in[r] for r in stage.consumes if r in restricted_in]
            if consumed:  # deleted once the commit is done, by this run or the next
                pending.mkdir(mode=RESTRICTED_DIR_MODE, parents=True, exist_ok=True)
                (pending / CONSUMED_FILE).write_text(
                    json.dumps([p.relative_to(ws.quarantine_dir).as_posix() for p in consumed])
                )
            kept = _notes_table(ws, catalog, stage.name, notes)
            ws.commit({**result.tables, **kept}, run_id=run_id, drop=stage.consumes)
        except BaseException:
            # A failed stage leaves no restricted file it made (killed: see settle).
            shutil.rmtree(pending, ignore_errors=True)
            raise
        finally:
            for item in result.cleanup:
                item() if callable(item) else shutil.rmtree(item, ignore_errors=True)
        _fault(stage.name, "committed")
        restricted = _place_restricted(ws, pending)
        outputs = {t: ws.table(t) for t in stage.outputs}
        publication = None
        if stage.publishes:
            publication = sets.write_set(
                ws.root, run_id, result.published, lambda: _fault(stage.name, "writing")
            )
            _fault(stage.name, "written")
        published = publication.files if publication else ()
        try:
            out_desc = _describe(outputs)
            _audit(
                ws,
                f"stage:{stage.name}",
                in_desc,
                out_desc,
                rows_quarantined=result.rows_quarantined,
                counts=result.counts,
                notes=notes,
                consumed=list(stage.consumes),
                restricted=[p.relative_to(ws.root).as_posix() for p in restricted],
                published=[
                    {"file": p.path.name, "rows": p.rows, "disclosure": p.decisions}
                    for p in published
                ],
                **({sets.AUDIT_KEY: publication.audit_entry()} if publication else {}),
                **({key_continuity.AUDIT_FIELD: key.audit()} if key else {}),
            )
        except BaseException:
            if publication:  # never audited, so never to be shown
                shutil.rmtree(ws.root / publication.folder, ignore_errors=True)
            raise
        if key:  # committed and audited: only now is the new key the workspace's
            key_continuity.record(ws, key)
        _fault(stage.name, "audited")
        if publication:
            sets.switch(ws.root, publication.folder)
            _fault(stage.name, "switched")
            sets.remove_other_sets(ws.root)
    rows_in = sum(d["rows"] for d in in_desc)
    return StageSummary(
        stage=stage.name,
        rows_in=rows_in if result.rows_read is None else result.rows_read,
        rows_out=sum(d["rows"] for d in out_desc) if result.rows_out is None else result.rows_out,
        rows_quarantined=result.rows_quarantined,
        seconds=round(time.perf_counter() - started, 3),
        published=tuple(ws.published_dir / p.path.name for p in published),
        counts=result.counts,
        notes=tuple(notes),
    )


def _require_intact_audit(ws: Workspace, stage: str) -> None:
    """A stage runs only on an intact audit trail: its record could not be appended to a
    damaged one, so it would write outputs nobody could account for."""
    try:
        verification = ws.audit.verify()
    except ConfigError as exc:  # [audit] names a key that cannot be read
        raise StageError(
            f"stage {stage!r} was not run and nothing was changed: the audit trail's key "
            f"cannot be read ({exc})"
        ) from None
    if verification.ok and verification.keyed and not ws.audit.key_configured:
        raise StageError(
            f"stage {stage!r} was not run and nothing was changed: the audit trail in "
            f"{ws.audit_dir} is authenticated with a key, but openphm.toml has no [audit] "
            "key_env or key_file saying where it is; configure the key it was written with"
        )
    if not verification.ok:
        raise StageError(
            f"the audit trail in {ws.audit_dir} is damaged ({verification.reason}), so stage "
            f"{stage!r} was not run and nothing was changed. Restore audit/ from a copy "
            "you trust, or ask whoever keeps the workspace what happened; "
            "`openphm audit verify` names the first bad record"
        )


#: Each stage's latest notes, kept in the warehouse for the publish stage and the report.
NOTES_TABLE = "stage_notes"
NOTES_SCHEMA = {"stage": "string", "position": "int64", "note": "string"}
WITHHELD = "[withheld]"
# What a note must never hold: an NHS number (10 digits, maybe spaced, passing Modulus
# 11) or a pseudonym (hex digits), as publish/cells.py spells them. Notes are sentences
# the code writes, with counts and names only; this guard is for the note a template got
# wrong. (Notes may quote dates: the extract's span, an index date.)


def _withheld(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return WITHHELD if is_valid_nhs_number(digits) else match.group()


def check_note(stage: str, note: str) -> str:
    """A note as one line, with anything that looks like an identifier withheld.

    StageError if it is not text or is empty: a stage's contract is plain sentences.
    """
    if not isinstance(note, str) or not note.strip():
        raise StageError(f"stage {stage!r} gave an empty note, or one that is not text")
    note = " ".join(note.split())
    note = cells.PSEUDONYM.sub(WITHHELD, note)
    return cells.NHS_LIKE.sub(_withheld, note)


def _notes_table(
    ws: Workspace, catalog: Mapping[str, str], stage: str, notes: Sequence[str]
) -> dict[str, Any]:
    """``{NOTES_TABLE: table}`` with this stage's notes replacing its earlier ones, or ``{}``
    when there is nothing to write (no notes now and none kept from before)."""
    unique = list(dict.fromkeys(notes))
    kept = pd.DataFrame(columns=list(NOTES_SCHEMA))
    if NOTES_TABLE in catalog:
        kept = ws.table(NOTES_TABLE).to_pandas()
    if not unique and not (kept.stage == stage).any():
        return {}
    frame = pd.concat(
        [
            kept[kept.stage != stage],
            pd.DataFrame({"stage": stage, "position": range(len(unique)), "note": unique}),
        ],
        ignore_index=True,
    ).astype({"stage": object, "position": "int64", "note": object})
    return {NOTES_TABLE: ibis.memtable(frame, schema=ibis.schema(NOTES_SCHEMA))}


def restricted_path(ws: Workspace, name: str) -> Path:
    """Where restricted file "stage/name" lives: quarantine/STAGE/NAME.parquet."""
    stage, _, table = name.partition("/")
    return ws.quarantine_dir / stage / f"{table}.parquet"


def write_restricted(
    ws: Workspace, stage: str, name: str, table: Any, folder: Path | None = None
) -> Path:
    """Row-level output for authorised eyes only, streamed to quarantine/STAGE/NAME.parquet
    (or FOLDER/STAGE/NAME.parquet, a pending folder the runner moves into place after the
    commit): the file 0600 in 0700 folders, so only the workspace's owner can read it."""
    base = ws.quarantine_dir if folder is None else folder
    path = base / stage / f"{name}.parquet"
    for parent in (ws.quarantine_dir, base, path.parent):  # outermost first
        parent.mkdir(mode=RESTRICTED_DIR_MODE, parents=True, exist_ok=True)
        parent.chmod(RESTRICTED_DIR_MODE)
    if not isinstance(table, ir.Table):
        table = ibis.memtable(table)
    engine.write_parquet(ws.con, table, path)
    path.chmod(RESTRICTED_FILE_MODE)
    return path


def _pending_dir(ws: Workspace, run_id: str) -> Path:
    return ws.quarantine_dir / f"{PENDING_PREFIX}{run_id}"


def _place_restricted(ws: Workspace, pending: Path) -> list[Path]:
    """Finish a committed run's restricted files: move them from its pending folder into
    place, and delete the restricted inputs it consumed."""
    placed = []
    if pending.is_dir():
        consumed = pending / CONSUMED_FILE
        if consumed.is_file():
            for name in json.loads(consumed.read_text()):
                engine.remove_path(ws.quarantine_dir / name)
            consumed.unlink()
        for stage_dir in sorted(p for p in pending.iterdir() if p.is_dir()):
            target_dir = ws.quarantine_dir / stage_dir.name
            target_dir.mkdir(mode=RESTRICTED_DIR_MODE, exist_ok=True)
            target_dir.chmod(RESTRICTED_DIR_MODE)
            for path in sorted(stage_dir.iterdir()):
                target = target_dir / path.name
                engine.remove_path(target)
                os.replace(path, target)
                placed.append(target)
        shutil.rmtree(pending, ignore_errors=True)
    return placed


def settle(ws: Workspace) -> None:
    """Put right what a killed run left; call under the workspace lock, on an intact
    audit trail. Staging folders (raw NHS numbers and postcodes) are removed: a finished
    or failed run removes its own, so any that remain are dead. A pending restricted
    folder is moved into place if its run's commit happened (the catalog names a table
    of that run), else removed. ``published/`` is migrated, rolled forward to the set
    the audit names, and rid of unaudited sets (publish/sets.py)."""
    for folder in ws.root.glob(f"{STAGING_PREFIX}*"):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
    if ws.quarantine_dir.is_dir():
        committed = {physical.rpartition("__r")[2] for physical in ws.catalog().values()}
        for pending in ws.quarantine_dir.glob(f"{PENDING_PREFIX}*"):
            if pending.name.removeprefix(PENDING_PREFIX) in committed:
                _place_restricted(ws, pending)
            else:
                shutil.rmtree(pending, ignore_errors=True)
    sets.settle(ws.root, ws.audit.records())


def load_sources(ws: Workspace, tables: Mapping[str, Any], source: str) -> dict[str, int]:
    """Commit source tables (until ingest lands, the demo's sample) with an audit record."""
    with workspace_lock(ws):
        _require_intact_audit(ws, f"load:{source}")
        settle(ws)
        ws.commit(tables)
        out_desc = _describe({t: ws.table(t) for t in tables})
        _audit(ws, f"load:{source}", [], out_desc)
    return {d["table"]: d["rows"] for d in out_desc}


def select_stages(stages: Sequence[Stage], only: str | None) -> list[Stage]:
    if only is None:
        return list(stages)
    chosen = [s for s in stages if s.name == only]
    if not chosen:
        raise StageError(f"no stage {only!r}; the stages are {[s.name for s in stages]}")
    return chosen
