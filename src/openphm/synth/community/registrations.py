"""GP registrations: each person's practices over the period, with moves between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.synth.arrays import sequence
from openphm.synth.community.common import (
    NO_DAY,
    _date_text,
    _dates,
    _poisson_days,
    _record_ids,
)
from openphm.synth.community.people import _People
from openphm.synth.output import PERSON, SynthContext

MOVE_RATE = 0.04  # practice moves per person-year


@dataclass
class _Registrations:
    local: np.ndarray  # person row, sorted
    start: np.ndarray  # day
    end: np.ndarray  # day, NO_DAY while ongoing
    practice: np.ndarray  # index into codes
    codes: np.ndarray  # practice codes
    died: np.ndarray  # bool: ended by death
    _keys: np.ndarray  # local * span + start - base, for look-ups
    _base: int
    _span: int

    def practice_at(self, local: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Practice index each (person, day) falls in; days before the first registration
        map to the first one."""
        offset = np.clip(day - self._base, 0, self._span - 1)
        pos = np.searchsorted(self._keys, local * self._span + offset, side="right") - 1
        pos = np.maximum(pos, np.searchsorted(self._keys, local * self._span, side="left"))
        return self.practice[pos]

    def last_practice(self, n: int) -> np.ndarray:
        """Practice index of each of the ``n`` people's last registration: the practice
        at death or at the period's end (moves never fall after death)."""
        last = np.diff(self.local, append=-1) != 0  # local is sorted and never negative
        if not np.array_equal(self.local[last], np.arange(n)):
            raise ValueError("every person must have a registration")
        return self.practice[last]


def _registrations(ctx: SynthContext, p: _People, cohort, rng) -> _Registrations:
    practices = ctx.geography.practices.reset_index(drop=True)
    codes = practices["practice_code"].to_numpy().astype(str)
    first = pd.Index(codes).get_indexer(cohort["practice_code"].astype(str))
    if (first < 0).any():
        raise ValueError("cohort practice_code not in the geography's practices")
    place_codes, place = np.unique(
        practices["place_code"].to_numpy().astype(str), return_inverse=True
    )
    order = np.argsort(place, kind="stable")  # practices grouped by place
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = sequence(place[order])
    size = np.bincount(place, minlength=len(place_codes))
    offset = np.r_[0, np.cumsum(size)[:-1]]

    reg_from = p.reg_from
    can_move = size[place[first]] > 1
    lo = np.maximum(reg_from, p.start) + 1  # a move never ends a registration on its first day
    hi = np.minimum(p.stop, p.death)  # nor happens on the day of death
    who, day = _poisson_days(rng, lo, hi, MOVE_RATE * can_move)
    order_m = np.lexsort((day, who))
    who, day = who[order_m], day[order_m]
    keep = np.ones(len(who), dtype=bool)
    keep[1:] = (np.diff(who) != 0) | (np.diff(day) != 0)  # one move a day
    who, day = who[keep], day[keep]
    home = place[first[who]]
    step = rng.integers(1, np.maximum(size[home], 2))  # never the current practice
    total = np.cumsum(step)
    group_start = np.r_[0, np.flatnonzero(np.diff(who)) + 1]
    before = np.repeat(np.r_[0, total[group_start[1:] - 1]], np.diff(np.r_[group_start, len(who)]))
    moved_to = order[offset[home] + (rank[first[who]] + total - before) % size[home]]

    local = np.r_[np.arange(p.n), who]
    start = np.r_[reg_from, day]
    practice = np.r_[first, moved_to]
    idx = np.lexsort((start, local))
    local, start, practice = local[idx], start[idx], practice[idx]
    last = np.r_[local[1:] != local[:-1], True]
    end = np.where(last, p.death[local], np.r_[start[1:], 0] - 1)
    died = last & (p.death[local] < NO_DAY)
    base = int(start.min()) if len(start) else 0
    span = int(max(p.end, int(p.stop.max()) if p.n else p.end) - base + 2)
    keys = local * span + (start - base)
    return _Registrations(local, start, end, practice, codes, died, keys, base, span)


def _registration_frames(p: _People, regs: _Registrations) -> dict[str, pd.DataFrame]:
    reg_id = _record_ids(p, regs.local)
    practice = regs.codes[regs.practice]
    start, end = _dates(regs.start), _dates(regs.end)
    extract = pd.DataFrame(
        {
            "REG_ID": reg_id,
            "NHS_NUMBER": p.nhs[regs.local],
            "PRACTICE_CODE": practice,
            "REGISTRATION_START": _date_text(regs.start),
            "REGISTRATION_END": _date_text(regs.end),
            PERSON: p.pid[regs.local],
        }
    )
    reason = np.where(regs.died, "died", np.where(regs.end < NO_DAY, "moved", ""))
    truth = pd.DataFrame(
        {
            "REG_ID": reg_id,
            "person_index": p.pid[regs.local],
            "practice_code": practice,
            "start": start,
            "end": end,
            "end_reason": reason,
        }
    )
    return {"extracts/gp_registrations": extract, "truth/registrations": truth}
