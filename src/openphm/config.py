"""The workspace configuration: ``openphm.toml``, validated into one typed object.

An invalid file stops the run with a message that names the key, the value and
what is allowed. The pseudonymisation key itself never appears here: only where
to find it (an environment variable or a file).
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from openphm.disclosure import DisclosurePolicy

CONFIG_FILE = "openphm.toml"
MIN_KEY_BYTES = 32  # HMAC-SHA256: a key shorter than the hash weakens it
# A key file is a secret: like ssh with a private key, refuse one that others can read.
KEY_FILE_PRIVATE_MODE = 0o077  # no permission bit for group or others
# A random key of 32 bytes or more, raw or as hex or base64, uses many distinct bytes
# (a 32-character hex key: about 14 of 16): fewer is a phrase, a pattern or a placeholder.
MIN_KEY_DISTINCT_BYTES = 10

# Why the data are processed; the national data opt-out applies to planning and
# research but not to direct care, so later stages read this.
PURPOSES = {
    "direct_care": "individual care of the people in the data",
    "planning": "planning and commissioning of services (population health management)",
    "research": "research (needs its own approvals)",
}
# UK GDPR Article 6 (lawful basis) and Article 9 (special category health data).
ARTICLE_6 = {
    "6(1)(a)": "consent",
    "6(1)(c)": "legal obligation",
    "6(1)(e)": "public task",
}
ARTICLE_9 = {
    "9(2)(a)": "explicit consent",
    "9(2)(g)": "substantial public interest",
    "9(2)(h)": "health or social care",
    "9(2)(i)": "public health",
    "9(2)(j)": "archiving, research or statistics",
}


class ConfigError(ValueError):
    """openphm.toml is missing or invalid; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineConfig(_Strict):
    url: str = "duckdb://warehouse.duckdb"
    # DuckDB's working memory ("4GB"); beyond it, it spills to disk. Unset: DuckDB's
    # default, 80% of the machine's memory.
    memory_limit: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value
        ):
            raise ValueError('give a size such as "4GB" or "512MiB"')
        return value

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("duckdb://", "spark://")):
            raise ValueError(
                "use duckdb://FILE (relative to the workspace), duckdb:///absolute/path "
                "or spark://local[N]"
            )
        return url


class Governance(_Strict):
    controller: str = Field(min_length=1)
    purpose: Literal["direct_care", "planning", "research"]
    lawful_basis_article6: Literal["6(1)(a)", "6(1)(c)", "6(1)(e)"]
    lawful_basis_article9: Literal["9(2)(a)", "9(2)(g)", "9(2)(h)", "9(2)(i)", "9(2)(j)"]
    description: str = ""
    # Pseudonymised sources carry no NHS number to apply opt-outs by: the data controller
    # declares that the supplier applied them (NHS England's DSCRO and HES do).
    opt_outs_applied_upstream: bool = False

    @property
    def lawful_basis(self) -> str:
        a6, a9 = self.lawful_basis_article6, self.lawful_basis_article9
        return f"UK GDPR Article {a6} ({ARTICLE_6[a6]}) and Article {a9} ({ARTICLE_9[a9]})"


class _KeyLocation(_Strict):
    """Where a key is found: exactly one of an environment variable or a file, never the key."""

    SECTION: ClassVar[str] = ""
    PURPOSE: ClassVar[str] = ""

    key_env: str | None = None
    key_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _never_the_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "key" in data:
            raise ValueError(
                "the key itself must never be written in openphm.toml; "
                "set key_env (an environment variable name) or key_file (a path) instead"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> _KeyLocation:
        if (self.key_env is None) == (self.key_file is None):
            raise ValueError("set exactly one of key_env or key_file")
        return self

    @property
    def setting(self) -> str:
        """Where the key is configured, for messages: never the key."""
        if self.key_env is not None:
            return f"[{self.SECTION}] key_env = {self.key_env}"
        return f"[{self.SECTION}] key_file = {self.key_file}"

    def read_key(self, environ: Mapping[str, str] | None = None, base: Path | None = None) -> bytes:
        """The HMAC key, from where the configuration says; errors never show it.

        A relative key_file is found from ``base`` (the workspace folder).
        """
        environ = os.environ if environ is None else environ
        if self.key_env is not None:
            if not environ.get(self.key_env):
                raise ConfigError(
                    f"{self.SECTION}.key_env: environment variable {self.key_env} is not set; "
                    f"set it to the {self.PURPOSE} (at least 32 bytes) before running"
                )
            key = environ[self.key_env].encode("utf-8")
        else:
            path = self.key_file
            if base is not None and not path.is_absolute():
                path = base / path
            key = _read_key_file(path, f"{self.SECTION}.key_file ({self.key_file})")
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"{self.SECTION}: the key is {len(key)} bytes; HMAC-SHA256 needs at least "
                f"{MIN_KEY_BYTES} random bytes"
            )
        return key


class Pseudonymisation(_KeyLocation):
    """Where the pseudonymisation HMAC key is found."""

    SECTION: ClassVar[str] = "pseudonymisation"
    PURPOSE: ClassVar[str] = "pseudonymisation key"


class AuditKey(_KeyLocation):
    """[audit]: where the key that authenticates the audit trail is found (audit.py).

    A key of its own, not derived from the pseudonymisation key: the dashboard appends audit
    records and so must read this key, but has no need of the other. Keep it outside the
    workspace folder, or whoever can rewrite the log can also re-sign it."""

    SECTION: ClassVar[str] = "audit"
    PURPOSE: ClassVar[str] = "audit key"


def _read_key_file(path: Path, where: str) -> bytes:
    """A key file's key (surrounding white space stripped), if the file is one.

    Refused, so that a slip (``key_file = "/etc/passwd"``) cannot become the key: a
    symbolic link (name the real file); anything but a regular file; a file group or
    others can read or write (``chmod 600``); and content that is not one key: text of
    several lines (a passwd file, a config file: a key is one line, or raw bytes that
    are not text), or fewer than ``MIN_KEY_DISTINCT_BYTES`` distinct bytes. No message
    shows any of the file's content."""
    try:
        if path.is_symlink():
            raise ConfigError(f"{where} is a symbolic link; set key_file to the real file")
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{where} is not a regular file; set key_file to the key's file")
        if info.st_mode & KEY_FILE_PRIVATE_MODE:
            raise ConfigError(
                f"{where} can be read or written by other users "
                f"(permissions {stat.filemode(info.st_mode)}); a key must be private to its "
                f"owner: chmod 600 {path}"
            )
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    try:
        several_lines = len(key.decode("utf-8").splitlines()) > 1
    except UnicodeDecodeError:
        several_lines = False  # raw random bytes may hold a line break by chance
    if several_lines:
        raise ConfigError(
            f"{where} holds several lines of text: it is not a key file (a key is one "
            "line, such as the output of: openssl rand -hex 32)"
        )
    if len(key) >= MIN_KEY_BYTES and len(set(key)) < MIN_KEY_DISTINCT_BYTES:
        raise ConfigError(
            f"{where} uses only {len(set(key))} distinct byte values: a pattern or a "
            "placeholder, not a random key; make one with: openssl rand -hex 32"
        )
    return key


class MeasureOptions(_Strict):
    # The day the indicators are measured up to; unset: from the data, the end of the last
    # financial year they cover completely, else of their last complete month
    # (measure.periods.index_date_from_data).
    index_date: date | None = None


class IngestOptions(_Strict):
    # Dates after this are implausible (quarantined); unset means the day of the run.
    extract_date: date | None = None
    earliest_date: date = date(1900, 1, 1)


class LinkOptions(_Strict):
    # Splink match probability at or above which a record without an NHS number is linked,
    # and the lower edge of the band of near misses sent to clerical review.
    match_threshold: float = Field(default=0.9, gt=0, lt=1)
    clerical_threshold: float = Field(default=0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _band(self) -> LinkOptions:
        if self.clerical_threshold >= self.match_threshold:
            raise ValueError("clerical_threshold must be below match_threshold")
        return self


class PlusGroup(_Strict):
    """A Core20PLUS5 PLUS group, as criteria over the need stage's people (any one holds)."""

    any_flag: list[str] = Field(default_factory=list)  # any of these flags is true
    at_least: dict[str, float] = Field(default_factory=dict)  # a column at or above a number
    below: dict[str, float] = Field(default_factory=dict)  # a column below a number
    one_of: dict[str, list[str | int]] = Field(default_factory=dict)  # a column in the values

    @model_validator(mode="after")
    def _some(self) -> PlusGroup:
        if not (self.any_flag or self.at_least or self.below or self.one_of):
            raise ValueError("give at least one of any_flag, at_least, below or one_of")
        return self


class NeedOptions(_Strict):
    # The day need is measured on; unset: the last day of the data (the latest
    # encounter or GP event).
    index_date: date | None = None
    # Core20PLUS5's PLUS groups, chosen locally; unset: the defaults in
    # codelists/core20plus5.rules.toml. Each name becomes a column plus_<name>.
    plus_groups: dict[str, PlusGroup] | None = None
    # A folder (relative to the workspace) of code lists and rule sets used instead of the
    # shipped ones of the same name, e.g. an ltc list with QOF's full SNOMED CT clusters.
    codelists: Path | None = None

    @field_validator("plus_groups")
    @classmethod
    def _column_names(cls, groups: dict[str, PlusGroup] | None) -> dict[str, PlusGroup] | None:
        bad = [name for name in groups or {} if not re.fullmatch(r"[a-z][a-z0-9_]*", name)]
        if bad:
            raise ValueError(f"group names {bad} must be lower case letters, digits and _")
        return groups


class CostOptions(_Strict):
    """[stages.cost]: patient-level costing (the cost stage's own options)."""

    # A folder (relative to the workspace) of costing rules used instead of the shipped
    # ones of the same name: mapping.toml, overheads.toml, drivers.toml, matching.toml,
    # unit_costs.csv (see src/openphm/cost/).
    rules: Path | None = None
    # Time-driven costing: a CSV of practical capacities (provider_code, financial_year,
    # cost_centre, resource, practical_capacity); unused capacity stays off patients.
    capacity: Path | None = None
    # A cost pool with cost but no driver volume in its year (every record of its cost
    # centre missing, opted out or quarantined): "error" stops the run naming the pool;
    # "unallocated" keeps its cost off patients, on a reconciliation line of its own.
    pool_without_volume: Literal["error", "unallocated"] = "error"


class RiskOptions(_Strict):
    """[stages.risk]: risk stratification, equity audit and fair shares."""

    # The day people are scored on (the first of a month); unset: the first of the month
    # after the last day of the data.
    index_date: date | None = None
    # The later window the model is validated on (the first of a month whose 12-month
    # follow-up the data cover); unset: the latest such 1 April, else the latest month.
    test_index_date: date | None = None
    # Training: monthly index dates whose follow-up ends by the test index date, at most
    # this many (the latest), each with at least min_history_months of data before it.
    # The default is the features' 12-month lookback: a training row then sees as much
    # history as the test and scoring rows, so a count means the same at every date
    # (with less, counts run low in training and the model over-predicts frequent users).
    training_index_dates: int = Field(default=6, ge=1, le=60)
    min_history_months: int = Field(default=12, ge=0, le=60)
    # Rows pulled into Python to fit on (sampled by person beyond this).
    max_training_rows: int = Field(default=500_000, ge=1_000)
    # Fit a gradient-boosted model to the same rows and report it beside the need model
    # in risk_performance, for comparison (it scores nobody).
    comparison_model: bool = True
    # Tier cuts, cumulative percentages of the population; unset: risk/tiers.toml.
    tiers: list[float] | None = None
    # Fair shares: the fixed budget in pounds (unset: the costing's latest year's total),
    # and the shock scenario: one place's need weights raised by shock_uplift.
    budget_pounds: int | None = Field(default=None, gt=0)
    shock_place: str | None = None
    shock_uplift: float = Field(default=0.2, gt=-1, le=10)

    @field_validator("index_date", "test_index_date")
    @classmethod
    def _first_of_month(cls, value: date | None) -> date | None:
        if value is not None and value.day != 1:
            raise ValueError("give the first day of a month, such as 2026-04-01")
        return value


class StageOptions(_Strict):
    ingest: IngestOptions = IngestOptions()
    link: LinkOptions = LinkOptions()
    need: NeedOptions = NeedOptions()
    cost: CostOptions = CostOptions()
    risk: RiskOptions = RiskOptions()
    measure: MeasureOptions = MeasureOptions()


# How a delivered file's format and field separator follow from its extension when
# [sources.NAME] does not say.
CSV_EXTENSIONS = (".csv", ".txt", ".tsv", ".psv", ".dat")
PARQUET_EXTENSIONS = (".parquet", ".pq")
DELIMITERS_BY_EXTENSION = {".tsv": "\t", ".psv": "|"}


class Source(_Strict):
    """One delivered file: where it is, which layout it follows, and how it is written."""

    path: Path  # relative to the workspace folder
    layout: str
    # csv or parquet; unset: from the file's extension (.csv .txt .tsv .psv .dat, .parquet
    # .pq), else the layout's own format
    format: Literal["csv", "parquet"] | None = None
    # A CSV's field separator, one character: "|", ";", "\t" (or "tab"); unset: "," except
    # tab for .tsv and pipe for .psv files
    delimiter: str | None = None
    encoding: str = "utf-8"  # e.g. cp1252 for files from older systems
    # layout column -> the file's header for it, e.g. { NEWNHSNO = "Der_Pseudo_NHS_Number" }
    columns: dict[str, str] = Field(default_factory=dict)
    # Date formats tried in order (strftime codes), e.g. ["%d/%m/%Y"]; ISO dates and
    # date-times (2023-06-04, 2023-06-04 00:00:00.000) are always read.
    date_formats: list[str] = Field(default_factory=list)
    # Tokens read as no value, beside the empty field, e.g. ["NULL", "N/A"]
    null_values: list[str] = Field(default_factory=list)
    # What identifies the person: an NHS number, or an upstream pseudonym (HES PSEUDO_HESID,
    # a DSCRO or UDAL pseudonym, an OMOP person_id) that link re-keys under the workspace key.
    identifier: Literal["nhs_number", "pseudonym"] = "nhs_number"

    @field_validator("layout")
    @classmethod
    def _known_layout(cls, layout: str) -> str:
        from openphm.ingest.layouts import LAYOUTS

        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout; the layouts are: {', '.join(sorted(LAYOUTS))}")
        return layout

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() in ("tab", "\\t"):
            return "\t"
        if len(value) != 1 or value in ('"', "\n", "\r"):
            raise ValueError(
                'give one character other than a quote or line break, such as "|", ";" '
                'or "\\t" (tab)'
            )
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            text = getattr(codecs.lookup(value), "_is_text_encoding", True)  # not base64, zlib
        except LookupError:
            text = False
        if not text:
            raise ValueError(
                "not a text encoding Python knows; use, for example, utf-8, utf-8-sig, "
                "cp1252, latin-1 or utf-16"
            )
        return value

    @field_validator("date_formats")
    @classmethod
    def _strptime_formats(cls, formats: list[str]) -> list[str]:
        sample = datetime(2001, 11, 23, 14, 35, 46)
        for fmt in formats:
            try:
                ok = "%" in fmt and datetime.strptime(sample.strftime(fmt), fmt).date()
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{fmt!r} is not a date format; use strftime codes such as "
                    '"%d/%m/%Y", "%Y%m%d" or "%d-%b-%Y"'
                )
        return formats

    @field_validator("null_values")
    @classmethod
    def _tokens(cls, tokens: list[str]) -> list[str]:
        if any(not t.strip() for t in tokens):
            raise ValueError("an empty field is always read as no value; list only other tokens")
        return [t.strip() for t in tokens]

    @field_validator("columns")
    @classmethod
    def _headers(cls, columns: dict[str, str]) -> dict[str, str]:
        empty = sorted(k for k, v in columns.items() if not v.strip())
        if empty:
            raise ValueError(f"give the file's header for {', '.join(empty)}")
        return columns

    def file_format(self, layout_format: str = "csv") -> str:
        """csv or parquet: as set, else from the extension, else the layout's own."""
        if self.format is not None:
            return self.format
        suffix = self.path.suffix.lower()
        if suffix in CSV_EXTENSIONS:
            return "csv"
        if suffix in PARQUET_EXTENSIONS:
            return "parquet"
        return layout_format

    @property
    def separator(self) -> str:
        """The field separator: as set, else by extension (.tsv tab, .psv pipe), else ","."""
        if self.delimiter is not None:
            return self.delimiter
        return DELIMITERS_BY_EXTENSION.get(self.path.suffix.lower(), ",")


class Config(_Strict):
    name: str = Field(min_length=1)
    engine: EngineConfig = EngineConfig()
    governance: Governance
    pseudonymisation: Pseudonymisation
    # Unset: the audit trail is hash-chained but unauthenticated (see audit.py).
    audit: AuditKey | None = None
    disclosure: DisclosurePolicy = DisclosurePolicy()
    stages: StageOptions = StageOptions()
    sources: dict[str, Source] = Field(default_factory=dict)


def load_config(path: Path) -> Config:
    """Read and validate ``openphm.toml``; raise ConfigError naming each bad key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; create a workspace with: openphm init DIR") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(path, exc)) from None


def _explain(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "missing":
            lines.append(f"  {key}: missing; it is required")
            continue
        value = err.get("input")
        shown = "" if isinstance(value, dict) or not _may_echo(err) else f" = {value!r}"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "not a setting openphm knows (check the spelling)"
        lines.append(f"  {key}{shown}: {msg}")
    return "\n".join(lines)


def _may_echo(err: dict) -> bool:
    """Unknown keys and anything under [pseudonymisation] or [audit] might hold a key: never
    echo them."""
    loc = err["loc"]
    if err["type"] == "extra_forbidden":
        return False
    return loc[:1] not in (("pseudonymisation",), ("audit",)) or loc[-1] in ("key_env", "key_file")


TEMPLATE = """\
# openphm workspace configuration. Every key is checked when the workspace loads.
name = "{name}"

[engine]
# duckdb://FILE (relative to this folder), duckdb:///absolute/path, or spark://local[N]
url = "duckdb://warehouse.duckdb"
# memory_limit = "4GB"  # DuckDB's working memory; beyond it, it spills to disk

[governance]
controller = "{controller}"
# direct_care, planning or research: decides which opt-outs apply
purpose = "planning"
lawful_basis_article6 = "6(1)(e)"   # public task
lawful_basis_article9 = "9(2)(h)"   # health or social care
description = "Population health management for the integrated care system"

[pseudonymisation]
# Where the HMAC key is found; never the key itself.
key_env = "OPENPHM_PSEUDONYM_KEY"

[audit]
# Where the key that authenticates the audit trail is found: a key of its own (32 random
# bytes or more), kept outside this folder; never the key itself. Without [audit] the trail
# is hash-chained but unauthenticated. Keep `openphm audit head` somewhere else too.
key_env = "OPENPHM_AUDIT_KEY"

[disclosure]
# NHS Digital's HES rules: counts 1 to 7 suppressed, others rounded to the nearest 5.
enabled = true
suppression_threshold = 7
rounding_multiple = 5

[stages.measure]
# index_date = "2026-03-31"  # the day indicators are measured to; unset: from the data

[stages.link]
match_threshold = 0.9     # Splink match probability to link a record without an NHS number
clerical_threshold = 0.5  # near misses from here up are exported for clerical review

[stages.need]
# index_date = "2026-03-31"  # the day need is measured on; unset: the last day of the data
# codelists = "codelists"    # your own code lists (e.g. ltc with QOF's SNOMED CT clusters)
# Core20PLUS5's PLUS groups (unset: those in codelists/core20plus5.rules.toml), e.g.
# [stages.need.plus_groups.learning_disability]
# any_flag = ["ltc_learning_disability"]

# The delivered files: [sources.NAME] with a path (relative to this folder) and a layout
# (openphm layouts lists them; openphm layouts hes_apc shows one's columns). Check how
# openphm reads them, before a run, with: openphm sources check
# For example, HES APC as NHS Digital publishes it, keyed by PSEUDO_HESID. Every setting
# after layout is optional; the defaults suit openphm synth's files:
# [sources.hes_apc]
# path = "sources/extracts/hes_apc.csv"
# layout = "hes_apc"
# identifier = "pseudonym"       # the person key is an upstream pseudonym, not an NHS number
# format = "csv"                 # csv or parquet; unset: from the extension
# delimiter = "|"                # one character, or "tab"; unset: "," (.tsv tab, .psv pipe)
# encoding = "cp1252"            # unset: utf-8
# columns = {{ NEWNHSNO = "Der_Pseudo_NHS_Number" }}  # layout column = the file's header
# date_formats = ["%d/%m/%Y"]    # tried in order; ISO dates and date-times always read
# null_values = ["NULL", "N/A"]  # read as no value, beside the empty field
"""


def write_template(path: Path, name: str, controller: str = "Example ICB") -> None:
    path.write_text(TEMPLATE.format(name=name, controller=controller), encoding="utf-8")
