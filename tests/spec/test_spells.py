"""Spec: admitted-care episodes grouped into provider spells and continuous inpatient spells.

Input tables are headed with the HES field names, so they fit on a screen: key =
episode_key, person = person_key, procode, spellno (PROVSPNOPS), epiorder, admidate,
epistart, disdate, admimeth, admisorc, disdest. An empty cell, or a column left out, is
NULL. Codes used below:

- DISDEST 19 usual residence, 51 another NHS hospital's general ward, 84 non-NHS medium
  secure unit, 87 non-NHS hospital, 98 not applicable (the spell goes on);
- ADMISORC 19 usual residence, 51 another NHS hospital's general ward, 87 non-NHS hospital;
- ADMIMETH 11 elective, 21 emergency, 2A emergency via another provider's A&E, 2B emergency
  transfer from another provider's ward, 81 transfer from another provider's admitted care.
"""

import random
from datetime import date, timedelta

import pandas as pd
import pytest

from openphm.ingest.spells import group_spells
from tests.spec.harness import assert_spec, load

EPISODES = {
    "episode_key": "string",
    "person_key": "string",
    "provider_code": "string",
    "provider_spell_number": "string",
    "episode_order": "int64",
    "admission_date": "date",
    "episode_start": "date",
    "episode_end": "date",
    "discharge_date": "date",
    "admission_method": "string",
    "admission_source": "string",
    "discharge_destination": "string",
}
HEADERS = {
    "key": "episode_key",
    "person": "person_key",
    "procode": "provider_code",
    "spellno": "provider_spell_number",
    "epiorder": "episode_order",
    "admidate": "admission_date",
    "epistart": "episode_start",
    "disdate": "discharge_date",
    "admimeth": "admission_method",
    "admisorc": "admission_source",
    "disdest": "discharge_destination",
}


def episodes(con, text):
    header, *rows = text.strip().splitlines()
    names = [HEADERS.get(cell.strip(), cell.strip()) for cell in header.split("|")]
    return load(con, "episodes", "\n".join([" | ".join(names), *rows]), EPISODES)


def test_a_single_episode_is_a_spell_and_a_cip_spell_of_its_own(con):
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | disdest
        e1  | p1     | RA1     | 100     | 2024-03-01 | 2024-03-04 | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | spell_id | spell_start | spell_end  | cip_spell_id | cip_start  | cip_end
        e1          | RA1-s100 | 2024-03-01  | 2024-03-04 | RA1-s100     | 2024-03-01 | 2024-03-04
        """,
    )


def test_episodes_of_one_spell_take_its_start_from_the_first_and_end_from_the_last(con):
    # HES leaves the discharge date and destination on the last episode (EPIORDER 3)
    # only; rows arrive in any order, and keys (k2, k3, k1) need not sort like EPIORDER.
    t = episodes(
        con,
        """
        key | person | procode | spellno | epiorder | admidate   | epistart   | disdate    | disdest
        k1  | p1     | RA1     | 100     | 3        | 2024-03-01 | 2024-03-06 | 2024-03-09 | 19
        k2  | p1     | RA1     | 100     | 1        | 2024-03-01 | 2024-03-01 |            | 98
        k3  | p1     | RA1     | 100     | 2        | 2024-03-01 | 2024-03-03 |            | 98
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | spell_id | spell_start | spell_end  | cip_spell_id | cip_start  | cip_end
        k1          | RA1-s100 | 2024-03-01  | 2024-03-09 | RA1-s100     | 2024-03-01 | 2024-03-09
        k2          | RA1-s100 | 2024-03-01  | 2024-03-09 | RA1-s100     | 2024-03-01 | 2024-03-09
        k3          | RA1-s100 | 2024-03-01  | 2024-03-09 | RA1-s100     | 2024-03-01 | 2024-03-09
        """,
    )


def test_a_transfer_to_another_provider_joins_the_first_spell_s_cip_spell(con):
    # Same day, recorded at both ends: discharged to another NHS hospital's ward (51),
    # admitted from one (51). The chain takes the first spell's id and spans both.
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | admimeth | admisorc | disdest
        e1  | p1     | RA1     | 100     | 2024-03-01 | 2024-03-05 | 21       | 19       | 51
        e2  | p1     | RB2     | 700     | 2024-03-05 | 2024-03-20 | 81       | 51       | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | spell_id | spell_start | spell_end  | cip_spell_id | cip_start  | cip_end
        e1          | RA1-s100 | 2024-03-01  | 2024-03-05 | RA1-s100     | 2024-03-01 | 2024-03-20
        e2          | RB2-s700 | 2024-03-05  | 2024-03-20 | RA1-s100     | 2024-03-01 | 2024-03-20
        """,
    )


def test_a_transfer_joins_up_to_two_days_after_discharge_and_not_three(con):
    # Each person: discharged to another hospital (51) on 1 March, next admitted n days later.
    # Five days apart at the same provider is two stays even with every transfer code.
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | admimeth | admisorc | disdest
        a1  | gap0   | RA1     | 1       | 2024-02-20 | 2024-03-01 | 21       | 19       | 51
        a2  | gap0   | RB2     | 2       | 2024-03-01 | 2024-03-09 | 11       | 19       | 19
        b1  | gap2   | RA1     | 3       | 2024-02-20 | 2024-03-01 | 21       | 19       | 51
        b2  | gap2   | RB2     | 4       | 2024-03-03 | 2024-03-09 | 11       | 19       | 19
        c1  | gap3   | RA1     | 5       | 2024-02-20 | 2024-03-01 | 21       | 19       | 51
        c2  | gap3   | RB2     | 6       | 2024-03-04 | 2024-03-09 | 11       | 19       | 19
        d1  | gap5   | RA1     | 7       | 2024-02-20 | 2024-03-01 | 21       | 51       | 51
        d2  | gap5   | RA1     | 8       | 2024-03-06 | 2024-03-09 | 81       | 51       | 51
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | spell_id | cip_spell_id | cip_start  | cip_end
        a1          | RA1-s1   | RA1-s1       | 2024-02-20 | 2024-03-09
        a2          | RB2-s2   | RA1-s1       | 2024-02-20 | 2024-03-09
        b1          | RA1-s3   | RA1-s3       | 2024-02-20 | 2024-03-09
        b2          | RB2-s4   | RA1-s3       | 2024-02-20 | 2024-03-09
        c1          | RA1-s5   | RA1-s5       | 2024-02-20 | 2024-03-01
        c2          | RB2-s6   | RB2-s6       | 2024-03-04 | 2024-03-09
        d1          | RA1-s7   | RA1-s7       | 2024-02-20 | 2024-03-01
        d2          | RA1-s8   | RA1-s8       | 2024-03-06 | 2024-03-09
        """,
    )


def test_one_transfer_code_at_either_end_is_enough_and_other_codes_are_not(con):
    # Each person: two spells, the second starting the day after the first ends.
    # Only the code the person is named after says "transfer" (d = DISDEST of the first,
    # s = ADMISORC or m = ADMIMETH of the second); the rest say home and back again.
    # DISDEST 87 (non-NHS hospital) is a transfer on admission only, as in the method.
    # An unknown code is no evidence either way: s51 joins on its admission source.
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | admimeth | admisorc | disdest
        a1  | d51    | RA1     | 1       | 2024-03-01 | 2024-03-02 | 21       | 19       | 51
        a2  | d51    | RB2     | 2       | 2024-03-03 | 2024-03-09 | 21       | 19       | 19
        b1  | d84    | RA1     | 3       | 2024-03-01 | 2024-03-02 | 21       | 19       | 84
        b2  | d84    | RB2     | 4       | 2024-03-03 | 2024-03-09 | 21       | 19       | 19
        c1  | s87    | RA1     | 5       | 2024-03-01 | 2024-03-02 | 21       | 19       | 19
        c2  | s87    | RB2     | 6       | 2024-03-03 | 2024-03-09 | 11       | 87       | 19
        d1  | m81    | RA1     | 7       | 2024-03-01 | 2024-03-02 | 21       | 19       | 19
        d2  | m81    | RB2     | 8       | 2024-03-03 | 2024-03-09 | 81       | 19       | 19
        e1  | m2B    | RA1     | 9       | 2024-03-01 | 2024-03-02 | 21       | 19       | 19
        e2  | m2B    | RB2     | 10      | 2024-03-03 | 2024-03-09 | 2B       | 19       | 19
        f1  | home   | RA1     | 11      | 2024-03-01 | 2024-03-02 | 21       | 19       | 19
        f2  | home   | RA1     | 12      | 2024-03-03 | 2024-03-09 | 21       | 19       | 19
        g1  | d87    | RA1     | 13      | 2024-03-01 | 2024-03-02 | 21       | 19       | 87
        g2  | d87    | RB2     | 14      | 2024-03-03 | 2024-03-09 | 21       | 19       | 19
        h1  | m2A    | RA1     | 15      | 2024-03-01 | 2024-03-02 | 21       | 19       | 19
        h2  | m2A    | RB2     | 16      | 2024-03-03 | 2024-03-09 | 2A       | 19       | 19
        i1  | none   | RA1     | 17      | 2024-03-01 | 2024-03-02 |          |          |
        i2  | none   | RB2     | 18      | 2024-03-03 | 2024-03-09 |          |          |
        j1  | s51    | RA1     | 19      | 2024-03-01 | 2024-03-02 | 21       | 19       |
        j2  | s51    | RB2     | 20      | 2024-03-03 | 2024-03-09 | 21       | 51       | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | cip_spell_id
        a1          | RA1-s1
        a2          | RA1-s1
        b1          | RA1-s3
        b2          | RA1-s3
        c1          | RA1-s5
        c2          | RA1-s5
        d1          | RA1-s7
        d2          | RA1-s7
        e1          | RA1-s9
        e2          | RA1-s9
        f1          | RA1-s11
        f2          | RA1-s12
        g1          | RA1-s13
        g2          | RB2-s14
        h1          | RA1-s15
        h2          | RB2-s16
        i1          | RA1-s17
        i2          | RB2-s18
        j1          | RA1-s19
        j2          | RA1-s19
        """,
    )


def test_home_then_an_emergency_admission_from_another_ward_is_not_a_transfer(con):
    # Discharged home (19), then an emergency (21) said to come from another NHS ward
    # (51): the codes contradict each other and the method reads it as a readmission.
    # The same admission source with an elective admission (11) is a transfer.
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | admimeth | admisorc | disdest
        a1  | home   | RA1     | 1       | 2024-03-01 | 2024-03-02 | 21       | 19       | 19
        a2  | home   | RB2     | 2       | 2024-03-02 | 2024-03-09 | 21       | 51       | 19
        b1  | elect  | RA1     | 3       | 2024-03-01 | 2024-03-02 | 21       | 19       | 19
        b2  | elect  | RB2     | 4       | 2024-03-02 | 2024-03-09 | 11       | 51       | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | cip_spell_id
        a1          | RA1-s1
        a2          | RB2-s2
        b1          | RA1-s3
        b2          | RA1-s3
        """,
    )


def test_a_chain_runs_through_several_transfers(con):
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | admimeth | admisorc | disdest
        e1  | p1     | RA1     | 1       | 2024-03-01 | 2024-03-03 | 21       | 19       | 51
        e2  | p1     | RB2     | 2       | 2024-03-03 | 2024-03-10 | 81       | 51       | 51
        e3  | p1     | RC3     | 3       | 2024-03-11 | 2024-03-30 | 81       | 51       | 19
        e4  | p1     | RA1     | 4       | 2024-03-31 | 2024-04-02 | 21       | 19       | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | cip_spell_id | cip_start  | cip_end
        e1          | RA1-s1       | 2024-03-01 | 2024-03-30
        e2          | RA1-s1       | 2024-03-01 | 2024-03-30
        e3          | RA1-s1       | 2024-03-01 | 2024-03-30
        e4          | RA1-s4       | 2024-03-31 | 2024-04-02
        """,
    )


def test_without_a_spell_number_episodes_group_by_provider_person_and_admission_date(con):
    # Named after the provider and the spell's first episode key, never the person.
    t = episodes(
        con,
        """
        key | person | procode | spellno | epiorder | admidate   | disdate    | disdest
        k2  | p1     | RA1     |         | 2        | 2024-03-01 | 2024-03-04 | 19
        k1  | p1     | RA1     |         | 1        | 2024-03-01 |            | 98
        k3  | p1     | RA1     |         | 1        | 2024-03-10 | 2024-03-11 | 19
        k4  | p1     | RB2     |         | 1        | 2024-03-10 | 2024-03-12 | 19
        k5  | p2     | RA1     |         | 1        | 2024-03-01 | 2024-03-02 | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | spell_id | spell_start | spell_end
        k1          | RA1-ek1  | 2024-03-01  | 2024-03-04
        k2          | RA1-ek1  | 2024-03-01  | 2024-03-04
        k3          | RA1-ek3  | 2024-03-10  | 2024-03-11
        k4          | RB2-ek4  | 2024-03-10  | 2024-03-12
        k5          | RA1-ek5  | 2024-03-01  | 2024-03-02
        """,
    )


def test_a_spell_still_in_hospital_has_no_end_and_ends_its_chain(con):
    # p1 is transferred into a spell with no discharge yet: the chain is open.
    # p2's open spell is followed by a later record (a data error): no gap, a new chain.
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | admimeth | admisorc | disdest
        a1  | p1     | RA1     | 1       | 2024-03-01 | 2024-03-05 | 21       | 19       | 51
        a2  | p1     | RB2     | 2       | 2024-03-05 |            | 81       | 51       |
        b1  | p2     | RA1     | 3       | 2024-03-01 |            | 21       | 19       |
        b2  | p2     | RB2     | 4       | 2024-03-02 | 2024-03-04 | 81       | 51       | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | spell_end  | cip_spell_id | cip_start  | cip_end
        a1          | 2024-03-05 | RA1-s1       | 2024-03-01 |
        a2          |            | RA1-s1       | 2024-03-01 |
        b1          |            | RA1-s3       | 2024-03-01 |
        b2          | 2024-03-04 | RB2-s4       | 2024-03-02 | 2024-03-04
        """,
    )


def test_two_people_never_share_a_spell_or_a_cip_spell(con):
    # p1 leaves RA1 for another hospital on the day p2 arrives at RB2 from one; and
    # RA1 gave both the spell number 55 (a data error): two people, two of everything.
    t = episodes(
        con,
        """
        key | person | procode | spellno | admidate   | disdate    | admimeth | admisorc | disdest
        a1  | p1     | RA1     | 55      | 2024-03-01 | 2024-03-05 | 21       | 19       | 51
        b1  | p2     | RB2     | 9       | 2024-03-05 | 2024-03-07 | 81       | 51       | 19
        c1  | p1     | RC3     | 55      | 2024-04-01 | 2024-04-02 | 21       | 19       | 19
        c2  | p2     | RC3     | 55      | 2024-04-01 | 2024-04-03 | 21       | 19       | 19
        """,
    )
    assert_spec(
        group_spells(t),
        """
        episode_key | spell_id | cip_spell_id
        a1          | RA1-s55  | RA1-s55
        b1          | RB2-s9   | RB2-s9
        c1          | RC3-ec1  | RC3-ec1
        c2          | RC3-ec2  | RC3-ec2
        """,
    )


# --- properties over a larger, messier population ---------------------------

PROVIDERS = ["RA1", "RB2", "RC3"]
DISDESTS = ["19", "51", "52", "84", "87", "79", None]
ADMISORCS = ["19", "51", "87", "49", None]
ADMIMETHS = ["11", "21", "2B", "81", "2A", None]


def messy_episodes(seed=7, people=25):
    """Text for a spec table: NHS-number-like people with runs of spells and odd codes."""
    rng = random.Random(seed)
    lines = [
        "key | person | procode | spellno | epiorder | admidate | epistart | disdate "
        "| admimeth | admisorc | disdest"
    ]
    n = 0
    for p in range(people):
        person = f"99900{p:05d}"
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(30))
        for s in range(rng.randrange(1, 6)):
            provider = rng.choice(PROVIDERS)
            number = "" if rng.random() < 0.3 else f"{p}{s}"
            length = rng.randrange(0, 6)
            end = None if rng.random() < 0.1 else day + timedelta(days=length)
            codes = [rng.choice(ADMIMETHS), rng.choice(ADMISORCS), rng.choice(DISDESTS)]
            for order in range(1, rng.randrange(2, 5)):
                n += 1
                cells = [
                    f"x{n:04d}",
                    person,
                    provider,
                    number,
                    str(order),
                    day.isoformat(),
                    (day + timedelta(days=order - 1)).isoformat(),
                    end.isoformat() if end else "",
                    *(c or "" for c in codes),
                ]
                lines.append(" | ".join(cells))
            day = (end or day) + timedelta(days=rng.randrange(0, 4))
    return "\n".join(lines)


def test_every_episode_keeps_its_row_and_gets_exactly_one_spell_and_cip_spell(con):
    t = episodes(con, messy_episodes())
    got = group_spells(t).execute()
    given = t.execute()
    assert len(got) == len(given) and got.episode_key.is_unique
    assert list(got.columns) == [
        *EPISODES,
        "spell_id",
        "spell_start",
        "spell_end",
        "cip_spell_id",
        "cip_start",
        "cip_end",
    ]
    assert got[["spell_id", "cip_spell_id", "spell_start", "cip_start"]].notna().all().all()
    # Input columns come through untouched.
    key = "episode_key"
    assert (
        got[list(EPISODES)]
        .sort_values(key)
        .reset_index(drop=True)
        .equals(given.sort_values(key).reset_index(drop=True))
    )
    # A spell belongs to one person and one chain; a chain to one person.
    per_spell = got.groupby("spell_id")[["person_key", "cip_spell_id", "spell_start"]].nunique()
    assert (per_spell == 1).all().all()
    assert (got.groupby("cip_spell_id").person_key.nunique() == 1).all()
    # A chain is named after one of its own spells, and starts no later than any of them.
    assert set(got.cip_spell_id) <= set(got.spell_id)
    assert (got.cip_start <= got.spell_start).all()
    # Within a chain, each spell starts 0 to 2 days after the one before it ends,
    # taking spells in the chain's own order (start, then end, then id: two spells
    # can start on the same day, and the engine returns rows in no fixed order).
    spells = got.drop_duplicates("spell_id").sort_values(
        ["cip_spell_id", "spell_start", "spell_end", "spell_id"]
    )
    chained = spells[spells.duplicated("cip_spell_id", keep=False)]
    gaps = chained.groupby("cip_spell_id").apply(
        lambda c: (c.spell_start.iloc[1:].values - c.spell_end.iloc[:-1].values).tolist()
    )
    assert len(gaps) >= 3, "the sample should hold chains of transfers"
    assert {pd.Timedelta(g).days for chain in gaps for g in chain} <= {0, 1, 2}
    assert got.spell_id.str.contains("-e").any() and got.spell_id.str.contains("-s").any()
    # No identifier carries the person's key (here NHS-number-like).
    for column in ("spell_id", "cip_spell_id"):
        assert not any(p in i for p, i in zip(got.person_key, got[column], strict=True))


@pytest.mark.spark
def test_duckdb_and_spark_agree_on_every_id_and_date(duckdb_con, spark_con):
    columns = ["episode_key", "spell_id", "spell_end", "cip_spell_id", "cip_start", "cip_end"]
    text = messy_episodes(seed=11, people=40)
    results = [
        group_spells(episodes(con, text)).select(*columns).order_by("episode_key").execute()
        for con in (duckdb_con, spark_con)
    ]
    duck, spark = (r.astype(object).where(r.notna(), None) for r in results)
    assert duck.values.tolist() == spark.values.tolist()
