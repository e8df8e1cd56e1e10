"""Costing-feed matching on a synthetic ICS, measured against the truth it was generated from.

A small ICS through ingest and link on DuckDB, then the shipped matching rules. The
generator wrote, for every feed row, how it can be matched (``truth/costing_feed_links``:
MATCH 'key' for the 88% that carry their source key, 'nhs_date' for the 10% with only an
NHS number and a date, 'none' for the 2% moved far from any encounter or given an NHS
number nobody in the ICS has) and the record it came from (SOURCE_FILE, SOURCE_KEY).

- 'key' rows whose record survived ingest must find exactly that record's encounter
  (an episode's spell for admitted care): no judgement is involved.
- 'nhs_date' rows must find their own encounter in at least ``MIN_NHS_DATE_RIGHT`` of
  cases. They cannot all: a person with two community contacts, or an A&E attendance
  and the emergency admission it led to, on one day at one provider, gives a test or a
  contact two equally good homes (about 4% in the 20,000-person demo; the person is
  right either way). They must never find another person's encounter.
- 'none' rows must stay unmatched.
- Every input row comes out once; matched plus unmatched rows are each feed's rows.
"""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.cost.matching import UNMATCHED, load_rules, match_feeds, match_rates
from openphm.ingest import stage as ingest
from openphm.link import stage as link
from openphm.runner import run_stage
from openphm.synth import generate
from tests.e2e.workspaces import configure_sources

PEOPLE = 1_500
MIN_NHS_DATE_RIGHT = 0.92
# Each source file's key as the encounter_id ingest builds for it (apc: via its episode).
PREFIX = {
    "extracts/hes_op": "op:",
    "extracts/ecds": "ae:",
    "extracts/community_contacts": "community:",
    "extracts/mental_health_contacts": "mental_health:",
    "extracts/ambulance_incidents": "ambulance:",
}


@pytest.fixture(scope="module")
def matched(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, people=PEOPLE, seed=5)
    ws = configure_sources(tmp_path_factory.mktemp("ws"), out)
    for stage in (ingest.STAGE, link.STAGE):
        run_stage(ws, stage)
    activity, encounter, episode = (ws.table(t) for t in ("activity", "encounter", "episode"))
    result = match_feeds(activity, encounter, load_rules(), episode=episode)
    frame = result.to_pandas()
    rates = match_rates(result).to_pandas()
    inputs = activity.group_by("source").aggregate(n=activity.count()).to_pandas()
    encounters = encounter.select("encounter_id", "person_id").to_pandas()
    spells = episode.select("episode_id", "encounter_id").to_pandas()
    truth = pd.read_parquet(out / "truth" / "costing_feed_links.parquet")
    ws.close()
    return frame, rates, inputs, encounters, spells, truth


@pytest.fixture(scope="module")
def judged(matched):
    """Each feed row beside the encounter it truly came from (None if ingest dropped it)."""
    frame, _, _, encounters, spells, truth = matched
    spell_of = dict(zip(spells.episode_id, spells.encounter_id, strict=True))
    key = truth.SOURCE_KEY.astype(str)
    true = [
        spell_of.get(k) if f == "extracts/hes_apc" else PREFIX[f] + k
        for f, k in zip(truth.SOURCE_FILE, key, strict=True)
    ]
    truth = truth.assign(activity_id=truth.RECORD_ID.astype(str), true_encounter=true)
    rows = frame.merge(truth[["activity_id", "MATCH", "true_encounter"]], on="activity_id")
    assert len(rows) == len(frame), "every feed row is in the generator's truth"
    known = set(encounters.encounter_id)
    rows["exists"] = rows.true_encounter.isin(known)
    person = dict(zip(encounters.encounter_id, encounters.person_id, strict=True))
    rows["right"] = rows.encounter_id == rows.true_encounter
    rows["same_person"] = rows.encounter_id.map(person) == rows.true_encounter.map(person)
    return rows


def test_every_row_comes_out_once_and_feeds_reconcile(matched):
    frame, rates, inputs, *_ = matched
    assert frame.activity_id.is_unique
    out = frame.groupby("source").size()
    assert out.to_dict() == dict(zip(inputs.source, inputs.n, strict=True))
    # match_rates: rows per (provider, feed, rule) add up to the feed; shares to one.
    per_feed = rates.groupby("source")["rows"].sum()
    assert per_feed.to_dict() == out.to_dict()
    shares = rates.groupby(["provider_code", "source"])["share"].sum()
    assert shares.round(9).eq(1.0).all()
    assert set(frame.match_rule[frame.encounter_id.isna()]) == {UNMATCHED}
    assert not frame.match_rule[frame.encounter_id.notna()].eq(UNMATCHED).any()


def test_rows_with_their_key_find_exactly_their_record(judged):
    keyed = judged[(judged.MATCH == "key") & judged.exists]
    assert len(keyed) > 10_000
    assert keyed.right.all(), keyed.loc[~keyed.right, "match_rule"].value_counts().to_dict()
    assert keyed.match_rule.str.endswith("_key").all()


def test_rows_with_only_nhs_number_and_date_find_their_encounter(judged):
    rows = judged[(judged.MATCH == "nhs_date") & judged.exists]
    assert len(rows) > 1_000
    assert rows.right.mean() >= MIN_NHS_DATE_RIGHT, rows.right.mean()
    matched = rows[rows.encounter_id.notna()]
    assert matched.same_person.all(), "a date match never crosses to another person"
    assert not rows.match_rule.str.endswith("_key").any()


def test_rows_that_match_nothing_stay_unmatched(judged):
    rows = judged[judged.MATCH == "none"]
    assert len(rows) > 100
    assert rows.encounter_id.isna().all()
    assert rows.match_rule.eq(UNMATCHED).all()
