"""How a source file is named in published tables: relative to the workspace, else by
its name alone (an absolute path says which server holds whose records)."""

from pathlib import Path

from openphm.ingest.paths import shown_path

ROOT = Path("/data/ics/workspace")


def test_a_file_inside_the_workspace_is_named_relative_to_it():
    assert shown_path(ROOT, Path("extracts/apc.csv")) == "extracts/apc.csv"
    assert shown_path(ROOT, ROOT / "extracts" / "apc.csv") == "extracts/apc.csv"
    assert shown_path(ROOT, Path("extracts/../apc.csv")) == "apc.csv"


def test_a_file_outside_the_workspace_is_named_by_its_file_name_alone():
    assert shown_path(ROOT, Path("/mnt/shared/sus/apc_2024.csv")) == "apc_2024.csv"
    assert shown_path(ROOT, Path("../elsewhere/apc.csv")) == "apc.csv"
    assert shown_path(ROOT, Path("/data/ics/workspace-old/apc.csv")) == "apc.csv"
