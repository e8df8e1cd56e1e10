"""A workspace pointed at a synthetic ICS, with a test pseudonymisation key in a file."""

from __future__ import annotations

from pathlib import Path

from openphm.ingest.sources import synth_sources
from openphm.workspace import Workspace

KEY = b"openphm-test-key-not-for-real-data-0123456789"


def configure_sources(
    root: Path, synth_dir: Path, url: str = "duckdb://warehouse.duckdb"
) -> Workspace:
    Workspace.init(root)
    key_file = root / "pseudonym.key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o600)  # a key others can read is refused
    config = (root / "openphm.toml").read_text()
    config = config.replace('url = "duckdb://warehouse.duckdb"', f'url = "{url}"')
    config = config.replace('key_env = "OPENPHM_PSEUDONYM_KEY"', f'key_file = "{key_file}"')
    config = config.replace(
        "[stages.link]", '[stages.ingest]\nextract_date = "2026-11-22"\n\n[stages.link]'
    )
    (root / "openphm.toml").write_text(config + "\n" + synth_sources(root, synth_dir))
    return Workspace(root)
