"""[sources.NAME] settings say how a file is written; a bad one is named with its source
and key and what would be right, never with a stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from openphm.config import ConfigError, Source, load_config, write_template


def _load(tmp_path: Path, settings: str):
    path = tmp_path / "openphm.toml"
    write_template(path, "test")
    path.write_text(
        path.read_text() + f'\n[sources.apc]\npath = "apc.txt"\nlayout = "hes_apc"\n{settings}\n'
    )
    return load_config(path)


def _error(tmp_path: Path, settings: str) -> str:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, settings)
    return str(err.value)


def test_an_unknown_encoding_is_named_with_its_source_and_key_and_examples(tmp_path):
    message = _error(tmp_path, 'encoding = "utf-9"')
    assert "sources.apc.encoding = 'utf-9': not a text encoding Python knows" in message
    assert "cp1252" in message
    assert "Traceback" not in message


def test_a_delimiter_must_be_one_character(tmp_path):
    message = _error(tmp_path, 'delimiter = "||"')
    assert "sources.apc.delimiter = '||': give one character" in message


def test_a_delimiter_may_be_written_as_tab_or_a_toml_tab(tmp_path):
    assert _load(tmp_path, 'delimiter = "tab"').sources["apc"].separator == "\t"
    assert _load(tmp_path, 'delimiter = "\\t"').sources["apc"].separator == "\t"
    assert _load(tmp_path, "delimiter = '\\t'").sources["apc"].separator == "\t"


def test_a_date_format_without_strftime_codes_is_refused_with_examples(tmp_path):
    message = _error(tmp_path, 'date_formats = ["%d/%m/%Y", "DD/MM/YYYY"]')
    assert "sources.apc.date_formats" in message
    assert "'DD/MM/YYYY' is not a date format" in message and '"%d/%m/%Y"' in message


def test_an_empty_null_token_is_refused(tmp_path):
    assert "an empty field is always read as no value" in _error(tmp_path, 'null_values = [" "]')


def test_an_unknown_format_is_named_with_the_allowed_ones(tmp_path):
    message = _error(tmp_path, 'format = "xlsx"')
    assert "sources.apc.format = 'xlsx'" in message and "'csv' or 'parquet'" in message


@pytest.mark.parametrize(
    ("path", "fmt", "separator"),
    [
        ("a.csv", "csv", ","),
        ("a.txt", "csv", ","),
        ("a.dat", "csv", ","),
        ("a.tsv", "csv", "\t"),
        ("a.TSV", "csv", "\t"),
        ("a.psv", "csv", "|"),
        ("a.parquet", "parquet", ","),
        ("a.pq", "parquet", ","),
        ("a", "parquet", ","),  # no extension: the layout's own format (OMOP's is parquet)
    ],
)
def test_format_and_delimiter_follow_the_extension_when_unset(path, fmt, separator):
    source = Source(path=Path(path), layout="omop_person")
    assert source.file_format("parquet") == fmt
    assert source.separator == separator


def test_settings_win_over_the_extension():
    source = Source(path=Path("a.tsv"), layout="hes_apc", format="parquet", delimiter=";")
    assert source.file_format("csv") == "parquet"
    assert source.separator == ";"


def test_the_templates_commented_source_example_is_valid_once_uncommented(tmp_path):
    path = tmp_path / "openphm.toml"
    write_template(path, "test")
    text = path.read_text()
    start = text.index("# [sources.hes_apc]")
    example = "\n".join(
        line.removeprefix("# ") for line in text[start:].splitlines() if line.startswith("# ")
    )
    path.write_text(text[:start] + example + "\n")
    source = load_config(path).sources["hes_apc"]
    assert (source.layout, source.identifier) == ("hes_apc", "pseudonym")
    assert (source.separator, source.encoding) == ("|", "cp1252")
    assert source.columns == {"NEWNHSNO": "Der_Pseudo_NHS_Number"}
    assert (source.date_formats, source.null_values) == (["%d/%m/%Y"], ["NULL", "N/A"])
    assert "openphm layouts lists them" in text and "openphm sources check" in text
    assert '\n# index_date = "2026-03-31"' in text  # measure's index date: from the data
