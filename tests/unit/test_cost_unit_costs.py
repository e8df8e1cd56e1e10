"""The unit-cost table: the shipped one prices every setting, and a bad one is refused."""

from __future__ import annotations

import csv
import io

import pytest

from openphm.cost.unit_costs import (
    COLUMNS,
    DEFAULT_UNIT_COSTS,
    MAX_PENCE,
    UnitCostsError,
    load_unit_costs,
)
from openphm.model import SETTINGS


def test_every_setting_is_priced_for_emergency_and_planned_care():
    rows = load_unit_costs().rows
    for setting in SETTINGS:
        for emergency in ("yes", "no"):
            fits = [r for r in rows if r.setting == setting and r.emergency in ("*", emergency)]
            assert any(r.service == "*" for r in fits), (setting, emergency)


def test_every_figure_says_where_it_comes_from():
    table = load_unit_costs()
    assert table.file == "unit_costs.csv"
    for row in table.rows:
        assert row.approximate, f"{row.item}: the shipped figures are rounded headline figures"
        assert len(row.source) > 40 and row.licence
        assert any(
            s in row.source
            for s in ("PSSRU", "National Cost Collection", "Adult Social", "assumption")
        )
    gp = next(r for r in table.rows if r.item == "gp_consultation")
    assert (gp.pence, gp.unit, gp.quantity_centi) == (447, "minute", 922)


def rows_text(change=None):
    """The shipped table's text, with one cell of its first row changed."""
    text = DEFAULT_UNIT_COSTS.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    if change:
        rows[0] |= change
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"setting": "dentist"}, r"line 2, column setting: 'dentist' is not a setting"),
        ({"pence": "4.47"}, r"line 2, column pence: '4.47' is not a whole number of pence"),
        ({"pence": str(MAX_PENCE + 1)}, r"column pence"),
        ({"pence": "0"}, r"column pence"),
        ({"quantity": "9.225"}, r"column quantity: '9.225' is not a number above zero"),
        ({"quantity": "0"}, r"column quantity"),
        ({"unit": "fortnight"}, r"column unit: 'fortnight'"),
        ({"unit": "week"}, r"column unit: 'week' is not a contact's unit"),
        ({"quantity_per": "year"}, r"column quantity_per: 'year'"),
        ({"emergency": "maybe"}, r"column emergency: 'maybe'"),
        ({"activity_type": "consultation"}, r"column activity_type: 'consultation'"),
        ({"item": "GP consultation"}, r"column item: 'GP consultation'"),
        ({"approximate": "roughly"}, r"column approximate: 'roughly'"),
        ({"source": ""}, r"column source: '' is not empty: every figure says where"),
        ({"licence": " "}, r"column licence"),
        ({"setting": "community"}, r"line 3: setting 'community', .* already priced on line 2"),
    ],
)
def test_a_bad_row_is_refused_naming_file_line_column_and_value(tmp_path, change, message):
    path = tmp_path / "costs.csv"
    path.write_text(rows_text(change))
    with pytest.raises(UnitCostsError, match=r"^costs\.csv") as caught:
        load_unit_costs(path)
    assert caught.match(message)


def test_a_table_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text(rows_text().replace("quantity_per", "per", 1))
    with pytest.raises(UnitCostsError, match=r"costs\.csv line 1: the columns must be"):
        load_unit_costs(path)
    path.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(UnitCostsError, match=r"costs\.csv: no unit costs"):
        load_unit_costs(path)
    lines = rows_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(UnitCostsError, match=r"already priced on line 2"):
        load_unit_costs(path)
