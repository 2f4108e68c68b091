"""The shared case repository against the real database: idempotent creation, merging, locked transitions,
and the outbox relay publishing on cg.case-events."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from confluent_kafka import Producer

from civicgrid.bus import topics
from civicgrid.cases import repository as cases
from civicgrid.domain.case_state import Action, Command, IllegalTransition, Role, Source, State
from civicgrid.domain.lifecycle import apply, open_case
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from civicgrid.store.outbox import relay_once
from tests.support.kafka import KafkaTail

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _open(conn: psycopg.Connection, source_record_id: str, category: str = "E0102", cell: str | None = None):
    opened = open_case(cases.new_case_id(), Source.SENSOR,
                       Command(Action.REPORT, Role.OPERATOR, "device:x", {"category": category}), NOW)
    with conn.transaction():
        return cases.create_case(conn, opened, cases.CaseDetails(description="test"),
                                 source_record_id=source_record_id, rules_version=None,
                                 evidence=cases.Evidence(f"{source_record_id}/e", "alarm", NOW, "x", {"v": 1}))


def test_creation_is_idempotent_on_the_source_record(db: psycopg.Connection) -> None:
    source = f"alarm:{uuid.uuid4()}"
    first_id, created = _open(db, source)
    again_id, created_again = _open(db, source)
    assert (created, created_again, again_id) == (True, False, first_id)
    assert db.execute("SELECT count(*), max(evidence_count) FROM cases WHERE source_record_id = %s",
                      (source,)).fetchone() == (1, 1)
    assert db.execute("SELECT count(*) FROM case_events WHERE case_id = %s", (first_id,)).fetchone() == (1,)


def test_open_case_is_found_for_merging_and_evidence_is_added_once(db: psycopg.Connection) -> None:
    case_id, _ = _open(db, f"alarm:{uuid.uuid4()}", category="E0404")
    db.execute("UPDATE cases SET grid_cell_code = NULL WHERE id = %s", (case_id,))
    with db.transaction():
        found = cases.find_open_case(db, component_code=None, category_code="E0404", grid_cell_code=None,
                                     since=NOW - timedelta(hours=1))
    assert found is None  # no cell, no component: nothing to merge on
    evidence = cases.Evidence(f"alarm:{uuid.uuid4()}", "alarm", NOW, "x")
    assert cases.add_evidence(db, case_id, evidence)
    assert not cases.add_evidence(db, case_id, evidence)
    assert db.execute("SELECT evidence_count FROM cases WHERE id = %s", (case_id,)).fetchone() == (2,)


def test_transition_round_trips_the_lifecycle_state(db: psycopg.Connection) -> None:
    case_id, _ = _open(db, f"alarm:{uuid.uuid4()}")
    with db.transaction():
        case = cases.lock_case(db, case_id)
        filed = apply(case, Command(Action.FILE, Role.SHIFT_LEADER, "leader-1", {"category": "E0102",
                                                                                 "disposal_class": "B"}), NOW)
        cases.record_transition(db, filed)
    with db.transaction():
        assert cases.lock_case(db, case_id) == filed.case
    assert db.execute("SELECT state, disposal_class, version FROM cases WHERE id = %s",
                      (case_id,)).fetchone() == ("filed", "B", 2)


def test_two_concurrent_dispatches_make_one_winner(settings: Settings, db: psycopg.Connection) -> None:
    db.execute("INSERT INTO departments (id, name) VALUES ('sanitation', '环卫处'), ('utilities', '市政处') "
               "ON CONFLICT DO NOTHING")
    case_id, _ = _open(db, f"alarm:{uuid.uuid4()}")
    with db.transaction():
        case = cases.lock_case(db, case_id)
        cases.record_transition(db, apply(case, Command(Action.FILE, Role.SHIFT_LEADER, "l", {"category": "E0102"}),
                                          NOW))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def dispatch(department: str) -> None:
        with connect(settings.db) as conn:
            barrier.wait()
            try:
                with conn.transaction():
                    case = cases.lock_case(conn, case_id)  # the second waits here for the first's commit
                    cases.record_transition(conn, apply(
                        case, Command(Action.DISPATCH, Role.DISPATCHER, department, {"department": department}), NOW))
                outcomes.append("dispatched")
            except IllegalTransition:
                outcomes.append("conflict")

    threads = [threading.Thread(target=dispatch, args=(d,)) for d in ("sanitation", "utilities")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["conflict", "dispatched"]
    assert db.execute("SELECT state FROM cases WHERE id = %s", (case_id,)).fetchone() == (State.DISPATCHED.value,)


def test_outbox_relay_publishes_the_transitions(settings: Settings, db: psycopg.Connection) -> None:
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.CASE_EVENTS])
    case_id, _ = _open(db, f"alarm:{uuid.uuid4()}")
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    with connect(settings.db) as conn:
        while relay_once(conn, producer):
            pass
    try:
        tail.collect(lambda r: any(k == case_id.encode() for _, k, _ in r))
    finally:
        tail.close()
    (event,) = [v for _, k, v in tail.records if k == case_id.encode()]
    assert (event["action"], event["to_state"], event["seq"], event["source"]) == ("report", "reported", 1, "sensor")
    assert db.execute("SELECT count(*) FROM outbox WHERE key = %s AND published_at IS NULL",
                      (case_id,)).fetchone() == (0,)


def test_a_pending_postponement_survives_the_round_trip(db: psycopg.Connection) -> None:
    from civicgrid.domain.time_limits import Limit, Unit

    db.execute("INSERT INTO departments (id, name) VALUES ('sanitation', '环卫处') ON CONFLICT DO NOTHING")
    case_id, _ = _open(db, f"alarm:{uuid.uuid4()}")
    steps = [(Action.FILE, Role.SHIFT_LEADER, {"category": "E0102"}),
             (Action.DISPATCH, Role.DISPATCHER, {"department": "sanitation"}),
             (Action.SIGN, Role.DEPARTMENT, {}),
             (Action.REQUEST_POSTPONE, Role.DEPARTMENT, {"extension": Limit(2, Unit.DAYS), "reason": "parts"})]
    for action, role, data in steps:
        with db.transaction():
            case = cases.lock_case(db, case_id)
            cases.record_transition(db, apply(case, Command(action, role, "u", data), NOW))
    with db.transaction():
        assert cases.lock_case(db, case_id).pending.data["extension"] == Limit(2, Unit.DAYS)
