"""Alarm rule evaluation: readings in, `raise` and `clear` out — once per episode.

Pure: state in, state and events out; time comes in with each reading.  The
rules are the device profile's (civicgrid/profiles.py), read through the small
protocols below so this module needs no file or model import.

- threshold: raise after `debounce.readings` consecutive readings beyond the
  threshold that also span `debounce.seconds`; clear the same way once past
  `clear_at` (hysteresis), so a value wobbling around the threshold makes one
  episode, not one alarm per reading;
- rate_of_change: raise when the field moved more than `max_change` within
  `window_s`; clear after `clear_after_s` without a new violation;
- event: raise on `event_type`, clear on `clear_event` (or never, e.g. SOS);
- offline: raise on an ``offline`` status or silence, clear on any sign of life.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class _Debounce(Protocol):
    readings: int
    seconds: float


class Rule(Protocol):
    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    rule_id: str
    action: str  # "raise" | "clear"
    at: datetime
    episode: str  # stable id of the episode: "<rule>:<epoch ms of the raise>"
    value: Any = None
    limit: float | None = None


RuleState = dict[str, Any]  # JSON-ready: kept in a changelog-backed table


def _episode(rule_id: str, at: datetime) -> str:
    return f"{rule_id}:{int(at.timestamp() * 1000)}"


def _beyond(rule: Any, value: float, raising: bool) -> bool:
    clear_at: float = rule.clear_at
    if rule.above is not None:
        above: float = rule.above
        return value > above if raising else value < clear_at
    below: float = rule.below  # a threshold rule has exactly one of above / below (profiles.ThresholdRule)
    return value < below if raising else value > clear_at


def _threshold(rule: Any, state: RuleState, value: float, at: datetime) -> tuple[RuleState, AlarmEvent | None]:
    active = state.get("active", False)
    # Counting towards the opposite state: raise when inactive, clear when active.
    if not _beyond(rule, value, raising=not active):
        if state.get("count", -1) == 0 and "since" in state and state["since"] is None:
            return state, None  # nothing counted, nothing to reset: the same state, not an equal copy to compare
        return {**state, "count": 0, "since": None}, None
    count = state.get("count", 0) + 1
    since = state.get("since") or at.timestamp()
    debounce: _Debounce = rule.debounce
    if count < debounce.readings or at.timestamp() - since < debounce.seconds:
        return {**state, "count": count, "since": since}, None
    limit = (rule.above if rule.above is not None else rule.below) if not active else rule.clear_at
    if not active:
        episode = _episode(rule.id, at)
        return {"active": True, "count": 0, "since": None, "episode": episode}, \
            AlarmEvent(rule.id, "raise", at, episode, value, limit)
    return {"active": False, "count": 0, "since": None}, \
        AlarmEvent(rule.id, "clear", at, state["episode"], value, limit)


# A bound on each monotonic window (below): reached only by a field rising or falling steadily with more readings
# than this inside one `window_s`; the oldest candidates go first.
RATE_WINDOW_MAX_POINTS = 1024


def _rate(rule: Any, state: RuleState, value: float, at: datetime) -> tuple[RuleState, AlarmEvent | None]:
    """max - min of the field within `window_s` against `max_change`.

    The state keeps not every reading of the window but two monotonic queues, the readings that can still be the
    window's maximum (`highs`, values falling) and its minimum (`lows`, values rising): the same max and min,
    with a handful of points where the whole window of a reading every few seconds was re-scanned and written to
    the alarm state's changelog at every reading (docs/performance.md). Window time never goes back: a reading
    stamped before the newest in the state counts at the newest's time."""
    highs: list[list[float]] = list(state.get("highs", ()))
    lows: list[list[float]] = list(state.get("lows", ()))
    if "highs" not in state:  # a state written before the queues: its plain window, oldest first
        for t, v in state.get("window", ()):
            _slide(highs, lows, t, v, t - rule.window_s)
    now = max(at.timestamp(), highs[-1][0]) if highs else at.timestamp()
    _slide(highs, lows, now, value, now - rule.window_s)
    violated = highs[0][1] - lows[0][1] > rule.max_change
    new: RuleState = {k: v for k, v in state.items() if k != "window"}
    new.update(highs=highs, lows=lows)
    if violated:
        new["last_violation"] = now
        if not state.get("active"):
            episode = _episode(rule.id, at)
            new.update(active=True, episode=episode)
            return new, AlarmEvent(rule.id, "raise", at, episode, value, rule.max_change)
    elif state.get("active") and now - state.get("last_violation", now) >= rule.clear_after_s:
        new["active"] = False
        return new, AlarmEvent(rule.id, "clear", at, state["episode"], value, rule.max_change)
    return new, None


def _slide(highs: list[list[float]], lows: list[list[float]], now: float, value: float, cutoff: float) -> None:
    """Add a reading at `now` to both monotonic queues (in place), dropping what left the window (before `cutoff`)
    and what the new reading outranks for good."""
    for queue in (highs, lows):
        start = 0
        while start < len(queue) and queue[start][0] < cutoff:
            start += 1
        if start:
            del queue[:start]
    while highs and highs[-1][1] <= value:
        highs.pop()
    while lows and lows[-1][1] >= value:
        lows.pop()
    for queue in (highs, lows):
        queue.append([now, value])
        if len(queue) > RATE_WINDOW_MAX_POINTS:
            del queue[0]


# A reading's number: a tuple, not `int | float`, which builds a new union at each call (44 ns of 73, for every
# rule of every reading).
NUMBER = (int, float)


def evaluate_reading(rules: tuple[Any, ...], states: dict[str, RuleState], data: dict[str, Any],
                     at: datetime) -> tuple[dict[str, RuleState], list[AlarmEvent]]:
    """Apply one telemetry reading to every threshold and rate rule whose field it carries."""
    events: list[AlarmEvent] = []
    new_states = dict(states)
    for rule in rules:
        if rule.kind not in ("threshold", "rate_of_change"):
            continue
        value = data.get(rule.field)
        if not isinstance(value, NUMBER) or isinstance(value, bool):
            continue
        step = _threshold if rule.kind == "threshold" else _rate
        state, event = step(rule, states.get(rule.id, {}), float(value), at)
        new_states[rule.id] = state
        if event is not None:
            events.append(event)
    return new_states, events


def evaluate_event(rules: tuple[Any, ...], states: dict[str, RuleState], event_type: str,
                   at: datetime) -> tuple[dict[str, RuleState], list[AlarmEvent]]:
    """Apply a device event (cover opened, camera tamper, SOS) to the event rules."""
    events: list[AlarmEvent] = []
    new_states = dict(states)
    for rule in rules:
        if rule.kind != "event":
            continue
        state = states.get(rule.id, {})
        if event_type == rule.event_type and not state.get("active"):
            episode = _episode(rule.id, at)
            # A rule without a clear event (SOS) raises each time: every SOS is an episode.
            new_states[rule.id] = {"active": rule.clear_event is not None, "episode": episode}
            events.append(AlarmEvent(rule.id, "raise", at, episode, event_type))
        elif rule.clear_event is not None and event_type == rule.clear_event and state.get("active"):
            new_states[rule.id] = {"active": False}
            events.append(AlarmEvent(rule.id, "clear", at, state["episode"], event_type))
    return new_states, events


def evaluate_presence(rules: tuple[Any, ...], states: dict[str, RuleState], online: bool,
                      at: datetime) -> tuple[dict[str, RuleState], list[AlarmEvent]]:
    """Offline rule: `online` False is an offline status or silence; True is any sign of life."""
    for rule in rules:
        if rule.kind != "offline":
            continue
        state = states.get(rule.id, {})
        if not online and not state.get("active"):
            episode = _episode(rule.id, at)
            return {**states, rule.id: {"active": True, "episode": episode}}, \
                [AlarmEvent(rule.id, "raise", at, episode, "offline")]
        if online and state.get("active"):
            cleared = AlarmEvent(rule.id, "clear", at, state["episode"], "online")
            return {**states, rule.id: {"active": False}}, [cleared]
    return states, []
