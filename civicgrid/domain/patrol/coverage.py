"""Coverage of one inspector's day against the plan.

`plan_met_pct` weighs passes, not segments: 100 × Σ min(passes, required) / Σ required over the
segments the plan requires (main and secondary roads of the assigned grid). So the figure moves
with every pass walked, where "segments meeting their requirement" (`segments_met`) only moves on
a segment's fifth (or fourth) pass. Alleys are walked but not required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class DayTally:
    """What one device did on one (city-local) day; the running totals behind a coverage row."""

    day: str  # ISO date
    passes: dict[str, int] = field(default_factory=dict)
    cells: set[str] = field(default_factory=set)  # cells visited within the window
    inside_s: float = 0.0
    outside_s: float = 0.0
    distance_m: float = 0.0
    points: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day, "passes": self.passes, "cells": sorted(self.cells), "inside_s": self.inside_s,
                "outside_s": self.outside_s, "distance_m": self.distance_m, "points": self.points}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DayTally:
        return cls(data["day"], dict(data.get("passes", {})), set(data.get("cells", ())), data.get("inside_s", 0.0),
                   data.get("outside_s", 0.0), data.get("distance_m", 0.0), data.get("points", 0))


@dataclass(frozen=True, slots=True)
class CoverageSummary:
    segments_required: int
    segments_met: int
    plan_met_pct: float
    by_class: dict[str, dict[str, int]]


def summarise(passes: Mapping[str, int], required: Mapping[str, tuple[str, int]]) -> CoverageSummary:
    """`required`: segment id → (road class, passes required) for the plan's segments."""
    by_class: dict[str, dict[str, int]] = {}
    need = done = met = 0
    for seg, (road_class, n) in required.items():
        if n <= 0:
            continue
        got = passes.get(seg, 0)
        entry = by_class.setdefault(road_class, {"required_passes": n, "segments": 0, "segments_met": 0})
        entry["segments"] += 1
        need += n
        done += min(got, n)
        if got >= n:
            entry["segments_met"] += 1
            met += 1
    pct = round(100.0 * done / need, 2) if need else 0.0
    return CoverageSummary(sum(e["segments"] for e in by_class.values()), met, pct, by_class)
