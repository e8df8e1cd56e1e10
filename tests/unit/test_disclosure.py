"""The disclosure gate's rules at their edges (the spec tests run it on Spark too)."""

import ibis
import pytest
from pydantic import ValidationError

from openphm import disclosure, engine
from openphm.disclosure import DisclosurePolicy, GatedTable, Rate, gate


@pytest.mark.parametrize(
    ("count", "published"),
    [(0, 0), (1, None), (6, None), (7, None), (8, 10), (12, 10), (13, 15), (17, 15), (18, 20)],
)
def test_suppression_and_rounding_edges(duckdb_con, count, published):
    # As ehrQL's disclosure-control test: 6 -> suppressed, 7 -> suppressed, 8 -> 10.
    cells = engine.scratch_table(duckdb_con, "c", ibis.memtable({"k": ["a"], "n": [count]}))
    out = gate("t", cells, keys=["k"], counts=["n"]).table.execute()
    value = out["n"].iat[0]
    assert (None if value != value or value is None else int(value)) == published


def test_the_nhs_defaults_are_named_constants():
    assert disclosure.SUPPRESSION_THRESHOLD == 7
    assert disclosure.ROUNDING_MULTIPLE == 5
    policy = DisclosurePolicy()
    assert (policy.enabled, policy.suppression_threshold, policy.rounding_multiple) == (True, 7, 5)


def test_turning_it_off_needs_a_reason():
    with pytest.raises(ValidationError, match="disabled_reason"):
        DisclosurePolicy(enabled=False)
    assert not DisclosurePolicy(enabled=False, disabled_reason="stays in the TRE").enabled


def test_a_disabled_gate_passes_counts_through_and_says_why(duckdb_con):
    cells = engine.scratch_table(duckdb_con, "c", ibis.memtable({"k": ["a", "b"], "n": [3, 12]}))
    policy = DisclosurePolicy(enabled=False, disabled_reason="stays in the TRE")
    gated = gate("t", cells, keys=["k"], counts=["n"], policy=policy)
    assert sorted(gated.table.execute()["n"]) == [3, 12]
    assert gated.decisions == {"enabled": False, "disabled_reason": "stays in the TRE"}


def test_a_stricter_policy_is_honoured(duckdb_con):
    cells = engine.scratch_table(duckdb_con, "c", ibis.memtable({"k": ["a", "b"], "n": [9, 11]}))
    policy = DisclosurePolicy(suppression_threshold=10, rounding_multiple=10)
    out = gate("t", cells, keys=["k"], counts=["n"], policy=policy).table.execute()
    assert out.set_index("k")["n"].isna().to_dict() == {"a": True, "b": False}
    assert out.set_index("k")["n"]["b"] == 10


def test_rates_come_from_rounded_counts(duckdb_con):
    data = {"k": ["a"], "num": [12], "den": [103]}
    cells = engine.scratch_table(duckdb_con, "c", ibis.memtable(data))
    gated = gate("t", cells, keys=["k"], counts=["num", "den"], rates={"pct": Rate("num", "den")})
    # 12 -> 10 and 103 -> 105, so 10 / 105, not 12 / 103.
    assert gated.table.execute()["pct"].iat[0] == pytest.approx(100 * 10 / 105)


def test_only_the_gate_makes_gated_tables():
    with pytest.raises(TypeError, match="disclosure.gate"):
        GatedTable("t", ibis.memtable({"n": [1]}), ("k",), ("n",), {}, {})


def test_bad_arguments_name_the_column(duckdb_con):
    cells = engine.scratch_table(duckdb_con, "c", ibis.memtable({"k": ["a"], "n": [1], "x": [0.5]}))
    with pytest.raises(KeyError, match="'missing'"):
        gate("t", cells, keys=["k"], counts=["missing"])
    with pytest.raises(TypeError, match="'x' is float64"):
        gate("t", cells, keys=["k"], counts=["x"])
    with pytest.raises(KeyError, match="margin 'n'"):
        gate("t", cells, keys=["k"], counts=["n"], margins=["n"])
    with pytest.raises(KeyError, match="rate 'r' uses 'x'"):
        gate("t", cells, keys=["k"], counts=["n"], rates={"r": Rate("x", "n")})
