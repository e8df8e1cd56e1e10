"""Feed rows: built as dicts of equal-length arrays, then laid out as the published feed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.costing.centres import CENTRES
from openphm.synth.costing.common import FEED_KEYS, FEEDS, SOURCES, _np
from openphm.synth.costing.matching import MATCH_NAMES


def _raw(src, key, sub, provider, nhs, person, day, centre, item, qty, **more) -> dict:
    """Feed rows before matching: a dict of equal-length arrays."""
    key = _np(key, np.int64)
    ints = dict(src=src, sub=sub, person=person, day=day, qty=qty, start=-1, end=-1, cost=-1)
    ints |= {k: v for k, v in more.items() if k != "extra"}
    out = {k: np.broadcast_to(_np(v, np.int64), key.shape) for k, v in ints.items()}
    out["extra"] = np.broadcast_to(_np(more.get("extra", 1.0), float), key.shape)
    text = dict(provider=provider, nhs=nhs, centre=centre, item=item)
    return (
        out
        | {"key": key}
        | {k: np.broadcast_to(_np(v, object), key.shape) for k, v in text.items()}
    )


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _enc(enc: dict, idx, sub, day, centre, item, qty, **more) -> dict:
    """Feed rows for encounters ``enc[idx]``."""
    return _raw(
        enc["src"][idx],
        enc["key"][idx],
        sub,
        enc["provider"][idx],
        enc["nhs"][idx],
        enc["person"][idx],
        day,
        centre,
        item,
        qty,
        **more,
    )


def _feed_frame(feed: str, raw: dict, cost: dict, level, nhs, day, start, end):
    """The feed's rows in the published layout, their links to the source records, and each
    row's weight (item cost / the centre's base item cost, times ``extra``)."""
    src, key = raw["src"], raw["key"]
    centre, centres = pd.factorize(raw["centre"])
    spec = np.array([CENTRES[c] for c in centres], dtype=object).reshape(-1, 4)
    item, items = pd.factorize(raw["item"])
    base = np.array([cost[b] for b in spec[:, 2]], float)[centre]
    item_cost = np.array([cost[i] for i in items], float)[item]
    weight = np.round(item_cost / base * raw["extra"], 6)
    record = (np.int64(FEEDS.index(feed) + 1) * 10 + src) * 10**15 + key * 1000 + raw["sub"]
    frame = {"RECORD_ID": record, "PROVIDER_CODE": raw["provider"]}
    frame["ACTIVITY_TYPE"] = spec[centre, 0]
    for column in FEED_KEYS[feed]:
        has = np.isin(src, [s for s, (_, c) in SOURCES.items() if c == column]) & (level == 0)
        frame[column] = pd.arrays.IntegerArray(np.where(has, key, 0), ~has)
    frame |= {"NHS_NUMBER": nhs, "ACTIVITY_DATE": day.astype("datetime64[D]")}
    frame |= {"ACTIVITY_START": _stamp(start), "ACTIVITY_END": _stamp(end)}
    frame |= {"COST_CENTRE": raw["centre"], "ITEM": raw["item"], "QUANTITY": raw["qty"]}
    frame |= {"UNIT": spec[centre, 1], "WEIGHT": weight}
    if feed == "pharmacy":
        frame["COST_PENCE"] = raw["cost"]
    # Who each row really belongs to is in truth/costing_feed_links, with how it
    # should match; a _person_index column would repeat it in truth/record_person.
    frame = pd.DataFrame(frame)
    frame["ACTIVITY_DATE"] = frame["ACTIVITY_DATE"].astype("datetime64[ns]")
    sources = np.array([""] + [f for f, _ in SOURCES.values()], dtype=object)
    link = pd.DataFrame({"FEED": f"costing/feed_{feed}", "RECORD_ID": record})
    link["MATCH"], link["SOURCE_FILE"] = MATCH_NAMES[level], sources[src]
    link["SOURCE_KEY"], link["person_index"] = key, raw["person"]
    return frame, link, weight


def _stamp(minutes: np.ndarray) -> np.ndarray:
    out, has = np.full(minutes.shape, "", dtype=object), minutes >= 0
    out[has] = np.datetime_as_string(minutes[has].astype("datetime64[m]"), unit="m")
    return out
