"""Batches of fixes → clean points matched to cells and segments, passes, day tallies, patrol alarms.

`PatrolTracker.process(fixes)` is the whole patrol rule set for a batch, with no I/O: the stream
consumer feeds it what it read from `cg.tracks` and persists what it returns. Vectorised where it
can be (projection, point → cell, nearest segment, positions along segments: numpy, pyproj and
shapely over the whole batch); the per-fix loops that remain only compare numbers.

Cleaning, in order: no valid fix → ``no_fix``; HDOP above `max_hdop` or reported accuracy above
`max_accuracy_m` → ``poor_precision``; device time equal to the last clean fix → ``duplicate``,
older → ``out_of_order``; faster than the kind's `max_speed` from the last clean fix → ``jump``
(after `jump_reset` jumps in a row the fix is taken: the previous clean fix was the outlier).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any, cast

import numpy as np

from civicgrid.domain.geofence import GridIndex
from civicgrid.domain.patrol import anomalies as anom
from civicgrid.domain.patrol.coverage import CoverageSummary, DayTally, summarise
from civicgrid.domain.patrol.network import Projection, SegmentIndex
from civicgrid.domain.patrol.passes import Traversal, advance
from civicgrid.domain.patrol.rules import PatrolPlan, PatrolRules, Reject

DAY_S = 86_400

# A kept fix's predecessor, as the per-fix loops read it: (t, x, y, segment index, cell, in window, day, inside).
_Prev = tuple[float, float, float, int, str | None, bool, int | None, bool | None]
# An inspector's terms: (plan, window start, window end (s of the day), grid).
_Terms = tuple[PatrolPlan | None, int, int, str | None]


def _sod(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


@dataclass(frozen=True, slots=True)
class Fix:
    """One `cg.tracks` record as the patrol rules need it (`t` in epoch seconds; `ts` the original text)."""

    device_id: str
    kind: str | None
    inspector_user_id: int | None
    seq: int
    t: float
    ts: str
    lon: float | None
    lat: float | None
    valid: bool = True
    hdop: float | None = None
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None


@dataclass
class PatrolNetwork:
    """Everything the rules look up: projection, segments, cells with their grids, plans."""

    projection: Projection
    segments: SegmentIndex
    road_class: dict[str, str]
    segment_grid: dict[str, str | None]
    cells: GridIndex | None = None
    cell_grid: dict[str, str | None] = field(default_factory=dict)
    plans: dict[int, PatrolPlan] = field(default_factory=dict)
    utc_offset_s: int = 8 * 3600  # the city's zone (China: UTC+8, no daylight saving)
    _required: dict[tuple[str, int, int], dict[str, tuple[str, int]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.lengths = dict(zip(self.segments.ids, (float(v) for v in self.segments.lengths), strict=True))
        self._cell_grid_arr = np.array([self.cell_grid.get(c) for c in self.cells.codes] + [None], dtype=object) \
            if self.cells is not None else None

    def required(self, plan: PatrolPlan | None) -> dict[str, tuple[str, int]]:
        """Segment id → (class, passes) the plan requires (main/secondary roads of its grid)."""
        if plan is None or plan.responsibility_grid_id is None:
            return {}
        key = (plan.responsibility_grid_id, plan.main_road_passes, plan.secondary_road_passes)
        if key not in self._required:
            self._required[key] = {s: (self.road_class[s], plan.required(self.road_class[s]))
                                   for s, g in self.segment_grid.items()
                                   if g == plan.responsibility_grid_id and plan.required(self.road_class[s]) > 0}
        return self._required[key]

    def cell_grids(self, cell_idx: np.ndarray) -> np.ndarray:
        if self._cell_grid_arr is None:
            return np.full(len(cell_idx), None, dtype=object)
        return cast(np.ndarray, self._cell_grid_arr[cell_idx])  # numpy types fancy indexing as Any


@dataclass(slots=True)
class DeviceState:
    device_id: str
    kind: str | None = None
    inspector_user_id: int | None = None
    last_t: float | None = None
    last_seq: int | None = None
    last_x: float = 0.0
    last_y: float = 0.0
    last_seg: str | None = None
    last_cell: str | None = None
    last_inside: bool | None = None
    last_in_window: bool = False
    last_day: int | None = None
    jump_streak: int = 0
    trav: Traversal | None = None
    tally: DayTally | None = None
    anomalies: anom.AnomalyState = field(default_factory=anom.AnomalyState)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "inspector_user_id": self.inspector_user_id, "last_t": self.last_t,
                "last_seq": self.last_seq, "last_x": self.last_x, "last_y": self.last_y, "last_seg": self.last_seg,
                "last_cell": self.last_cell, "last_inside": self.last_inside, "last_in_window": self.last_in_window,
                "last_day": self.last_day, "jump_streak": self.jump_streak,
                "trav": self.trav.to_json() if self.trav else None,
                "tally": self.tally.to_json() if self.tally else None, "anomalies": self.anomalies.to_json()}

    @classmethod
    def from_json(cls, device_id: str, d: dict[str, Any]) -> DeviceState:
        return cls(device_id, d.get("kind"), d.get("inspector_user_id"), d.get("last_t"), d.get("last_seq"),
                   d.get("last_x", 0.0), d.get("last_y", 0.0), d.get("last_seg"), d.get("last_cell"),
                   d.get("last_inside"), d.get("last_in_window", False), d.get("last_day"), d.get("jump_streak", 0),
                   Traversal.from_json(d.get("trav")), DayTally.from_json(d["tally"]) if d.get("tally") else None,
                   anom.AnomalyState.from_json(d.get("anomalies")))


@dataclass(frozen=True, slots=True)
class CoverageRow:
    day: str
    inspector_user_id: int
    device_id: str
    responsibility_grid_id: str | None
    summary: CoverageSummary
    tally: DayTally


@dataclass(frozen=True, slots=True)
class _Matched:
    """The vectorised part of a batch: arrays indexed like the batch's fixes."""

    valid: np.ndarray
    precise: np.ndarray
    x: np.ndarray
    y: np.ndarray
    seg: np.ndarray
    along: np.ndarray
    cells: np.ndarray
    grids: np.ndarray


@dataclass(frozen=True, slots=True)
class AlarmOut:
    device_id: str
    kind: str | None
    inspector_user_id: int | None
    grid_cell_code: str | None
    seq: int | None
    alarm: anom.PatrolAlarm


@dataclass
class BatchResult:
    # ts, device, seq, lon, lat, speed, heading, hdop, cell, seg
    clean: list[tuple[Any, ...]] = field(default_factory=list)
    rejects: list[tuple[Any, ...]] = field(default_factory=list)  # ts, device, seq, reason, lon, lat, hdop
    reject_counts: Counter[str] = field(default_factory=Counter)
    # (day, cell, device, inspector) → entries
    visits: Counter[tuple[str, str, str, int | None]] = field(default_factory=Counter)
    coverage: dict[tuple[str, str], CoverageRow] = field(default_factory=dict)
    alarms: list[AlarmOut] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)


class PatrolTracker:
    """Per-device patrol state for the devices of the partitions a consumer owns."""

    def __init__(self, network: PatrolNetwork, rules: PatrolRules) -> None:
        self.network = network
        self.rules = rules
        self.states: dict[str, DeviceState] = {}
        self.clock: float = 0.0  # the latest device time seen: the stream's own clock
        self._days: dict[int, str] = {}
        self._terms_cache: dict[int | None, _Terms] = {}

    # -- helpers -------------------------------------------------------------------
    def day_iso(self, day: int) -> str:
        if day not in self._days:
            self._days[day] = datetime.fromtimestamp(day * DAY_S, UTC).date().isoformat()
        return self._days[day]

    def plan(self, inspector: int | None) -> PatrolPlan | None:
        return None if inspector is None else self.network.plans.get(inspector)

    def window(self, plan: PatrolPlan | None) -> tuple[int, int]:
        p = plan or PatrolPlan(0, None)
        return _sod(p.window_start), _sod(p.window_end)

    def _terms(self, inspector: int | None) -> _Terms:
        """(plan, window start, window end (s of the day), grid) of an inspector, cached per batch."""
        terms = self._terms_cache.get(inspector)
        if terms is None:
            plan = self.plan(inspector)
            terms = self._terms_cache[inspector] = (plan, *self.window(plan),
                                                    plan.responsibility_grid_id if plan else None)
        return terms

    def state(self, fix: Fix) -> DeviceState:
        st = self.states.get(fix.device_id)
        if st is None:
            st = self.states[fix.device_id] = DeviceState(fix.device_id)
        st.kind = fix.kind or st.kind
        st.inspector_user_id = fix.inspector_user_id if fix.inspector_user_id is not None else st.inspector_user_id
        return st

    # -- the batch -----------------------------------------------------------------
    def process(self, fixes: list[Fix]) -> BatchResult:
        res = BatchResult()
        if not fixes:
            return res
        self._terms_cache = {}  # plans may have been reloaded since the last batch
        b = self._match(fixes)
        accepted, prev_of = self._clean(fixes, b, res)
        if accepted:
            self._account(fixes, b, accepted, prev_of, res)
        return res

    def _match(self, fixes: list[Fix]) -> _Matched:
        """Vectorised over the batch: validity, projection, nearest segment and position on it, cell, grid."""
        n = len(fixes)
        r, net = self.rules, self.network
        lon = np.fromiter((np.nan if f.lon is None else f.lon for f in fixes), float, n)
        lat = np.fromiter((np.nan if f.lat is None else f.lat for f in fixes), float, n)
        hdop = np.fromiter((0.0 if f.hdop is None else f.hdop for f in fixes), float, n)
        acc = np.fromiter((0.0 if f.accuracy_m is None else f.accuracy_m for f in fixes), float, n)
        valid = np.fromiter((f.valid for f in fixes), bool, n) & np.isfinite(lon) & np.isfinite(lat)
        precise = (hdop <= r.max_hdop) & (acc <= r.max_accuracy_m)
        ok = valid & precise
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        seg = np.full(n, -1, dtype=np.int64)
        cell_idx = np.full(n, -1, dtype=np.int32)
        if ok.any():
            x[ok], y[ok] = net.projection.forward(lon[ok], lat[ok])
            seg[ok] = net.segments.nearest(x[ok], y[ok], r.match_tolerance_m)
            if net.cells is not None:
                cell_idx[ok] = net.cells.lookup_indices(lon[ok], lat[ok])
        cells = net.cells.codes_for(cell_idx) if net.cells is not None else np.full(n, None, dtype=object)
        return _Matched(valid, precise, x, y, seg, net.segments.locate(seg, x, y), cells, net.cell_grids(cell_idx))

    def _reject(self, st: DeviceState, f: Fix, b: _Matched, i: int) -> Reject | None:
        if not b.valid[i]:
            return Reject.NO_FIX
        if not b.precise[i]:
            return Reject.POOR_PRECISION
        if st.last_t is None:
            return None
        dt = f.t - st.last_t
        if dt == 0:
            return Reject.DUPLICATE
        if dt < 0:
            return Reject.OUT_OF_ORDER
        too_fast = math.hypot(b.x[i] - st.last_x, b.y[i] - st.last_y) > self.rules.max_speed(st.kind) * dt
        return Reject.JUMP if too_fast and st.jump_streak < self.rules.jump_reset else None

    def _clean(self, fixes: list[Fix], b: _Matched, res: BatchResult) -> tuple[list[int], list[_Prev | None]]:
        """Cleaning in arrival order (Kafka keeps a device's order); each kept fix with its predecessor's
        (t, x, y, segment index, cell, in window, day, inside)."""
        net = self.network
        seg_ids, position = net.segments.ids, net.segments.position
        accepted: list[int] = []
        prev_of: list[_Prev | None] = []
        for i, f in enumerate(fixes):
            self.clock = max(self.clock, f.t)
            st = self.state(f)
            reason = self._reject(st, f, b, i)
            if reason is not None:
                if reason is Reject.JUMP:
                    st.jump_streak += 1
                res.rejects.append((f.ts, f.device_id, f.seq, reason.value, f.lon, f.lat, f.hdop))
                res.reject_counts[reason.value] += 1
                res.dirty.add(f.device_id)
                continue
            st.jump_streak = 0
            _, w0, w1, grid = self._terms(st.inspector_user_id)
            local = f.t + net.utc_offset_s
            day = int(local // DAY_S)
            prev_of.append(None if st.last_t is None else (st.last_t, st.last_x, st.last_y,
                                                           -1 if st.last_seg is None else position.get(st.last_seg, -1),
                                                           st.last_cell,
                                                           st.last_in_window, st.last_day, st.last_inside))
            accepted.append(i)
            s_i = int(b.seg[i])
            st.last_t, st.last_seq, st.last_x, st.last_y = f.t, f.seq, float(b.x[i]), float(b.y[i])
            st.last_seg = seg_ids[s_i] if s_i >= 0 else None
            st.last_cell, st.last_day = b.cells[i], day
            st.last_in_window = w0 <= local - day * DAY_S < w1
            st.last_inside = None if grid is None else b.grids[i] == grid
            res.clean.append((f.ts, f.device_id, f.seq, f.lon, f.lat, f.speed_mps, f.heading_deg, f.hdop, b.cells[i],
                              st.last_seg))
        return accepted, prev_of

    def _account(self, fixes: list[Fix], b: _Matched, accepted: list[int], prev_of: list[_Prev | None],  # noqa: PLR0912, PLR0915
                 res: BatchResult) -> None:
        """Passes, day tallies, cell entries and anomalies: one flat loop over the kept fixes (it is the hot path)."""
        r, net = self.rules, self.network
        seg_ids, lengths = net.segments.ids, net.lengths
        # positions of each step's ends along the other end's segment, vectorised
        acc_i = np.array(accepted)
        m = len(accepted)
        px = np.fromiter((p[1] if p else np.nan for p in prev_of), float, m)
        py = np.fromiter((p[2] if p else np.nan for p in prev_of), float, m)
        pseg = np.fromiter((p[3] if p else -1 for p in prev_of), np.int64, m)
        prev_on_seg = net.segments.locate(np.where(np.isfinite(px), b.seg[acc_i], -1), px, py)
        here_on_prev = net.segments.locate(pseg, b.x[acc_i], b.y[acc_i])
        touched: set[str] = set()
        for k, i in enumerate(accepted):
            f = fixes[i]
            st = self.states[f.device_id]
            res.dirty.add(f.device_id)
            prev = prev_of[k]
            local = f.t + net.utc_offset_s
            day = int(local // DAY_S)
            _, w0, w1, grid = self._terms(st.inspector_user_id)
            in_window = w0 <= local - day * DAY_S < w1
            if st.tally is None or st.tally.day != self.day_iso(day):
                if st.tally is not None and st.inspector_user_id is not None:
                    self._emit_coverage(st, res)  # the finished day's last word
                st.tally = DayTally(self.day_iso(day))
                st.trav = None
                if prev is not None and prev[6] != day:
                    ended: list[anom.PatrolAlarm] = []
                    anom.end_episodes(st.anomalies, f.t, ended)
                    self._alarms(st, ended, b.cells[i], f.seq, res)
            same_day = prev is not None and prev[6] == day
            dt = f.t - prev[0] if prev is not None else 0.0
            step_ok = prev is not None and same_day and prev[5] and in_window and 0 < dt <= r.max_gap_s
            dist = math.hypot(b.x[i] - prev[1], b.y[i] - prev[2]) if prev is not None else 0.0
            tally = st.tally
            tally.points += 1
            if step_ok:
                assert prev is not None, "a step has a previous fix"
                tally.distance_m += dist
                if prev[7] is True:
                    tally.inside_s += dt
                elif prev[7] is False:
                    tally.outside_s += dt
            if in_window:
                s_i = int(b.seg[i])
                st.trav, passed = advance(
                    st.trav, seg=seg_ids[s_i] if s_i >= 0 else None, along=float(b.along[i]), t=f.t,
                    step_ok=step_ok, prev_seg=seg_ids[prev[3]] if prev is not None and prev[3] >= 0 else None,
                    prev_on_seg=float(prev_on_seg[k]), here_on_prev=float(here_on_prev[k]), lengths=lengths,
                    min_fraction=r.pass_min_fraction)
                for sid in passed:
                    tally.passes[sid] = tally.passes.get(sid, 0) + 1
            else:
                st.trav = None
            cell = b.cells[i]
            if cell is not None:
                if prev is None or not same_day or prev[4] != cell:
                    res.visits[(tally.day, cell, f.device_id, st.inspector_user_id)] += 1
                if in_window:
                    tally.cells.add(cell)
            if st.inspector_user_id is not None:
                speed = dist / dt if same_day and 0 < dt <= r.max_gap_s else None
                inside = None if grid is None else b.grids[i] == grid
                out = anom.on_fix(st.anomalies, r, t=f.t, x=float(b.x[i]), y=float(b.y[i]), in_window=in_window,
                                  inside=inside, step_speed=speed, prev_t=prev[0] if prev is not None else None)
                if out:
                    self._alarms(st, out, cell, f.seq, res)
                touched.add(f.device_id)
        for device in sorted(touched):  # one coverage row per device and day, as it stands after the batch
            self._emit_coverage(self.states[device], res)

    def _emit_coverage(self, st: DeviceState, res: BatchResult) -> None:
        plan = self.plan(st.inspector_user_id)
        tally = st.tally
        assert tally is not None and st.inspector_user_id is not None, "coverage is an inspector's day tally"
        summary = summarise(tally.passes, self.network.required(plan))
        res.coverage[(tally.day, st.device_id)] = CoverageRow(
            tally.day, st.inspector_user_id, st.device_id, plan.responsibility_grid_id if plan else None, summary,
            DayTally(tally.day, dict(tally.passes), set(tally.cells), tally.inside_s, tally.outside_s,
                     tally.distance_m, tally.points))

    def _alarms(self, st: DeviceState, out: list[anom.PatrolAlarm], cell: str | None, seq: int | None,
                res: BatchResult) -> None:
        res.alarms += [AlarmOut(st.device_id, st.kind, st.inspector_user_id, cell, seq, a) for a in out]

    def tick(self, now: float | None = None) -> BatchResult:
        """The stream clock (`now`, default: the latest device time seen) moved: offline and window-end episodes."""
        res = BatchResult()
        now = self.clock if now is None else now
        for st in self.states.values():
            if st.inspector_user_id is None or st.last_t is None or st.last_day is None:
                continue
            plan = self.plan(st.inspector_user_id)
            w0, w1 = self.window(plan)
            base = st.last_day * DAY_S - self.network.utc_offset_s
            out = anom.on_clock(st.anomalies, self.rules, now=now, last_fix=st.last_t, window_start=base + w0,
                                window_end=base + w1)
            if now >= base + w1 and st.trav is not None:
                st.trav = None
                res.dirty.add(st.device_id)
            if out:
                self._alarms(st, out, st.last_cell, None, res)
                res.dirty.add(st.device_id)
        return res
