"""The local stack's three services answer through their real protocols."""

from __future__ import annotations

import time
import uuid

import orjson
import psycopg
import pytest
from confluent_kafka import Consumer, Producer

from civicgrid.bus import topics
from civicgrid.bus.admin import admin_client
from civicgrid.settings import Settings
from civicgrid.stack import LocalStack

pytestmark = pytest.mark.integration


def test_every_service_is_healthy(stack: LocalStack) -> None:
    statuses = stack.status()
    assert [(s.name, s.state) for s in statuses] == [
        ("postgres", "healthy"), ("mosquitto", "healthy"), ("kafka", "healthy"),
    ]


def test_up_again_keeps_the_running_services(stack: LocalStack) -> None:
    before = {s.name: s.pid for s in stack.status()}
    after = {s.name: s.pid for s in stack.up()}
    assert after == before


def test_timescaledb_is_2_19(db: psycopg.Connection) -> None:
    (version,) = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    assert version.startswith("2.19.")


def test_feature_check_records_the_apache_build(db: psycopg.Connection) -> None:
    features = dict(db.execute("SELECT name, value FROM platform_features").fetchall())
    assert features["timescaledb_license"] == "apache"
    assert features["continuous_aggregates"] == "false"
    assert features["compression"] == "false"
    assert features["timescaledb_version"].startswith("2.19.")


def test_hypertables_exist(db: psycopg.Connection) -> None:
    rows = db.execute("SELECT hypertable_name FROM timescaledb_information.hypertables").fetchall()
    # Later migrations add their own (track_rejects, camera_detections …): these must be there.
    expected = {"telemetry", "track_points", "device_events", "alarms", "case_events", "track_rejects"}
    assert expected <= {r[0] for r in rows}


def test_hypertable_row_round_trip_and_idempotent_insert(db: psycopg.Connection) -> None:
    device = f"dev-{uuid.uuid4().hex[:8]}"
    insert = ("INSERT INTO telemetry (time, device_id, seq, payload) VALUES "
              "('2026-11-24T08:00:00+08', %s, 7, %s) ON CONFLICT DO NOTHING")
    payload = orjson.dumps({"fill_pct": 83}).decode()
    assert db.execute(insert, (device, payload)).rowcount == 1
    assert db.execute(insert, (device, payload)).rowcount == 0  # a re-delivered record adds nothing
    rows = db.execute("SELECT seq, payload->>'fill_pct', time_bucket('1 hour', time) = "
                      "'2026-11-24T00:00:00Z' FROM telemetry WHERE device_id = %s", (device,)).fetchall()
    assert rows == [(7, "83", True)]


def test_all_topics_declared_with_the_configured_partitions(settings: Settings) -> None:
    metadata = admin_client(settings.kafka.bootstrap_servers).list_topics(timeout=5)
    counts = {name: len(metadata.topics[name].partitions) for name in topics.ALL_TOPICS}
    assert counts == dict.fromkeys(topics.ALL_TOPICS, settings.kafka.partitions)


def test_kafka_produce_and_consume_one_record(settings: Settings) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    key, value = f"manhole-{uuid.uuid4().hex[:8]}".encode(), orjson.dumps({"v": 1, "seq": 1, "tilt_deg": 3.5})
    delivered = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(topics.TELEMETRY, value=value, key=key, on_delivery=lambda err, msg: delivered.append(err))
    assert producer.flush(10) == 0
    assert delivered == [None]

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topics.TELEMETRY])
    try:
        found = None
        deadline = time.monotonic() + 30
        while found is None and time.monotonic() < deadline:  # other tests' records come first
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None and msg.key() == key:
                    found = msg
        assert found is not None, "the produced record never came back"
        assert orjson.loads(found.value()) == {"v": 1, "seq": 1, "tilt_deg": 3.5}
    finally:
        consumer.close()
