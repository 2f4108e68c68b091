"""The component-state follower (``civicgrid basedata follow``): a consumer group on ``cg.case-events`` that keeps
each component's state with its cases (the rule: civicgrid/basedata/state_rule.py).

Why a consumer and not a step of the case service's transaction (docs/basedata.md): services meet only through
Kafka and the database (docs/architecture.md), and every case transition is already published there by the outbox
relay after it commits; the registry is a different concern from the case record, kept by the base-data staff,
and a component row locked by an edit, retired, or unknown must never refuse or roll back a case report from a
sensor or a caller. The cost is that the state trails the case by the relay's and the poll's delay (about a
second). Each event is applied in one transaction with its history row, whose unique key (component, case,
event seq) makes an event read twice change nothing; the offsets are committed after that transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import datetime

import psycopg
from confluent_kafka import Message

from civicgrid.basedata import registry
from civicgrid.basedata.state_rule import CaseEvent, decide, reported_state
from civicgrid.bus.case_event_follower import CaseEventFollower, readable
from civicgrid.bus.topics import CASE_EVENTS
from civicgrid.settings import Settings

log = logging.getLogger(__name__)
GROUP_ID = "civicgrid-component-state"


def apply_event(conn: psycopg.Connection, event: CaseEvent, at: datetime) -> bool:
    """Apply one case event to its component (in the caller's transaction); True when the component changed."""
    case = conn.execute("SELECT component_code, case_no, close_type, snapshot ->> 'merged_into' FROM cases "
                        "WHERE id = %s", (event.case_id,)).fetchone()
    if case is None or case[0] is None:
        return False
    code, case_no, close_type, merged_into = case
    if event.to_state in ("closed", "cancelled"):
        # The close type and the merge target are the case's, not the command's: read from the case row, final
        # once the case is in a terminal state.
        event = dataclasses.replace(event, data={**event.data, "close_type": close_type, "merged_into": merged_into})
    done = conn.execute("SELECT 1 FROM component_history WHERE component_code = %s AND case_id = %s AND case_seq = %s",
                        (code, event.case_id, event.seq)).fetchone()
    if done is not None:
        return False
    before = registry.snapshot(conn, code, lock=True)
    if before is None or before["retired_at"] is not None:
        return False
    reported = before_report = None
    if event.from_state is None:
        evidence = [r[0] for r in conn.execute("SELECT data FROM case_evidence WHERE case_id = %s ORDER BY at, id "
                                               "LIMIT 20", (event.case_id,)).fetchall()]
        reported = reported_state(evidence)
    elif event.to_state == "cancelled":
        row = conn.execute("SELECT before->>'state' FROM component_history WHERE component_code = %s AND case_id = %s "
                           "ORDER BY id LIMIT 1", (code, event.case_id)).fetchone()
        before_report = row[0] if row else None
    change = decide(event, case_no, before["state"], None if before["state_case_id"] is None
                    else str(before["state_case_id"]), reported=reported or before["state"],
                    before_report=before_report)
    if change is None:
        return False
    conn.execute("UPDATE components SET state = %s, state_case_id = %s, changed_at = %s WHERE code = %s",
                 (change.state, change.state_case_id, at, code))
    after = registry.snapshot(conn, code)
    assert after is not None
    registry.record(conn, code, "case", registry.Change(event.actor, at, change.reason), before, after,
                    case=(event.case_id, event.seq))
    log.info("component %s: %s (case %s, event %d)", code, change.reason, case_no, event.seq)
    return bool(before["state"] != change.state)


def events_of(messages: list[Message]) -> list[tuple[CaseEvent, datetime]]:
    """The case events among the records with their times; unreadable records are logged and passed over."""
    return readable(messages, lambda record: (CaseEvent.of(record), datetime.fromisoformat(record["at"])))


class ComponentStateFollower(CaseEventFollower):
    def __init__(self, settings: Settings, *, group_id: str = GROUP_ID, poll_s: float = 1.0) -> None:
        super().__init__(settings, group_id)
        self.poll_s = poll_s

    def step(self) -> int:
        """One poll: apply each event in its own transaction, then commit the offsets; how many components changed."""
        messages = [m for m in self.consumer.consume(200, self.poll_s) if m.error() is None]
        if not messages:
            return 0
        conn, changed = self._db(), 0
        for event, at in events_of(messages):
            with conn.transaction():
                changed += apply_event(conn, event, at)
        self.consumer.commit(asynchronous=False)
        return changed


def run(settings: Settings, stop: threading.Event) -> None:
    follower = ComponentStateFollower(settings)
    log.info("component-state follower: consumer group %s on %s", GROUP_ID, CASE_EVENTS)
    try:
        follower.run(stop)
    finally:
        follower.close()
