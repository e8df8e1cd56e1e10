"""Pseudonyms: HMAC-SHA256 under the workspace's key, the only way a person_id is made.

The same key gives the same person_id for the same NHS number in every run; a
different key gives ids that cannot be linked to these. Keys are read by
``config.Pseudonymisation.read_key`` and never leave this module's arguments.
A record that cannot be linked to anyone gets a pseudonym of itself, from a
separate domain ('record:...' can never equal a 10-digit NHS number), so it is
kept and counted without being mistaken for a person. A person known only by an
upstream pseudonym (HES's PSEUDO_HESID, a DSCRO pseudonym) is keyed
'upstream:<token>', a third domain: a token that looks like an NHS number is
still not that NHS number's person.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

UPSTREAM = "upstream:"  # the person key of someone known only by an upstream pseudonym


def pseudonym(key: bytes, value: str) -> str:
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()


def of_nhs_numbers(key: bytes, nhs_numbers: Iterable[str]) -> list[str]:
    """person_id of each normalised (10-digit) NHS number."""
    return [pseudonym(key, n) for n in nhs_numbers]


def of_person_keys(key: bytes, person_keys: Iterable[str]) -> list[str]:
    """person_id of each person key: an NHS number, or 'upstream:' and an upstream token."""
    return [pseudonym(key, k) for k in person_keys]


def of_upstream(key: bytes, tokens: Iterable[str]) -> list[str]:
    """person_id of people known only by an upstream pseudonym, as delivered."""
    return of_person_keys(key, (UPSTREAM + t for t in tokens))


def of_records(key: bytes, sources: Iterable[str], record_keys: Iterable[str]) -> list[str]:
    """person_id of records nobody could be found for: a pseudonym of the record itself."""
    return [pseudonym(key, f"record:{s}:{r}") for s, r in zip(sources, record_keys, strict=True)]
