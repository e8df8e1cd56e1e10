"""Where a configured source file is, and how it is named in what other people read.

- A source is read only if it is a regular file reached without a symbolic link
  (``source_file``). A link can point anywhere the account can read (a link named
  ``hes_apc.csv`` to ``/etc/shadow``); the configuration should name the real file, so
  what is read is what was configured. Only links inside the workspace are looked
  for above the file itself: a folder outside it (an ICS's shared drive) is often
  mounted through one.
- A source may be anywhere: ICSs keep extracts on shared drives, outside any workspace.
  But a path outside the workspace is never published or audited in full: tables and
  the audit log name a file by its path relative to the workspace, or by its file
  name alone when it is outside (``shown_path``), since an absolute path says which
  server holds whose records where.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from openphm.config import Source
from openphm.ingest.reader import IngestError


def _absolute(path: Path) -> Path:
    """The path made absolute, with ``.`` and ``..`` removed, without following links."""
    return Path(os.path.normpath(path.absolute()))


def _inside(path: Path, root: Path) -> bool:
    return _absolute(path).is_relative_to(_absolute(root))


def shown_path(root: Path, path: Path) -> str:
    """The name a file goes by in published tables and the audit log: relative to the
    workspace ``root`` when inside it, else the file name alone."""
    full, base = _absolute(root / path), _absolute(root)
    return full.relative_to(base).as_posix() if full.is_relative_to(base) else full.name


def source_file(root: Path, name: str, source: Source) -> Path:
    """The file ``[sources.NAME]`` configures, found from the workspace ``root``.

    Raises IngestError, naming the source and what to do, when it does not exist, is
    not a regular file, or is reached through a symbolic link: the file itself, or a
    folder between the workspace and the file."""
    path = root / source.path
    # The path as configured: the operator wrote it, and only the operator reads errors.
    where = f"source {name!r}: {source.path.as_posix()} (layout {source.layout})"
    links = [path] + (
        [p for p in path.parents if _inside(p, root) and _absolute(p) != _absolute(root)]
        if _inside(path, root)
        else []
    )
    for link in links:
        if link.is_symlink():
            what = "is" if link == path else f"is inside {link.name}/, which is"
            raise IngestError(
                f"{where} {what} a symbolic link; openphm reads only the file configured, "
                f"never a link: set path in [sources.{name}] to the real file"
            )
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise IngestError(
            f"{where} does not exist; check path in [sources.{name}] in openphm.toml"
        ) from None
    except OSError as exc:
        raise IngestError(f"{where} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise IngestError(
            f"{where} is not a regular file (a folder, device or pipe); set path in "
            f"[sources.{name}] to the delivered file"
        )
    return path
