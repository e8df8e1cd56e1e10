"""Pseudonyms: HMAC-SHA256 under the workspace's key, the only way a person_id is made.

The same key gives the same person_id for the same NHS number in every run; a
different key gives ids that cannot be linked to these. Keys are read by
``config.Pseudonymisation.read_key`` and never leave this module's arguments.
A record that cannot be linked to anyone gets a pseudonym of itself, from a
separate domain ('record:...' can never equal a 10-digit NHS number), so it is
kept and counted without being mistaken for a person.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def pseudonym(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def of_nhs_numbers(key: bytes, nhs_numbers: Iterable[str]) -> list[str]:
    """person_id of each normalised (10-digit) NHS number."""
    return [hmac.digest(key, n.encode("ascii"), "sha256").hex() for n in nhs_numbers]


def of_records(key: bytes, sources: Iterable[str], record_keys: Iterable[str]) -> list[str]:
    """person_id of records nobody could be found for: a pseudonym of the record itself."""
    return [pseudonym(key, f"record:{s}:{r}") for s, r in zip(sources, record_keys, strict=True)]
