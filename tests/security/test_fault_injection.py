"""A kill during publish (issue 16): ``openphm run`` killed part way through publishing
left ``published/`` mixed (17 new tables, 24 old) with no audit record for the new ones,
while ``audit verify`` said intact.

Here a real ``openphm run`` process kills itself with SIGKILL (the test-only hook
``OPENPHM_FAULT="stage:point"``, runner.FAULT_ENV) at each point of every stage. After
each kill: published/ is the previous set or the new one, whole (every file as its
MANIFEST.json says); the audit verifies and its last publish record names the live set
(or the next run rolls forward to the set it names); no restricted, staging or pending
file the killed run made is left once the next run starts; and the re-run exits 0.

One small synthetic ICS is run once; each case copies it and kills one stage at one point.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from openphm.publish import sets
from openphm.runner import FAULT_ENV, PENDING_PREFIX, STAGING_PREFIX
from openphm.synth import generate
from openphm.workspace import Workspace
from tests.e2e.workspaces import configure_sources

PEOPLE, SEED = 400, 11
STAGES = ("ingest", "link", "need", "cost", "risk", "measure", "publish")
SRC = Path(__file__).resolve().parents[2] / "src"
# One case per stage in the default run (publish: mid-write and after the switch; after
# the audit append, the roll-forward test below); every other point is marked slow.
CASES = [
    ("ingest", "committed"),
    ("link", "built"),
    ("need", "committed"),
    ("cost", "built"),
    ("risk", "committed"),
    ("measure", "audited"),
    ("publish", "writing"),
    ("publish", "switched"),
]
# Link consumes the raw identifiers ingest stages for it: each run of link needs ingest's.
BEFORE = {"link": ("ingest",)}
SLOW_CASES = [
    (stage, point)
    for stage in STAGES
    for point in ("built", "committed", "audited")
    if (stage, point) not in CASES
] + [("publish", "written")]


def openphm(root: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.run(
        [sys.executable, "-c", "from openphm.cli import main; main()", *args, "-w", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_stage(root: Path, stage: str, fault: str | None = None) -> subprocess.CompletedProcess:
    return openphm(root, "run", "--stage", stage, fault=fault)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_files(root: Path) -> dict[str, str]:
    """What a reader of published/ sees: each file's SHA-256."""
    return {p.name: digest(p) for p in sorted((root / "published").iterdir())}


def audit_records(root: Path) -> list[dict]:
    text = (root / "audit" / "log.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def restricted_files(root: Path) -> dict[str, str]:
    quarantine = root / "quarantine"
    return {p.relative_to(quarantine).as_posix(): digest(p) for p in quarantine.rglob("*.parquet")}


def leftovers(root: Path) -> list[str]:
    """Anything a killed run may leave that the next run must remove."""
    found = [p.name for p in root.glob(f"{STAGING_PREFIX}*")]
    found += [p.name for p in (root / "quarantine").glob(f"{PENDING_PREFIX}*")]
    live = sets.live(root)
    found += [p.name for p in root.glob(f"{sets.SET_PREFIX}*") if p.name != live]
    return found + [p.name for p in root.glob(f"{sets.LINK_TMP_PREFIX}*")]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A workspace every stage has run on once, published and audited."""
    synth = tmp_path_factory.mktemp("synth")
    generate(synth, people=PEOPLE, seed=SEED)
    root = tmp_path_factory.mktemp("base") / "ws"
    configure_sources(root, synth).close()
    config = root / "openphm.toml"  # so few people leave some ward's pool without volume
    config.write_text(config.read_text() + '\n[stages.cost]\npool_without_volume = "unallocated"\n')
    done = openphm(root, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sets.live(root) and not leftovers(root)
    return root


def case(finished: Path, tmp_path: Path, stage: str, point: str) -> None:
    root = tmp_path / "ws"
    shutil.copytree(finished, root, symlinks=True)  # the link stays a link
    for earlier in BEFORE.get(stage, ()):
        assert run_stage(root, earlier).returncode == 0
    before, live_before = published_files(root), sets.live(root)
    records_before = len(audit_records(root))

    killed = run_stage(root, stage, fault=f"{stage}:{point}")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    # What a reader sees between the kill and the next run: one whole set.
    ws = Workspace(root)
    try:
        assert ws.audit.verify().ok
        records = ws.audit.records()
    finally:
        ws.close()
    now = published_files(root)
    assert sets.manifest_problem(root / sets.live(root)) is None
    audited = len(records) > records_before
    assert audited == (point in ("audited", "switched"))
    named = sets.last_audited_set(records)
    rolls_forward = stage == "publish" and point == "audited"
    if stage == "publish" and point == "switched":  # the new set (same data: same files)
        assert sets.live(root) != live_before and named["folder"] == sets.live(root)
    elif rolls_forward:
        assert now == before and named["folder"] != sets.live(root) == live_before
    else:
        assert now == before and named["folder"] == sets.live(root) == live_before

    for again in (*BEFORE.get(stage, ()), stage):
        rerun = run_stage(root, again)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert not leftovers(root), leftovers(root)
    ws = Workspace(root)
    try:
        assert ws.audit.verify().ok
        said = sets.check(root, ws.audit.records())
    finally:
        ws.close()
    assert "as the last publish audit record names" in said
    if stage != "publish":
        assert published_files(root) == before  # only the publish stage publishes
    # A restricted file on disk is one a finished run placed, not the killed run's.
    assert all(not name.startswith(PENDING_PREFIX) for name in restricted_files(root))


@pytest.mark.parametrize(("stage", "point"), CASES, ids=[f"{s}:{p}" for s, p in CASES])
def test_a_kill_leaves_one_whole_audited_published_set_and_a_rerun_completes(
    finished, tmp_path, stage, point
):
    case(finished, tmp_path, stage, point)


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "point"), SLOW_CASES, ids=[f"{s}:{p}" for s, p in SLOW_CASES])
def test_a_kill_at_every_point_of_every_stage(finished, tmp_path, stage, point):
    case(finished, tmp_path, stage, point)


def test_after_the_audit_record_the_next_run_rolls_forward_to_the_set_it_names(finished, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(finished, root, symlinks=True)
    old = sets.live(root)
    killed = run_stage(root, "publish", fault="publish:audited")
    assert killed.returncode == -signal.SIGKILL
    named = sets.last_audited_set(audit_records(root))["folder"]
    assert named != old and sets.live(root) == old
    # Verify says so, and says how to fix it.
    verify = openphm(root, "audit", "verify")
    assert verify.returncode == 1
    assert "run any stage to roll forward" in " ".join(verify.stderr.split())
    # The next run of any stage, here one that publishes nothing, finishes the switch.
    assert run_stage(root, "measure").returncode == 0
    assert sets.live(root) == named and not (root / old).exists()
    assert openphm(root, "audit", "verify").returncode == 0
