"""Link keys a person by NHS number, else by the upstream pseudonym a source delivered.

A pseudonymised source (``identifier = "pseudonym"``: HES's PSEUDO_HESID, a DSCRO
or UDAL pseudonym) stages its token as ``upstream_id`` with no NHS number. Link
gives each record the person key ``nhs_number``, else ``upstream:<upstream_id>``,
and its person_id is the HMAC of that key under the workspace key. So:

- records of two sources with the same token are one person;
- a token is never an NHS number, even one written like one: 'upstream:...' is
  its own domain, and an NHS number's person_id is the HMAC of the number alone,
  as before pseudonymised sources existed;
- records with neither key are still matched by Splink (to people known by either
  key) or left unlinked;
- people known only by a token get a person row, and no token leaves the stage.

In these specs the ``person`` column shows which key a person_id is the HMAC of
(``record:SOURCE:KEY`` for an unlinked record's pseudonym of itself).
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from openphm.config import Config
from openphm.ingest import staged
from openphm.link import pseudonym
from openphm.link.stage import _identity_numbers, _no_tokens, _numbered, build
from openphm.runner import StageError, StageInput
from tests.spec.harness import assert_spec, load

KEY = b"openphm-spec-key-not-for-real-data-0123456789"
ENCOUNTER = {n: str(t) for n, t in staged.SCHEMAS["staged_encounter"].items()}
IDENTITY = {n: str(t) for n, t in staged.IDENTITY.items()}
# HES's artificial PSEUDO_HESID values are 32 characters like these.
T1 = "TESTWn4Rt4ww00zIOJ8rYBMf5fgC4tvI"
T2 = "TESTa9Qm2Lxk77pRZd0sNyVc3HjUe1oB"


SOURCES = {
    "apc": {"path": "apc.csv", "layout": "hes_apc", "identifier": "pseudonym"},
    "op": {"path": "op.csv", "layout": "hes_op", "identifier": "pseudonym"},
    "gp": {"path": "gp.csv", "layout": "gp_patients"},
    "amb": {"path": "amb.csv", "layout": "ambulance_incidents"},
}


def _config(tmp_path, declared: bool = True, sources=None) -> Config:
    key_file = tmp_path / "pseudonym.key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o600)  # a key others can read is refused
    return Config.model_validate(
        {
            "name": "spec",
            "governance": {
                "controller": "Spec ICB",
                "purpose": "planning",
                "lawful_basis_article6": "6(1)(e)",
                "lawful_basis_article9": "9(2)(h)",
                "opt_outs_applied_upstream": declared,
            },
            "pseudonymisation": {"key_file": str(key_file)},
            "sources": SOURCES if sources is None else sources,
        }
    )


def _link(con, tmp_path, encounter: str, identity: str, declared: bool = True, sources=None):
    tables = {
        name: staged.empty(schema)
        for name, schema in staged.SCHEMAS.items()
        if name not in ("staged_encounter", "staged_identity")
    }
    tables["staged_encounter"] = load(con, "staged_encounter", encounter, ENCOUNTER)
    tables["staged_identity"] = load(con, "staged_identity", identity, IDENTITY)
    keys = _keys(tables["staged_encounter"], tables["staged_identity"])
    return build(StageInput(tables, _config(tmp_path, declared, sources))), keys


def _keys(encounter, identity) -> list[str]:
    """Every key a person_id in these specs can be the HMAC of."""
    frames = [t.to_pandas() for t in (encounter, identity)]
    keys = set()
    for f in frames:
        keys |= set(f.nhs_number.dropna())
        keys |= {pseudonym.UPSTREAM + u for u in f.upstream_id.dropna()}
        keys |= {f"record:{s}:{r}" for s, r in zip(f.source, f.record_key, strict=True)}
    return sorted(keys)


def _named(t, keys: list[str]):
    """``t`` with ``person``: the key its person_id is the HMAC of."""
    names = ibis.memtable(
        pd.DataFrame({"_id": pseudonym.of_person_keys(KEY, keys), "person": keys}),
        schema={"_id": "string", "person": "string"},
    )
    return t.left_join(names, t.person_id == names._id)


IDENTITIES = f"""
    source | record_key | nhs_number | upstream_id | date_of_birth | sex | postcode | lsoa_code
    apc    | a1         |            | {T1}        | 1950-06-15    | 2   | ZZ1 1AA  | E01000001
    op     | o1         |            | {T1}        | 1950-06-15    | 2   | ZZ1 1AA  | E01000001
    op     | o2         |            | {T2}        | 1988-01-20    | 1   | ZZ2 2BB  | E01000002
    gp     | g1         | 9990000018 |             | 1971-03-09    | 1   | ZZ3 3CC  | E01000003
    """


def test_records_of_two_sources_with_one_pseudonym_are_one_person(con, tmp_path):
    out, keys = _link(
        con,
        tmp_path,
        f"""
        encounter_id | source | record_key | upstream_id
        apc:a1       | apc    | a1         | {T1}
        op:o1        | op     | o1         | {T1}
        op:o2        | op     | o2         | {T2}
        """,
        IDENTITIES,
    )
    assert_spec(
        _named(out.tables["encounter"], keys),
        f"""
        encounter_id | person         | link_method
        apc:a1       | upstream:{T1}  | upstream_pseudonym
        op:o1        | upstream:{T1}  | upstream_pseudonym
        op:o2        | upstream:{T2}  | upstream_pseudonym
        """,
    )


def test_people_known_only_by_a_pseudonym_have_a_person_row(con, tmp_path):
    """Built as NHS-number people's are: year and month of birth, sex, LSOA."""
    out, keys = _link(
        con,
        tmp_path,
        f"""
        encounter_id | source | record_key | upstream_id
        apc:a1       | apc    | a1         | {T1}
        """,
        IDENTITIES,
    )
    assert_spec(
        _named(out.tables["person"], keys),
        f"""
        person        | year_of_birth | month_of_birth | sex | lsoa_code
        upstream:{T1} | 1950          | 6              | 2   | E01000001
        upstream:{T2} | 1988          | 1              | 1   | E01000002
        9990000018    | 1971          | 3              | 1   | E01000003
        """,
    )


def test_a_pseudonym_written_like_an_nhs_number_is_not_that_nhs_numbers_person(con, tmp_path):
    """The GP register's 9990000018 keeps the person_id it always had (the HMAC of the
    number); an upstream token with the same ten digits is another person."""
    out, keys = _link(
        con,
        tmp_path,
        """
        encounter_id | source | record_key | nhs_number | upstream_id
        apc:a9       | apc    | a9         |            | 9990000018
        amb:b1       | amb    | b1         | 9990000018 |
        """,
        """
        source | record_key | nhs_number | upstream_id | date_of_birth | sex | postcode
        apc    | a9         |            | 9990000018  | 1950-06-15    | 2   | ZZ1 1AA
        gp     | g1         | 9990000018 |             | 1971-03-09    | 1   | ZZ3 3CC
        """,
    )
    assert_spec(
        _named(out.tables["encounter"], keys),
        """
        encounter_id | person              | link_method
        apc:a9       | upstream:9990000018 | upstream_pseudonym
        amb:b1       | 9990000018          | nhs_number
        """,
    )
    ids = set(out.tables["person"].person_id.to_pyarrow().to_pylist())
    assert ids == {
        *pseudonym.of_nhs_numbers(KEY, ["9990000018"]),
        *pseudonym.of_upstream(KEY, ["9990000018"]),
    }
    assert len(ids) == 2


def test_records_with_neither_key_are_matched_by_splink_or_left_unlinked(con, tmp_path):
    """An ambulance record with no NHS number and no token, whose date of birth, sex and
    postcode are those of a person known only by a token, is linked to that person; one
    that matches nobody keeps a pseudonym of itself."""
    out, keys = _link(
        con,
        tmp_path,
        f"""
        encounter_id | source | record_key | upstream_id
        apc:a1       | apc    | a1         | {T1}
        op:o2        | op     | o2         | {T2}
        amb:b2       | amb    | b2         |
        amb:b3       | amb    | b3         |
        """,
        IDENTITIES
        + """
    amb    | b2         |            |             | 1950-06-15    | 2   | ZZ1 1AA  |
    amb    | b3         |            |             | 2001-12-01    | 1   | ZZ9 9ZZ  |
    """,
    )
    assert_spec(
        _named(out.tables["encounter"], keys),
        f"""
        encounter_id | person        | link_method
        apc:a1       | upstream:{T1} | upstream_pseudonym
        op:o2        | upstream:{T2} | upstream_pseudonym
        amb:b2       | upstream:{T1} | probabilistic
        amb:b3       | record:amb:b3 | unlinked
        """,
    )


def test_no_upstream_token_leaves_the_stage_and_the_declaration_is_recorded(con, tmp_path):
    out, _ = _link(
        con,
        tmp_path,
        f"""
        encounter_id | source | record_key | upstream_id
        apc:a1       | apc    | a1         | {T1}
        op:o2        | op     | o2         | {T2}
        """,
        IDENTITIES,
    )
    for name, table in {**out.tables, **out.restricted}.items():
        for column, dtype in table.schema().items():
            if dtype.is_string():
                values = table.select(v=table[column]).distinct().v.to_pyarrow().to_pylist()
                text = "\n".join(v for v in values if v)
                assert T1 not in text and T2 not in text, (name, column)
    counts = out.counts["link"]
    assert counts["opt_outs_applied_upstream"] is True
    assert counts["pseudonymised_sources"] == ["apc", "op"]
    assert counts["upstream_pseudonym_people"] == 2
    assert out.notes == [
        "Opt-outs were applied upstream for sources apc, op, as declared in openphm.toml "
        "([governance] opt_outs_applied_upstream = true): their records carry no NHS number "
        "to apply them by here."
    ]
    assert T1 not in repr(out.counts) and T1 not in " ".join(out.notes)


def test_link_refuses_pseudonymised_sources_without_the_declaration(con, tmp_path):
    with pytest.raises(StageError) as err:
        _link(
            con,
            tmp_path,
            f"""
            encounter_id | source | record_key | upstream_id
            apc:a1       | apc    | a1         | {T1}
            """,
            IDENTITIES,
            declared=False,
        )
    message = str(err.value)
    assert "apc, op" in message and "opt_outs_applied_upstream = true" in message
    assert "[governance]" in message and T1 not in message


def test_a_record_with_neither_key_takes_the_upstream_id_of_its_identity_row(con):
    """An OMOP visit names its person by record key; the person's identity row carries
    'omop:<person_id>' as its upstream id (and sometimes an NHS number too)."""
    records = load(
        con,
        "records",
        """
        encounter_id | source | record_key | nhs_number | upstream_id
        omop:1       | omop   | person:1   |            |
        omop:2       | omop   | person:2   |            |
        omop:3       | omop   | person:3   |            |
        hes:4        | hes    | h4         |            | TOKEN-4
        """,
        ENCOUNTER,
    )
    identity = load(
        con,
        "identity",
        """
        source | record_key | nhs_number | upstream_id
        omop   | person:1   |            | omop:1
        omop   | person:2   | 9990000026 | omop:2
        omop   | person:3   |            | omop:3
        omop   | person:3   |            | omop:33
        """,
        IDENTITY,
    )
    assert_spec(
        _numbered(records, _identity_numbers(identity)),
        """
        encounter_id | source | record_key | nhs_number | upstream_id
        omop:1       | omop   | person:1   |            | omop:1
        omop:2       | omop   | person:2   | 9990000026 | omop:2
        omop:3       | omop   | person:3   |            |
        hes:4        | hes    | h4         |            | TOKEN-4
        """,
    )


def test_upstream_ids_from_a_source_not_declared_pseudonymised_are_linked_and_noted(con, tmp_path):
    """An OMOP person with no NHS number is keyed by 'omop:<person_id>' (its mapper sets
    it); the run goes on, and says that opt-outs could not be applied to such people."""
    out, keys = _link(
        con,
        tmp_path,
        """
        encounter_id | source | record_key | upstream_id
        omop:v1      | omop   | person:1   |
        """,
        """
        source | record_key | upstream_id | date_of_birth | sex
        omop   | person:1   | omop:1      | 1944-02-29    | 1
        """,
        declared=False,
        sources={"omop": {"path": "person.csv", "layout": "omop_person"}},
    )
    assert_spec(
        _named(out.tables["encounter"], keys),
        """
        encounter_id | person          | link_method
        omop:v1      | upstream:omop:1 | upstream_pseudonym
        """,
    )
    assert out.notes == [
        "Sources omop hold people known only by an upstream id (no NHS number): opt-outs, "
        "applied by NHS number, could not be applied to them. If the supplier applied them, "
        "declare opt_outs_applied_upstream = true under [governance]."
    ]
    assert out.counts["link"]["pseudonymised_sources"] == []


def test_clerical_review_names_token_only_candidates_by_person_id():
    """The clerical review file is restricted, but no upstream token leaves link either:
    a near miss against a person known only by a token names them by person_id."""
    clerical = pd.DataFrame(
        {
            "record_key": ["amb\x1fb1", "amb\x1fb2"],
            "person_key": ["9990000018", pseudonym.UPSTREAM + T1],
            "match_probability": [0.6, 0.7],
            "match_weight": [1.0, 2.0],
            "reason": ["near_threshold", "near_threshold"],
        }
    )
    scrubbed = _no_tokens(clerical, KEY)
    assert scrubbed.person_key.tolist() == [
        "9990000018",
        "person_id:" + pseudonym.of_upstream(KEY, [T1])[0],
    ]
    assert clerical.person_key.tolist()[1] == pseudonym.UPSTREAM + T1  # the input is untouched
