"""Provider spells and continuous inpatient (CIP) spells from admitted-care episodes.

HES and SUS send admitted patient care as episodes: one per consultant, so one
stay in hospital is often several rows. Counting admissions, lengths of stay or
readmissions needs two groupings, both from NHS Digital's (then HSCIC's)
*Provider Spells Methodology* (2014, content.digital.nhs.uk/media/11859/
Provider-Spells-Methodology/pdf/Spells_Methodology.pdf):

1. A **provider spell** is one stay with one provider: the episodes of one
   person at one provider that carry the same provider spell number (HES
   PROVSPNOPS). Where the number is missing, the episodes of that person at that
   provider with the same admission date: the methodology's own fallback, and the
   only grouping HES as NHS Digital publishes it allows (its extracts, the
   artificial HES among them, carry no PROVSPNOPS; ``tests/spec/test_hes.py``).
   The spell starts on the admission date of its first episode (lowest EPIORDER;
   the earliest start where EPIORDER is missing) and ends on the discharge date of
   its last; it has no end while its last episode has no discharge date.
2. A **continuous inpatient spell** chains provider spells across providers, so
   a transfer from one trust to another is one stay in hospital, not a discharge
   and a readmission. Taking a person's spells in order of start, a spell
   continues the chain of the spell before it when it starts 0 to
   ``MAX_GAP_DAYS`` days after that spell's discharge, and the move was a
   transfer: the earlier spell discharged to another hospital
   (``TRANSFER_DISCHARGE_DESTINATIONS``), or this spell was admitted from one
   (``TRANSFER_ADMISSION_SOURCES``) or by a transfer admission method
   (``TRANSFER_ADMISSION_METHODS``); unless the codes say the patient went home
   and came back as an emergency (``HOME_THEN_EMERGENCY``).

The code lists, the 0-2 day window and the home-then-emergency exception are
taken from UKHSA's implementation of that methodology, the R package epidm
(``cip_spells``, github.com/alexbhatt/epidm, R/continuous_inpatient_spells.R);
the NHS Digital document itself is archived at webarchive.nationalarchives.gov.uk
and was not read for this module. The lists are the Data Dictionary's "NHS other
hospital provider" codes (49-53) plus non-NHS secure and other hospitals (84 on
discharge, 87 on admission). Other published pipelines use narrower lists (51-53
only: the Health Foundation's HES_pipeline, the BHF Data Science Centre's
SCORE-CVD) or a window of up to 3 days, so the lists are named constants here,
in one place.

Assumptions, where the methodology or the input leaves a gap:

- Regular day and night attenders (patient classification 3 and 4) are left out
  of CIP chains by the methodology; the input has no patient classification, so
  they are not excluded here.
- A spell that overlaps the one before it (starts before that one's discharge)
  starts a new chain: the window is 0 to ``MAX_GAP_DAYS`` days, not "at most".
- A spell still in hospital (no discharge date) ends its chain: nothing can be
  measured from a discharge that has not happened, and its chain has no end.
- ``provider_code``, ``person_key`` and ``episode_key`` are never null (a row
  with a null one would lose its spell in the join: the HES mapper gives an episode
  with no person key its spell number, else its own episode key, so it is a spell of
  its own rather than anyone else's), and provider codes are ODS
  codes, which hold no hyphen, so the two id forms below cannot collide.

Identifiers are readable and never hold a person's key (which may be an NHS
number): ``{provider}-s{spell number}`` for a numbered spell, and
``{provider}-e{first episode key}`` for a spell grouped by admission date, or
for a spell number that more than one person carries at a provider (a data
error that must not merge two people). A CIP spell takes the id of its first
provider spell.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from openphm import engine

# A spell continues a chain when it starts this many days or fewer after the
# previous spell's discharge (0 = the same day).
MAX_GAP_DAYS = 2

# DISCHARGE DESTINATION: NHS other hospital provider (49 high security
# psychiatric, 50 medium secure, 51 general ward, 52 maternity or neonatal,
# 53 mental illness or learning disability) and 84 non-NHS medium secure unit.
TRANSFER_DISCHARGE_DESTINATIONS = ("49", "50", "51", "52", "53", "84")

# ADMISSION SOURCE: the same NHS other hospital provider wards (49-53) and
# 87 non-NHS run hospital.
TRANSFER_ADMISSION_SOURCES = ("49", "50", "51", "52", "53", "87")

# ADMISSION METHOD: 2B emergency transfer of an admitted patient from another
# hospital provider; 81 transfer from another provider other than in an emergency.
TRANSFER_ADMISSION_METHODS = ("2B", "81")

# Not a transfer, whatever the admission source says: discharged to the usual
# place of residence (19), then an emergency admission (21) recorded as from
# another NHS hospital's general ward (51).
HOME_THEN_EMERGENCY = {
    "discharge_destination": "19",
    "admission_source": "51",
    "admission_method": "21",
}

SPELL_COLUMNS = ("spell_id", "spell_start", "spell_end", "cip_spell_id", "cip_start", "cip_end")


def group_spells(episodes: ir.Table) -> ir.Table:
    """Every episode with its provider spell and continuous inpatient spell.

    Adds ``spell_id``, ``spell_start``, ``spell_end``, ``cip_spell_id``,
    ``cip_start`` and ``cip_end``; rows and input columns are unchanged.
    """
    with_ids = episodes.mutate(spell_id=_spell_id(episodes))
    spells = _provider_spells(with_ids)
    chained = _chain(spells).select("spell_id", *SPELL_COLUMNS[1:])
    joined = with_ids.join(chained, "spell_id")
    return joined.select(*episodes.columns, *SPELL_COLUMNS)


def _spell_id(t: ir.Table) -> ir.StringValue:
    number = t.provider_spell_number
    fallback_date = ibis.ifelse(number.isnull(), t.admission_date, ibis.null("date"))
    spell = [t.provider_code, t.person_key, number, fallback_date]
    first_key = t.episode_key.min().over(group_by=spell)
    same_number = [t.provider_code, number]
    shared = t.person_key.min().over(group_by=same_number) != t.person_key.max().over(
        group_by=same_number
    )
    by_number = t.provider_code + "-s" + number
    by_episode = t.provider_code + "-e" + first_key
    return ibis.ifelse(number.notnull() & ~shared, by_number, by_episode)


def _provider_spells(t: ir.Table) -> ir.Table:
    """One row per provider spell: its start and how it began from its first
    episode, its end and where the patient went from its last."""
    order = engine.sort_keys(t.episode_order, t.episode_start)
    latest = engine.sort_keys(t.episode_order, t.episode_start, descending=True)
    t = t.mutate(
        _first=engine.row_number([t.spell_id], order, [t.episode_key]),
        _last=engine.row_number([t.spell_id], latest, [t.episode_key]),
    )
    first = t.filter(t._first == 1).select(
        "spell_id",
        "person_key",
        "admission_source",
        "admission_method",
        spell_start=t.admission_date,
    )
    last = t.filter(t._last == 1).select(
        "spell_id", "discharge_destination", spell_end=t.discharge_date
    )
    return first.join(last, "spell_id")


def _chain(s: ir.Table) -> ir.Table:
    """Number each person's chains of transfers and label every spell with its chain."""
    s = s.mutate(
        _seq=engine.row_number(
            [s.person_key], engine.sort_keys(s.spell_start, s.spell_end), [s.spell_id]
        )
    )
    in_order = ibis.window(group_by=s.person_key, order_by=s._seq)
    prev_end = s.spell_end.lag().over(in_order)
    prev_destination = s.discharge_destination.lag().over(in_order)
    gap = engine.epoch_days(s.spell_start) - engine.epoch_days(prev_end)
    transfer = (
        _is_in(prev_destination, TRANSFER_DISCHARGE_DESTINATIONS)
        | _is_in(s.admission_source, TRANSFER_ADMISSION_SOURCES)
        | _is_in(s.admission_method, TRANSFER_ADMISSION_METHODS)
    )
    went_home = (
        _is_in(prev_destination, [HOME_THEN_EMERGENCY["discharge_destination"]])
        & _is_in(s.admission_source, [HOME_THEN_EMERGENCY["admission_source"]])
        & _is_in(s.admission_method, [HOME_THEN_EMERGENCY["admission_method"]])
    )
    continues = gap.between(0, MAX_GAP_DAYS).fill_null(False) & transfer & ~went_home
    s = s.mutate(_new=ibis.ifelse(continues, 0, 1))
    so_far = ibis.cumulative_window(group_by=s.person_key, order_by=s._seq)
    s = s.mutate(_chain=s._new.sum().over(so_far))
    chain = [s.person_key, s._chain]
    # Only a chain's last spell can lack an end (a spell with none starts no gap).
    complete = s.spell_end.count().over(group_by=chain) == s.spell_id.count().over(group_by=chain)
    return s.mutate(
        cip_spell_id=s.spell_id.first().over(group_by=chain, order_by=s._seq),
        cip_start=s.spell_start.min().over(group_by=chain),
        cip_end=ibis.ifelse(complete, s.spell_end.max().over(group_by=chain), ibis.null("date")),
    )


def _is_in(value: ir.StringValue, codes) -> ir.BooleanValue:
    """Membership with NULL meaning "no": a missing code is never a transfer."""
    return value.isin(list(codes)).fill_null(False)
