"""Probabilistic linkage of records without an NHS number to the person spine.

Small hand-made tables pin each rule; a synthetic ICS of 20,000 people, whose
truth says who every record belongs to, measures precision and recall.
"""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from openphm.link import probabilistic
from openphm.link.probabilistic import LinkageSettings, LinkResult, link_records

# --- hand-made tables ------------------------------------------------------------------------

SPINE = pd.DataFrame(
    {
        "person_key": ["P1", "P2", "P3", "P4", "P5"],
        "date_of_birth": pd.to_datetime(
            ["1950-03-14", "1982-11-02", "1982-11-02", "1999-07-09", "2004-01-09"]
        ),
        "sex": ["1", "1", "2", "2", "1"],
        "postcode": ["ZZ1 5XB", "ZZ2 7AD", "ZZ2 7AD", "ZZ3 1QT", None],
        "lsoa_code": ["E01900001"] * 5,
    }
)


def records(*rows) -> pd.DataFrame:
    """Records from (record_key, date_of_birth, sex, postcode) tuples."""
    return pd.DataFrame(rows, columns=["record_key", "date_of_birth", "sex", "postcode"])


def linked(result: LinkResult) -> dict[str, str]:
    return dict(zip(result.links["record_key"], result.links["person_key"], strict=True))


def test_an_exact_match_links():
    result = link_records(SPINE, records(("R1", "1950-03-14", "1", "ZZ1 5XB")))
    assert linked(result) == {"R1": "P1"}
    assert (result.records, result.unlinked, len(result.clerical)) == (1, 0, 0)
    assert result.links["match_probability"].iat[0] >= LinkageSettings().threshold
    assert list(result.links.columns) == probabilistic.LINK_COLUMNS
    assert list(result.clerical.columns) == probabilistic.CLERICAL_COLUMNS


def test_postcodes_are_compared_without_case_or_spaces():
    result = link_records(SPINE, records(("R1", "1950-03-14", "1", " zz15xb ")))
    assert linked(result) == {"R1": "P1"}


def test_a_postcode_typo_still_links():
    # Unit letters swapped: found through the date of birth, scored as one edit.
    result = link_records(SPINE, records(("R1", "1999-07-09", "2", "ZZ3 1TQ")))
    assert linked(result) == {"R1": "P4"}


@pytest.mark.parametrize(
    "typo",
    [
        "1999-09-07",  # day and month transposed
        "1999-07-10",  # a day out
        "1996-07-09",  # one digit wrong
        "1999-02-30",  # not a date: counts as missing
    ],
)
def test_a_date_of_birth_typo_still_links(typo):
    # Found through the postcode.
    result = link_records(SPINE, records(("R1", typo, "2", "ZZ3 1QT")))
    assert linked(result) == {"R1": "P4"}


def test_a_twin_of_the_other_sex_does_not_mislink():
    # P2 and P3 share a date of birth and a postcode; only sex tells them apart.
    result = link_records(SPINE, records(("R1", "1982-11-02", "2", "ZZ2 7AD")))
    assert linked(result) == {"R1": "P3"}
    assert result.clerical.empty


def test_two_equally_good_candidates_go_to_clerical_review():
    spine = pd.concat(
        [SPINE, SPINE.iloc[[0]].assign(person_key="P1B")], ignore_index=True
    )  # same-sex twins: nothing tells them apart
    result = link_records(spine, records(("R1", "1950-03-14", "1", "ZZ1 5XB")))
    assert result.links.empty
    assert (result.records, result.unlinked) == (1, 1)
    assert sorted(result.clerical["person_key"]) == ["P1", "P1B"]
    assert set(result.clerical["reason"]) == {probabilistic.AMBIGUOUS}


def test_the_ambiguity_margin_follows_the_threshold():
    # Given one of two candidates is the person, the best must be it with the threshold's
    # probability: a weight gap of log2(t / (1 - t)).
    assert LinkageSettings(threshold=0.9).ambiguity_margin == pytest.approx(3.1699, abs=1e-4)
    assert LinkageSettings(threshold=0.99).ambiguity_margin == pytest.approx(6.6294, abs=1e-4)


def test_missing_values_are_no_evidence_and_do_not_crash():
    result = link_records(
        SPINE,
        records(
            ("R1", "2004-01-09", "1", "ZZ9 9ZZ"),  # P5 has no postcode
            ("R2", None, None, None),
            ("R3", "1950-03-14", "9", "ZZ99 3VZ"),  # sex not specified, no fixed abode
        ),
    )
    assert linked(result)["R1"] == "P5"
    assert "R2" not in linked(result)
    assert result.records == 3


def test_a_record_like_nobody_stays_unlinked():
    result = link_records(SPINE, records(("R1", "1930-01-01", "2", "ZZ8 8AA")))
    assert (result.unlinked, len(result.links), len(result.clerical)) == (1, 0, 0)


def test_sex_codes_other_than_1_and_2_count_as_missing():
    spine = SPINE.assign(sex=["X", "1", "2", "9", "1"])
    result = link_records(spine, records(("R1", "1950-03-14", "2", "ZZ1 5XB")))
    assert linked(result) == {"R1": "P1"}


def test_sex_codes_read_as_numbers_still_tell_twins_apart():
    rows = records(("R1", "1982-11-02", 2, "ZZ2 7AD"), ("R2", None, None, None))
    assert rows["sex"].dtype == "float64"  # 2.0 beside a null
    assert linked(link_records(SPINE, rows)) == {"R1": "P3"}


def test_a_record_delivered_twice_counts_once():
    row = ("R1", "1950-03-14", "1", "ZZ1 5XB")
    result = link_records(SPINE, records(row, row))
    assert (result.records, len(result.links)) == (1, 1)


def test_a_record_key_with_two_sets_of_details_is_an_error_without_the_details():
    with pytest.raises(ValueError, match="record_key must identify one record") as info:
        link_records(
            SPINE,
            records(("R1", "1950-03-14", "1", "ZZ1 5XB"), ("R1", "1982-11-02", "2", "ZZ2 7AD")),
        )
    assert not any(v in str(info.value) for v in ("R1", "ZZ1", "1950", "1982"))


@pytest.mark.parametrize("column", ["record_key", "date_of_birth", "sex", "postcode"])
def test_a_missing_record_column_is_named(column):
    frame = records(("R1", "1950-03-14", "1", "ZZ1 5XB")).drop(columns=column)
    with pytest.raises(ValueError, match=f"records is missing column\\(s\\) {column}"):
        link_records(SPINE, frame)


@pytest.mark.parametrize("column", ["person_key", "date_of_birth", "sex", "postcode"])
def test_a_missing_spine_column_is_named(column):
    with pytest.raises(ValueError, match=f"spine is missing column\\(s\\) {column}"):
        link_records(SPINE.drop(columns=column), records(("R1", "1950-03-14", "1", "ZZ1 5XB")))


def test_a_repeated_person_key_is_an_error():
    spine = pd.concat([SPINE, SPINE.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="person_key must be unique, 1 key"):
        link_records(spine, records(("R1", "1950-03-14", "1", "ZZ1 5XB")))


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 1.0}, {"threshold": 0.0}, {"clerical_low": 0.95}, {"seed": 0}, {"seed": 1.5}],
)
def test_settings_are_checked(kwargs):
    with pytest.raises(ValueError, match="LinkageSettings"):
        LinkageSettings(**kwargs)


def test_nothing_to_link_gives_an_empty_result():
    result = link_records(SPINE, records())
    assert (result.records, result.unlinked, len(result.links), len(result.clerical)) == (
        0,
        0,
        0,
        0,
    )


def test_tiny_inputs_use_the_documented_defaults():
    result = link_records(SPINE, records(("R1", "1950-03-14", "1", "ZZ1 5XB")))
    model = result.model
    assert not model.u_sampled and model.em_blocks == ()
    assert model.m["dob"][0] == pytest.approx(probabilistic.DEFAULT_M["dob"][0], rel=1e-6)
    assert model.u["pc"][0] == pytest.approx(probabilistic.DEFAULT_U["pc"][0], rel=1e-6)


def test_no_row_level_value_reaches_a_log_or_the_terminal(caplog, capsys):
    root_handlers = list(logging.getLogger().handlers)
    with caplog.at_level(logging.DEBUG):
        link_records(SPINE, records(("R1", "1950-03-14", "1", "ZZ1 5XB")))
    out = capsys.readouterr()
    assert caplog.records == []
    assert (out.out, out.err) == ("", "")
    assert logging.getLogger().handlers == root_handlers  # Splink configured no logging
    assert logging.getLogger("splink").level == logging.NOTSET  # restored


def test_a_failure_inside_splink_does_not_quote_the_row(monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("Conversion Error: could not convert 'ZZ1 5XB' for 1950-03-14")

    monkeypatch.setattr(probabilistic, "_score", fail)
    with pytest.raises(probabilistic.LinkageError, match="ValueError") as info:
        link_records(SPINE, records(("R1", "1950-03-14", "1", "ZZ1 5XB")))
    assert "ZZ1" not in str(info.value) and "1950" not in str(info.value)
    assert logging.getLogger("splink").level == logging.NOTSET


# --- the synthetic ICS -----------------------------------------------------------------------

FILES = ("ambulance_incidents", "social_care_services")


@pytest.fixture(scope="module")
def ics(tmp_path_factory):
    """(spine, records, truth) from a 20,000-person synthetic ICS: the records are the
    ambulance and social care rows without an NHS number, keyed 'file:id'; truth maps
    each record key to its person's NHS number."""
    from openphm.synth import generate

    root = tmp_path_factory.mktemp("ics")
    generate(root, people=20_000, seed=3)
    people = pd.read_parquet(root / "truth" / "people.parquet")
    spine = people[["nhs_number", "date_of_birth", "sex", "postcode", "lsoa_code"]].rename(
        columns={"nhs_number": "person_key"}
    )
    frames = []
    for name in FILES:
        extract = pd.read_csv(root / "extracts" / f"{name}.csv", dtype=str, keep_default_na=False)
        extract = extract[extract["NHS_NUMBER"] == ""]
        key = extract.columns[0]  # INCIDENT_ID or SERVICE_ID: unique within a file only
        frames.append(
            pd.DataFrame(
                {
                    "file": f"extracts/{name}",
                    "id": extract[key],
                    "record_key": name + ":" + extract[key],
                    "date_of_birth": extract["DATE_OF_BIRTH"],
                    "sex": extract["SEX"],
                    "postcode": extract["POSTCODE"],
                }
            )
        )
    rows = pd.concat(frames, ignore_index=True)  # duplicate rows delivered on purpose stay in
    owners = pd.read_parquet(root / "truth" / "record_person.parquet").merge(
        people[["person_index", "nhs_number"]], on="person_index"
    )
    truth = rows.merge(
        owners, left_on=["file", "id"], right_on=["file", "record_key"], suffixes=("", "_t")
    )
    truth = dict(zip(truth["record_key"], truth["nhs_number"], strict=False))
    return spine, rows[["record_key", "date_of_birth", "sex", "postcode"]], truth


@pytest.fixture(scope="module")
def ics_result(ics) -> LinkResult:
    spine, rows, _ = ics
    return link_records(spine, rows)


def precision_recall(result: LinkResult, truth: dict[str, str]) -> tuple[float, float]:
    correct = int((result.links["person_key"] == result.links["record_key"].map(truth)).sum())
    return correct / max(len(result.links), 1), correct / len(truth)


def test_precision_and_recall_against_the_synthetic_truth(ics, ics_result):
    spine, rows, truth = ics
    assert ics_result.records == rows["record_key"].nunique() == len(truth) > 400
    precision, recall = precision_recall(ics_result, truth)
    summary = (
        f"precision {precision:.4f}, recall {recall:.4f}, {ics_result.records} records, "
        f"{len(ics_result.clerical)} clerical"
    )
    assert precision >= 0.995, summary
    assert recall >= 0.95, summary
    # Fitted, not defaulted: there was enough data for sampling and both EM sessions.
    assert ics_result.model.u_sampled and ics_result.model.em_blocks == ("dob", "pc")


def test_the_result_keeps_its_contract(ics_result):
    links, clerical = ics_result.links, ics_result.clerical
    settings = LinkageSettings()
    assert links["record_key"].is_unique
    assert (links["match_probability"] >= settings.threshold).all()
    assert ics_result.unlinked == ics_result.records - len(links)
    assert not set(clerical["record_key"]) & set(links["record_key"])
    near = clerical[clerical["reason"] == probabilistic.NEAR_THRESHOLD]
    assert len(near) > 0
    assert near["match_probability"].between(settings.clerical_low, settings.threshold).all()
    assert (near["match_probability"] < settings.threshold).all()


def test_the_same_inputs_give_the_same_result(ics, ics_result):
    spine, rows, _ = ics
    again = link_records(spine.sample(frac=1.0, random_state=7), rows.iloc[::-1])
    pd.testing.assert_frame_equal(again.links, ics_result.links)
    pd.testing.assert_frame_equal(again.clerical, ics_result.clerical)
    assert again.model == ics_result.model


def test_the_seed_only_moves_the_u_estimates_a_little(ics, ics_result):
    spine, rows, truth = ics
    other = link_records(spine, rows, LinkageSettings(seed=2))
    assert other.model.u != ics_result.model.u
    assert precision_recall(other, truth)[0] >= 0.995


def test_twins_of_the_other_sex_on_the_spine_do_not_take_the_links(ics, ics_result):
    spine, rows, truth = ics
    people = ics_result.links["person_key"].head(100)
    twins = spine[spine["person_key"].isin(people)].assign(
        person_key=lambda f: "TWIN" + f["person_key"],
        sex=lambda f: f["sex"].map({"1": "2", "2": "1"}),
    )
    result = link_records(pd.concat([spine, twins], ignore_index=True), rows)
    assert not result.links["person_key"].str.startswith("TWIN").any()
    assert precision_recall(result, truth)[0] >= 0.995
    assert set(people) <= set(result.links["person_key"])


def test_a_few_hundred_records_train_without_falling_back(ics):
    spine, rows, truth = ics
    few = rows.drop_duplicates("record_key").iloc[:300]
    result = link_records(spine, few)
    assert result.model.u_sampled and "pc" in result.model.em_blocks
    precision, recall = precision_recall(result, {k: truth[k] for k in few["record_key"]})
    assert precision >= 0.995 and recall >= 0.9
