"""A clock schedule: the platform clock's speed changing during a run, agreed by every process of the run.

A fixed simulated clock is `start + (wall − anchor) × speed` (civicgrid/clock.py). A run that adapts its speed
(`civicgrid county-month --speed auto`, docs/county-month.md) cannot give a new speed to processes it already
started through their environment, so it writes a SCHEDULE to a small JSON file that each process of the run
reads (`clock.schedule`, docs/configuration.md "The platform clock"):

    {"segments": [{"wall": "…", "sim": "…", "speed": 600.0}, …]}

Each segment applies from its wall time on, and reads `sim` at that wall time. Segments are continuous (each
starts at the simulated time the one before gives at its wall time) and their speeds positive, so simulated
time never jumps and never runs backwards. The writer appends a segment only `LEAD_S` in the future, longer
than a reader's re-read interval (`REREAD_S`): a reader that calls `now()` at or after that wall time has
looked at the file since the segment was written, so all processes switch at the same wall instant.

A missing or malformed file when a process starts is an error (`ScheduleError`); one that turns bad later,
or a new file that would change the past, is refused with a warning and the last good schedule kept.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

REREAD_S = 0.5  # a reader looks at the file's mtime at most this often
LEAD_S = 2.0  # a new segment applies this long after it is written (> REREAD_S)
TOLERANCE = timedelta(milliseconds=1)  # continuity across segments (ISO times keep microseconds)


class ScheduleError(ValueError):
    """A schedule file that cannot be used: missing, unreadable, malformed, discontinuous."""


@dataclass(frozen=True, slots=True)
class Segment:
    wall: datetime  # from this wall time on (aware, UTC)
    sim: datetime  # the simulated time at `wall` (aware, UTC)
    speed: float  # simulated seconds per wall second

    def at(self, wall: datetime) -> datetime:
        return self.sim + (wall - self.wall) * self.speed


@dataclass(frozen=True, slots=True)
class Schedule:
    """Segments in wall order; before the first, the first one's line extends backwards (as a fixed clock's)."""

    segments: tuple[Segment, ...]
    _walls: list[datetime] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.segments:
            raise ScheduleError("a clock schedule needs at least one segment")
        object.__setattr__(self, "_walls", [s.wall for s in self.segments])  # for the search in `segment`
        for prev, seg in zip(self.segments, self.segments[1:], strict=False):
            if seg.wall <= prev.wall:
                raise ScheduleError(f"clock schedule segments out of order: {seg.wall.isoformat()} after "
                                    f"{prev.wall.isoformat()}")
            if abs(seg.sim - prev.at(seg.wall)) > TOLERANCE:
                raise ScheduleError(f"clock schedule jumps at wall {seg.wall.isoformat()}: the segment starts at "
                                    f"{seg.sim.isoformat()}, the one before reads {prev.at(seg.wall).isoformat()}")
        for seg in self.segments:
            if not 0 < seg.speed <= 1_000_000:
                raise ScheduleError(f"clock schedule speed {seg.speed} is not in (0, 1000000]")
            if seg.wall.tzinfo is None or seg.sim.tzinfo is None:
                raise ScheduleError("clock schedule times need a time zone")

    @classmethod
    def fixed(cls, start: datetime, speed: float, anchor: datetime) -> Schedule:
        return cls((Segment(anchor.astimezone(UTC), start.astimezone(UTC), speed),))

    @property
    def first(self) -> Segment:
        return self.segments[0]

    def segment(self, wall: datetime) -> Segment:
        i = bisect.bisect_right(self._walls, wall) - 1
        return self.segments[max(i, 0)]

    def at(self, wall: datetime) -> datetime:
        """The simulated time at wall time `wall`."""
        return self.segment(wall).at(wall)

    def speed_at(self, wall: datetime) -> float:
        return self.segment(wall).speed

    def then(self, speed: float, wall: datetime) -> Schedule:
        """This schedule with `speed` from `wall` on, continuing from the simulated time it gives there."""
        if wall <= self.segments[-1].wall:
            raise ScheduleError(f"a new clock segment must start after the last one ({self.segments[-1].wall})")
        wall = wall.astimezone(UTC)
        return Schedule((*self.segments, Segment(wall, self.at(wall), speed)))

    def wall_until(self, sim: datetime, after: datetime) -> datetime:
        """The first wall time from `after` on at which the schedule reads `sim` (its known segments)."""
        if self.at(after) >= sim:
            return after
        seg = self.segment(after)
        for nxt in self.segments[self.segments.index(seg) + 1:]:
            if nxt.sim >= sim:
                break
            seg = nxt
        return seg.wall + (sim - seg.sim) / seg.speed

    def to_json(self) -> bytes:
        return orjson.dumps({"segments": [{"wall": s.wall.isoformat(), "sim": s.sim.isoformat(), "speed": s.speed}
                                          for s in self.segments]}, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, source: str = "clock schedule") -> Schedule:
        try:
            doc = orjson.loads(data)
            rows = doc["segments"]
            segments = tuple(Segment(datetime.fromisoformat(r["wall"]).astimezone(UTC),
                                     datetime.fromisoformat(r["sim"]).astimezone(UTC), float(r["speed"]))
                             for r in rows)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ScheduleError(f"{source} is malformed ({exc.__class__.__name__}: {exc}); expected "
                                '{"segments": [{"wall": ISO time, "sim": ISO time, "speed": number}, …]}') from exc
        return cls(segments)


def write_schedule(path: Path, schedule: Schedule) -> None:
    """Replace the file at once (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(schedule.to_json())
    tmp.replace(path)


def read_schedule(path: Path) -> Schedule:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScheduleError(f"clock schedule {path}: {exc.strerror or exc}") from exc
    return Schedule.from_json(data, f"clock schedule {path}")


class LiveSchedule:
    """The schedule file as one process sees it: re-read when it changes, at most every `reread_s`.

    `now()` costs a stat of the file every `reread_s` (a read and parse only when it changed); a thread that
    finds another re-reading uses the schedule it has. A new file must agree with the one held up to the
    latest wall time this process has answered for, so no answer is ever contradicted (no jump backwards)."""

    def __init__(self, path: Path, reread_s: float = REREAD_S) -> None:
        self.path, self.reread_s = path, reread_s
        self._stamp = self._stat()
        self.schedule = read_schedule(path)
        self._checked = time.monotonic()
        self._answered = datetime.now(UTC)
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < self.reread_s or not self._lock.acquire(blocking=False):
            return
        try:
            self._checked = time.monotonic()
            stamp = self._stat()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                new = read_schedule(self.path)
            except ScheduleError as exc:
                log.warning("%s; keeping the schedule read before", exc)
                return
            seen = self._answered
            if new.first != self.schedule.first or abs(new.at(seen) - self.schedule.at(seen)) > TOLERANCE:
                log.warning("clock schedule %s changes the past (at wall %s it reads %s, before %s); refused",
                            self.path, seen.isoformat(), new.at(seen).isoformat(), self.schedule.at(seen).isoformat())
                return
            self.schedule = new
        finally:
            self._lock.release()

    def now(self) -> datetime:
        self._refresh()
        wall = datetime.now(UTC)
        self._answered = max(self._answered, wall)
        return self.schedule.at(wall)

    def wall_seconds(self, simulated_s: float, max_s: float = LEAD_S) -> float:
        """Wall seconds until `simulated_s` from now under the known schedule, at most `max_s`: a later segment
        may not be written yet, so a sleeper wakes within the lead time and looks at `now()` again."""
        self._refresh()
        wall = datetime.now(UTC)
        until = self.schedule.wall_until(self.schedule.at(wall) + timedelta(seconds=simulated_s), wall)
        return min(max((until - wall).total_seconds(), 0.0), max_s)
