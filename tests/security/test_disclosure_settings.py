"""Disclosure weakened without a reason (issue 16): ``suppression_threshold = 1`` and
``rounding_multiple = 1`` were accepted silently and published a count of 2."""

from __future__ import annotations

import ibis
import pytest
from pydantic import ValidationError

from openphm.disclosure import DisclosurePolicy, gate


@pytest.mark.parametrize("setting", [{"suppression_threshold": 1}, {"rounding_multiple": 1}])
def test_settings_below_nhs_digitals_need_a_reason(setting):
    with pytest.raises(ValidationError, match="weakened_reason"):
        DisclosurePolicy(**setting)
    with pytest.raises(ValidationError, match="weakened_reason"):
        DisclosurePolicy(**setting, weakened_reason="   ")


def test_stricter_settings_need_none():
    assert not DisclosurePolicy(suppression_threshold=10, rounding_multiple=10).weakened


def test_the_reason_is_recorded_with_every_table_it_let_through():
    why = "counts of 2 agreed with the data owner for an internal audit"
    policy = DisclosurePolicy(suppression_threshold=1, rounding_multiple=1, weakened_reason=why)
    table = ibis.memtable({"place": ["A", "B"], "people": [2, 40]})
    gated = gate("t", table, keys=["place"], counts=["people"], policy=policy)
    assert gated.decisions["weakened_reason"] == why
    assert sorted(gated.table.execute()["people"]) == [2, 40]
    strict = gate("t", table, keys=["place"], counts=["people"])
    assert "weakened_reason" not in strict.decisions
