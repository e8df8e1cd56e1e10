"""Bad inputs (issue 16, items 12 and 13): what the red team fed ingest and the key loader.

- A source that is a symbolic link to /etc/shadow had its first line echoed in an error;
  a file without a header line printed a patient's NHS number, date of birth and
  postcode. Now a link is refused, and a line 1 that names no layout column is never
  shown.
- ``key_file = "/etc/passwd"`` was accepted as the pseudonymisation key. Now a key
  file must be a private (chmod 600), regular file, not a link, holding one key.
- The absolute path of each source was published in ``dq_files.csv``. Now a file is
  named relative to the workspace, or by its name alone when outside it.
- ``encoding = "utf-16"`` gave a stack trace (and, BOM aside, every row quarantined
  one line off); an encoding that is not text (``base64``) would have too. A DuckDB
  out-of-memory error at a small ``memory_limit`` gave a stack trace. Now UTF-16 files
  are read, and the others are one clear message.

NHS numbers are synthetic, from the never-issued 999 range.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from openphm.cli import app
from openphm.config import ConfigError, Pseudonymisation, load_config
from openphm.ingest import stage as ingest
from openphm.ingest.layouts import LAYOUTS
from openphm.ingest.reader import IngestError
from openphm.runner import run_stage
from openphm.workspace import Workspace

KEY = b"openphm-test-key-not-for-real-data-0123456789"
HEADER = ",".join(LAYOUTS["gp_registrations"].all_columns)


def nhs_number(i: int) -> str:
    """A valid (modulus 11) NHS number from the 999 range."""
    while True:
        base = f"999{i:06d}"
        check = 11 - sum(int(d) * (10 - k) for k, d in enumerate(base)) % 11
        if check != 10:
            return base + str(0 if check == 11 else check)
        i += 1


ROWS = [f"r{i},{nhs_number(i)},A81001,2020-0{i}-01," for i in range(1, 6)]
# What a header-less demographic extract starts with: someone's identity.
PATIENT = ("9990000018", "1957-03-14", "LS1 4AP", "Ada Example")


def workspace(root: Path, path: str, *, memory_limit: str = "", **settings: str) -> Workspace:
    Workspace.init(root)
    key = root / "pseudonym.key"
    key.write_bytes(KEY)
    key.chmod(0o600)
    config = (root / "openphm.toml").read_text()
    config = config.replace('key_env = "OPENPHM_PSEUDONYM_KEY"', 'key_file = "pseudonym.key"')
    if memory_limit:
        config = config.replace('# memory_limit = "4GB"', f'memory_limit = "{memory_limit}"')
    extra = "".join(f'{k} = "{v}"\n' for k, v in settings.items())
    config += f'\n[sources.regs]\npath = "{path}"\nlayout = "gp_registrations"\n{extra}'
    (root / "openphm.toml").write_text(config)
    return Workspace(root)


def regs_file(path: Path, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join([HEADER, *ROWS]) + "\n").encode(encoding))
    return path


# --- item 12: nothing from a file that is not an extract is ever shown ----------------


def test_a_source_linked_to_a_system_file_is_refused_and_nothing_of_it_is_shown(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$S3cr3tSalt$hashhashhash:19000:0:99999:7:::\n")
    ws = workspace(tmp_path / "ws", "regs.csv")
    (ws.root / "regs.csv").symlink_to(secret)
    with pytest.raises(IngestError) as err:
        run_stage(ws, ingest.STAGE)
    message = str(err.value)
    assert "source 'regs': regs.csv" in message and "is a symbolic link" in message
    assert "set path in [sources.regs] to the real file" in message
    assert "root" not in message.replace(str(ws.root), "") and "S3cr3t" not in message
    assert not ws.has("dq_files")


def test_a_source_in_a_linked_folder_inside_the_workspace_is_refused(tmp_path):
    regs_file(tmp_path / "elsewhere" / "regs.csv")
    ws = workspace(tmp_path / "ws", "extracts/regs.csv")
    (ws.root / "extracts").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(IngestError, match=r"is inside extracts/, which is a symbolic link"):
        run_stage(ws, ingest.STAGE)


def test_a_source_that_is_not_a_regular_file_is_refused(tmp_path):
    ws = workspace(tmp_path / "ws", "regs.csv")
    (ws.root / "regs.csv").mkdir()
    with pytest.raises(IngestError, match="is not a regular file"):
        run_stage(ws, ingest.STAGE)


@pytest.mark.parametrize(
    "first_line",
    [",".join(PATIENT), "Ada Example,LS1 4AP,Leeds", "root:$6$S3cr3tSalt$hash:19000:0:99999:7:::"],
    ids=["patient-with-numbers", "patient-words-only", "shadow-line"],
)
def test_a_first_line_that_is_not_a_header_is_never_echoed(tmp_path, first_line):
    ws = workspace(tmp_path / "ws", "regs.csv")
    (ws.root / "regs.csv").write_text(first_line + "\n" + ",".join(PATIENT) + "\n")
    with pytest.raises(IngestError) as err:
        run_stage(ws, ingest.STAGE)
    message = str(err.value)
    assert "line 1" in message and "needs a header line of column names" in message
    for field in first_line.split(","):
        assert field not in message, "a value from line 1 was echoed"
    assert "S3cr3t" not in message


def test_sources_check_shows_nothing_of_a_first_line_that_is_not_a_header(tmp_path):
    ws = workspace(tmp_path / "ws", "regs.csv")
    (ws.root / "regs.csv").write_text("Ada Example,LS1 4AP,Leeds,Smith\n")
    ws.close()
    result = CliRunner().invoke(app, ["sources", "check", "--dir", str(ws.root)])
    assert "needs a header line" in result.output
    assert "Ada" not in result.output and "LS1" not in result.output
    assert "Leeds" not in result.output and "Smith" not in result.output


def test_a_source_outside_the_workspace_is_read_and_published_by_its_name_alone(tmp_path):
    shared = regs_file(tmp_path / "shared-drive" / "ics" / "regs.csv")
    ws = workspace(tmp_path / "ws", str(shared))
    inside = regs_file(ws.root / "extracts" / "more.csv")
    inside.write_text(inside.read_text().replace("r1,", "s1,"))
    with open(ws.root / "openphm.toml", "a") as fh:
        fh.write('\n[sources.more]\npath = "extracts/more.csv"\nlayout = "gp_registrations"\n')
    ws = Workspace(ws.root)
    run_stage(ws, ingest.STAGE)
    files = ws.table("dq_files").to_pandas().set_index("source")["file"].to_dict()
    assert files == {"regs": "regs.csv", "more": "extracts/more.csv"}
    assert not any(str(tmp_path) in f for f in files.values())


# --- the pseudonymisation key ---------------------------------------------------------


def key_at(path: Path, content: bytes, mode: int = 0o600) -> Pseudonymisation:
    path.write_bytes(content)
    path.chmod(mode)
    return Pseudonymisation(key_file=path)


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs a passwd file")
def test_etc_passwd_is_not_a_key():
    with pytest.raises(ConfigError, match="can be read or written by other users") as err:
        Pseudonymisation(key_file=Path("/etc/passwd")).read_key()
    assert "chmod 600 /etc/passwd" in str(err.value)
    assert "root" not in str(err.value)


def test_a_key_others_can_read_is_refused_with_the_fix(tmp_path):
    where = key_at(tmp_path / "key", KEY, mode=0o644)
    with pytest.raises(ConfigError, match=rf"-rw-r--r--\); .*: chmod 600 {tmp_path}/key"):
        where.read_key()
    os.chmod(tmp_path / "key", 0o600)
    assert where.read_key() == KEY


def test_a_key_file_that_is_a_link_is_refused(tmp_path):
    key_at(tmp_path / "real.key", KEY)
    (tmp_path / "link.key").symlink_to(tmp_path / "real.key")
    with pytest.raises(ConfigError, match="is a symbolic link; set key_file to the real file"):
        Pseudonymisation(key_file=tmp_path / "link.key").read_key()


def test_a_key_file_that_is_not_a_regular_file_is_refused(tmp_path):
    (tmp_path / "keys").mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="is not a regular file"):
        Pseudonymisation(key_file=tmp_path / "keys").read_key()


def test_a_private_copy_of_a_passwd_file_is_still_not_a_key(tmp_path):
    passwd = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    with pytest.raises(ConfigError, match="holds several lines of text: it is not a key") as err:
        key_at(tmp_path / "key", passwd).read_key()
    assert "root" not in str(err.value).replace(str(tmp_path), "")


def test_a_placeholder_key_is_refused_without_showing_it(tmp_path):
    with pytest.raises(ConfigError, match="only 2 distinct byte values") as err:
        key_at(tmp_path / "key", b"ab" * 24).read_key()
    assert "abab" not in str(err.value)


def test_random_keys_as_openssl_writes_them_are_accepted(tmp_path):
    hex_key = os.urandom(32).hex().encode()
    raw_key = os.urandom(32).replace(b"\n", b"n").strip() + b"xy"
    assert key_at(tmp_path / "hex", hex_key + b"\n").read_key() == hex_key
    assert key_at(tmp_path / "raw", raw_key).read_key() == raw_key


# --- item 13: encodings and memory ----------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_utf16_or_utf32_file_is_read_row_for_row(tmp_path, encoding):
    ws = workspace(tmp_path / "ws", "regs.csv", encoding=encoding)
    body = "\n".join([HEADER, *ROWS]) + "\n"
    prefix = "\ufeff" if encoding == "utf-16-le" else ""  # utf-16 and utf-32 write their own
    (ws.root / "regs.csv").write_bytes((prefix + body).encode(encoding))
    summary = run_stage(ws, ingest.STAGE)
    assert summary.rows_quarantined == 0
    files = ws.table("dq_files").to_pandas()
    assert files[["rows_read", "rows_accepted"]].values.tolist() == [[5, 5]]
    assert not list(ws.root.glob("**/*.utf-8.csv")), "the UTF-8 copy is removed"


def test_a_bad_row_in_a_utf16_file_is_quarantined_with_its_own_line(tmp_path):
    ws = workspace(tmp_path / "ws", "regs.csv", encoding="utf-16")
    rows = [*ROWS[:2], "only,three,fields", *ROWS[2:]]
    (ws.root / "regs.csv").write_bytes(("\n".join([HEADER, *rows]) + "\n").encode("utf-16"))
    run_stage(ws, ingest.STAGE)
    quarantine = pd.read_parquet(ws.root / "quarantine" / "ingest" / "quarantine.parquet")
    assert quarantine[["line", "reason"]].values.tolist() == [[4, "wrong_field_count"]]


def test_utf16_without_a_byte_order_mark_says_which_setting_to_use(tmp_path):
    ws = workspace(tmp_path / "ws", "regs.csv", encoding="utf-16")
    (ws.root / "regs.csv").write_bytes(("\n".join([HEADER, *ROWS]) + "\n").encode("utf-16-be"))
    with pytest.raises(IngestError, match='set encoding = "utf-16-le" \\(or "utf-16-be"\\)'):
        run_stage(ws, ingest.STAGE)


def test_sources_check_reads_a_utf16_file(tmp_path):
    ws = workspace(tmp_path / "ws", "regs.csv", encoding="utf-16")
    regs_file(ws.root / "regs.csv", "utf-16")
    ws.close()
    result = CliRunner().invoke(app, ["sources", "check", "--dir", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "checks on a sample of 5 rows" in result.output
    assert "no row would be quarantined" in result.output


@pytest.mark.parametrize("encoding", ["latin-9x", "base64", "rot13"])
def test_an_encoding_that_is_not_a_text_encoding_is_a_config_error(tmp_path, encoding):
    Workspace.init(tmp_path / "ws").close()
    toml = tmp_path / "ws" / "openphm.toml"
    source = f'path = "r.csv"\nlayout = "gp_registrations"\nencoding = "{encoding}"\n'
    toml.write_text(toml.read_text() + "\n[sources.regs]\n" + source)
    with pytest.raises(ConfigError, match="sources.regs.encoding .*not a text encoding"):
        load_config(toml)
    result = CliRunner().invoke(app, ["run", "--dir", str(tmp_path / "ws")])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_running_out_of_memory_names_the_stage_and_the_setting(tmp_path):
    ws = workspace(tmp_path / "ws", "regs.csv", memory_limit="1MB")
    rows = [f"r{i},{nhs_number(i)},A81001,2020-01-01," for i in range(1, 2000)]
    (ws.root / "regs.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    ws.close()
    result = CliRunner().invoke(app, ["run", "--dir", str(ws.root), "--stage", "ingest"])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "stage 'ingest' ran out of memory under memory_limit = \"1MB\"" in flat
    assert "raise memory_limit under [engine]" in flat
