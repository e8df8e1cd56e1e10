"""Published sets: ``published/`` changes as one step, and only as the audit says.

::

    published -> published.20260101t120000_ab12cd   a symlink to the live set
    published.20260101t120000_ab12cd/                 the live set
        MANIFEST.json                                 each file's name and SHA-256
        registered_population.csv, ....disclosure.json

The publish stage writes its whole set into a fresh folder beside the live one
(``write_set``); the runner appends the audit record naming the folder and its
manifest's SHA-256; then ``switch`` points ``published`` at the new folder with one
``os.replace`` of a symlink, and the old set is removed. A reader that opens
``published/X.csv`` sees the old set or the new one, never a mix.

``settle`` puts a workspace right before any stage runs (under the workspace lock):

- a real ``published/`` folder (a workspace from before sets, or one copied without
  its links) becomes a set: manifest written, renamed to ``published.migrated``,
  linked. A kill between the rename and the link is finished by the next settle.
- **roll forward**: when the last audit record that published names a set that is
  not live (a kill after the audit append, before the switch), and that folder is
  there whole (its manifest's digest is the audited one and every file matches it),
  ``published`` is switched to it: the audit already says it was published.
- every other ``published.*`` folder is a set nobody audited (a kill before the
  audit append) or an old one (a kill before its removal): removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openphm.disclosure import GatedTable
from openphm.files import file_sha256, fsync_dir
from openphm.publish.writer import PublishedFile, write_published
from openphm.workspace import MANIFEST, atomic_write_text

PUBLISHED = "published"  # the link readers open
SET_PREFIX = "published."  # set folders beside it

MIGRATED = "published.migrated"  # a real published/ folder, once it is a set
LINK_TMP_PREFIX = ".published.link."  # a new link before it replaces the old
AUDIT_KEY = "published_set"  # the audit record's field naming the set it published


class PublishedSetError(RuntimeError):
    """The live published set is not whole, or is not the one the audit names."""


@dataclass(frozen=True)
class PublishedSet:
    folder: str  # the set's folder name, beside published/
    manifest_sha256: str
    files: tuple[PublishedFile, ...]

    def audit_entry(self) -> dict[str, str]:
        return {"folder": self.folder, "manifest_sha256": self.manifest_sha256}


def _set_files(folder: Path) -> list[Path]:
    """The files a set holds: not its manifest, nor an atomic write's hidden temp file."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.name != MANIFEST and p.name[0] != "."
    )


def write_manifest(folder: Path) -> str:
    """Write ``MANIFEST.json`` for the files in ``folder``; return its SHA-256."""
    files = {p.name: file_sha256(p) for p in _set_files(folder)}
    text = json.dumps({"files": files}, indent=2, sort_keys=True) + "\n"
    atomic_write_text(folder / MANIFEST, text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_set(
    root: Path,
    run_id: str,
    gated: Sequence[GatedTable],
    after_each: Callable[[], None] = lambda: None,
) -> PublishedSet:
    """Every gated table, with its manifest, in a fresh set folder beside ``published``.

    Nothing a reader sees changes until ``switch``. On any error the folder is removed.
    """
    folder = root / f"{SET_PREFIX}{run_id}"
    folder.mkdir()
    try:
        files = []
        for g in gated:
            files.append(write_published(folder, g))
            after_each()
        digest = write_manifest(folder)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return PublishedSet(folder.name, digest, tuple(files))


def live(root: Path) -> str | None:
    """The live set's folder name, or None while ``published`` is not a link."""
    link = root / PUBLISHED
    return os.readlink(link) if link.is_symlink() else None


def switch(root: Path, folder: str) -> None:
    """Point ``published`` at ``folder`` in one step (a relative link: the workspace can
    be moved or copied)."""
    tmp = root / f"{LINK_TMP_PREFIX}{secrets.token_hex(4)}"
    os.symlink(folder, tmp)
    os.replace(tmp, root / PUBLISHED)
    fsync_dir(root)


def remove_other_sets(root: Path) -> None:
    """Every set folder but the live one, and any link a kill left half made."""
    current = live(root)
    for path in root.glob(f"{SET_PREFIX}*"):
        if path.name != current and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(f"{LINK_TMP_PREFIX}*"):
        path.unlink(missing_ok=True)


def manifest_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a whole set (files missing, extra or changed), or None."""
    try:
        listed: Mapping[str, str] = json.loads((folder / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{folder.name} has no readable {MANIFEST}"
    present = {p.name: p for p in _set_files(folder)}
    missing = sorted(set(listed) - set(present))
    extra = sorted(set(present) - set(listed))
    changed = sorted(n for n in set(listed) & set(present) if file_sha256(present[n]) != listed[n])
    if missing or extra or changed:
        return (
            f"{folder.name} does not match its {MANIFEST}: {len(missing)} file(s) missing "
            f"{missing[:5]}, {len(extra)} not listed {extra[:5]}, {len(changed)} changed "
            f"{changed[:5]}"
        )
    return None


def last_audited_set(records: Iterable[Mapping[str, Any]]) -> dict | None:
    """The set the last publishing audit record names (``folder``, ``manifest_sha256``)."""
    named = None
    for record in records:
        if isinstance(record.get(AUDIT_KEY), dict):
            named = record[AUDIT_KEY]
    return named


def _migrate(root: Path) -> None:
    """A real ``published/`` folder becomes the set ``published.migrated``, linked."""
    link, migrated = root / PUBLISHED, root / MIGRATED
    if not link.is_symlink() and link.is_dir():
        shutil.rmtree(migrated, ignore_errors=True)  # not live while published/ is real
        write_manifest(link)
        os.rename(link, migrated)
        fsync_dir(root)
    if not link.is_symlink():
        if not migrated.is_dir():  # published/ is missing: start from an empty set
            migrated.mkdir()
            write_manifest(migrated)
        switch(root, MIGRATED)


def settle(root: Path, records: Iterable[Mapping[str, Any]]) -> str | None:
    """Migrate, roll forward and tidy (see the module docstring); call under the workspace
    lock, with an intact audit trail's records. Returns the folder rolled forward to."""
    _migrate(root)
    named, rolled = last_audited_set(records), None
    if named and named.get("folder") != live(root):
        folder = root / str(named.get("folder"))
        whole = (
            folder.parent == root
            and folder.name.startswith(SET_PREFIX)
            and folder.is_dir()
            and (folder / MANIFEST).is_file()
            and file_sha256(folder / MANIFEST) == named.get("manifest_sha256")
            and manifest_problem(folder) is None
        )
        if whole:
            switch(root, folder.name)
            rolled = folder.name
    remove_other_sets(root)
    return rolled


def check(root: Path, records: Iterable[Mapping[str, Any]]) -> str:
    """Say which set is live and that the audit names it; PublishedSetError if ``published``
    is not a whole set, or not the set the last publishing audit record names."""
    link, current = root / PUBLISHED, live(root)
    if not link.exists():
        raise PublishedSetError(f"{link} is missing; run any stage to restore it")
    if current is None and not (link / MANIFEST).exists():
        return "published/ is a folder from before published sets (the next run makes it one)"
    shown = current or "a copy of a set"  # a workspace copied without its links
    problem = manifest_problem(link.resolve())
    if problem:
        raise PublishedSetError(
            f"published/ ({shown}): {problem}, so it was changed after it was published. "
            "Run `openphm run --stage publish` to publish again"
        )
    named = last_audited_set(records)
    if named is None:
        if current != MIGRATED:
            raise PublishedSetError(f"published/ is {shown}, which no audit record names")
        return f"published/ is {current}, published before the audit named sets"
    if current is not None and named.get("folder") != current:
        raise PublishedSetError(
            f"published/ is {current}, but the last publish audit record names "
            f"{named.get('folder')}; run any stage to roll forward to it, or "
            "`openphm run --stage publish` to publish again"
        )
    if file_sha256(link / MANIFEST) != named.get("manifest_sha256"):
        raise PublishedSetError(
            f"published/ ({shown}) has a {MANIFEST} other than the one the last publish "
            "audit record names: it was rewritten. Run `openphm run --stage publish` to "
            "publish again"
        )
    return f"published/ is {current or named.get('folder')}, as the last publish audit record names"
