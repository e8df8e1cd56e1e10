"""The ``openphm`` command line."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from openphm import key_continuity, model
from openphm.audit import AuditError
from openphm.config import CONFIG_FILE, ConfigError
from openphm.engine import OUT_OF_MEMORY, EngineError
from openphm.governance import IdsRefused, require_direct_care
from openphm.ingest.reader import IngestError
from openphm.ingest.sources import synth_sources
from openphm.runner import StageError, StageSummary, run_stage, select_stages
from openphm.stages import STAGES
from openphm.workspace import Workspace, WorkspaceError

app = typer.Typer(help="Open population health management and costing for the NHS.")
audit_app = typer.Typer(help="The hash-chained audit trail.")
app.add_typer(audit_app, name="audit")
need_app = typer.Typer(help="Clinical need scores on your own files, without a workspace.")
app.add_typer(need_app, name="need")
cost_app = typer.Typer(help="Patient-level costing: trace a patient's costs.")
app.add_typer(cost_app, name="cost")
user_app = typer.Typer(help="Dashboard accounts and API tokens (kept in the workspace).")
app.add_typer(user_app, name="user")
risk_app = typer.Typer(help="Risk stratification: cohorts from the scored population.")
app.add_typer(risk_app, name="risk")
sources_app = typer.Typer(help="The delivered files configured in [sources].")
app.add_typer(sources_app, name="sources")
console = Console()
err = Console(stderr=True)

WorkspaceDir = Annotated[
    Path, typer.Option("--dir", "-w", envvar="OPENPHM_WORKSPACE", help="workspace folder")
]


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Known failures print one clear message and exit 2; no stack traces."""
    try:
        yield
    except (ConfigError, WorkspaceError, StageError, EngineError, IngestError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        err.print(f"[bold red]error:[/] {escape(str(message))}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="folder to create")]) -> None:
    """Create a workspace with a commented openphm.toml."""
    with _clear_errors():
        ws = Workspace.init(directory)
    console.print(
        f"workspace ready: {ws.root}\nedit {ws.root / 'openphm.toml'} to configure it\n"
        "its [audit] key_env names OPENPHM_AUDIT_KEY: set it to a key of its own (32 random "
        "bytes or more, e.g. from `openssl rand -hex 32`) kept outside the workspace, or "
        "point [audit] at a key_file",
        markup=False,
    )


@app.command()
def schema(table: Annotated[str | None, typer.Argument(help="one table")] = None) -> None:
    """Print the canonical data model."""
    with _clear_errors():
        console.print(model.describe(table), highlight=False, markup=False)


def _run(ws: Workspace, only: str | None, rekey: bool = False) -> list[StageSummary]:
    stages = select_stages(STAGES, only)
    keyed = [s.name for s in stages if s.reads_key]
    if rekey and not keyed:
        raise StageError(
            f"--rekey changes the key stage(s) {[s.name for s in STAGES if s.reads_key]} "
            "pseudonymise with, and this run has none; leave out --stage, or name one of them"
        )
    # Before ingest's work, so a wrong key stops the run in its first second. A workspace
    # with no key yet has nothing to compare with: its first link stage records the key.
    if keyed and key_continuity.stored(ws) is not None:
        key_continuity.check(ws, "this run", rekey)
    summaries = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        for stage in stages:
            task = progress.add_task(f"stage {stage.name}: {stage.description}")
            try:
                summaries.append(run_stage(ws, stage, rekey=rekey))
            except OUT_OF_MEMORY:
                raise StageError(_out_of_memory(stage.name, ws)) from None
            progress.remove_task(task)
    _print_summaries(summaries)
    return summaries


def _out_of_memory(stage: str, ws: Workspace) -> str:
    limit = ws.config.engine.memory_limit
    now = f'memory_limit = "{limit}"' if limit else "DuckDB's default memory limit"
    return (
        f"stage {stage!r} ran out of memory under {now} (the engine spills to disk up to "
        "that limit, and this step needed more) and did not finish: raise memory_limit "
        f"under [engine] in {ws.root / CONFIG_FILE} (or remove it to use 80% of the "
        "machine's memory), or free memory, then run again"
    )


def _print_summaries(summaries: list[StageSummary]) -> None:
    table = Table("stage", "rows in", "rows out", "quarantined", "seconds")
    for s in summaries:
        table.add_row(
            s.stage, f"{s.rows_in:,}", f"{s.rows_out:,}", f"{s.rows_quarantined:,}", f"{s.seconds}"
        )
    console.print(table)
    for s in summaries:
        for note in s.notes:
            console.print(f"[yellow]{s.stage}:[/yellow] {note}", highlight=False)


@app.command()
def run(
    directory: WorkspaceDir = Path("."),
    stage: Annotated[str | None, typer.Option(help="run only this stage")] = None,
    rekey: Annotated[
        bool,
        typer.Option(
            "--rekey",
            help="the pseudonymisation key was changed on purpose: re-pseudonymise everyone "
            "with it (every person_id changes; the audit records the old and new fingerprints)",
        ),
    ] = False,
) -> None:
    """Run every stage in order, or one with --stage."""
    with _clear_errors():
        ws = Workspace(directory)
        try:
            _run(ws, stage, rekey)
        finally:
            ws.close()


@app.command()
def layouts(name: Annotated[str | None, typer.Argument(help="one layout, in full")] = None) -> None:
    """List the file layouts openphm reads; with a name, its columns, aliases and key."""
    from openphm.ingest.layouts import LAYOUTS

    if name is None:
        table = Table("layout", "columns", "what it holds")
        for layout in LAYOUTS.values():
            table.add_row(layout.name, str(len(layout.all_columns)), layout.description)
        console.print(table)
        console.print("openphm layouts NAME shows a layout's columns", highlight=False)
        return
    if name not in LAYOUTS:
        err.print(
            f"[bold red]error:[/] no layout {escape(name)!r}; the layouts are: "
            f"{', '.join(LAYOUTS)}",
            highlight=False,
        )
        raise typer.Exit(2)
    console.print(_layout_text(LAYOUTS[name]), markup=False, highlight=False, soft_wrap=True)


def _layout_text(layout) -> str:
    from openphm.ingest.preview import runs

    def listed(columns) -> str:
        return runs(columns) or "(none)"

    lines = [
        f"{layout.name}: {layout.description}",
        f"  format:   {layout.format} (unless the source's file or format says otherwise)",
        f"  key:      {' + '.join(layout.key)} (unique within a file)",
        f"  required: {listed(layout.columns)}",
        f"  optional: {listed(layout.optional)}",
    ]
    if layout.aliases:
        lines.append("  also read under (case, spaces and underscores ignored):")
        lines += [
            f"    {column}: {', '.join(names)}" for column, names in layout.aliases.items() if names
        ]
    groups: dict[tuple[str, ...], list[str]] = {}
    for column, tokens in layout.nulls.items():
        groups.setdefault(tuple(tokens), []).append(column)
    if groups:
        lines.append("  read as no value:")
        lines += [
            f"    {', '.join(repr(t) for t in tokens)} in {runs(columns)}"
            for tokens, columns in groups.items()
        ]
    lines.append(
        '  a file names a column otherwise: columns = { LAYOUT_COLUMN = "FILE HEADER" } '
        "in [sources.NAME]"
    )
    return "\n".join(lines)


@sources_app.command("check")
def sources_check(
    name: Annotated[str | None, typer.Argument(help="one source (default: every source)")] = None,
    directory: WorkspaceDir = Path("."),
    rows: Annotated[int, typer.Option("--rows", min=1, help="sample rows read per file")] = 10_000,
) -> None:
    """Read a sample of each configured file and say what a run would make of it.

    Shows how each file is read, which header holds each column, and how many sample
    rows the checks would quarantine or null, with the setting that would fix it.
    Nothing is written to the workspace, and no value from the data is shown.
    """
    from openphm.ingest import preview

    with _clear_errors():
        ws = Workspace(directory)
        if not ws.config.sources:
            raise ConfigError(f"no [sources] in {ws.root / CONFIG_FILE}; add [sources.NAME]")
        results = preview.check_sources(ws.root, ws.config, name, rows)
    console.print(preview.render(results), markup=False, highlight=False, soft_wrap=True)
    if any(r.error is not None or (r.match and r.match.missing) for r in results):
        raise typer.Exit(1)


@app.command()
def stages() -> None:
    """List the stages in run order with the tables they read and write."""
    table = Table("stage", "reads", "writes", "does")
    for s in STAGES:
        table.add_row(
            s.name, ", ".join(s.inputs), ", ".join(s.outputs) or "published/", s.description
        )
    console.print(table)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", envvar="DEMO_DIR")] = Path("demo"),
    people: Annotated[int, typer.Option(min=100)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    fresh: Annotated[bool, typer.Option(help="start from an empty workspace")] = True,
) -> None:
    """Generate a synthetic ICS, make a workspace from it, run every stage, show the outputs."""
    started = time.perf_counter()
    with _clear_errors():
        if fresh and directory.exists():
            _remove_old_demo(directory)
        ws = Workspace.init(directory, name="openphm-demo")
        sources = ws.root / "sources"
        _generate(sources, people=people, seed=seed)
        _point_demo_at(ws, sources)
        audit_key = _demo_audit_key(ws, fresh)
        ws = Workspace(ws.root)
        try:
            _run(ws, None)
            verification = ws.audit.verify()
        finally:
            ws.close()
    console.print(f"\n[bold]demo finished in {time.perf_counter() - started:.1f} s[/]")
    lines = [
        f"workspace:  {ws.root}",
        f"sources:    {sources} (the synthetic ICS: extracts/, reference/, truth/)",
        f"published:  {ws.published_dir}",
    ]
    lines += [f"  {p.name}" for p in sorted(ws.published_dir.glob("*.csv"))]
    lines.append(f"audit:      {ws.audit_dir} ({verification.reason})")
    lines.append(f"audit key:  {audit_key} (outside the workspace: keep it apart from it)")
    lines += _report_and_dashboard_lines(ws.root)
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def _report_and_dashboard_lines(root: Path) -> list[str]:
    """The demo's last step: the report pack, and how to open the dashboard."""
    from openphm.report import build_report

    result = build_report(root)
    return [
        f"report:     {result.path}",
        f"dashboard:  openphm serve --dir {root}  (then open http://127.0.0.1:8000/)",
    ]


def _point_demo_at(ws: Workspace, sources: Path) -> None:
    """The demo's sources, and a random pseudonymisation key of its own in a file."""
    key_file = ws.root / "demo-pseudonym.key"
    key_file.write_text(secrets.token_hex(32))
    key_file.chmod(0o600)
    config = ws.root / CONFIG_FILE
    text = config.read_text().replace(
        'key_env = "OPENPHM_PSEUDONYM_KEY"', f'key_file = "{key_file.name}"'
    )
    # A small demo population can leave a cost centre's only records with people who
    # opted out (link removes them): their pool's cost stays off patients on its own
    # reconciliation line instead of stopping the demo.
    cost = '[stages.cost]\npool_without_volume = "unallocated"\n'
    config.write_text(text + "\n" + cost + "\n" + synth_sources(ws.root, sources))


def _demo_audit_key(ws: Workspace, fresh: bool) -> Path:
    """The demo's own audit key, in a file beside the workspace folder, not inside it:
    whoever can rewrite the log must not find the key that signs it there too."""
    key_file = ws.root.parent / f"{ws.root.name}-audit.key"
    if fresh or not key_file.exists():
        key_file.unlink(missing_ok=True)
        # Created readable by its owner only: no moment when others could read it.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    config = ws.root / CONFIG_FILE
    config.write_text(
        config.read_text().replace('key_env = "OPENPHM_AUDIT_KEY"', f'key_file = "{key_file}"')
    )
    return key_file


def _remove_old_demo(directory: Path) -> None:
    """Delete a previous demo, and never a folder that is anything else."""
    config = directory / "openphm.toml"
    is_demo = config.exists() and 'name = "openphm-demo"' in config.read_text()
    if not (is_demo or not any(directory.iterdir())):
        raise WorkspaceError(
            f"{directory} exists and is not an openphm demo workspace; "
            "choose another --dir (or DEMO_DIR) for the demo"
        )
    shutil.rmtree(directory)


def _generate(out: Path, people: int, **options):
    """``openphm.synth.generate`` with a bar that fills chunk by chunk."""
    from openphm import synth as synthetic

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"synthetic ICS of {people:,} people", total=None)
        return synthetic.generate(
            out,
            people=people,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            **options,
        )


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="folder to write the ICS into")] = Path("synth"),
    people: Annotated[int, typer.Option(min=1_000, help="population size")] = 100_000,
    seed: Annotated[int, typer.Option(help="the same seed gives byte-identical files")] = 1,
    years: Annotated[int, typer.Option(min=1, max=10)] = 3,
    access_bias: Annotated[bool, typer.Option(help="less planned care for the same need")] = True,
    report: Annotated[bool, typer.Option(help="print achieved against target")] = False,
) -> None:
    """Generate a synthetic integrated care system (extracts, ledgers and the truth)."""
    from openphm.synth import calibration

    started = time.perf_counter()
    result = _generate(out, people=people, seed=seed, years=years, access_bias=access_bias)
    console.print(
        f"{people:,} people in {time.perf_counter() - started:.1f} s -> {result.out}",
        markup=False,
    )
    for name, rows in sorted(result.rows.items()):
        console.print(f"  {name:<45} {rows:>12,}", markup=False, highlight=False)
    if report:
        console.print(calibration.render(calibration.achieved(result.out)), markup=False)


def _exported_head(text: str) -> dict:
    """A head as `openphm audit head` prints it: the JSON itself, or a file holding it."""
    raw = text if text.lstrip().startswith("{") else None
    if raw is None:
        try:
            raw = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise WorkspaceError(f"--head {text}: cannot read it ({exc.strerror})") from None
    try:
        head = json.loads(raw)
    except ValueError:
        head = None
    if not isinstance(head, dict):
        raise WorkspaceError(
            "--head: not a head as `openphm audit head` prints it "
            '({"seq": N, "hash": "...", ...}), nor a file holding one'
        )
    return head


@audit_app.command("verify")
def audit_verify(
    directory: WorkspaceDir = Path("."),
    head: Annotated[
        str | None,
        typer.Option(help="a head kept from `openphm audit head` (its JSON, or a file)"),
    ] = None,
) -> None:
    """Check the audit chain and its macs, and that published/ is the set it last recorded;
    exit 1 naming the first bad record, or what is wrong with published/.

    With --head, the log must also still hold that exported record, which catches a rollback
    to an earlier copy or a rewrite by someone holding the key."""
    from openphm.publish import sets

    with _clear_errors():
        ws = Workspace(directory)
        try:
            log = ws.audit
            result = log.verify_against(_exported_head(head)) if head else log.verify()
        except AuditError as exc:
            raise WorkspaceError(str(exc)) from None
    if not result.ok:
        err.print(f"[bold red]audit log damaged:[/] {escape(result.reason)}", highlight=False)
        raise typer.Exit(1)
    console.print(f"audit log {result.reason}; head {result.head_hash}", soft_wrap=True)
    if not result.authenticated:  # a chain anyone with write access could recompute
        err.print("[bold yellow]warning:[/] the audit log is not authenticated")
    # The log is whole; is published/ what it says was published?
    try:
        said = sets.check(ws.root, ws.audit.records())
    except sets.PublishedSetError as exc:
        err.print(f"[bold red]published/ not as audited:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    console.print(said, markup=False, highlight=False, soft_wrap=True)


@audit_app.command("head")
def audit_head(directory: WorkspaceDir = Path(".")) -> None:
    """Print the latest record (seq, hash, mac) as one line of JSON, to keep somewhere else
    (board minutes, another machine) and check later with `audit verify --head`."""
    with _clear_errors():
        try:
            head = Workspace(directory).audit.head()
        except AuditError as exc:
            raise WorkspaceError(str(exc)) from None
    console.print(json.dumps(head, sort_keys=True), markup=False, highlight=False, soft_wrap=True)


@audit_app.command("seal")
def audit_seal(directory: WorkspaceDir = Path(".")) -> None:
    """Start authenticating a log written before [audit] configured a key: append a keyed
    record vouching for the records before it. Run it only if you know they are genuine."""
    with _clear_errors():
        try:
            record = Workspace(directory).audit.seal()
        except AuditError as exc:
            raise WorkspaceError(str(exc)) from None
    console.print(
        f"audit log sealed at record {record['seq']}: the {record['seq'] - 1} records before it "
        "are vouched for, and every record from now on carries a mac",
        markup=False,
    )


@app.command("codelists")
def list_codelists() -> None:
    """List the clinical definitions (code lists and rule sets): source, version, licence."""
    from openphm import codelists as lists

    blocks = []
    for d in lists.load_all():
        window = f"{d.lookback_months} months to the index date" if d.lookback_months else "ever"
        age = f"; age {d.min_age} and over" if d.min_age is not None else ""
        scores = ", ".join(d.score_columns) or "none (flags each category)"
        blocks.append(
            _definition_block(
                d.name,
                d.version,
                d.title,
                [
                    f"codes:   {len(d.codes)} ({', '.join(d.code_systems)}) in "
                    f"{len(d.categories)} categor{'y' if len(d.categories) == 1 else 'ies'}; "
                    f"records counted: {window}{age}",
                    f"scores:  {scores}",
                    *_sources(d.source),
                    *(f"weights: {ws.name}: {ws.source}" for ws in d.weight_sets),
                    f"licence: {d.licence}",
                ],
            )
        )
    for name in lists.available_rules():
        r = lists.load_rules(name)
        lines = [*_sources(r.source), f"licence: {r.licence}"]
        blocks.append(_definition_block(name, r.version, f"{r.title} (rule set)", lines))
    blocks.append(
        "Not shipped: the Cambridge Multimorbidity Score (Payne et al., CMAJ 2020). Its code "
        "lists are CPRD Read v2 and product codes with no open licence we could find; see "
        "src/openphm/codelists/README.md."
    )
    console.print("\n\n".join(blocks), markup=False, highlight=False, soft_wrap=True)


def _definition_block(name: str, version: str, title: str, lines: list[str]) -> str:
    return "\n".join([f"{name} {version}: {title}", *(f"  {line}" for line in lines)])


def _sources(source) -> list[str]:
    def text(value) -> str:
        return "; ".join(map(str, value)) if isinstance(value, list) else " ".join(value.split())

    return [f"source:  {key}: {text(value)}" for key, value in source.items()]


@need_app.command("score")
def need_score(
    diagnoses: Annotated[
        Path, typer.Argument(help="long CSV or Parquet file: a person id and a code per row")
    ],
    out: Annotated[Path, typer.Option("--out", help="file to write (.csv or .parquet)")],
    person: Annotated[str, typer.Option(help="column of person ids")] = "person_id",
    code: Annotated[str, typer.Option(help="column of ICD-10 codes")] = "code",
    date: Annotated[str | None, typer.Option(help="column of diagnosis dates")] = None,
    age: Annotated[str | None, typer.Option(help="column of age on the index date")] = None,
    index_date: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="the day scores are measured on (YYYY-MM-DD)"),
    ] = None,
) -> None:
    """Charlson, Elixhauser and HFRS for every person in a diagnosis file."""
    from openphm.need import score_file

    if (date is None) != (index_date is None):
        given, missing = ("--date", "--index-date") if date else ("--index-date", "--date")
        err.print(
            f"[bold red]error:[/] {given} needs {missing}: the lookback windows count back "
            "from the index date over the dated diagnoses",
            highlight=False,
        )
        raise typer.Exit(2)
    try:
        done = score_file(
            diagnoses,
            out,
            person=person,
            code=code,
            date=date,
            age=age,
            index_date=index_date.date() if index_date else None,
        )
    except (ValueError, OSError) as exc:  # bad columns, values, suffixes or paths
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"{done.people:,} people scored from {done.rows:,} rows in {done.seconds} s -> "
        f"{done.out}\ncolumns: {', '.join(done.columns)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def report(
    directory: WorkspaceDir = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file to write (default: reports/report.html)")
    ] = None,
) -> None:
    """Write the report pack: one self-contained HTML file from the published tables."""
    from openphm.report import build_report

    with _clear_errors():
        result = build_report(directory, out)
    console.print(f"report written: {result.path}", markup=False, highlight=False, soft_wrap=True)
    if result.not_run:
        console.print(f"not run yet: {', '.join(result.not_run)}", markup=False, highlight=False)


@app.command()
def serve(
    directory: WorkspaceDir = Path("."),
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Secure session cookies (default: on unless listening on loopback only)",
        ),
    ] = None,
) -> None:
    """Serve the dashboard over the published tables, with sign-in and roles."""
    from openphm.web import serve as run_server

    with _clear_errors():
        Workspace(directory)
    console.print(f"dashboard: http://{host}:{port}/ (Ctrl+C to stop)", markup=False)
    run_server(directory, host=host, port=port, secure_cookies=secure_cookies)


PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="read the password from standard input (one line) instead of a prompt",
    ),
]


def _new_password(from_stdin: bool) -> str:
    """A password from a hidden prompt (typed twice) or standard input; never an argument,
    which would sit in the shell's history and the process list."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@contextmanager
def _account_errors():
    from openphm.web.accounts import AccountError

    try:
        yield
    except AccountError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def _accounts(directory: Path):
    from openphm.web.accounts import Accounts

    with _clear_errors():
        ws = Workspace(directory)
    return Accounts(ws.root)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="user name (lower case)")],
    role: Annotated[str, typer.Option(help="public, analyst or care_team")],
    practice: Annotated[
        str | None, typer.Option(help="care_team only: the GP practice's ODS code")
    ] = None,
    directory: WorkspaceDir = Path("."),
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a dashboard account (the password is prompted for and stored as an Argon2id hash)."""
    accounts = _accounts(directory)
    with _account_errors():
        user = accounts.add(name, role, _new_password(password_stdin), practice)
    where = f", practice {user.practice}" if user.practice else ""
    console.print(f"user {user.name} added ({user.role}{where})", markup=False)


@user_app.command("remove")
def user_remove(
    name: Annotated[str, typer.Argument(help="user name")], directory: WorkspaceDir = Path(".")
) -> None:
    """Remove an account and its API tokens; its sessions end at their next request."""
    with _account_errors():
        _accounts(directory).remove(name)
    console.print(f"user {name} removed", markup=False)


@user_app.command("passwd")
def user_passwd(
    name: Annotated[str, typer.Argument(help="user name")],
    directory: WorkspaceDir = Path("."),
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password; every session signed in before it ends."""
    accounts = _accounts(directory)
    with _account_errors():
        accounts.tokens(name)  # an unknown user is named before the password is asked for
        accounts.set_password(name, _new_password(password_stdin))
    console.print(f"password of {name} changed; their other sessions have ended", markup=False)


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="user name")], directory: WorkspaceDir = Path(".")
) -> None:
    """Make an API token for a user; it is shown once and only its hash is kept."""
    with _account_errors():
        token = _accounts(directory).new_token(name)
    console.print(token, markup=False, highlight=False, soft_wrap=True)
    err.print("use it as: Authorization: Bearer <token>; it is not shown again", highlight=False)


@user_app.command("tokens")
def user_tokens(
    name: Annotated[str, typer.Argument(help="user name")], directory: WorkspaceDir = Path(".")
) -> None:
    """List a user's API tokens (their ids and when they were made)."""
    with _account_errors():
        tokens = _accounts(directory).tokens(name)
    table = Table("token id", "created")
    for t in tokens:
        table.add_row(t["id"], t["created"])
    console.print(table)


@user_app.command("revoke")
def user_revoke(
    name: Annotated[str, typer.Argument(help="user name")],
    token_id: Annotated[str, typer.Argument(help="the token's id (openphm user tokens NAME)")],
    directory: WorkspaceDir = Path("."),
) -> None:
    """Revoke one of a user's API tokens: it is refused from the next request on."""
    with _account_errors():
        _accounts(directory).revoke_token(name, token_id)
    console.print(f"token {token_id} of {name} revoked", markup=False)


@user_app.command("list")
def user_list(directory: WorkspaceDir = Path(".")) -> None:
    """List the dashboard accounts and their roles."""
    from openphm.web.accounts import Accounts

    with _clear_errors():
        ws = Workspace(directory)
    table = Table("user", "role", "practice")
    for u in Accounts(ws.root).names():
        table.add_row(u.name, u.role, u.practice or "")
    console.print(table)


@cost_app.command("explain")
def cost_explain(
    key: Annotated[str, typer.Argument(help="an encounter_id or a person_id")],
    directory: WorkspaceDir = Path("."),
) -> None:
    """Trace an encounter's or person's costs to ledger lines, rules and drivers."""
    from openphm.cost.explain import explain, render

    with _clear_errors():
        ws = Workspace(directory)
        if "cost_encounter" not in ws.catalog():
            raise StageError("the workspace has no costs yet; run the cost stage first")
        trace = explain(ws.table, key)
    if trace is None:
        err.print(
            f"[bold red]error:[/] no costed encounter or person {escape(key)!r} in the workspace",
            highlight=False,
        )
        raise typer.Exit(2)
    console.print(render(trace), markup=False, highlight=False, soft_wrap=True)


@risk_app.command("cohort")
def risk_cohort(
    filters: Annotated[Path, typer.Argument(help="TOML file of filters (see openphm.risk.cohort)")],
    directory: WorkspaceDir = Path("."),
    ids_out: Annotated[
        Path | None,
        typer.Option("--ids-out", help="direct care only: write the cohort's pseudonymised ids"),
    ] = None,
) -> None:
    """A cohort's profile through the disclosure gate; its ids only for direct care."""
    from openphm.risk import cohort

    with _clear_errors():
        ws = Workspace(directory)
        if "risk_score" not in ws.catalog() or "person_need" not in ws.catalog():
            raise StageError("the workspace has no risk scores yet; run the risk stage first")
        try:
            chosen = cohort.load_filters(filters)
        except cohort.CohortError as exc:
            raise StageError(str(exc)) from None
        if ids_out is not None:
            try:
                require_direct_care(ws.config.governance, "--ids-out")
            except IdsRefused as exc:
                raise StageError(str(exc)) from None
        result = cohort.build(
            ws.table("risk_score"),
            ws.table("person_need"),
            chosen,
            governance=ws.config.governance,
            policy=ws.config.disclosure,
        )
    frame = result.profile.table.execute()
    table = Table("characteristic", "value", "people")
    for row in frame.sort_values(["characteristic", "value"]).itertuples(index=False):
        shown = "*" if row.people_flag is not None and str(row.people_flag) != "nan" else row.people
        table.add_row(str(row.characteristic), str(row.value), str(shown))
    console.print(table)
    if ids_out is not None and result.ids is not None:
        ids_out.write_text("\n".join(["person_id", *result.ids]) + "\n", encoding="utf-8")
        console.print(f"{len(result.ids):,} pseudonymised ids written to {ids_out}", markup=False)


def main() -> None:  # pragma: no cover - entry point
    app()
