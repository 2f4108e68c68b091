"""Pass detection: a traversal of a road segment, and when it counts as a pass.

A *traversal* of segment S is a run of consecutive clean fixes matched to S (nearest segment within
the match tolerance), with no gap longer than `max_gap_s`, inside the patrol window. What it covers
is the interval of S between the positions along S of the path walked: each fix's own position,
plus, for the step into S and the step out of S, the position along S of the fix before / after
(projected onto S and clamped to its ends, so walking straight through a crossing covers S up to
the crossing even when no fix fell on the last metres). The walker moves continuously, so the
covered set is one interval [lo, hi].

A traversal is a *pass* once it covers at least `pass_min_fraction` of the segment's length; it is
counted at that moment (the figure moves as the inspector walks) and once only, however many fixes
it holds. Leaving the segment, a gap, the window's end or the day's end closes it; so does turning
back (by more than `U_TURN_M`) once it has counted: walking a dead-end street to its end and back is
two passes, dithering in the middle of a segment is none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

U_TURN_M = 10.0


@dataclass(slots=True)
class Traversal:
    segment_id: str
    lo: float
    hi: float
    started_at: float
    counted: bool = False
    start: float = 0.0  # position along the segment where it began
    last: float = 0.0  # position of the latest fix

    def cover(self, along: float) -> None:
        if along < self.lo:
            self.lo = along
        elif along > self.hi:
            self.hi = along
        self.last = along

    def turned_back(self, along: float) -> float | None:
        """Where a counted traversal turned, if `along` is back by more than U_TURN_M; else None."""
        if not self.counted:
            return None
        if self.last >= self.start:
            return self.hi if along < self.hi - U_TURN_M else None
        return self.lo if along > self.lo + U_TURN_M else None

    def qualifies(self, length_m: float, min_fraction: float) -> bool:
        return self.hi - self.lo >= min_fraction * length_m - 1e-6

    def to_json(self) -> dict[str, Any]:
        return {"segment_id": self.segment_id, "lo": self.lo, "hi": self.hi, "started_at": self.started_at,
                "counted": self.counted, "start": self.start, "last": self.last}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Traversal | None:
        return None if not data else cls(data["segment_id"], data["lo"], data["hi"], data["started_at"],
                                         data.get("counted", False), data.get("start", data["lo"]),
                                         data.get("last", data["hi"]))


def advance(trav: Traversal | None, *, seg: str | None, along: float, t: float, step_ok: bool,
            prev_seg: str | None, prev_on_seg: float, here_on_prev: float, lengths: dict[str, float],
            min_fraction: float) -> tuple[Traversal | None, tuple[str, ...]]:
    """One clean fix; returns the open traversal and the segments that just gained a pass (usually none).

    `prev_on_seg`: position along `seg` of the previous clean fix; `here_on_prev`: position of this fix
    along `prev_seg`. Both are only used when `step_ok` (same day, in the window, gap ≤ max_gap_s).
    """
    passed: tuple[str, ...] = ()
    if trav is not None:
        if step_ok and seg == trav.segment_id:
            turn = trav.turned_back(along)
            if turn is not None:  # a new traversal from the turning point
                trav = Traversal(seg, turn, turn, t, start=turn, last=turn)
            trav.cover(along)
            if not trav.counted and trav.qualifies(lengths[trav.segment_id], min_fraction):
                trav.counted = True
                passed = (trav.segment_id,)
            return trav, passed
        if step_ok and prev_seg == trav.segment_id and not math.isnan(here_on_prev):
            trav.cover(here_on_prev)  # the step out of the segment
            if not trav.counted and trav.qualifies(lengths[trav.segment_id], min_fraction):
                trav.counted = True
                passed = (trav.segment_id,)
        trav = None
    if seg is None:
        return None, passed
    trav = Traversal(seg, along, along, t, start=along, last=along)
    if step_ok and prev_seg is not None and not math.isnan(prev_on_seg):
        trav.cover(prev_on_seg)  # the step into the segment
        trav.start = prev_on_seg
        trav.last = along
    if trav.qualifies(lengths[seg], min_fraction):
        trav.counted = True
        passed = (*passed, seg)
    return trav, passed
