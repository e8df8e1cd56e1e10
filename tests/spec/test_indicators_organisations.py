"""Spec: which organisations an event belongs to, at the time or recast onto today's.

Places P1 and P2 merged into P12 on 1 April 2024 (P1 and P2 closed the day before,
naming P12 as successor). PCN N1 still names P1 as its parent: the organisation table
records the merger once, on the places. Practice A2 closed and became A3, which closed
and became A4: successors are followed as far as the chain goes.
"""

# ruff: noqa: E501 (a spec table keeps one row per line)

from datetime import date

from openphm.measure.attribution import organisation_lookups, with_organisations
from openphm.measure.organisations import lineage, resolve
from tests.spec.harness import assert_transform

ORGANISATION = """
code | kind     | name   | parent_code | valid_from | valid_to   | successor_code
ICB  | icb      | ICB    |             | 2019-04-01 |            |
P1   | sub_icb  | P1     | ICB         | 2019-04-01 | 2024-03-31 | P12
P2   | sub_icb  | P2     | ICB         | 2019-04-01 | 2024-03-31 | P12
P12  | sub_icb  | P12    | ICB         | 2024-04-01 |            |
P3   | sub_icb  | P3     | ICB         | 2019-04-01 |            |
N1   | pcn      | N1     | P1          | 2019-04-01 |            |
N3   | pcn      | N3     | P3          | 2019-04-01 |            |
A1   | practice | A1     | N1          | 2019-04-01 |            |
A2   | practice | A2     | N3          | 2019-04-01 | 2023-06-30 | A3
A3   | practice | A3     | N3          | 2023-07-01 | 2024-12-31 | A4
A4   | practice | A4     | N3          | 2025-01-01 |            |
R1   | provider | R1     | ICB         | 2019-04-01 | 2024-09-30 | R9
R9   | provider | R9     | ICB         | 2024-10-01 |            |
"""

CODES = """
kind     | code | on
sub_icb  | P1   | 2023-06-01
sub_icb  | P1   | 2024-06-01
sub_icb  | P3   | 2024-06-01
practice | A2   | 2023-01-01
practice | A2   | 2024-01-01
practice | A2   | 2025-06-01
practice | ZZ   | 2024-06-01
"""
CODE_SCHEMA = {"kind": "string", "code": "string", "on": "date"}


def _resolved(codes, organisation):
    places, practices = (codes.filter(codes.kind == k) for k in ("sub_icb", "practice"))
    return resolve(places, organisation, "sub_icb").union(
        resolve(practices, organisation, "practice")
    )


def test_a_code_is_itself_while_open_and_its_successor_once_closed(con):
    # P1 is itself before the merger and P12 after it; A2 follows its chain only as far
    # as the day needs; a code the table does not know (ZZ) stands for itself.
    assert_transform(
        con,
        _resolved,
        {"codes": CODES, "organisation": ORGANISATION},
        """
        code | on         | resolved
        P1   | 2023-06-01 | P1
        P1   | 2024-06-01 | P12
        P3   | 2024-06-01 | P3
        A2   | 2023-01-01 | A2
        A2   | 2024-01-01 | A3
        A2   | 2025-06-01 | A4
        ZZ   | 2024-06-01 | ZZ
        """,
        schemas={"codes": CODE_SCHEMA},
    )


PRACTICES = """
practice_code | on
A1            | 2023-10-01
A1            | 2024-10-01
A2            | 2025-06-01
"""


def test_a_practice_climbs_to_its_pcn_place_and_ics_as_they_were_that_day(con):
    # A1's PCN still names P1, but on 1 October 2024 P1 had become P12.
    assert_transform(
        con,
        lineage,
        {"practices": PRACTICES, "organisation": ORGANISATION},
        """
        practice_code | on         | practice | pcn | place | ics
        A1            | 2023-10-01 | A1       | N1  | P1    | ICB
        A1            | 2024-10-01 | A1       | N1  | P12   | ICB
        A2            | 2025-06-01 | A4       | N3  | P3    | ICB
        """,
        schemas={"practices": {"practice_code": "string", "on": "date"}},
    )


EVENTS = """
practice_code | provider_code | on
A1            | R1            | 2023-10-01
A1            | R1            | 2024-10-01
A2            | R9            | 2023-05-01
NEW           | RX            | 2023-05-01
"""


def test_every_event_gets_both_bases_and_the_output_says_which(con):
    # at_time: the organisations on the event's day; current: those on the index date
    # (31 March 2026), so 2023's events in P1 are recast onto P12 and R1 onto R9. A
    # practice or provider the table does not know stands for itself, with no parents.
    def attach(events, organisation):
        lookups = organisation_lookups(
            organisation, date(2023, 4, 1), date(2025, 3, 31), date(2026, 3, 31)
        )
        return with_organisations(events, lookups)

    assert_transform(
        con,
        attach,
        {"events": EVENTS, "organisation": ORGANISATION},
        """
        practice_code | on         | place__at_time | place__current | practice__current | pcn__at_time | provider__at_time | provider__current
        A1            | 2023-10-01 | P1             | P12            | A1                | N1           | R1                | R9
        A1            | 2024-10-01 | P12            | P12            | A1                | N1           | R9                | R9
        A2            | 2023-05-01 | P3             | P3             | A4                | N3           | R9                | R9
        NEW           | 2023-05-01 | Unknown        | Unknown        | NEW               | Unknown      | RX                | RX
        """,
        schemas={"events": {"practice_code": "string", "provider_code": "string", "on": "date"}},
    )
