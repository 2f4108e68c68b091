"""The case builder's bad records: an unreadable task answer on cg.reports is dead-lettered with its reason,
and the agent goes on to build the next case (it used to die on its own dead letter, writing none)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from confluent_kafka import Producer

from civicgrid.bus import records, topics
from civicgrid.settings import Settings
from tests.e2e.conftest import Corner
from tests.support.kafka import KafkaTail
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e


def test_an_unreadable_answer_is_dead_lettered_and_the_next_problem_still_opens_a_case(
        worker: tuple[Settings, object], corner: Corner, db: psycopg.Connection) -> None:
    settings, _ = worker
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    bad_answer = {"v": 1, "device_id": f"hh-{run}", "kind": "handheld", "profile": "handheld", "channel": "reports",
                  "seq": 1, "ts": now, "received_at": now,
                  "data": {"kind": "verification", "report_id": f"r-{run}", "task_id": f"not-a-case-{run}",
                           "result": "confirmed"}}
    alarm = {"v": 1, "alarm_id": f"mh-{run}:1", "device_id": f"mh-{run}", "kind": "manhole-sensor",
             "rule": "cover_tilted", "rule_kind": "threshold", "action": "raise", "ts": now, "value": 30,
             "limit": 15, "category": "C0102", "linked_component": True, "component_state": "tilted",
             "urgency": "A", "device_alarm": False, "component_code": corner.component,
             "grid_cell_code": corner.cell, "inspector_user_id": None, "source_seq": 1}
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.DEADLETTER])
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    try:
        # Same key, so the same partition and the same agent: the answer first, the alarm after it.
        producer.produce(topics.REPORTS, records.dumps(bad_answer), corner.component.encode())
        producer.produce(topics.ALARMS, records.dumps(alarm), corner.component.encode())
        assert producer.flush(10) == 0
        seen = tail.collect(lambda rs: any(run in orjson.dumps(v).decode() for _, _, v in rs), timeout_s=60)
    finally:
        tail.close()
    letter = next(v for _, _, v in seen if run in orjson.dumps(v).decode())
    assert letter["reason"] == "stream_unreadable" and "cg.reports" in letter["mqtt_topic"] + letter["detail"]
    assert "task_id" in letter["detail"]
    wait_for(lambda: db.execute("SELECT 1 FROM case_evidence WHERE source_record_id = %s",
                                (f"alarm:mh-{run}:1",)).fetchone() is not None, 60, "the next problem's case")
