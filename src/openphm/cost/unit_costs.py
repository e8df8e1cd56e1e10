"""Care with no provider ledger, costed from a published unit-cost table kept as data.

The provider ledgers an ICS holds rarely cover everything its population uses: GP
practices, local authority social care, often community, mental health and ambulance
services, and any hospital outside the ICS. Their encounters are costed here from
``unit_costs.csv`` (PSSRU/CHE *Unit Costs of Health and Social Care*, NHS England's
*National Cost Collection* national schedule, the *Adult Social Care Activity and
Finance Report*), each figure with its source, licence and whether it is approximate,
and every output row says so: ``basis = "unit_cost"``, ``unit_cost_item``,
``unit_cost_source``.

One row of the table prices encounters of one ``setting``, optionally narrowed to a
``service`` (the encounter's ``treatment_function``: social care's service type) and to
emergency or planned care (``emergency`` yes/no); ``*`` matches anything, and the most
specific row wins. ``pence`` is the cost of one ``unit``; ``quantity`` the units one
encounter uses (``quantity_per = contact``), or one week of a service uses
(``quantity_per = week``: social care packages, costed by the day they run in each
financial year). Money stays in integer pence: quantities are held in hundredths and
each encounter's (or encounter-year's) cost is rounded half up once, in integers, so
every engine gives the same pennies.

Assumptions where the issue is silent:

- Only encounters at a provider with no ledger for that financial year are costed
  here; a provider with a ledger is costed from it by the cost stage.
- A contact the patient did not attend (``attended`` false) is not costed: the unit
  costs are of care given. Contacts are dated by their start date.
- The years costed are those of ``ledger_providers`` (the costing period) unless
  ``years`` says otherwise; a service with no end date runs to the end of the last
  of them.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir

from openphm import engine
from openphm.model import ACTIVITY_TYPES, SETTINGS

__all__ = [
    "BASIS",
    "DEFAULT_UNIT_COSTS",
    "UnitCost",
    "UnitCosts",
    "UnitCostsError",
    "cost_by_unit",
    "financial_year",
    "with_gp_contacts",
    "load_unit_costs",
]

DEFAULT_UNIT_COSTS = Path(__file__).with_name("unit_costs.csv")
BASIS = "unit_cost"  # the basis column of every row costed here
ANY = "*"
UNITS = ("contact", "minute", "hour", "day", "week")
QUANTITY_PER = ("contact", "week")
EMERGENCY = {ANY: None, "yes": True, "no": False}
YES_NO = ("yes", "no")
#: No unit cost above £100,000 a unit: a figure that large is a typing slip (pounds
#: entered as pence would be a hundredth; pence as pounds a hundred times too much).
MAX_PENCE = 10_000_000
COLUMNS = (
    "setting",
    "service",
    "emergency",
    "item",
    "resource",
    "activity_type",
    "unit",
    "pence",
    "quantity",
    "quantity_per",
    "approximate",
    "source",
    "licence",
)
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")  # hundredths at most: held exactly
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FY = re.compile(r"^([0-9]{4})/([0-9]{2})$")


class UnitCostsError(ValueError):
    """A unit-cost table that cannot be used, naming the file, line, column and value."""


@dataclasses.dataclass(frozen=True)
class UnitCost:
    """One row of the unit-cost table (``quantity_centi``: the quantity in hundredths)."""

    setting: str
    service: str
    emergency: str
    item: str
    resource: str
    activity_type: str
    unit: str
    pence: int
    quantity_centi: int
    quantity_per: str
    approximate: bool
    source: str
    licence: str


@dataclasses.dataclass(frozen=True)
class UnitCosts:
    """The unit-cost rows, the file they came from and a fingerprint of its text."""

    rows: tuple[UnitCost, ...]
    file: str
    fingerprint: str

    def table(self) -> ir.Table:
        """The rows as an engine table (a small memtable with an explicit schema)."""
        names = [f.name for f in dataclasses.fields(UnitCost)]
        data = {n: [getattr(r, n) for r in self.rows] for n in names}
        schema = {n: "string" for n in names} | {
            "pence": "int64",
            "quantity_centi": "int64",
            "approximate": "boolean",
        }
        return ibis.memtable(data, schema=schema)


# --- reading the table -------------------------------------------------------------------


def load_unit_costs(path: Path | None = None) -> UnitCosts:
    """The unit-cost table (the shipped ``unit_costs.csv`` by default), checked."""
    path = Path(path) if path is not None else DEFAULT_UNIT_COSTS
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UnitCostsError(f"{path}: cannot read the unit costs ({exc.strerror})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        raise UnitCostsError(
            f"{path.name} line 1: the columns must be {list(COLUMNS)}, not {list(header)}"
        )
    rows = []
    for line, raw in enumerate(reader, start=2):
        rows.append(_row(path.name, line, raw))
    if not rows:
        raise UnitCostsError(f"{path.name}: no unit costs")
    seen: dict[tuple[str, str, str], int] = {}
    for line, row in enumerate(rows, start=2):
        selector = (row.setting, row.service, row.emergency)
        if selector in seen:
            raise UnitCostsError(
                f"{path.name} line {line}: setting {row.setting!r}, service {row.service!r}, "
                f"emergency {row.emergency!r} are already priced on line {seen[selector]}; "
                "one row per selector, or the choice between them would be arbitrary"
            )
        seen[selector] = line
    items = [r.item for r in rows]
    repeated = sorted({i for i in items if items.count(i) > 1})
    if repeated:
        raise UnitCostsError(f"{path.name}: item(s) {repeated} appear on more than one row")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return UnitCosts(rows=tuple(rows), file=path.name, fingerprint=digest)


def _row(file: str, line: int, raw: dict) -> UnitCost:
    if None in raw or any(v is None for v in raw.values()):
        raise UnitCostsError(f"{file} line {line}: expected {len(COLUMNS)} cells")
    cell = {k: v.strip() for k, v in raw.items()}

    def bad(column: str, expected: str) -> UnitCostsError:
        return UnitCostsError(
            f"{file} line {line}, column {column}: {cell[column]!r} is not {expected}"
        )

    if cell["setting"] not in SETTINGS:
        raise bad("setting", f"a setting ({', '.join(SETTINGS)})")
    if cell["service"] != ANY and not cell["service"]:
        raise bad("service", f"a service (treatment_function) or {ANY!r} for any")
    if cell["emergency"] not in EMERGENCY:
        raise bad("emergency", "'yes', 'no' or '*'")
    for column in ("item", "resource"):
        if not _NAME.match(cell[column]):
            raise bad(column, "a lower snake case name")
    if cell["activity_type"] not in ACTIVITY_TYPES:
        raise bad("activity_type", f"an activity type ({', '.join(ACTIVITY_TYPES)})")
    if cell["unit"] not in UNITS:
        raise bad("unit", f"one of {', '.join(UNITS)}")
    if not cell["pence"].isdigit() or not 0 < int(cell["pence"]) <= MAX_PENCE:
        raise bad("pence", f"a whole number of pence from 1 to {MAX_PENCE:,} (no decimals)")
    if not _QUANTITY.match(cell["quantity"]) or _centi(cell["quantity"]) == 0:
        raise bad("quantity", "a number above zero with at most two decimal places")
    if cell["quantity_per"] not in QUANTITY_PER:
        raise bad("quantity_per", f"one of {', '.join(QUANTITY_PER)}")
    if cell["quantity_per"] == "contact" and cell["unit"] in ("day", "week"):
        raise bad("unit", "a contact's unit: per day or week prices need quantity_per = week")
    if cell["approximate"] not in YES_NO:
        raise bad("approximate", "'yes' or 'no'")
    for column in ("source", "licence"):
        if not cell[column]:
            raise bad(column, "empty: every figure says where it comes from and on what terms")
    return UnitCost(
        setting=cell["setting"],
        service=cell["service"],
        emergency=cell["emergency"],
        item=cell["item"],
        resource=cell["resource"],
        activity_type=cell["activity_type"],
        unit=cell["unit"],
        pence=int(cell["pence"]),
        quantity_centi=_centi(cell["quantity"]),
        quantity_per=cell["quantity_per"],
        approximate=cell["approximate"] == "yes",
        source=cell["source"],
        licence=cell["licence"],
    )


def _centi(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


# --- financial years ---------------------------------------------------------------------


def financial_year(day: ir.DateValue) -> ir.StringValue:
    """'2023/24' for any date from 1 April 2023 to 31 March 2024."""
    first = day.year() - (day.month() < 4).cast("int32")
    second = (first + 1) % 100
    pad = ibis.cases((second < 10, "0"), else_="")
    return first.cast("string") + "/" + pad + second.cast("string")


def _year_bounds(year: str) -> tuple[date, date]:
    match = _FY.match(year)
    first = int(match.group(1)) if match else -1
    if not match or (first + 1) % 100 != int(match.group(2)):
        raise UnitCostsError(f"financial year {year!r} is not of the form '2023/24'")
    return date(first, 4, 1), date(first + 1, 3, 31)


# --- costing -----------------------------------------------------------------------------


def cost_by_unit(
    encounter: ir.Table,
    unit_costs: UnitCosts,
    ledger_providers: ir.Table,
    *,
    years: Sequence[str] | None = None,
) -> ir.Table:
    """Encounters at providers with no ledger for the year, costed from the unit-cost table.

    Columns: encounter_id, person_id, provider_code, setting, financial_year, resource,
    activity_type, cost_pence (int64), basis ("unit_cost"), unit_cost_item,
    unit_cost_source. A contact gives one row, in the year of its start date; a service
    priced by the week gives one row per financial year it runs in, for its days in
    that year (start and end dates both counted). ``ledger_providers`` holds the
    (provider_code, financial_year) pairs that have a ledger; the years costed are its
    years unless ``years`` is given. Encounters no row prices are left out: the table
    ships a ``*`` row for every setting, so with it none is.
    """
    lp = ledger_providers.select("provider_code", "financial_year").distinct()
    if years is None:
        fy = lp.select(_fy=lp.financial_year).distinct()
    else:
        for year in years:
            _year_bounds(year)
        fy = ibis.memtable({"_fy": sorted(set(years))}, schema={"_fy": "string"})
    first_year = fy._fy.substr(0, 4).cast("int32")
    fy = fy.mutate(_fy_start=ibis.date(first_year, 4, 1), _fy_end=ibis.date(first_year + 1, 3, 31))
    enc = encounter.filter(
        encounter.start_date.notnull() & (encounter.attended != False).fill_null(True)  # noqa: E712
    )
    priced = _price(enc, unit_costs.table())
    days = engine.epoch_days
    # A contact falls in the year it starts in; a service priced by the week in every
    # year it runs in (a join for the one, a cross join for the other only).
    weekly = priced.filter(priced._u_quantity_per == "week").cross_join(fy)
    contacts = priced.filter(priced._u_quantity_per != "week")
    contacts = contacts.mutate(_cfy=financial_year(contacts.start_date))
    contacts = contacts.join(fy, contacts._cfy == fy._fy).drop("_cfy")
    pairs = weekly.union(contacts.select(*weekly.columns))
    per_week = pairs._u_quantity_per == "week"
    first = ibis.greatest(days(pairs.start_date), days(pairs._fy_start))
    last = ibis.least(days(pairs.end_date).fill_null(days(pairs._fy_end)), days(pairs._fy_end))
    in_year = ibis.cases(
        (per_week, ibis.greatest(last - first + 1, 0)),
        else_=(financial_year(pairs.start_date) == pairs._fy).cast("int64"),
    ).cast("int64")
    pairs = pairs.mutate(_days=in_year).filter(ibis._._days > 0)
    # pence x hundredths of a unit (x days / 7 for a week's quantity), rounded half up once.
    numerator = (
        pairs._u_pence * pairs._u_quantity_centi * ibis.cases((per_week, pairs._days), else_=1)
    )
    denominator = ibis.cases((per_week, 700), else_=100).cast("int64")
    cost = ((numerator * 2 + denominator) // (denominator * 2)).cast("int64")
    rows = pairs.select(
        encounter_id=pairs.encounter_id,
        person_id=pairs.person_id,
        provider_code=pairs.provider_code,
        setting=pairs.setting,
        financial_year=pairs._fy,
        resource=pairs._u_resource,
        activity_type=pairs._u_activity_type,
        cost_pence=cost,
        basis=ibis.literal(BASIS, type="string"),
        unit_cost_item=pairs._u_item,
        unit_cost_source=pairs._u_source,
    )
    return rows.anti_join(
        lp,
        [rows.provider_code == lp.provider_code, rows.financial_year == lp.financial_year],
    )


#: The encounter columns unit costing reads.
PRICED_COLUMNS = (
    "encounter_id",
    "person_id",
    "provider_code",
    "setting",
    "start_date",
    "end_date",
    "attended",
    "treatment_function",
    "is_emergency",
)
GP_CONTACT_PREFIX = "gp_contact:"
UNKNOWN_PRACTICE = "Unknown practice"


def with_gp_contacts(encounter: ir.Table, gp_event: ir.Table) -> ir.Table:
    """The encounters, plus a GP contact for each day a person has coded GP events.

    GP extracts carry coded observations, not consultations: a day with any coded
    event for a person at a practice counts as one contact (the consultation the codes
    were entered in), unless that person already has a GP encounter that day (an OMOP
    office visit). Results filed without a consultation make this an overcount; the
    unit-cost source labels the row as an approximation either way.
    """
    enc = encounter.select(*PRICED_COLUMNS)
    g = gp_event.filter(gp_event.event_date.notnull())
    # One practice a day, the same on every engine (the first code, if two recorded).
    g = g.group_by("person_id", day=g.event_date).aggregate(practice=g.practice_code.min())
    g = g.mutate(practice=g.practice.fill_null(UNKNOWN_PRACTICE))
    seen = enc.filter(enc.setting == "gp").select(_p=enc.person_id, _d=enc.start_date)
    g = g.anti_join(seen, [g.person_id == seen._p, g.day == seen._d])
    contacts = g.select(
        encounter_id=GP_CONTACT_PREFIX + g.person_id + ":" + g.day.cast("string"),
        person_id=g.person_id,
        provider_code=g.practice,
        setting=ibis.literal("gp"),
        start_date=g.day,
        end_date=g.day,
        attended=ibis.literal(True),
        treatment_function=ibis.null("string"),
        is_emergency=ibis.literal(False),
    )
    return enc.union(contacts.cast(enc.schema()))


def _price(enc: ir.Table, table: ir.Table) -> ir.Table:
    """Each encounter with the most specific unit-cost row that prices it."""
    # Prefixed: the encounter has a source column of its own.
    u = table.rename({f"_u_{c}": c for c in table.columns})
    pairs = enc.join(u, enc.setting == u._u_setting)
    fits = ((pairs._u_service == ANY) | (pairs._u_service == pairs.treatment_function)) & (
        (pairs._u_emergency == ANY)
        | ((pairs._u_emergency == "yes") & pairs.is_emergency.fill_null(False))
        | ((pairs._u_emergency == "no") & ~pairs.is_emergency.fill_null(False))
    )
    pairs = pairs.filter(fits)
    specific = [
        (pairs._u_service != ANY).cast("int8").desc(),
        (pairs._u_emergency != ANY).cast("int8").desc(),
    ]
    n = engine.row_number([pairs.encounter_id], specific, tie_break=[pairs._u_item])
    return pairs.mutate(_n=n).filter(ibis._._n == 1)
