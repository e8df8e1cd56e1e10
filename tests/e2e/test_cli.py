"""The ``openphm`` command line, end to end: in-process with CliRunner, plus one real process."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from openphm import model
from openphm.cli import app
from openphm.config import CONFIG_FILE, load_config

runner = CliRunner()


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def flat(result: Result) -> str:
    """The output with Rich's line wrapping undone (words joined by single spaces)."""
    return " ".join(result.output.split())


def assert_clean_exit(result: Result, code: int) -> None:
    """Exit ``code`` through typer.Exit (SystemExit), with no stack trace shown."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def init_workspace(path: Path) -> Path:
    result = invoke("init", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory) -> Path:
    """One small demo workspace built through the CLI; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("cli") / "demo"
    result = invoke("demo", "--dir", root, "--people", "500")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def demo_copy(demo_workspace, tmp_path) -> Path:
    copy = tmp_path / "demo"
    shutil.copytree(demo_workspace, copy)
    return copy


def audit_lines(ws: Path) -> list[str]:
    return (ws / "audit" / "log.jsonl").read_text(encoding="utf-8").splitlines()


# --- init, schema, stages ----------------------------------------------------------------------


def test_init_creates_the_workspace_layout(tmp_path):
    ws = tmp_path / "new-ws"
    result = invoke("init", ws)
    assert result.exit_code == 0, result.output
    assert (ws / CONFIG_FILE).is_file()
    for sub in ("audit", "quarantine", "published"):
        assert (ws / sub).is_dir()
    assert load_config(ws / CONFIG_FILE).name == "new-ws"
    assert "new-ws" in flat(result)


def test_init_keeps_an_existing_config(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    config = ws / CONFIG_FILE
    edited = config.read_text(encoding="utf-8").replace('name = "ws"', 'name = "kept"')
    config.write_text(edited, encoding="utf-8")
    assert invoke("init", ws).exit_code == 0
    assert config.read_text(encoding="utf-8") == edited


def test_schema_person_prints_every_column_and_the_sex_codes():
    result = invoke("schema", "person")
    assert result.exit_code == 0, result.output
    text = flat(result)
    documented = ["person_id", "year_of_birth", "month_of_birth", "sex", "ethnic_category"]
    documented += ["lsoa_code", "date_of_death"]
    columns = [c.name for c in model.TABLES["person"].columns]
    assert set(documented) <= set(columns)
    for name in columns:
        assert f"- {name} (" in text
    for code, meaning in {
        "1": "Male",
        "2": "Female",
        "9": "Indeterminate",
        "X": "Not known",
    }.items():
        assert f"{code}={meaning}" in text
    assert "Table: registration" not in text  # one table only


def test_schema_without_a_table_prints_them_all():
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    for name in model.TABLES:
        assert f"Table: {name}" in flat(result)


def test_schema_unknown_table_exits_2_listing_known_tables():
    result = invoke("schema", "nosuch")
    assert_clean_exit(result, 2)
    text = flat(result)
    assert "nosuch" in text
    for name in model.TABLES:
        assert re.search(rf"\b{name}\b", text), name


def test_stages_lists_measure_then_publish():
    result = invoke("stages")
    assert result.exit_code == 0, result.output
    assert "measure" in result.output and "publish" in result.output
    assert result.output.index("measure") < result.output.index("publish")


# --- run: the errors a user meets first --------------------------------------------------------


def test_run_unknown_stage_exits_2_naming_the_stages(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    result = invoke("run", "-w", ws, "--stage", "nosuch")
    assert_clean_exit(result, 2)
    text = flat(result)
    assert "nosuch" in text
    assert "measure" in text and "publish" in text


def test_run_without_sources_exits_2_saying_how_to_configure_them(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    result = invoke("run", "-w", ws)
    assert_clean_exit(result, 2)
    text = flat(result)
    assert "no sources configured" in text and "[sources.NAME]" in text
    assert list((ws / "published").glob("*.csv")) == []  # nothing published


def test_run_outside_a_workspace_exits_2_suggesting_init(tmp_path):
    not_ws = tmp_path / "plain"
    not_ws.mkdir()
    result = invoke("run", "-w", not_ws)
    assert_clean_exit(result, 2)
    text = flat(result)
    assert "not an openphm workspace" in text
    assert "openphm init" in text
    assert not (not_ws / CONFIG_FILE).exists()  # it does not create one behind the user's back


def test_run_with_invalid_config_exits_2_naming_the_key(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    config = ws / CONFIG_FILE
    text = config.read_text(encoding="utf-8")
    assert 'purpose = "planning"' in text
    config.write_text(text.replace('purpose = "planning"', 'purpose = "marketing"'), "utf-8")
    result = invoke("run", "-w", ws)
    assert_clean_exit(result, 2)
    assert "governance.purpose" in flat(result)
    assert "'marketing'" in flat(result)


def test_run_with_unparsable_config_exits_2_naming_the_file(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    with (ws / CONFIG_FILE).open("a", encoding="utf-8") as fh:
        fh.write("\n[disclosure\n")
    result = invoke("run", "-w", ws)
    assert_clean_exit(result, 2)
    assert CONFIG_FILE in flat(result)
    assert "TOML" in flat(result)


# --- audit verify ------------------------------------------------------------------------------


def test_audit_verify_intact_demo_workspace(demo_copy):
    lines = audit_lines(demo_copy)
    actions = [json.loads(line)["action"] for line in lines]
    assert actions == [
        "stage:ingest",
        "stage:link",
        "stage:need",
        "stage:cost",
        "stage:risk",
        "stage:measure",
        "stage:publish",
    ]
    result = invoke("audit", "verify", "-w", demo_copy)
    assert result.exit_code == 0, result.output
    text = flat(result)
    assert "intact" in text and "7 records" in text
    assert json.loads(lines[-1])["hash"] in text


def test_audit_verify_catches_one_edited_byte_in_the_middle_record(demo_copy):
    log = demo_copy / "audit" / "log.jsonl"
    before = log.read_bytes()
    lines = before.split(b"\n")
    middle = 1  # record 2 of 4
    assert json.loads(lines[middle])["seq"] == 2
    at = lines[middle].index(b'"user":"') + len(b'"user":"')
    old = lines[middle][at : at + 1]
    new = b"x" if old != b"x" else b"y"
    lines[middle] = lines[middle][:at] + new + lines[middle][at + 1 :]
    log.write_bytes(b"\n".join(lines))
    after = log.read_bytes()
    assert len(after) == len(before)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1

    result = invoke("audit", "verify", "-w", demo_copy)
    assert_clean_exit(result, 1)
    text = flat(result)
    assert re.search(r"\brecord 2\b", text), text
    assert not re.search(r"\brecord [13]\b", text), text


def test_audit_verify_catches_a_deleted_last_record(demo_copy):
    log = demo_copy / "audit" / "log.jsonl"
    lines = audit_lines(demo_copy)
    log.write_text("".join(line + "\n" for line in lines[:-1]), encoding="utf-8")
    result = invoke("audit", "verify", "-w", demo_copy)
    assert_clean_exit(result, 1)
    assert "truncat" in flat(result).lower()


# --- the demo as a user runs it: a real process through the console script ---------------------


def published_counts(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, "no rows published"
    return [(row["population"], row["population_flag"]) for row in rows]


def test_demo_subprocess_publishes_only_safe_counts_and_verifies(tmp_path):
    script = Path(sys.executable).parent / "openphm"
    assert script.exists(), f"console script not installed at {script}"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENPHM_WORKSPACE", "DEMO_DIR")}
    env["COLUMNS"] = "250"  # keep Rich from wrapping paths
    ws = (tmp_path / "demo").resolve()

    demo = subprocess.run(
        [str(script), "demo", "--dir", str(ws), "--people", "3000"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    published = ws / "published"
    csv_path = published / "registered_population.csv"
    assert csv_path.is_file()
    assert str(published) in demo.stdout
    assert "registered_population.csv" in demo.stdout

    counts = published_counts(csv_path)
    for value, flag in counts:
        if value == "*":
            assert flag in ("primary", "secondary"), (value, flag)
            continue
        assert flag == "", (value, flag)
        assert re.fullmatch(r"0|[1-9][0-9]*", value), value
        n = int(value)
        assert n % 5 == 0 and not 1 <= n <= 7, value
    # The check above is not vacuous: the demo suppresses some cells and publishes others.
    values = [v for v, _ in counts]
    assert "*" in values
    assert any(v not in ("*", "0") for v in values)

    verify = subprocess.run(
        [str(script), "audit", "verify", "-w", str(ws)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout


def test_demo_never_deletes_a_folder_that_is_not_a_demo(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    result = invoke("demo", "--dir", precious, "--people", "500")
    assert_clean_exit(result, 2)
    assert "not an openphm demo workspace" in flat(result)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_error_messages_keep_square_brackets_in_paths(tmp_path):
    odd = tmp_path / "[data]"
    odd.mkdir()
    result = invoke("run", "-w", odd)
    assert_clean_exit(result, 2)
    assert "[data]" in flat(result)
