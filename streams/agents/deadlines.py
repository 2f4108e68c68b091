"""Deadline watch: overdue (超期) open cases get an overdue event and an urging (督办), once per deadline."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust
from psycopg_pool import ConnectionPool

from civicgrid.bus import records
from civicgrid.bus.topics import CASE_EVENTS
from civicgrid.domain.case_state import Action, Command, LifecycleError, Role
from civicgrid.domain.lifecycle import apply
from civicgrid.store import cases

log = logging.getLogger(__name__)
WATCHER = "system:deadline-watch"


def escalate_overdue(pool: ConnectionPool, now: datetime) -> int:
    """Record each newly overdue case once; return how many were escalated."""
    escalated = 0
    with pool.connection() as conn:
        for case_id, kind, deadline_at in cases.open_cases_past(conn, now):
            with conn.transaction():
                if not cases.mark_alerted(conn, case_id, kind, deadline_at):
                    continue  # another worker got there first
                case = cases.lock_case(conn, case_id)
                cases.enqueue(conn, CASE_EVENTS, case_id, {
                    "v": records.SCHEMA_VERSION, "case_id": case_id, "seq": case.version, "action": "overdue",
                    "from_state": case.state.value, "to_state": case.state.value, "role": "system", "actor": WATCHER,
                    "at": now.isoformat(), "data": {"deadline": kind, "deadline_at": deadline_at.isoformat()},
                    "source": case.source.value, "category": case.category, "cell": case.cell,
                    "department": case.department})
                try:
                    urged = apply(case, Command(Action.URGE, Role.ADMIN, WATCHER,
                                                {"note": f"{kind} deadline {deadline_at.isoformat()} passed"}), now)
                    cases.record_transition(conn, urged)
                except LifecycleError as exc:  # e.g. a state where urging is not possible
                    log.info("case %s overdue but not urgeable: %s", case_id, exc)
                escalated += 1
    return escalated


def register(app: faust.App, pool: ConnectionPool, every_s: float) -> None:
    import asyncio

    @app.timer(every_s)
    async def watch_deadlines() -> None:
        try:
            n = await asyncio.to_thread(escalate_overdue, pool, datetime.now(UTC))
            if n:
                log.info("deadline watch: %d case(s) overdue and urged", n)
        except Exception:
            log.exception("deadline watch failed; next round in %s s", every_s)
