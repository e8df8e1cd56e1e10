"""The GP patient register: one demographic row per registered person.

This is the demographic part of a GP extract (or a PDS trace) as an ICS receives
it: who is registered, with their date of birth, sex, ethnicity, address, practice
and date of death. It is the only extract that holds people with no contact, so
ingest builds its ``person`` table from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.arrays import scramble
from openphm.synth.community.common import _date_text, _record_ids
from openphm.synth.community.people import _People
from openphm.synth.community.registrations import _Registrations
from openphm.synth.output import PERSON

# Salt of the PATIENT_ID scramble; the hospital keys use 11 to 53 (hospital/keys.py).
PATIENT_KEY_SALT = 71


def _patients(p: _People, regs: _Registrations) -> dict[str, pd.DataFrame]:
    """``extracts/gp_patients``: everyone in the chunk (all are registered), in person order."""
    local = np.arange(p.n)
    extract = pd.DataFrame(
        {
            # A register's patient id says nothing about the row: a scrambled counter.
            "PATIENT_ID": scramble(_record_ids(p, local), PATIENT_KEY_SALT),
            "NHS_NUMBER": p.nhs,
            "DATE_OF_BIRTH": _date_text(p.dob),
            "SEX": p.sex,
            "ETHNIC_CATEGORY": p.ethnic,
            "POSTCODE": p.postcode,
            "LSOA": p.lsoa,
            "PRACTICE_CODE": regs.codes[regs.last_practice(p.n)],
            "DATE_OF_DEATH": _date_text(p.death),
            PERSON: p.pid,
        }
    )
    return {"extracts/gp_patients": extract}
