"""comorbidipy 0.8.0 in a Python 3.13 virtualenv of its own, shared by the reference
tests (``tests/reference/test_need_comorbidipy.py``) and ``bench.need``.

comorbidipy 0.8.0 needs Python 3.13 (on 3.11 pip silently installs 0.5.0, a different
API), so it cannot live in the project's venv. The sidecar is built once per machine
with pinned packages in ``~/.cache/openphm/comorbidipy-0.8.0`` (``OPENPHM_COMORBIDIPY_VENV``
moves it; ``OPENPHM_PYTHON313`` names the interpreter).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "COMORBIDIPY_VERSION",
    "INSTALL_TIMEOUT_S",
    "SIDECAR_PINS",
    "SidecarError",
    "_has_comorbidipy",
    "_python313",
    "sidecar_python",
    "venv_dir",
]

COMORBIDIPY_VERSION = "0.8.0"
# What pip chose for comorbidipy 0.8.0 on Python 3.13, pinned so the reference cannot drift.
SIDECAR_PINS = (
    "comorbidipy==0.8.0",
    "polars==2.1.0",
    "polars-runtime-32==2.1.0",
    "typer==0.29.2",
    "rich==15.0.0",
    "pydantic==2.14.3",
    "pydantic_core==2.50.4",
    "annotated-types==0.8.0",
    "annotated-doc==0.0.7",
    "typing_extensions==4.16.0",
    "typing-inspection==0.4.5",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "Pygments==2.21.0",
    "shellingham==1.5.4",
)
INSTALL_TIMEOUT_S = 300


class SidecarError(RuntimeError):
    """No Python 3.13 to build the sidecar with, or the install failed."""


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "openphm" / f"comorbidipy-{COMORBIDIPY_VERSION}"
    return Path(os.environ.get("OPENPHM_COMORBIDIPY_VENV", default))


def _python313() -> str | None:
    candidates = [os.environ.get("OPENPHM_PYTHON313"), shutil.which("python3.13")]
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.13*/bin/python3.13")))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 13))"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def _has_comorbidipy(python: Path) -> bool:
    if not python.exists():
        return False
    check = f"import comorbidipy; assert comorbidipy.__version__ == {COMORBIDIPY_VERSION!r}"
    return subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0


def sidecar_python() -> Path:
    """The sidecar's interpreter, building the sidecar first if it is missing."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    if _has_comorbidipy(python):
        return python
    base = _python313()
    if base is None:
        raise SidecarError(f"comorbidipy {COMORBIDIPY_VERSION} needs Python 3.13; none was found")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + list(SIDECAR_PINS),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    if install.returncode != 0 or not _has_comorbidipy(python):
        shutil.rmtree(venv, ignore_errors=True)
        raise SidecarError(f"could not install comorbidipy into {venv}:\n{install.stderr[-2000:]}")
    return python
