"""The simulated truck fleet against the gateway's codec and alarm edges (no services): its frames decode, its
speeders raise and clear over-speed, and the truck whose street crosses the restricted cell enters and leaves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.jt808.convert import AlarmEdges, track_data
from gateway.jt808.frames import decode_frame
from gateway.jt808.location import decode_location
from simulators.city import generate_city
from simulators.jt808_fleet import next_fix, plan_fleet
from simulators.jt808_terminal import LOCATION, frame


def test_trucks_speed_and_cross_the_restricted_cell(tmp_path: Path) -> None:
    generate_city(5, 1.0, tmp_path, covers=0, bins=0, lights=0, trackers=0, inspectors=2, grids=1)
    fleet, restricted, cell = plan_fleet(tmp_path, 6, seed=3)
    assert len({t.phone for t in fleet}) == 6 and sum(t.speeder for t in fleet) == 2 and len(cell) == 14
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    seen: dict[str, list[str]] = {}
    for truck in fleet:
        edges = AlarmEdges()
        for n in range(400):  # 400 reports 10 s apart: there and back along the street at least once
            fix = next_fix(truck, restricted, 10.0, start + timedelta(seconds=10 * n))
            packet = decode_frame(frame(LOCATION, truck.phone, n, fix.body(), edition=2019)[1:-1])
            loc = decode_location(packet.body)
            assert packet.terminal_id == truck.phone and abs(loc.lon - fix.lon) < 1e-6
            seen.setdefault(truck.phone, []).extend(e.type for e in edges.events(loc, track_data(loc)))
    speeders = {t.phone for t in fleet if t.speeder}
    for phone, events in seen.items():
        assert ("overspeed" in events and "overspeed_cleared" in events) == (phone in speeders), phone
    first = seen[fleet[0].phone]
    assert "area_entered" in first and "area_left" in first
    assert first.index("area_entered") < first.index("area_left")
