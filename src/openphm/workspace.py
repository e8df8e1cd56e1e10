"""The workspace: a folder holding configuration, warehouse, audit trail and outputs.

::

    openphm.toml     configuration (see config.py)
    warehouse.duckdb the tables (by default; any engine config.py allows)
    catalog.json     which physical table holds each logical table
    key-fingerprint.json  the pseudonymisation key's fingerprint, never the key
                     (key_continuity.py)
    workspace.json   the workspace's random id, bound into the audit trail's macs
    audit/           the hash-chained, authenticated audit log
    quarantine/      rows that failed validation, with reasons
    published/       the only place human-facing outputs are written

Writes are atomic per stage: new outputs go to fresh physical tables, then the
catalog is swapped in one ``os.replace``. A run that fails or is killed part way
leaves the catalog, and so every reader, on the previous outputs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from openphm import engine
from openphm.audit import AuditLog, Identity
from openphm.config import CONFIG_FILE, Config, load_config, write_template
from openphm.files import fsync_dir

# Each published set lists its files and their SHA-256 here (publish/sets.py).
MANIFEST = "MANIFEST.json"

CATALOG_FILE = "catalog.json"
IDENTITY_FILE = "workspace.json"
_PHYSICAL = re.compile(r"^(?P<name>[a-z][a-z0-9_]*?)__r(?P<run>[0-9a-z_]+)$")


class WorkspaceError(RuntimeError):
    """A workspace that is missing, or a table it does not hold."""


def new_run_id() -> str:
    """Sortable and unique: UTC time to the second plus random hex."""
    return datetime.now(UTC).strftime("%Y%m%dt%H%M%S") + "_" + secrets.token_hex(3)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class Workspace:
    def __init__(self, root: Path | str, con: BaseBackend | None = None):
        self.root = Path(root).resolve()
        if not (self.root / CONFIG_FILE).exists():
            raise WorkspaceError(
                f"{self.root} is not an openphm workspace (no {CONFIG_FILE}); "
                f"create one with: openphm init {root}"
            )
        self.config: Config = load_config(self.root / CONFIG_FILE)
        self._con = con

    @classmethod
    def init(cls, root: Path | str, name: str | None = None) -> Workspace:
        """Create the folder layout and a commented ``openphm.toml`` (kept if present)."""
        root = Path(root)
        for sub in ("audit", "quarantine", "published"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        if not (root / CONFIG_FILE).exists():
            write_template(root / CONFIG_FILE, name or root.resolve().name)
        Identity(root / IDENTITY_FILE).ensure()
        return cls(root)

    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    @property
    def published_dir(self) -> Path:
        return self.root / "published"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @cached_property
    def audit(self) -> AuditLog:
        """The audit trail, keyed as [audit] says (the key is read only when a check needs it)."""
        where = self.config.audit
        return AuditLog(
            self.audit_dir,
            key=None if where is None else (lambda: where.read_key(base=self.root)),
            identity=self.root / IDENTITY_FILE,
            evidence=self._audit_evidence,
            key_setting=where.setting if where is not None else "the audit key",
        )

    def _audit_evidence(self) -> str | None:
        """What shows this workspace was used, so an empty audit log there means a deleted one.

        Published files only (not a set's MANIFEST.json: an empty set has one too): tables
        can be committed without a record (tests, or a crash between commit and record);
        ``workspace.json`` also remembers that the audit began."""
        if not self.published_dir.is_dir():
            return None
        files = [
            p
            for p in self.published_dir.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST
        ]
        return f"published/ holds {len(files)} file(s)" if files else None

    @property
    def con(self) -> BaseBackend:
        if self._con is None:
            self._con = engine.connect(
                self.config.engine.url,
                base_dir=self.root,
                memory_limit=self.config.engine.memory_limit,
            )
        return self._con

    def close(self) -> None:
        if self._con is not None:
            engine.close(self._con)
            self._con = None

    # --- the catalog -------------------------------------------------------

    def catalog(self) -> dict[str, str]:
        path = self.root / CATALOG_FILE
        return json.loads(path.read_text())["tables"] if path.exists() else {}

    def has(self, name: str) -> bool:
        return name in self.catalog()

    def table(self, name: str) -> ir.Table:
        catalog = self.catalog()
        if name not in catalog:
            raise WorkspaceError(
                f"table {name!r} is not in the workspace {self.root}; it holds "
                f"{sorted(catalog) or 'no tables yet'} (run the stage that writes it first)"
            )
        return engine.read_table(self.con, catalog[name])

    def commit(
        self, tables: Mapping[str, Any], run_id: str | None = None, drop: Iterable[str] = ()
    ) -> dict[str, str]:
        """Write tables (Ibis expressions or DataFrames) and swap them in together.

        Tables named in ``drop`` leave the catalog in the same swap (and the warehouse
        with the garbage collection after it).
        """
        run_id = run_id or new_run_id()
        written = {}
        for name, obj in tables.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or "__" in name:
                raise WorkspaceError(f"table name {name!r}: use lower case, digits and single _")
            physical = f"{name}__r{run_id}"
            engine.write_table(self.con, physical, obj)
            written[name] = physical
        catalog = {k: v for k, v in self.catalog().items() if k not in set(drop)}
        catalog.update(written)
        atomic_write_text(
            self.root / CATALOG_FILE, json.dumps({"tables": catalog}, indent=2, sort_keys=True)
        )
        self._collect_garbage(set(catalog.values()))
        return written

    def _collect_garbage(self, live: set[str]) -> None:
        """Drop physical tables the catalog no longer names (old or interrupted runs)."""
        for physical in engine.table_names(self.con):
            if _PHYSICAL.match(physical) and physical not in live:
                engine.drop_table(self.con, physical)
