"""Patrol rule parameters and plans, as plain frozen values (settings and database rows map onto them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum


class Reject(StrEnum):
    """Why a fix was not kept as a clean track point (counted per reason, stored in `track_rejects`)."""

    NO_FIX = "no_fix"  # the receiver had no valid fix, or no coordinates
    POOR_PRECISION = "poor_precision"  # HDOP or reported accuracy above the limit
    DUPLICATE = "duplicate"  # the same device time as the last clean fix
    OUT_OF_ORDER = "out_of_order"  # older than the last clean fix (by device time)
    JUMP = "jump"  # faster than the device kind can move from the last clean fix


PATROL_RULES = ("patrol_outside_grid", "patrol_stationary", "patrol_speeding", "patrol_offline")


@dataclass(frozen=True, slots=True)
class PatrolRules:
    """Tolerances and limits (defaults: docs/patrol.md explains each)."""

    max_hdop: float = 5.0
    max_accuracy_m: float = 50.0
    # Above this a step is a GPS jump, not movement (a handheld may ride in a car: 50 m/s).
    max_speed_mps: Mapping[str, float] = field(default_factory=lambda: {"handheld": 50.0, "gps-tracker": 60.0})
    default_max_speed_mps: float = 60.0
    # After this many jump rejects in a row the next fix is accepted: the last clean fix was the outlier.
    jump_reset: int = 3
    match_tolerance_m: float = 20.0
    pass_min_fraction: float = 0.8
    max_gap_s: float = 180.0
    outside_grid_min: float = 15.0
    stationary_min: float = 20.0
    stationary_radius_m: float = 30.0
    speeding_mps: float = 7.0  # faster than walking or cycling (25 km/h)
    speeding_min_s: float = 60.0
    offline_min: float = 15.0

    def max_speed(self, kind: str | None) -> float:
        return self.max_speed_mps.get(kind or "", self.default_max_speed_mps)


@dataclass(frozen=True, slots=True)
class PatrolPlan:
    """An inspector's standing plan (docs/patrol.md: 07:30–18:30, main roads 5 passes, secondary 4)."""

    inspector_user_id: int
    responsibility_grid_id: str | None
    window_start: time = time(7, 30)
    window_end: time = time(18, 30)
    main_road_passes: int = 5
    secondary_road_passes: int = 4

    def required(self, road_class: str) -> int:
        return {"main": self.main_road_passes, "secondary": self.secondary_road_passes}.get(road_class, 0)
