"""Patrol anomalies of one inspector's device, raised and cleared once per episode (times in epoch seconds).

- ``patrol_outside_grid``: every clean fix outside the assigned responsibility grid for longer than
  `outside_grid_min` within the window (raised at the first fix past that; cleared at the next fix
  inside, or when the window ends);
- ``patrol_stationary``: every clean fix within `stationary_radius_m` of where the episode began for
  longer than `stationary_min` (cleared by the first fix farther away);
- ``patrol_speeding``: steps faster than `speeding_mps` (walking or cycling; likely in a vehicle)
  for at least `speeding_min_s` (cleared by the first slower step);
- ``patrol_offline``: no clean fix for `offline_min` while the window is open, judged against the
  stream's own clock (the latest device time seen), so a replayed or simulated past day behaves like
  a live one (cleared by the next fix, or when the window ends).

The episode of an alarm is its raise time, so a replay yields the same alarm ids.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from civicgrid.domain.patrol.rules import PatrolRules


@dataclass(frozen=True, slots=True)
class PatrolAlarm:
    rule: str
    action: str  # raise | clear
    at: float
    episode: float  # raise time of the episode
    value: float | None
    limit: float | None


@dataclass(slots=True)
class AnomalyState:
    outside_since: float | None = None
    outside_raised: float | None = None
    anchor_x: float | None = None
    anchor_y: float | None = None
    anchor_t: float | None = None
    stationary_raised: float | None = None
    fast_since: float | None = None
    fast_raised: float | None = None
    offline_raised: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AnomalyState:
        return cls(**(data or {}))


def _clear(out: list[PatrolAlarm], rule: str, episode: float | None, at: float) -> None:
    if episode is not None:
        out.append(PatrolAlarm(rule, "clear", at, episode, None, None))


def on_fix(s: AnomalyState, rules: PatrolRules, *, t: float, x: float, y: float, in_window: bool,
           inside: bool | None, step_speed: float | None, prev_t: float | None) -> list[PatrolAlarm]:
    """Update the episodes with one clean fix; `inside` is None when the inspector has no grid."""
    out: list[PatrolAlarm] = []
    if s.offline_raised is not None:
        _clear(out, "patrol_offline", s.offline_raised, t)
        s.offline_raised = None
    if not in_window:
        end_episodes(s, t, out)
        return out
    # outside the grid
    if inside is False:
        if s.outside_since is None:
            s.outside_since = t
        limit = rules.outside_grid_min * 60
        if s.outside_raised is None and t - s.outside_since > limit:
            s.outside_raised = t
            out.append(PatrolAlarm("patrol_outside_grid", "raise", t, t, round((t - s.outside_since) / 60, 2),
                                   rules.outside_grid_min))
    else:
        _clear(out, "patrol_outside_grid", s.outside_raised, t)
        s.outside_since = s.outside_raised = None
    # stationary
    # The anchor is set (and cleared) as a whole: position and time.
    if s.anchor_t is None or s.anchor_x is None or s.anchor_y is None \
            or math.hypot(x - s.anchor_x, y - s.anchor_y) > rules.stationary_radius_m:
        _clear(out, "patrol_stationary", s.stationary_raised, t)
        s.anchor_x, s.anchor_y, s.anchor_t, s.stationary_raised = x, y, t, None
    elif s.stationary_raised is None and t - s.anchor_t > rules.stationary_min * 60:
        s.stationary_raised = t
        out.append(PatrolAlarm("patrol_stationary", "raise", t, t, round((t - s.anchor_t) / 60, 2),
                               rules.stationary_min))
    # speeding
    if step_speed is not None and step_speed > rules.speeding_mps and prev_t is not None:
        if s.fast_since is None:
            s.fast_since = prev_t
        if s.fast_raised is None and t - s.fast_since >= rules.speeding_min_s:
            s.fast_raised = t
            out.append(PatrolAlarm("patrol_speeding", "raise", t, t, round(step_speed, 2), rules.speeding_mps))
    elif step_speed is not None:  # a slower step ends the episode; a gap (no step) leaves it as it is
        _clear(out, "patrol_speeding", s.fast_raised, t)
        s.fast_since = s.fast_raised = None
    return out


def end_episodes(s: AnomalyState, at: float, out: list[PatrolAlarm]) -> None:
    """The window closed (or the day changed): every open episode clears, nothing carries over."""
    _clear(out, "patrol_outside_grid", s.outside_raised, at)
    _clear(out, "patrol_stationary", s.stationary_raised, at)
    _clear(out, "patrol_speeding", s.fast_raised, at)
    _clear(out, "patrol_offline", s.offline_raised, at)
    s.outside_since = s.outside_raised = s.anchor_x = s.anchor_y = s.anchor_t = None
    s.stationary_raised = s.fast_since = s.fast_raised = s.offline_raised = None


def on_clock(s: AnomalyState, rules: PatrolRules, *, now: float, last_fix: float, window_start: float,
             window_end: float) -> list[PatrolAlarm]:
    """The stream clock moved to `now` (epoch s) without a fix from this device since `last_fix`.

    `window_start`/`window_end` are the patrol window of the day of `last_fix`.
    """
    out: list[PatrolAlarm] = []
    if now >= window_end:
        if any(v is not None for v in (s.outside_raised, s.stationary_raised, s.fast_raised, s.offline_raised)):
            end_episodes(s, window_end, out)
        return out
    silent_from = max(last_fix, window_start)
    limit = rules.offline_min * 60
    if s.offline_raised is None and now >= window_start and now - silent_from > limit:
        s.offline_raised = at = silent_from + limit
        out.append(PatrolAlarm("patrol_offline", "raise", at, at, round((now - silent_from) / 60, 2),
                               rules.offline_min))
    return out
