"""The link stage: opt-outs, then one pseudonymised person_id for every record.

1. Opt-outs (``optouts``) are applied by NHS number, per the configured purpose.
2. Every valid NHS number becomes ``HMAC-SHA256(key, nhs_number)``.
3. Records that came without an NHS number but with date of birth, sex and
   postcode are matched to the people known by NHS number with Splink
   (``probabilistic``); near misses go to the restricted clerical review file.
   A record linked to someone with a national opt-out is removed too.
4. A record nobody was found for keeps a pseudonym of itself and
   ``link_method = 'unlinked'``: kept and counted, in no person row.
5. ``person`` is built from each person's most authoritative record (the GP
   register first, then the most recent): year and month of birth, never the day;
   LSOA, never the postcode.

The staged tables, with their raw NHS numbers, never enter the warehouse: they
are restricted files that this stage reads and deletes once it has committed.
Only pseudonymised tables reach the warehouse.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from openphm.ingest import staged
from openphm.link import optouts, pseudonym
from openphm.link.probabilistic import CLERICAL_SCHEMA, LinkageSettings, link_records
from openphm.model import SEX_CODES, table_spec
from openphm.runner import Stage, StageInput, StageOutput

LINK_KEY = "\x1f"  # joins source and record key into one Splink record id
LINKABLE = ("date_of_birth", "sex", "postcode")


def _gp_sources(inp: StageInput) -> list[str]:
    return sorted(
        name
        for name, source in inp.config.sources.items()
        if source.layout in optouts.GP_SOURCES_LAYOUTS
    )


def _best_identity(identity: ir.Table) -> ir.Table:
    """Per NHS number, each attribute from the most authoritative record that has it."""
    t = identity.filter(identity.nhs_number.notnull())
    rank = (
        t.record_date.fill_null(ibis.date(1900, 1, 1)).strftime("%Y%m%d")
        + t.source
        + ibis.literal(LINK_KEY)
        + t.record_key
    )
    t = t.mutate(_rank=rank)
    return t.group_by("nhs_number").aggregate(
        **{
            column: t[column].argmax(t._rank, where=t[column].notnull())
            for column in ("date_of_birth", "sex", "postcode", "lsoa_code", "ethnic_category")
        },
        date_of_death=t.date_of_death.max(),
    )


def _identity_numbers(identity: ir.Table) -> ir.Table:
    """(source, record_key) -> the one NHS number its identity rows give; keys whose
    rows disagree give none."""
    t = identity.filter(identity.nhs_number.notnull())
    known = t.group_by(_src=t.source, _rk=t.record_key).aggregate(
        _known=t.nhs_number.min(), _numbers=t.nhs_number.nunique()
    )
    return known.filter(known._numbers == 1).drop("_numbers")


def _numbered(t: ir.Table, numbers: ir.Table) -> ir.Table:
    """Records without an NHS number take the one their own identity row carries.

    An OMOP visit or condition names its person only by record key; the NHS number
    is on the person's identity row. Given it here, before opt-outs, the record is
    linked and opted out as any other; otherwise it would be 'unlinked'.
    """
    lacking = t.filter(t.nhs_number.isnull())
    found = lacking.left_join(
        numbers, (lacking.source == numbers._src) & (lacking.record_key == numbers._rk)
    )
    found = found.mutate(nhs_number=found._known).select(*t.columns)
    return t.filter(t.nhs_number.notnull()).union(found)


def _unnumbered(tables: dict[str, ir.Table]) -> ir.Table:
    """(source, record_key) of every record in a linked table without an NHS number."""
    parts = [
        t.filter(t.nhs_number.isnull()).select("source", "record_key")
        for name, t in tables.items()
        if name.removeprefix(staged.PREFIX) in staged.LINKED
    ]
    return ibis.union(*parts, distinct=True)


def _nhs_map(con_tables: dict[str, ir.Table], key: bytes) -> ir.Table:
    numbers = ibis.union(
        *[
            t.filter(t.nhs_number.notnull()).select("nhs_number")
            for name, t in con_tables.items()
            if name.removeprefix(staged.PREFIX) in staged.LINKED or name.endswith("identity")
        ],
        distinct=True,
    )
    values = sorted(numbers.nhs_number.to_pyarrow().to_pylist())
    frame = pd.DataFrame({"_nhs": values, "_nhs_person": pseudonym.of_nhs_numbers(key, values)})
    return ibis.memtable(frame, schema={"_nhs": "string", "_nhs_person": "string"})


def _probabilistic(identity, spine, unnumbered: ir.Table, settings):
    """Splink over the unnumbered records that carry demographics; (links, clerical, stats)."""
    records = identity.filter(identity.nhs_number.isnull()).semi_join(
        unnumbered, ["source", "record_key"]
    )
    frame = records.select("source", "record_key", *LINKABLE).to_pandas()
    frame["record_key"] = frame["source"] + LINK_KEY + frame["record_key"]
    spine_frame = spine.select(person_key=spine.nhs_number, **{c: spine[c] for c in LINKABLE})
    result = link_records(spine_frame.to_pandas(), frame.drop(columns="source"), settings)
    links = result.links.assign(
        source=lambda f: f.record_key.str.split(LINK_KEY).str[0],
        record_key=lambda f: f.record_key.str.split(LINK_KEY).str[1],
    )
    return links, result.clerical, result


def build(inp: StageInput) -> StageOutput:
    cfg = inp.config
    key = cfg.pseudonymisation.read_key(base=inp.workspace.root if inp.workspace else None)
    purpose = cfg.governance.purpose
    tables = dict(inp.tables)
    opt = tables.pop("staged_opt_out")
    national = optouts.opted_out(opt, optouts.NATIONAL, purpose)
    type_1 = optouts.opted_out(opt, optouts.TYPE_1, purpose)
    gp_sources = _gp_sources(inp)
    counts: dict[str, int] = {}

    identity_all = tables.pop("staged_identity")
    numbered = _identity_numbers(identity_all)
    for name in staged.LINKED:
        tables[staged.PREFIX + name] = _numbered(tables[staged.PREFIX + name], numbered)
    # Splink looks for people with a national opt-out too, so their unnumbered records can be
    # found and removed; GP data of people with a type 1 opt-out is not used at all.
    spine_link = _best_identity(optouts.without_gp(identity_all, type_1, gp_sources))
    kept: dict[str, ir.Table] = {}
    for name, t in tables.items():
        if name.removeprefix(staged.PREFIX) in staged.LINKED:
            after = optouts.without_gp(optouts.without(t, national), type_1, gp_sources)
            kept[name] = after
        else:
            kept[name] = t
    identity = optouts.without_gp(optouts.without(identity_all, national), type_1, gp_sources)

    nhs_map = _nhs_map({**kept, "staged_identity": identity}, key)
    # The unnumbered records are few: fetched once, then used by Splink and the record map.
    records = _unnumbered(kept).to_pandas()
    unnumbered = ibis.memtable(records, schema={"source": "string", "record_key": "string"})
    settings = LinkageSettings(
        threshold=cfg.stages.link.match_threshold,
        clerical_low=cfg.stages.link.clerical_threshold,
    )
    links, clerical, result = _probabilistic(identity, spine_link, unnumbered, settings)
    # Probabilistic links to people with a national opt-out: those records are removed.
    national_numbers = set(national.nhs_number.to_pyarrow().to_pylist())
    opted_link = links.person_key.isin(national_numbers)
    removed_by_link = links[opted_link][["source", "record_key"]]
    links = links[~opted_link]
    matched = records.merge(
        links[["source", "record_key", "person_key"]], on=["source", "record_key"], how="left"
    )
    linked = matched.person_key.notna()
    numbers = matched.person_key[linked].tolist()
    person_ids = pd.Series(index=matched.index, dtype="object")
    person_ids[linked] = pseudonym.of_nhs_numbers(key, numbers)
    person_ids[~linked] = pseudonym.of_records(
        key, matched.source[~linked], matched.record_key[~linked]
    )
    record_map = ibis.memtable(
        pd.DataFrame(
            {
                "_src": matched.source,
                "_rk": matched.record_key,
                "_record_person": person_ids,
                "_method": ["probabilistic" if x else "unlinked" for x in linked],
            }
        ),
        schema={
            "_src": "string",
            "_rk": "string",
            "_record_person": "string",
            "_method": "string",
        },
    )
    removed = ibis.memtable(
        removed_by_link.astype("object"), schema={"source": "string", "record_key": "string"}
    )
    out: dict[str, ir.Table] = {}
    for name in staged.LINKED:
        t = kept[staged.PREFIX + name].anti_join(removed, ["source", "record_key"])
        out[name] = _assign(t, nhs_map, record_map, name)
    encounter_people = out["encounter"].select(
        _enc=out["encounter"].encounter_id, _person=out["encounter"].person_id
    )
    for name in staged.BY_ENCOUNTER:
        t = kept[staged.PREFIX + name]
        joined = t.join(encounter_people, t.encounter_id == encounter_people._enc)
        out[name] = joined.mutate(person_id=joined._person).select(*table_spec(name).names)
    out["person"] = _person(_best_identity(identity), nhs_map)
    counts.update(
        opted_out_national=len(national_numbers),
        opted_out_type_1=type_1.count().to_pyarrow().as_py(),
        removed_after_probabilistic_link=len(removed_by_link),
        probabilistic_records=result.records,
        probabilistic_linked=int(len(links)),
        unlinked_records=int((~linked).sum()),
        clerical_pairs=int(len(clerical)),
    )
    out["link_summary"] = _summary(out["encounter"])
    return StageOutput(
        tables=out,
        restricted={"clerical_review": ibis.memtable(clerical, schema=CLERICAL_SCHEMA)},
        counts={"link": counts, "model": dict(getattr(result, "parameters", None) or {})},
    )


def _assign(t: ir.Table, nhs_map: ir.Table, record_map: ir.Table, name: str) -> ir.Table:
    by_nhs = t.left_join(nhs_map, t.nhs_number == nhs_map._nhs)
    joined = by_nhs.left_join(
        record_map, (by_nhs.source == record_map._src) & (by_nhs.record_key == record_map._rk)
    )
    method = ibis.cases((joined._nhs_person.notnull(), "nhs_number"), else_=joined._method)
    joined = joined.mutate(
        person_id=joined._nhs_person.fill_null(joined._record_person), link_method=method
    )
    return joined.select(*table_spec(name).names)


def _person(spine: ir.Table, nhs_map: ir.Table) -> ir.Table:
    """People known by NHS number who are still in the data after opt-outs."""
    t = spine.join(nhs_map, spine.nhs_number == nhs_map._nhs)
    t = t.filter(t.date_of_birth.notnull())
    sex = ibis.cases((t.sex.isin(list(SEX_CODES)), t.sex), else_="9")
    return t.select(
        person_id=t._nhs_person,
        year_of_birth=t.date_of_birth.year().cast("int16"),
        month_of_birth=t.date_of_birth.month().cast("int8"),
        sex=sex,
        ethnic_category=t.ethnic_category.fill_null("99"),
        lsoa_code=t.lsoa_code,
        date_of_death=t.date_of_death,
    )


def _summary(encounter: ir.Table) -> ir.Table:
    """Encounters by source, setting and how their person was found."""
    return encounter.group_by(["source", "setting", "link_method"]).aggregate(
        encounters=encounter.count()
    )


OUTPUTS = (*staged.LINKED, *staged.BY_ENCOUNTER, "person", "link_summary")

STAGED = tuple(f"ingest/{name}" for name in staged.SCHEMAS)

STAGE = Stage(
    name="link",
    description="apply opt-outs, pseudonymise NHS numbers, link records without one",
    inputs=(),
    outputs=OUTPUTS,
    build=build,
    restricted_inputs=STAGED,
    consumes=STAGED,
)
