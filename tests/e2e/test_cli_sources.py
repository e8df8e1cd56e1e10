"""``openphm layouts`` and ``openphm sources check``: what a new user runs before a first
run, to see what openphm expects and what it would make of the files they hold.

The sources check reads a sample of each configured file with its settings and says,
per source, how the file was read, which header holds each column and how it was
found, what is missing, and how many sample rows the checks would quarantine or null,
with the setting that would fix it. It writes nothing to the workspace and never
shows a value from the data."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from openphm.cli import app
from openphm.ingest.layouts import LAYOUTS

runner = CliRunner()
HEADER = ["REG_ID", "NHS_NUMBER", "PRACTICE_CODE", "REGISTRATION_START", "REGISTRATION_END"]
# Synthetic NHS numbers from the never-issued 999 range, valid under Modulus 11.
NHS = ["9990000018", "9990000026", "9990000034", "9990000042"]


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def flat(result: Result) -> str:
    return " ".join(result.output.split())


def _workspace(root: Path, files: dict[str, tuple[str, str, str]]) -> Path:
    """files: source name -> (file name, text, extra settings)."""
    assert invoke("init", root).exit_code == 0
    config = (root / "openphm.toml").read_text()
    for name, (file, text, settings) in files.items():
        (root / file).write_text(text, encoding="utf-8")
        config += f'\n[sources.{name}]\npath = "{file}"\nlayout = "gp_registrations"\n{settings}\n'
    (root / "openphm.toml").write_text(config)
    return root


def _csv(rows: list[list[str]], sep: str = ",") -> str:
    return "".join(sep.join(r) + "\n" for r in [HEADER, *rows])


def _regs(starts: list[str], ends: list[str] | None = None, ids=NHS) -> list[list[str]]:
    ends = ends or [""] * len(starts)
    return [
        [f"reg-{i}x7", n, "Y81234", s, e]
        for i, (n, s, e) in enumerate(zip(ids, starts, ends, strict=True))
    ]


def _values(text: str) -> set[str]:
    """Every value in a CSV's rows (not its header)."""
    lines = text.splitlines()[1:]
    return {v for line in lines for v in line.replace("|", ",").split(",") if v}


UK_DATES = _csv(_regs(["04/06/2023", "15/06/2023", "30/11/2022", "01/01/2020"]))
COMPACT_DATES = _csv(_regs(["20230604", "20230615", "20221130", "20200101"]))
NULLS = _csv(_regs(["2023-06-04"] * 4, ["NULL", "NULL", "2024-01-02", "NULL"]))
PSEUDONYMS = _csv(
    _regs(["2023-06-04"] * 4, ids=["7f3ac9e1d2b4", "0a9be27c41f0", "e4c1d9a07b3f", "b2e8f1a3c6d5"])
)
CLEAN = _csv(_regs(["2023-06-04", "2023-06-05", "2023-06-06", "2023-06-07"]))


def test_layouts_lists_every_layout_with_what_it_holds():
    result = invoke("layouts")
    assert result.exit_code == 0, result.output
    for layout in LAYOUTS.values():
        assert layout.name in result.output
    assert "Admitted patient care episodes" in flat(result)


def test_a_layout_shows_its_key_columns_and_null_tokens():
    result = invoke("layouts", "hes_apc")
    assert result.exit_code == 0, result.output
    text = flat(result)
    assert "key: EPIKEY (unique within a file)" in text
    assert "required: EPIKEY, PROCODE3," in text
    assert "DIAG_4_01..DIAG_4_20" in text  # HES's numbered columns as a range
    assert "optional: " in text and "OPDATE_01..OPDATE_24" in text
    assert "'1800-01-01', '1801-01-01' in DOB," in text
    assert "'-', '&' in OPERTN_4_01..OPERTN_4_24" in text
    assert 'columns = { LAYOUT_COLUMN = "FILE HEADER" }' in text


def test_an_unknown_layout_lists_the_layouts():
    result = invoke("layouts", "hes_apcc")
    assert result.exit_code == 2
    assert "no layout 'hes_apcc'; the layouts are: hes_apc, hes_op" in flat(result)


def test_sources_check_says_what_would_fix_each_source_and_shows_no_data(tmp_path):
    files = {
        "uk": ("uk.csv", UK_DATES, ""),
        "compact": ("compact.csv", COMPACT_DATES, ""),
        "nulls": ("nulls.csv", NULLS, ""),
        "pseudo": ("pseudo.csv", PSEUDONYMS, ""),
        "clean": ("clean.psv", _csv(_regs(["2023-06-04"] * 4), "|"), ""),
    }
    root = _workspace(tmp_path / "ws", files)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = invoke("sources", "check", "-w", root)
    assert result.exit_code == 0, result.output
    text = flat(result)
    blocks = {b.split(":")[0]: " ".join(b.split()) for b in result.output.split("\n\n")}

    assert "source uk: uk.csv (layout gp_registrations)" in text
    assert "read as csv, delimiter ',', encoding utf-8" in blocks["source uk"]
    assert (
        "columns found under their own names (5): REG_ID, NHS_NUMBER, PRACTICE_CODE, "
        "REGISTRATION_START, REGISTRATION_END" in blocks["source uk"]
    )
    assert (
        "REGISTRATION_START: invalid_date: 4 rows quarantined; "
        'fix: set date_formats = ["%d/%m/%Y"]' in blocks["source uk"]
    )
    assert 'fix: set date_formats = ["%Y%m%d"]' in blocks["source compact"]
    assert (
        "suggestion: 3 values in 1 column(s) are NULL: if that means no value, set "
        'null_values = ["NULL"]' in blocks["source nulls"]
    )
    assert (
        'NHS_NUMBER: invalid_nhs_number: 4 rows quarantined; fix: set identifier = "pseudonym"'
        in blocks["source pseudo"]
    )
    assert "read as csv, delimiter '|'" in blocks["source clean"]  # .psv: pipe
    assert "no row would be quarantined and no value nulled" in blocks["source clean"]

    shown = result.output
    for name, (_, text_of_file, _) in files.items():
        leaked = {v for v in _values(text_of_file) if v != "NULL" and v in shown}
        assert not leaked, f"{name}: values from the data in the output: {leaked}"
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing written


def test_sources_check_settings_that_fix_a_source_make_it_clean(tmp_path):
    files = {
        "uk": ("uk.csv", UK_DATES, 'date_formats = ["%d/%m/%Y"]'),
        "nulls": ("nulls.csv", NULLS, 'null_values = ["NULL"]'),
    }
    result = invoke("sources", "check", "-w", _workspace(tmp_path / "ws", files))
    assert result.exit_code == 0, result.output
    assert flat(result).count("no row would be quarantined and no value nulled") == 2
    assert "suggestion" not in result.output


def test_sources_check_names_the_delimiter_and_missing_columns_and_exits_1(tmp_path):
    misnamed = UK_DATES.replace("PRACTICE_CODE", "practice cd").replace("REG_ID", "reg id")
    files = {
        "piped": ("piped.csv", _csv(_regs(["2023-06-04"] * 4), "|"), ""),
        "misnamed": ("misnamed.csv", misnamed, ""),
        "clean": ("clean.csv", CLEAN, ""),
    }
    result = invoke("sources", "check", "-w", _workspace(tmp_path / "ws", files))
    assert result.exit_code == 1, result.output
    text = flat(result)
    assert "cannot be read:" in text and 'pipe-separated; set delimiter = "|"' in text
    assert "REG_ID <- reg id (own name, ignoring case and spaces)" in text
    assert (
        "missing required columns (1): PRACTICE_CODE (did you mean 'practice cd'? "
        'set columns = { PRACTICE_CODE = "practice cd" })' in text
    )
    assert "no row would be quarantined" in text  # the clean source is still checked


def test_sources_check_reads_only_the_sample_and_only_the_named_source(tmp_path):
    rows = _regs(["2023-06-04", "2023-06-05", "04/06/2023", "2023-06-07"])
    files = {"late": ("late.csv", _csv(rows), ""), "other": ("other.csv", CLEAN, "")}
    root = _workspace(tmp_path / "ws", files)
    result = invoke("sources", "check", "late", "-w", root, "--rows", "2")
    assert result.exit_code == 0, result.output
    assert "checks on a sample of 2 rows" in flat(result)
    assert "no row would be quarantined" in flat(result)  # the bad row is the third
    assert "source other" not in result.output
    unknown = invoke("sources", "check", "nope", "-w", root)
    assert unknown.exit_code == 2
    assert "no source 'nope' in [sources]; the sources are: late, other" in flat(unknown)


def test_a_layouts_aliases_are_shown_beside_its_columns():
    from openphm.cli import _layout_text
    from openphm.ingest.layouts import Layout

    layout = Layout(
        "demo",
        "a layout with aliases",
        "KEY",
        ("KEY", "NHS"),
        aliases={"NHS": ("PSEUDO_HESID", "Der_Pseudo_NHS_Number")},
    )
    text = _layout_text(layout)
    assert "also read under (case, spaces and underscores ignored):" in text
    assert "NHS: PSEUDO_HESID, Der_Pseudo_NHS_Number" in text


def test_omop_tables_are_read_as_their_files_are_written(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "ws"
    assert invoke("init", root).exit_code == 0
    # OMOP CDM v5.4 person: once as CSV (its layout says parquet), once as Parquet with
    # float ids and concept ids as some exports write them
    (root / "person.csv").write_text(
        "person_id,gender_concept_id,gender_source_value,year_of_birth,month_of_birth,"
        "person_source_value\n"
        "1,8507,M,1950,7,p-1\n"
    )
    table = pa.table(
        {
            "person_id": pa.array([65363002.0]),
            "gender_source_value": ["F"],
            "year_of_birth": pa.array([1961.0]),
            "month_of_birth": pa.array([3.0]),
            "person_source_value": ["p-2"],
            "gender_concept_id": pa.array([8532.0]),
        }
    )
    pq.write_table(table, root / "person.parquet")
    config = root / "openphm.toml"
    config.write_text(
        config.read_text()
        + '\n[sources.person_csv]\npath = "person.csv"\nlayout = "omop_person"\n'
        + '\n[sources.person_pq]\npath = "person.parquet"\nlayout = "omop_person"\n'
    )
    result = invoke("sources", "check", "-w", root)
    assert result.exit_code == 0, result.output
    blocks = [" ".join(b.split()) for b in result.output.split("\n\n")]
    assert "read as csv, delimiter ','" in blocks[0]
    assert "read as parquet" in blocks[1] and "delimiter" not in blocks[1]
    assert "columns found under their own names (6): person_id," in blocks[1]
    assert "optional columns not in the file: day_of_birth, location_id, care_site_id" in blocks[1]
    for block in blocks:
        assert "no row would be quarantined and no value nulled" in block
