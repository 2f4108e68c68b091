"""Hand-built tracks on a known street network → exact passes, coverage, rejects and patrol alarms."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.domain.patrol import PatrolRules
from tests.unit.patrol.helpers import CELL_A, CELL_B, T0, Walker, lonlat, tracker


def alarms(res) -> list[tuple[str, str, float]]:
    return [(a.alarm.rule, a.alarm.action, round(a.alarm.at - T0, 3)) for a in res.alarms]


def only(res):
    (row,) = res.coverage.values()
    return row


def test_straight_walk_there_and_back_is_two_passes_of_each_segment() -> None:
    res = tracker().process(Walker().to(300, 0).to(0, 0).fixes)
    row = only(res)
    assert row.tally.passes == {"M:001": 2, "M:002": 2, "M:003": 2}
    assert (row.summary.segments_required, row.summary.segments_met, row.summary.plan_met_pct) == (4, 0, 22.22)
    assert row.summary.by_class == {"main": {"required_passes": 5, "segments": 2, "segments_met": 0},
                                    "secondary": {"required_passes": 4, "segments": 2, "segments_met": 0}}
    assert row.tally.distance_m == pytest.approx(600, abs=0.01)
    assert row.tally.cells == {CELL_A, CELL_B}
    # 24 s steps; a step counts where it began: x < 160 inside RG-A
    assert (row.tally.inside_s, row.tally.outside_s) == (264.0, 216.0)
    assert res.visits == {("2026-11-20", CELL_A, "hh-1", 7): 2, ("2026-11-20", CELL_B, "hh-1", 7): 1}
    assert len(res.clean) == 21 and res.rejects == [] and res.alarms == []


def test_the_whole_plan_walked_is_100_percent() -> None:
    w = Walker().to(200, 0).to(0, 0).to(200, 0).to(0, 0).to(200, 0).to(100, 0)
    w.to(100, 100).to(100, -100).to(100, 100).to(100, -100).to(100, 100)
    row = only(tracker().process(w.fixes))
    assert {k: v for k, v in row.tally.passes.items() if k in ("M:001", "M:002", "S1:001", "S1:002")} == \
        {"M:001": 5, "M:002": 6, "S1:001": 4, "S1:002": 5}
    assert (row.summary.segments_met, row.summary.plan_met_pct) == (4, 100.0)


def test_half_a_segment_is_no_pass_and_lingering_counts_once() -> None:
    w = Walker().to(150, 0).to(140, 0).to(150, 0).to(145, 0)
    row = only(tracker().process(w.fixes))
    assert row.tally.passes == {"M:001": 1}


def test_points_arriving_in_batches_give_the_same_result() -> None:
    fixes = Walker().to(300, 0).to(0, 0).fixes
    t = tracker()
    rows = [t.process(fixes[k:k + 4]) for k in range(0, len(fixes), 4)]
    assert rows[-1].coverage[("2026-11-20", "hh-1")].tally.passes == {"M:001": 2, "M:002": 2, "M:003": 2}


def test_state_survives_a_round_trip_through_json() -> None:
    from civicgrid.domain.patrol.tracker import DeviceState

    fixes = Walker().to(300, 0).to(0, 0).fixes
    t = tracker()
    t.process(fixes[:11])
    again = tracker()
    again.states = {d: DeviceState.from_json(d, s.to_json()) for d, s in t.states.items()}
    res = again.process(fixes[11:])
    assert only(res).tally.passes == {"M:001": 2, "M:002": 2, "M:003": 2}


def test_detour_outside_the_grid_raises_and_clears() -> None:
    rules = PatrolRules(stationary_min=600)
    w = Walker(start=(100, 0), every_s=60).to(250, 0, speed=2.5).stay(1200).to(100, 0, speed=2.5)
    res = tracker(rules).process(w.fixes)
    assert alarms(res) == [("patrol_outside_grid", "raise", 1020.0), ("patrol_outside_grid", "clear", 1320.0)]
    row = only(res)
    assert (row.tally.inside_s, row.tally.outside_s) == (60.0, 1260.0)
    assert res.alarms[0].alarm.episode == res.alarms[1].alarm.episode


def test_long_stop_raises_stationary_and_moving_on_clears_it() -> None:
    w = Walker(start=(50, 0), every_s=60).stay(1500).to(90, 0, speed=1.0)
    res = tracker().process(w.fixes)
    assert alarms(res) == [("patrol_stationary", "raise", 1260.0), ("patrol_stationary", "clear", 1540.0)]


def test_car_speed_raises_speeding() -> None:
    w = Walker(every_s=10).to(100, 0).to(100 + 15 * 180, 0, speed=15).to(100 + 15 * 180 + 50, 0)
    res = tracker().process(w.fixes)
    assert alarms(res) == [("patrol_speeding", "raise", 140.0), ("patrol_speeding", "clear", 270.0)]
    assert res.rejects == []  # 15 m/s is a car, not a GPS jump


def test_noisy_fixes_are_rejected_with_their_reason_and_passes_are_unchanged() -> None:
    w = Walker().to(300, 0).to(0, 0)
    good = w.fixes
    far_lon, far_lat = lonlat(5000, 5000)
    bad = [
        dataclasses.replace(good[3], seq=1001, t=good[3].t + 5, hdop=9.0),  # poor HDOP
        dataclasses.replace(good[5], seq=1002, t=good[5].t + 5, accuracy_m=120.0),  # poor accuracy
        dataclasses.replace(good[7], seq=1003, t=good[7].t + 5, lon=far_lon, lat=far_lat),  # 7 km in 5 s
        dataclasses.replace(good[9], seq=1004),  # same device time again
        dataclasses.replace(good[11], seq=1005, t=good[10].t - 1),  # older than the last clean fix
        dataclasses.replace(good[13], seq=1006, t=good[13].t + 5, valid=False, lon=None, lat=None),
    ]
    fixes = []
    for k, f in enumerate(good):
        fixes.append(f)
        fixes += [b for b in bad if b.seq == 1001 + [3, 5, 7, 9, 11, 13].index(k)] if k in (3, 5, 7, 9, 11, 13) else []
    res = tracker().process(fixes)
    assert [(r[2], r[3]) for r in res.rejects] == [(1001, "poor_precision"), (1002, "poor_precision"),
                                                    (1003, "jump"), (1004, "duplicate"), (1005, "out_of_order"),
                                                    (1006, "no_fix")]
    assert dict(res.reject_counts) == {"poor_precision": 2, "jump": 1, "duplicate": 1, "out_of_order": 1,
                                       "no_fix": 1}
    assert len(res.clean) == len(good)
    assert only(res).tally.passes == {"M:001": 2, "M:002": 2, "M:003": 2}


def test_after_jump_reset_jumps_the_new_position_is_taken() -> None:
    w = Walker(every_s=5)
    far = [lonlat(4000 + k, 0) for k in range(5)]
    fixes = list(w.fixes)
    for k, (lon, lat) in enumerate(far):
        fixes.append(dataclasses.replace(fixes[0], seq=10 + k, t=T0 + 5 * (k + 1), ts=str(k), lon=lon, lat=lat))
    res = tracker().process(fixes)
    assert [r[3] for r in res.rejects] == ["jump"] * 3
    assert len(res.clean) == 3


def test_outside_the_window_nothing_counts_but_points_are_kept() -> None:
    w = Walker(t=T0 - 2.5 * 3600).to(300, 0)  # 05:30
    res = tracker().process(w.fixes)
    row = only(res)
    assert row.tally.passes == {} and row.tally.cells == set() and row.tally.distance_m == 0
    assert len(res.clean) == len(w.fixes) and res.alarms == []


def test_offline_is_judged_by_the_stream_clock() -> None:
    t = tracker()
    w = Walker().to(100, 0)
    t.process(w.fixes)
    last = w.fixes[-1].t
    assert t.tick(now=last + 14 * 60).alarms == []
    res = t.tick(now=last + 16 * 60)
    assert [(a.alarm.rule, a.alarm.action, a.alarm.at - last) for a in res.alarms] == \
        [("patrol_offline", "raise", 900.0)]
    assert t.tick(now=last + 17 * 60).alarms == []  # once per episode
    w.t = last + 20 * 60
    res = t.process([w.fix()])
    assert [(a.alarm.rule, a.alarm.action) for a in res.alarms] == [("patrol_offline", "clear")]


def test_a_vehicle_without_inspector_has_points_but_no_coverage_or_alarms() -> None:
    w = Walker(inspector=None, every_s=10).to(300, 0, speed=15)
    res = tracker().process(w.fixes)
    assert res.coverage == {} and res.alarms == [] and len(res.clean) == len(w.fixes)


def test_inspector_without_a_plan_gets_a_row_without_requirements() -> None:
    res = tracker(plan_grid=None).process(Walker().to(300, 0).fixes)
    row = only(res)
    assert row.responsibility_grid_id is None and row.summary.segments_required == 0
    assert row.summary.plan_met_pct == 0.0 and row.tally.passes == {"M:001": 1, "M:002": 1, "M:003": 1}
    assert (row.tally.inside_s, row.tally.outside_s) == (0.0, 0.0)


@settings(max_examples=40, deadline=None)
@given(speed=st.floats(0.8, 2.0), every=st.floats(5.0, 40.0), legs=st.integers(1, 4))
def test_every_leg_along_the_main_street_is_one_pass_of_each_segment(speed: float, every: float, legs: int) -> None:
    w = Walker(every_s=every)
    for k in range(legs):
        w.to(300 if k % 2 == 0 else 0, 0, speed=speed)
    row = only(tracker().process(w.fixes))
    assert row.tally.passes == {"M:001": legs, "M:002": legs, "M:003": legs}
