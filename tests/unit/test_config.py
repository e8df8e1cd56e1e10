"""Validation of ``openphm.toml``: every error names the key, the value and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openphm.config import CONFIG_FILE, Config, ConfigError, load_config, write_template

KEY_ENV_LINE = 'key_env = "OPENPHM_PSEUDONYM_KEY"'
SECRET = "s3cr3t-Hmac-Value-9f2e"


@pytest.fixture
def template(tmp_path: Path) -> str:
    """The text ``write_template`` produces."""
    path = tmp_path / "template.toml"
    write_template(path, "test-ws", controller="Test ICB")
    return path.read_text(encoding="utf-8")


def edit(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence; fail loudly if the template changed under the test."""
    assert text.count(old) == 1, f"template no longer contains {old!r} exactly once"
    return text.replace(old, new)


def load_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert str(tmp_path / CONFIG_FILE) in message  # every error says which file
    return message


# --- the template ----------------------------------------------------------------------------


def test_template_loads_with_nhs_disclosure_defaults(tmp_path, template):
    config = load_text(tmp_path, template)
    assert config.name == "test-ws"
    assert config.governance.controller == "Test ICB"
    assert config.governance.purpose == "planning"
    assert config.disclosure.enabled is True
    assert config.disclosure.suppression_threshold == 7
    assert config.disclosure.rounding_multiple == 5
    assert config.disclosure.disabled_reason is None
    assert config.pseudonymisation.key_env == "OPENPHM_PSEUDONYM_KEY"
    assert config.pseudonymisation.key_file is None
    assert config.engine.url == "duckdb://warehouse.duckdb"
    assert config.stages.measure.index_date is None  # from the data


def test_template_never_contains_a_key(template):
    assert not re.search(r"^\s*key\s*=", template, flags=re.M)


def test_disclosure_defaults_apply_when_section_is_absent(tmp_path, template):
    start = template.index("[disclosure]")
    end = template.index("[stages.measure]")
    config = load_text(tmp_path, template[:start] + template[end:])
    assert (config.disclosure.enabled, config.disclosure.suppression_threshold) == (True, 7)
    assert config.disclosure.rounding_multiple == 5


# --- every error names the key, the value and what is allowed --------------------------------


def test_bad_purpose_names_key_value_and_allowed_values(tmp_path, template):
    message = config_error(
        tmp_path, edit(template, 'purpose = "planning"', 'purpose = "marketing"')
    )
    assert "governance.purpose" in message
    assert "'marketing'" in message
    for allowed in ("'direct_care'", "'planning'", "'research'"):
        assert allowed in message


def test_bad_lawful_basis_names_key_value_and_allowed_articles(tmp_path, template):
    message = config_error(
        tmp_path,
        edit(template, 'lawful_basis_article9 = "9(2)(h)"', 'lawful_basis_article9 = "9(2)(z)"'),
    )
    assert "governance.lawful_basis_article9" in message
    assert "'9(2)(z)'" in message
    for allowed in ("9(2)(a)", "9(2)(g)", "9(2)(h)", "9(2)(i)", "9(2)(j)"):
        assert allowed in message


def test_threshold_below_one_names_key_value_and_bound(tmp_path, template):
    message = config_error(
        tmp_path, edit(template, "suppression_threshold = 7", "suppression_threshold = 0")
    )
    assert "disclosure.suppression_threshold = 0" in message
    assert "greater than or equal to 1" in message


def test_wrong_type_names_key_and_value(tmp_path, template):
    message = config_error(
        tmp_path, edit(template, "rounding_multiple = 5", 'rounding_multiple = "five"')
    )
    assert "disclosure.rounding_multiple" in message
    assert "'five'" in message


def test_misspelt_key_is_named_and_called_unknown(tmp_path, template):
    message = config_error(
        tmp_path, edit(template, "suppression_threshold = 7", "supression_threshold = 3")
    )
    assert "disclosure.supression_threshold" in message
    assert re.search(r"unknown|not a setting openphm knows", message)


def test_unknown_section_is_named(tmp_path, template):
    message = config_error(tmp_path, edit(template, "[disclosure]", "[disclosur]"))
    assert re.search(r"^\s*disclosur\b", message, flags=re.M)
    assert re.search(r"unknown|not a setting openphm knows", message)


def test_every_problem_is_reported_at_once(tmp_path, template):
    text = edit(template, 'purpose = "planning"', 'purpose = "marketing"')
    text = edit(text, "rounding_multiple = 5", "rounding_multple = 5")
    message = config_error(tmp_path, text)
    assert "2 problem" in message
    assert "governance.purpose" in message
    assert "disclosure.rounding_multple" in message


# --- the pseudonymisation key ------------------------------------------------------------------


def test_key_in_file_is_refused_without_echoing_it(tmp_path, template):
    message = config_error(tmp_path, edit(template, KEY_ENV_LINE, f'key = "{SECRET}"'))
    assert "pseudonymisation" in message
    assert "never" in message
    assert "key_env" in message and "key_file" in message  # says what to do instead
    assert SECRET not in message


def test_key_in_file_is_refused_even_next_to_key_env(tmp_path, template):
    message = config_error(
        tmp_path, edit(template, KEY_ENV_LINE, f'{KEY_ENV_LINE}\nkey = "{SECRET}"')
    )
    assert "never" in message
    assert SECRET not in message


@pytest.mark.parametrize("line", [f'Key = "{SECRET}"', f'{KEY_ENV_LINE}\nhmac_key = "{SECRET}"'])
def test_key_under_a_misspelt_name_is_not_echoed(tmp_path, template, line):
    message = config_error(tmp_path, edit(template, KEY_ENV_LINE, line))
    assert "pseudonymisation" in message
    assert SECRET not in message


def test_both_key_env_and_key_file_is_an_error(tmp_path, template):
    message = config_error(
        tmp_path, edit(template, KEY_ENV_LINE, f'{KEY_ENV_LINE}\nkey_file = "/run/key"')
    )
    assert "pseudonymisation" in message
    assert "exactly one" in message


def test_neither_key_env_nor_key_file_is_an_error(tmp_path, template):
    message = config_error(tmp_path, edit(template, KEY_ENV_LINE, ""))
    assert "pseudonymisation" in message
    assert "exactly one" in message


def test_key_file_alone_is_accepted(tmp_path, template):
    config = load_text(tmp_path, edit(template, KEY_ENV_LINE, 'key_file = "/run/key"'))
    assert config.pseudonymisation.key_file == Path("/run/key")
    assert config.pseudonymisation.key_env is None


# --- disclosure off needs a reason -------------------------------------------------------------


def test_disclosure_off_without_reason_is_an_error(tmp_path, template):
    message = config_error(tmp_path, edit(template, "enabled = true", "enabled = false"))
    assert "disclosure" in message
    assert "disabled_reason" in message


def test_disclosure_off_with_blank_reason_is_an_error(tmp_path, template):
    text = edit(template, "enabled = true", 'enabled = false\ndisabled_reason = "   "')
    assert "disabled_reason" in config_error(tmp_path, text)


def test_disclosure_off_with_reason_is_accepted(tmp_path, template):
    reason = "outputs stay inside the trusted research environment"
    config = load_text(
        tmp_path, edit(template, "enabled = true", f'enabled = false\ndisabled_reason = "{reason}"')
    )
    assert config.disclosure.enabled is False
    assert config.disclosure.disabled_reason == reason


# --- missing and unreadable files --------------------------------------------------------------


def test_missing_governance_section(tmp_path, template):
    start = template.index("[governance]")
    end = template.index("[pseudonymisation]")
    text = template[:start] + template[end:]
    assert "controller" not in text
    message = config_error(tmp_path, text)
    assert "governance" in message
    assert "missing" in message


def test_missing_required_governance_key(tmp_path, template):
    message = config_error(tmp_path, edit(template, 'controller = "Test ICB"\n', ""))
    assert "governance.controller" in message
    assert "missing" in message


def test_invalid_toml_names_the_file(tmp_path, template):
    path = tmp_path / CONFIG_FILE
    path.write_text(template + "\nname = \n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)


def test_missing_file_suggests_openphm_init(tmp_path):
    path = tmp_path / "nowhere" / CONFIG_FILE
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "openphm init" in str(info.value)


# --- the lawful basis as recorded in the audit trail -------------------------------------------


def test_lawful_basis_text_names_the_template_articles(tmp_path, template):
    basis = load_text(tmp_path, template).governance.lawful_basis
    assert "UK GDPR" in basis
    assert "Article 6(1)(e)" in basis and "public task" in basis
    assert "Article 9(2)(h)" in basis and "health or social care" in basis


@pytest.mark.parametrize(
    ("a6", "label6", "a9", "label9"),
    [
        ("6(1)(a)", "consent", "9(2)(a)", "explicit consent"),
        ("6(1)(c)", "legal obligation", "9(2)(i)", "public health"),
        ("6(1)(e)", "public task", "9(2)(j)", "research"),
        ("6(1)(e)", "public task", "9(2)(g)", "substantial public interest"),
    ],
)
def test_lawful_basis_text_follows_the_configured_articles(
    tmp_path, template, a6, label6, a9, label9
):
    text = edit(template, '"6(1)(e)"', f'"{a6}"')
    text = edit(text, '"9(2)(h)"', f'"{a9}"')
    basis = load_text(tmp_path, text).governance.lawful_basis
    assert f"Article {a6}" in basis and label6 in basis
    assert f"Article {a9}" in basis and label9 in basis
    assert "9(2)(h)" not in basis and "6(1)(e)" not in basis.replace(f"Article {a6}", "")


def test_engine_url_scheme_is_checked_on_load(tmp_path, template):
    message = config_error(
        tmp_path, template.replace('"duckdb://warehouse.duckdb"', '"postgres://db"')
    )
    assert "engine.url" in message and "'postgres://db'" in message and "spark://" in message


def test_duckdb_memory_limit_is_a_size_and_caps_the_engine(tmp_path, template):
    text = template.replace("# memory_limit = ", "memory_limit = ")
    assert load_text(tmp_path, text).engine.memory_limit == "4GB"
    message = config_error(tmp_path, text.replace('"4GB"', '"lots"'))
    assert "engine.memory_limit" in message and "'lots'" in message and "4GB" in message

    from openphm import engine

    con = engine.connect("duckdb://", memory_limit="256MiB")
    limit = con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit in ("256.0 MiB", "268.4 MB"), limit  # DuckDB's spelling of the size


def test_the_key_is_read_from_the_environment_without_showing_it():
    from openphm.config import ConfigError, Pseudonymisation

    where = Pseudonymisation(key_env="OPENPHM_TEST_KEY")
    key = "k" * 40
    assert where.read_key({"OPENPHM_TEST_KEY": key}) == key.encode()
    with pytest.raises(ConfigError, match="OPENPHM_TEST_KEY is not set"):
        where.read_key({})
    with pytest.raises(ConfigError, match="5 bytes; HMAC-SHA256 needs at least 32") as info:
        where.read_key({"OPENPHM_TEST_KEY": "short"})
    assert "short" not in str(info.value)


def test_the_key_is_read_from_a_file(tmp_path):
    from openphm.config import ConfigError, Pseudonymisation

    key = b"0123456789abcdef" * 4  # as openssl rand -hex 32 writes one
    (tmp_path / "key").write_bytes(key + b"\n")
    (tmp_path / "key").chmod(0o600)
    assert Pseudonymisation(key_file=tmp_path / "key").read_key() == key
    with pytest.raises(ConfigError, match="cannot read"):
        Pseudonymisation(key_file=tmp_path / "absent").read_key()


# --- the audit key ---------------------------------------------------------------------------

AUDIT_KEY_LINE = 'key_env = "OPENPHM_AUDIT_KEY"'


def test_the_template_keys_the_audit_trail_from_its_own_environment_variable(tmp_path, template):
    config = load_text(tmp_path, template)
    assert config.audit.key_env == "OPENPHM_AUDIT_KEY"
    assert config.audit.key_env != config.pseudonymisation.key_env  # not derived from it
    assert config.audit.setting == "[audit] key_env = OPENPHM_AUDIT_KEY"


def test_without_an_audit_table_the_trail_is_unkeyed(tmp_path, template):
    config = load_text(tmp_path, edit(edit(template, "[audit]\n", ""), f"{AUDIT_KEY_LINE}\n", ""))
    assert config.audit is None


@pytest.mark.parametrize("line", [f'key = "{SECRET}"', f'{AUDIT_KEY_LINE}\nsecret = "{SECRET}"'])
def test_an_audit_key_written_in_the_file_is_refused_without_echoing_it(tmp_path, template, line):
    message = config_error(tmp_path, edit(template, AUDIT_KEY_LINE, line))
    assert "audit" in message
    assert SECRET not in message


def test_the_audit_key_errors_name_the_audit_setting(tmp_path):
    from openphm.config import AuditKey

    where = AuditKey(key_env="OPENPHM_TEST_AUDIT_KEY")
    with pytest.raises(ConfigError, match=r"^audit\.key_env: .*OPENPHM_TEST_AUDIT_KEY is not set"):
        where.read_key({})
    with pytest.raises(ConfigError, match=r"^audit: the key is 5 bytes") as info:
        where.read_key({"OPENPHM_TEST_AUDIT_KEY": "short"})
    assert "short" not in str(info.value)
    key = b"3f9c2a7be1d04c8596ad7e21b0c4f6e8"
    (tmp_path / "audit.key").write_bytes(key)
    (tmp_path / "audit.key").chmod(0o600)
    assert AuditKey(key_file=Path("audit.key")).read_key(base=tmp_path) == key
    (tmp_path / "audit.key").chmod(0o644)  # the key file rules hold for the audit key too
    with pytest.raises(ConfigError, match=r"^audit\.key_file \(audit\.key\) can be read"):
        AuditKey(key_file=Path("audit.key")).read_key(base=tmp_path)
