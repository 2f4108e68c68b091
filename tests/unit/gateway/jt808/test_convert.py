"""A decoded report → track data and alarm events: the datum setting, no-fix reports and the alarm edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civicgrid.domain.coords import wgs84_to_gcj02
from gateway.jt808.convert import AlarmEdges, track_data
from gateway.jt808.location import Location, abnormal_driving_item, area_item

AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def loc(alarm: int = 0, status: int = 0b11, lon: float = 116.94, lat: float = 31.46, items=()) -> Location:
    return Location(alarm, status, round(lat * 1e6), round(lon * 1e6), 30, 360, 90, AT, tuple(items))


def test_wgs84_passes_and_gcj02_is_converted_back() -> None:
    data = track_data(loc())
    assert (data["lon"], data["lat"], data["speed_mps"], data["fix_valid"]) == (116.94, 31.46, 10.0, True)
    offset_lon, offset_lat = wgs84_to_gcj02(116.94, 31.46)
    back = track_data(loc(lon=offset_lon, lat=offset_lat), "gcj02")
    assert back["lon"] == pytest.approx(116.94, abs=2e-6) and back["lat"] == pytest.approx(31.46, abs=2e-6)


def test_a_report_without_a_fix_has_no_position() -> None:
    data = track_data(loc(status=0b01))
    assert data["fix_valid"] is False and data["lat"] is None and data["acc_on"] is True


def test_alarm_bits_send_events_on_their_edges_only() -> None:
    edges = AlarmEdges()
    kinds = [[e.type for e in edges.events(r, track_data(r))] for r in (
        loc(), loc(alarm=0b10), loc(alarm=0b10), loc(alarm=0b11), loc(alarm=0))]
    assert kinds == [[], ["overspeed"], [], ["emergency"], ["emergency_cleared", "overspeed_cleared"]]


def test_area_events_follow_item_0x12_and_the_bare_bit_only_without_it() -> None:
    edges = AlarmEdges()
    bit = 1 << 20
    seq = [loc(alarm=bit, items=[area_item(3, 1, False)]), loc(alarm=bit),
           loc(alarm=bit, items=[area_item(3, 1, True)]), loc(alarm=0)]
    assert [[e.type for e in edges.events(r, track_data(r))] for r in seq] == [["area_entered"], [], ["area_left"], []]
    bare = AlarmEdges()
    assert [[e.type for e in bare.events(r, track_data(r))] for r in (loc(alarm=bit), loc())] == [["area"],
                                                                                                 ["area_cleared"]]


def video(flags: int) -> tuple[int, bytes]:
    return 0x14, flags.to_bytes(4, "big")


def test_video_alarm_bits_of_item_0x14_send_events_on_their_edges_and_a_report_without_it_changes_nothing() -> None:
    edges = AlarmEdges()
    seq = [loc(items=[video(0)]), loc(items=[video(0b100001), abnormal_driving_item(0b10, 0)]), loc(),
           loc(alarm=0b10, items=[video(0b1)]), loc(items=[video(0)])]
    events = [edges.events(r, track_data(r)) for r in seq]
    assert [[e.type for e in batch] for batch in events] == [
        [], ["video_signal_lost", "abnormal_driving"], [], ["overspeed", "abnormal_driving_cleared"],
        ["overspeed_cleared", "video_signal_lost_cleared"]]
    raised = events[1][1]
    assert raised.data["abnormal_driving"] == ["phone_call"] and raised.data["video_alarm_flags"] == 0b100001
    codes = [e.code for batch in events for e in batch]
    assert len(set(codes)) == len(codes) and all(0 <= c < 128 for c in codes)  # each its own seq within a fix
