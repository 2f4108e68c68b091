"""The deadline watch in a real `civicgrid worker` on a simulated platform clock (90×): a hotline case's
accept clock (10 working minutes) and filing clock (30) each get their warning at 80 % and their overdue event once,
on the case record and on cg.case-events, although the first worker is killed between the accept warning and the
rest and a second one takes over (the watch's state is in the database, docs/streams.md)."""

from __future__ import annotations

import random
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest

from civicgrid.bus import topics
from civicgrid.cases import CaseService
from civicgrid.cases.rulebook import RuleBook
from civicgrid.clock import ClockSettings, PlatformClock
from civicgrid.domain.case_state import Source
from civicgrid.stack.ephemeral import free_ports
from tests.integration.cases.test_case_service import FixedPlace, _problem
from tests.support.kafka import KafkaTail
from tests.support.services import start_service, stop_service, wait_for

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # Wednesday 09:00 in the city (UTC+8)
SPEED = 90.0  # a simulated minute in two thirds of a wall second
SCAN_S = 0.3


def _worker(stack, clock: ClockSettings, log: Path):
    (port,) = free_ports(1)
    streams = stack.settings.streams.model_copy(update={
        "app_id": f"dw-{uuid.uuid4().hex[:6]}", "roles": ("deadlines", "outbox"), "metrics_port": port,
        "deadline_scan_s": SCAN_S})
    proc = start_service("worker", stack.settings.model_copy(update={"streams": streams, "clock": clock}), log)
    wait_for(lambda: "Worker: Ready" in log.read_text(), 60, "worker ready", proc, log)
    return proc, port


def _last_watch_round(port: int) -> float:
    """When (wall, epoch seconds) the worker's deadline watch last finished a round, from its /healthz."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return orjson.loads(response.read())["timers"]["deadline watch"]["last_ok"] or 0.0


def _watch_events(db: psycopg.Connection, case_id: str) -> list[tuple[str, str]]:
    rows = db.execute("SELECT payload FROM case_events WHERE case_id = %s AND action IN ('deadline_warning', "
                      "'overdue') ORDER BY seq", (case_id,)).fetchall()
    return [(r[0]["action"], r[0]["data"]["step"]) for r in rows]


def test_each_step_is_warned_and_overdue_once_across_a_worker_crash(stack, db: psycopg.Connection,
                                                                     tmp_path: Path) -> None:
    clock = ClockSettings(start=START, speed=SPEED, anchor=datetime.now(UTC))
    now = PlatformClock.from_settings(clock).now
    code = f"341523001{random.randrange(1, 1000):03d}{random.randrange(1, 100):02d}"
    ring = [[117.0, 31.5], [117.001, 31.5], [117.001, 31.501], [117.0, 31.501], [117.0, 31.5]]
    db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000) ON CONFLICT DO NOTHING",
               (code, orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
    tail = KafkaTail(stack.settings.kafka.bootstrap_servers, [topics.CASE_EVENTS])
    first, _ = _worker(stack, clock, tmp_path / "first.log")
    try:
        reported = now()
        case_id = CaseService(RuleBook(loaded_by="test")).record_problem(
            db, _problem(uuid.uuid4().hex, "E0102", source=Source.HOTLINE, at=reported), FixedPlace(code),
            timedelta(hours=24)).case_id
        wait_for(lambda: _watch_events(db, case_id), 60, "the accept warning")
        assert _watch_events(db, case_id) == [("deadline_warning", "accept")]
        assert now() < reported + timedelta(minutes=10), "the worker was too slow to see the warning alone"
    finally:
        first.kill()  # a crash: nothing it kept in memory survives
        first.wait()
    second, port = _worker(stack, clock, tmp_path / "second.log")
    try:
        wait_for(lambda: len(_watch_events(db, case_id)) >= 4, 90, "the filing clock's overdue event")
        # A repeat would come in a later round: let the watch finish rounds for two wall seconds (six or so at
        # 0.3 s) after the last event was seen, rather than wait out a fixed span.
        seen = time.time()
        wait_for(lambda: _last_watch_round(port) > seen + 2.0, 30, "two more seconds of the watch's rounds")
    finally:
        stop_service(second)
    # 8 and 10 minutes into the accept limit, 24 and 30 into filing's, in that order, each once
    assert _watch_events(db, case_id) == [("deadline_warning", "accept"), ("overdue", "accept"),
                                          ("deadline_warning", "file"), ("overdue", "file")]
    events = db.execute("SELECT seq, time, payload FROM case_events WHERE case_id = %s AND seq > 1 ORDER BY seq",
                        (case_id,)).fetchall()
    due = [reported + timedelta(minutes=m) for m in (8, 10, 24, 30)]
    for (_, at, payload), moment in zip(events, due, strict=True):  # never early; late by the restart at most
        assert moment <= at, (payload["action"], payload["data"]["step"], at)
    assert events[0][1] < due[0] + timedelta(minutes=3)  # the running worker's warning came within 2 wall seconds
    warning = events[0][2]["data"]
    assert warning["deadline"] == "accept" and warning["share"] == 0.8
    assert datetime.fromisoformat(warning["deadline_at"]) == reported + timedelta(minutes=10)
    try:
        on_kafka = tail.collect(lambda recs: len([r for t, k, r in recs if k == case_id.encode()
                                                  and r["action"] in ("deadline_warning", "overdue")]) >= 4)
    finally:
        tail.close()
    mine = [(r["seq"], r["action"]) for t, k, r in on_kafka if k == case_id.encode() and r["seq"] > 1]
    assert sorted(set(mine)) == [(e[0], e[2]["action"]) for e in events]
