"""Devices → real Mosquitto → gateway → Kafka → stream worker → PostgreSQL: alarms become one case."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from confluent_kafka import Producer

from api.users import create_user
from civicgrid.bus import topics
from gateway.service import Gateway
from tests.e2e.conftest import Corner
from tests.support.mqtt import MqttTestClient
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Device:
    def __init__(self, settings, device_id: str, secret: str) -> None:
        self.id = device_id
        self.client = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
        self.client.connect()
        self.seq = 0

    def send(self, channel: str, **data) -> None:
        self.seq += 1
        body = orjson.dumps({"seq": self.seq, "ts": _now(), **data})
        assert self.client.publish(f"cg/{self.id}/{channel}", body).value == 0

    def close(self) -> None:
        self.client.close()


def _cases(db: psycopg.Connection, component: str) -> list[tuple]:
    return db.execute("SELECT id, source, state, category_code, grid_cell_code, disposal_class, "
                      "disposal_deadline - reported_at, evidence_count FROM cases WHERE component_code = %s",
                      (component,)).fetchall()


def test_tilted_cover_makes_one_case_and_further_alarms_merge(worker, gateway: Gateway, provision,
                                                               corner: Corner, db: psycopg.Connection) -> None:
    settings, log = worker
    device = Device(settings, *provision("manhole-sensor", component_code=corner.component))
    try:
        for tilt in (2, 3, 22, 25):  # debounce: two readings above 15° raise the alarm
            device.send("telemetry", tilt_deg=tilt, battery_pct=80)
        (case,) = wait_for(lambda: _cases(db, corner.component), 60, "a case for the tilted cover", log=log)
        _, source, state, category, cell, disposal_class, limit, evidence_count = case
        # The linked cover's own code (sewage cover C0102), its cell, urgency A: 2 natural hours.
        assert (source, state, category, cell, disposal_class, limit, evidence_count) == (
            "sensor", "reported", "C0102", corner.cell, "A", timedelta(hours=2), 1)

        device.send("event", type="opened")  # another alarm about the same cover
        wait_for(lambda: _cases(db, corner.component)[0][7] == 2, 30, "the opened alarm merged", log=log)
        for tilt in (1, 1, 30, 31):  # clear, then a new tilt episode: still the same open case
            device.send("telemetry", tilt_deg=tilt)
        wait_for(lambda: _cases(db, corner.component)[0][7] == 3, 30, "the second episode merged", log=log)
        wait_for(lambda: len(db.execute("SELECT 1 FROM alarms WHERE device_id = %s", (device.id,)).fetchall()) >= 4,
                 30, "alarm rows")
        rows = db.execute("SELECT action FROM alarms WHERE device_id = %s AND rule = 'cover_tilted' ORDER BY time",
                          (device.id,)).fetchall()
        assert [r[0] for r in rows] == ["raise", "clear", "raise"]  # one raise and one clear per episode
        assert len(_cases(db, corner.component)) == 1
        telemetry = db.execute("SELECT count(*), max((payload->>'tilt_deg')::float) FROM telemetry "
                               "WHERE device_id = %s", (device.id,)).fetchone()
        assert telemetry == (8, 31.0)
    finally:
        device.close()


def test_redelivered_alarm_does_not_duplicate(worker, gateway: Gateway, provision, corner: Corner,
                                              db: psycopg.Connection) -> None:
    settings, log = worker
    device = Device(settings, *provision("manhole-sensor", component_code=corner.component))
    try:
        device.send("telemetry", tilt_deg=40)
        device.send("telemetry", tilt_deg=41)
        (case,) = wait_for(lambda: _cases(db, corner.component), 60, "the case", log=log)
        assert case[7] == 1
        (alarm,) = wait_for(lambda: db.execute("SELECT payload FROM alarms WHERE device_id = %s AND action = 'raise'",
                                               (device.id,)).fetchone(), 30, "the alarm row")
        producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
        for _ in range(3):  # Kafka re-delivers the same alarm record
            producer.produce(topics.ALARMS, orjson.dumps(alarm), device.id.encode())
        producer.flush(10)
        device.send("telemetry", tilt_deg=1)
        device.send("telemetry", tilt_deg=1)  # a later record proves the duplicates were processed
        wait_for(lambda: db.execute("SELECT 1 FROM alarms WHERE device_id = %s AND action = 'clear'",
                                    (device.id,)).fetchone(), 30, "the clear")
        time.sleep(1)
        assert [(c[0], c[7]) for c in _cases(db, corner.component)] == [(case[0], 1)]
    finally:
        device.close()


def test_handheld_report_becomes_an_inspector_case(worker, gateway: Gateway, provision, corner: Corner,
                                                   db: psycopg.Connection) -> None:
    settings, log = worker
    device = Device(settings, *provision("handheld"))
    try:
        device.send("report", report_id="r-e2e-1", kind="report", category_code="E0102",
                    description="路边暴露垃圾", lon=corner.lon, lat=corner.lat, photo_ids=["ph-1"])
        row = wait_for(lambda: db.execute(
            "SELECT source, state, category_code, grid_cell_code, outside_grid, disposal_class FROM cases "
            "WHERE source_record_id = %s", (f"report:{device.id}:r-e2e-1",)).fetchone(), 60, "report case", log=log)
        assert row == ("inspector", "reported", "E0102", corner.cell, False, "B")
    finally:
        device.close()


def test_a_photo_of_a_cover_label_puts_the_report_on_that_cover(worker, gateway: Gateway, provision,
                                                                 corner: Corner, db: psycopg.Connection) -> None:
    """The API read the label at upload (media.labels); the inspector typed no component id and stood a few
    hundred metres off (GPS), but the case is the cover's: its code, its cell, its position."""
    settings, log = worker
    inspector, _ = create_user(db, f"insp-label-{corner.component[-6:]}-{time.monotonic_ns() % 10**6}", "inspector")
    photo = hashlib.sha256(f"label-{corner.component}".encode()).hexdigest()
    db.execute("INSERT INTO media (id, content_type, size_bytes, labels, uploaded_by) "
               "VALUES (%s, 'image/jpeg', 1, %s, %s)", (photo, [f"CG:{corner.component}"], inspector.id))
    device = Device(settings, *provision("handheld", inspector_user_id=inspector.id))
    try:
        for report_id, category in (("r-label-c", "C0101"), ("r-label-e", "E0102")):
            device.send("report", report_id=report_id, kind="report", category_code=category,
                        description="井盖破损", lon=corner.lon + 0.004, lat=corner.lat, photo_ids=[photo])
        component_case, event_case = (wait_for(lambda rid=rid: db.execute(
            "SELECT component_code, category_code, grid_cell_code FROM cases WHERE source_record_id = %s",
            (f"report:{device.id}:{rid}",)).fetchone(), 60, f"case of {rid}", log=log)
            for rid in ("r-label-c", "r-label-e"))
        assert component_case == (corner.component, "C0102", corner.cell)  # the cover's own category and cell
        assert event_case[:2] == (None, "E0102")  # an event report keeps its category; the label is only nearby
    finally:
        device.close()


def test_overdue_case_is_escalated_once(worker, gateway: Gateway, provision, corner: Corner,
                                        db: psycopg.Connection) -> None:
    settings, log = worker
    device = Device(settings, *provision("manhole-sensor", component_code=corner.component))
    try:
        device.send("telemetry", gas_lel_pct=50, tilt_deg=0)  # gas leak: urgency A, no debounce
        wait_for(lambda: db.execute("SELECT id FROM cases WHERE category_code = 'E0403' AND grid_cell_code = %s",
                                    (corner.cell,)).fetchone(), 60, "gas case", log=log)
        (case_id,) = db.execute("SELECT id FROM cases WHERE category_code = 'E0403' AND grid_cell_code = %s",
                                (corner.cell,)).fetchone()
        # The deadline watch reads the case's step clocks (civicgrid/cases/deadline_clocks.py); then its running
        # step is made overdue by moving that clock's deadline into the past.
        wait_for(lambda: db.execute("SELECT 1 FROM case_step_clocks WHERE case_id = %s AND overdue_at IS NULL",
                                    (case_id,)).fetchone(), 30, "the case's step clock", log=log)
        moved = db.execute("UPDATE case_step_clocks SET warn_at = now() - interval '2 minutes', "
                           "deadline_at = now() - interval '1 minute' WHERE case_id = %s AND overdue_at IS NULL",
                           (case_id,)).rowcount
        assert moved >= 1  # a reported case runs its accept and file clocks (docs/streams.md, "The deadline watch")
        wait_for(lambda: db.execute("SELECT 1 FROM outbox WHERE key = %s AND payload->>'action' = 'overdue'",
                                    (str(case_id),)).fetchone(), 30, "the overdue event", log=log)
        time.sleep(settings.streams.deadline_scan_s * 2)  # another scan must not record them again
        assert db.execute("SELECT count(*) FROM outbox WHERE key = %s AND payload->>'action' = 'overdue'",
                          (str(case_id),)).fetchone() == (moved,)  # once per step
    finally:
        device.close()
