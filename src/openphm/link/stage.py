"""The link stage: opt-outs, then one pseudonymised person_id for every record.

1. Opt-outs (``optouts``) are applied by NHS number, per the configured purpose.
   A pseudonymised source's records carry none: the workspace declares that the
   supplier applied them (``[governance] opt_outs_applied_upstream``), and ingest
   refuses such a source without it.
2. Every record's person key is its valid NHS number, else ``upstream:`` and the
   upstream pseudonym its source keys people by; its person_id is
   ``HMAC-SHA256(key, person key)``. An NHS number's person_id is the HMAC of the
   number itself, so adding pseudonymised sources changes nobody's id, and records
   of different sources with the same upstream pseudonym are one person.
3. Records that came with neither, but with date of birth, sex and postcode,
   are matched to the people known by a key with Splink (``probabilistic``); near
   misses go to the restricted clerical review file. A record linked to someone
   with a national opt-out is removed too.
4. A record nobody was found for keeps a pseudonym of itself and
   ``link_method = 'unlinked'``: kept and counted, in no person row.
5. ``person`` is built from each person's most authoritative record (the GP
   register first, then the most recent): year and month of birth, never the day;
   LSOA, never the postcode.

The staged tables, with their raw NHS numbers and upstream pseudonyms, never
enter the warehouse: they are restricted files that this stage reads and deletes
once it has committed. Only tables keyed by person_id reach the warehouse; no
upstream pseudonym leaves this stage, not even in the clerical review file.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from openphm.ingest import staged
from openphm.link import optouts, pseudonym
from openphm.link.probabilistic import CLERICAL_SCHEMA, LinkageSettings, link_records
from openphm.model import SEX_CODES, table_spec
from openphm.runner import Stage, StageError, StageInput, StageOutput

LINK_KEY = "\x1f"  # joins source and record key into one Splink record id
LINKABLE = ("date_of_birth", "sex", "postcode")
PSEUDONYM = "pseudonym"


def person_key(t: ir.Table) -> ir.StringValue:
    """A record's person key: its NHS number, else 'upstream:' and its upstream pseudonym
    (a domain no 10-digit number is in); null when it has neither."""
    return t.nhs_number.fill_null(ibis.literal(pseudonym.UPSTREAM) + t.upstream_id)


def _pseudonymised(inp: StageInput) -> list[str]:
    return sorted(n for n, s in inp.config.sources.items() if s.identifier == PSEUDONYM)


def _gp_sources(inp: StageInput) -> list[str]:
    return sorted(
        name
        for name, source in inp.config.sources.items()
        if source.layout in optouts.GP_SOURCES_LAYOUTS
    )


def _best_identity(identity: ir.Table) -> ir.Table:
    """Per person key, each attribute from the most authoritative record that has it."""
    t = identity.mutate(person_key=person_key(identity))
    t = t.filter(t.person_key.notnull())
    rank = (
        t.record_date.fill_null(ibis.date(1900, 1, 1)).strftime("%Y%m%d")
        + t.source
        + ibis.literal(LINK_KEY)
        + t.record_key
    )
    t = t.mutate(_rank=rank)
    return t.group_by("person_key").aggregate(
        **{
            column: t[column].argmax(t._rank, where=t[column].notnull())
            for column in ("date_of_birth", "sex", "postcode", "lsoa_code", "ethnic_category")
        },
        date_of_death=t.date_of_death.max(),
    )


def _identity_numbers(identity: ir.Table) -> ir.Table:
    """(source, record_key) -> the one NHS number and the one upstream pseudonym its
    identity rows give; where its rows disagree on one, that one is not given."""
    t = identity.filter(identity.nhs_number.notnull() | identity.upstream_id.notnull())
    known = t.group_by(_src=t.source, _rk=t.record_key).aggregate(
        _known=t.nhs_number.min(),
        _numbers=t.nhs_number.nunique(),
        _known_upstream=t.upstream_id.min(),
        _upstreams=t.upstream_id.nunique(),
    )
    return known.select(
        "_src",
        "_rk",
        _known=ibis.cases((known._numbers == 1, known._known), else_=ibis.null("string")),
        _known_upstream=ibis.cases(
            (known._upstreams == 1, known._known_upstream), else_=ibis.null("string")
        ),
    )


def _numbered(t: ir.Table, numbers: ir.Table) -> ir.Table:
    """Records with neither NHS number nor upstream pseudonym take those their own
    identity row carries.

    An OMOP visit or condition names its person only by record key; the NHS number
    (or the OMOP person's upstream id) is on the person's identity row. Given it here,
    before opt-outs, the record is linked and opted out as any other; otherwise it
    would be 'unlinked'.
    """
    keyed = t.nhs_number.notnull() | t.upstream_id.notnull()
    lacking = t.filter(~keyed)
    found = lacking.left_join(
        numbers, (lacking.source == numbers._src) & (lacking.record_key == numbers._rk)
    )
    found = found.mutate(nhs_number=found._known, upstream_id=found._known_upstream)
    return t.filter(keyed).union(found.select(*t.columns))


def _unnumbered(tables: dict[str, ir.Table]) -> ir.Table:
    """(source, record_key) of every record in a linked table with no person key."""
    parts = [
        t.filter(person_key(t).isnull()).select("source", "record_key")
        for name, t in tables.items()
        if name.removeprefix(staged.PREFIX) in staged.LINKED
    ]
    return ibis.union(*parts, distinct=True)


def _key_map(con_tables: dict[str, ir.Table], key: bytes) -> ir.Table:
    """Every person key in the records -> its person_id (``_key``, ``_key_person``)."""
    keys = ibis.union(
        *[
            t.select(_key=person_key(t)).filter(ibis._._key.notnull())
            for name, t in con_tables.items()
            if name.removeprefix(staged.PREFIX) in staged.LINKED or name.endswith("identity")
        ],
        distinct=True,
    )
    values = sorted(keys._key.to_pyarrow().to_pylist())
    frame = pd.DataFrame({"_key": values, "_key_person": pseudonym.of_person_keys(key, values)})
    return ibis.memtable(frame, schema={"_key": "string", "_key_person": "string"})


def _probabilistic(identity, spine, unnumbered: ir.Table, settings):
    """Splink over the unnumbered records that carry demographics; (links, clerical, stats)."""
    records = identity.filter(person_key(identity).isnull()).semi_join(
        unnumbered, ["source", "record_key"]
    )
    frame = records.select("source", "record_key", *LINKABLE).to_pandas()
    frame["record_key"] = frame["source"] + LINK_KEY + frame["record_key"]
    spine_frame = spine.select("person_key", *LINKABLE)
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
    by_pseudonym = _pseudonymised(inp)
    if by_pseudonym and not cfg.governance.opt_outs_applied_upstream:
        raise StageError(
            f"source(s) {', '.join(by_pseudonym)} are pseudonymised: opt-outs cannot be applied "
            "to them here; set opt_outs_applied_upstream = true under [governance] only if "
            "the supplier applied the national data opt-out, then run ingest again"
        )
    counts: dict[str, Any] = {}

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

    key_map = _key_map({**kept, "staged_identity": identity}, key)
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
    person_ids[linked] = pseudonym.of_person_keys(key, numbers)
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
        out[name] = _assign(t, key_map, record_map, name)
    encounter_people = out["encounter"].select(
        _enc=out["encounter"].encounter_id, _person=out["encounter"].person_id
    )
    for name in staged.BY_ENCOUNTER:
        t = kept[staged.PREFIX + name]
        joined = t.join(encounter_people, t.encounter_id == encounter_people._enc)
        out[name] = joined.mutate(person_id=joined._person).select(*table_spec(name).names)
    out["person"] = _person(_best_identity(identity), key_map)
    keyed_upstream = _upstream_sources({**tables, "staged_identity": identity_all})
    undeclared = sorted(set(keyed_upstream) - set(by_pseudonym))
    declared = cfg.governance.opt_outs_applied_upstream
    pseudonymised = sorted({*by_pseudonym, *keyed_upstream}) if declared else by_pseudonym
    notes = []
    if pseudonymised:
        notes.append(
            f"Opt-outs were applied upstream for sources {', '.join(pseudonymised)}, as declared "
            "in openphm.toml ([governance] opt_outs_applied_upstream = true): their records "
            "carry no NHS number to apply them by here."
        )
    if undeclared and not declared:
        notes.append(
            f"Sources {', '.join(undeclared)} hold people known only by an upstream id (no NHS "
            "number): opt-outs, applied by NHS number, could not be applied to them. If the "
            "supplier applied them, declare opt_outs_applied_upstream = true under [governance]."
        )
    counts.update(
        opt_outs_applied_upstream=declared,
        pseudonymised_sources=pseudonymised,
        upstream_pseudonym_people=_upstream_people(key_map),
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
        restricted={
            "clerical_review": ibis.memtable(_no_tokens(clerical, key), schema=CLERICAL_SCHEMA)
        },
        counts={"link": counts, "model": dict(getattr(result, "parameters", None) or {})},
        notes=notes,
    )


def _upstream_sources(tables: dict[str, ir.Table]) -> list[str]:
    """Sources with records keyed only by an upstream id (OMOP person ids, for one)."""
    parts = [
        t.filter(t.nhs_number.isnull() & t.upstream_id.notnull()).select("source")
        for name, t in tables.items()
        if name.removeprefix(staged.PREFIX) in (*staged.LINKED, "identity")
    ]
    found = ibis.union(*parts, distinct=True)
    return sorted(found.source.to_pyarrow().to_pylist())


def _upstream_people(key_map: ir.Table) -> int:
    known = key_map.filter(key_map._key.startswith(pseudonym.UPSTREAM))
    return int(known.count().to_pyarrow().as_py())


def _no_tokens(clerical: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Clerical candidates known only by an upstream pseudonym, named by person_id:
    no upstream token leaves the link stage."""
    upstream = clerical.person_key.astype("object").fillna("").str.startswith(pseudonym.UPSTREAM)
    if not upstream.any():
        return clerical
    clerical = clerical.copy()
    ids = pseudonym.of_person_keys(key, clerical.person_key[upstream])
    clerical.loc[upstream, "person_key"] = ["person_id:" + i for i in ids]
    return clerical


def _assign(t: ir.Table, key_map: ir.Table, record_map: ir.Table, name: str) -> ir.Table:
    t = t.mutate(_person_key=person_key(t))
    by_key = t.left_join(key_map, t._person_key == key_map._key)
    joined = by_key.left_join(
        record_map, (by_key.source == record_map._src) & (by_key.record_key == record_map._rk)
    )
    method = ibis.cases(
        (joined._key_person.notnull() & joined.nhs_number.notnull(), "nhs_number"),
        (joined._key_person.notnull(), "upstream_pseudonym"),
        else_=joined._method,
    )
    joined = joined.mutate(
        person_id=joined._key_person.fill_null(joined._record_person), link_method=method
    )
    return joined.select(*table_spec(name).names)


def _person(spine: ir.Table, key_map: ir.Table) -> ir.Table:
    """People known by NHS number or upstream pseudonym still in the data after opt-outs."""
    t = spine.join(key_map, spine.person_key == key_map._key)
    t = t.filter(t.date_of_birth.notnull())
    sex = ibis.cases((t.sex.isin(list(SEX_CODES)), t.sex), else_="9")
    return t.select(
        person_id=t._key_person,
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
    description="apply opt-outs, pseudonymise NHS numbers and upstream pseudonyms, link the rest",
    inputs=(),
    outputs=OUTPUTS,
    build=build,
    restricted_inputs=STAGED,
    consumes=STAGED,
    reads_key=True,
)
