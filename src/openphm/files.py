"""Durable file primitives shared by the audit trail, the workspace, published sets and
the synthetic ICS's manifest: a directory's entries made durable, and a file's digest."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_BLOCK = 1 << 20  # digest a file a MiB at a time, never whole in memory


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
