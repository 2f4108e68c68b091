"""A rule pack loaded while a real `civicgrid worker` runs (docs/rules.md, "Versions"): the worker files the next
device-made case under the new version — its class and provisional disposal deadline by the new catalogue and
calendar — and its deadline watch warns that case by the new calendar, while a case the same worker filed before
the load keeps the old version's limits, even when the watch reads its clocks again after the load.

The second pack is a city's 24-hour duty with category E0103 moved from class C to B. The platform clock starts on
a Wednesday at 19:00 in the city, after working hours: under the shipped calendar the accept clock of a case
reported then runs out at 08:40 the next morning, under round-the-clock duty ten minutes after the report."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
from confluent_kafka import Producer

from civicgrid.bus import records, topics
from civicgrid.cases import CaseService
from civicgrid.cases.pack import from_tables, shipped_pack
from civicgrid.cases.rulebook import RuleBook, store_pack
from civicgrid.clock import ClockSettings, PlatformClock
from civicgrid.domain.case_state import Action, Role
from civicgrid.stack.ephemeral import free_ports
from tests.integration.streams.test_step_deadline_watch import SCAN_S, _watch_events
from tests.support.services import start_service, stop_service, wait_for

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # Wednesday 19:00 in the city (UTC+8), after working hours
SPEED = 90.0
CITY = "E0103"  # class C in the shipped catalogue, B in the city's pack


def _city_tables() -> dict[str, object]:
    shipped = shipped_pack().content
    categories = [dict(row, disposal_class="B") if row["code"] == CITY else row
                  for row in shipped["catalogue"]["categories"]]
    return {"catalogue": {"categories": categories}, "working_calendar": {"round_the_clock": True}}


def _worker(stack, clock: ClockSettings, log: Path):
    """A worker that builds cases and watches their deadlines, on the simulated clock."""
    (port,) = free_ports(1)
    streams = stack.settings.streams.model_copy(update={
        "app_id": f"rr-{uuid.uuid4().hex[:6]}", "roles": ("cases", "deadlines", "outbox"), "metrics_port": port,
        "deadline_scan_s": SCAN_S})
    proc = start_service("worker", stack.settings.model_copy(update={"streams": streams, "clock": clock}), log)
    wait_for(lambda: "Worker: Ready" in log.read_text(), 60, "worker ready", proc, log)
    return proc


def _cell(db: psycopg.Connection, lon: float) -> str:
    code = f"341523002{random.randrange(1, 1000):03d}{random.randrange(1, 100):02d}"
    ring = [[lon, 31.5], [lon + 0.001, 31.5], [lon + 0.001, 31.501], [lon, 31.501], [lon, 31.5]]
    db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000) ON CONFLICT DO NOTHING",
               (code, orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
    return code


def _camera_event(producer: Producer, camera: str, cell: str, at: datetime) -> str:
    """A camera's region event of category E0103 in `cell` on cg.events; its evidence's source record id."""
    event = {"v": 1, "device_id": camera, "kind": "camera", "profile": "camera", "channel": "events", "seq": 1,
             "ts": at, "received_at": at, "grid_cell_code": cell,
             "data": {"type": "roi_occupied", "roi_id": "r1", "category_code": CITY}}
    producer.produce(topics.EVENTS, records.dumps(event), camera.encode())
    assert producer.flush(10) == 0
    return f"event:{camera}:1"


def _case_of(db: psycopg.Connection, source_record_id: str) -> str | None:
    row = db.execute("SELECT case_id FROM case_evidence WHERE source_record_id = %s", (source_record_id,)).fetchone()
    return None if row is None else str(row[0])


def _case(db: psycopg.Connection, case_id: str) -> tuple[int, str, datetime]:
    """(rules_version, disposal class, provisional disposal deadline) as the worker filed the case."""
    row = db.execute("SELECT rules_version, disposal_class, disposal_deadline FROM cases WHERE id = %s",
                     (case_id,)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _clocks(db: psycopg.Connection, case_id: str) -> dict[str, datetime]:
    """The watch's stored clocks of a case: step → deadline."""
    rows = db.execute("SELECT step, deadline_at FROM case_step_clocks WHERE case_id = %s", (case_id,)).fetchall()
    return {r[0]: r[1] for r in rows}


def _synced(db: psycopg.Connection, case_id: str) -> int | None:
    row = db.execute("SELECT synced_version FROM case_step_watch WHERE case_id = %s", (case_id,)).fetchone()
    return None if row is None else row[0]


def test_a_pack_loaded_under_a_running_worker_judges_its_next_case_and_not_the_earlier_one(
        stack, db: psycopg.Connection, tmp_path: Path) -> None:
    clock = ClockSettings(start=START, speed=SPEED, anchor=datetime.now(UTC))
    now = PlatformClock.from_settings(clock).now
    shipped, city = shipped_pack(), from_tables(_city_tables(), "test city pack")
    before, _ = store_pack(db, shipped, "test")  # the shipped tables are current when the worker starts
    cells = _cell(db, 117.01), _cell(db, 117.02)
    run = uuid.uuid4().hex[:8]
    producer = Producer({"bootstrap.servers": stack.settings.kafka.bootstrap_servers, "log_level": 3})
    worker = _worker(stack, clock, tmp_path / "worker.log")
    try:
        earlier_at = now()
        earlier_id = _camera_event(producer, f"cam-{run}-1", cells[0], earlier_at)
        wait_for(lambda: _case_of(db, earlier_id) and _synced(db, _case_of(db, earlier_id) or ""), 60,
                 "the earlier case and its clocks")
        earlier = _case_of(db, earlier_id)
        assert earlier is not None

        try:
            after, created = store_pack(db, city, "test")  # loaded while the worker runs; it is not restarted
            assert created and after > before

            later_at = now()
            later_id = _camera_event(producer, f"cam-{run}-2", cells[1], later_at)
            wait_for(lambda: _case_of(db, later_id), 60, "the later case")
            later = _case_of(db, later_id)
            assert later is not None
            # The earlier case is touched after the load, so the watch reads its clocks again, by its own version.
            CaseService(RuleBook(loaded_by="test")).act(db, Role.OPERATOR, "op", earlier, Action.ACCEPT, {}, (),
                                                        now())
            wait_for(lambda: ("overdue", "accept") in _watch_events(db, later), 60, "the later case's accept overdue")
            wait_for(lambda: set(_clocks(db, earlier)) == {"file"}, 30, "the watch reading the earlier case again")
        finally:
            store_pack(db, shipped, "test")  # the shipped tables again, for the tests after this one
    finally:
        stop_service(worker)

    # The worker filed the later case under the new version: class B, its 4 hours counted round the clock.
    version, disposal_class, provisional = _case(db, later)
    assert (version, disposal_class) == (after, "B")
    assert provisional == city.rules.disposal_deadline(later_at, CITY) == later_at + timedelta(hours=4)
    assert _watch_events(db, later)[:2] == [("deadline_warning", "accept"), ("overdue", "accept")]
    warning = db.execute("SELECT payload FROM case_events WHERE case_id = %s AND action = 'deadline_warning' "
                         "ORDER BY seq LIMIT 1", (later,)).fetchone()[0]["data"]
    assert datetime.fromisoformat(warning["deadline_at"]) == later_at + timedelta(minutes=10)  # not tomorrow 08:40

    # The earlier case keeps the shipped version: class C, its deadlines counted in working hours from 08:30.
    version, disposal_class, provisional = _case(db, earlier)
    assert (version, disposal_class) == (before, "C")
    assert provisional == shipped.rules.disposal_deadline(earlier_at, CITY)
    assert provisional != city.rules.disposal_deadline(earlier_at, CITY)
    tomorrow = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)  # Thursday 08:30 in the city
    assert _clocks(db, earlier) == {"file": tomorrow + timedelta(minutes=30)}  # read again after the load
    assert _watch_events(db, earlier) == []  # nothing warned tonight
