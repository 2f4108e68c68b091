"""The deadline watch's intent: a case whose disposal deadline passed gets, once per deadline, an
``overdue`` event (超期) and an urging (督办), as transitions of their own.

Both are lifecycle transitions with the next sequence numbers of the case, so consumers that
deduplicate on (case id, seq) see each once. (The overdue event used to be a hand-built record
carrying the previous transition's seq, and could be dropped as that transition's duplicate.)
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

from civicgrid.cases import repository as store
from civicgrid.cases.rulebook import RuleBook
from civicgrid.domain import lifecycle
from civicgrid.domain.case_state import Action, Command, LifecycleError, Role

log = logging.getLogger(__name__)
WATCHER = "system:deadline-watch"


def escalate_overdue(book: RuleBook, conn: psycopg.Connection, now: datetime) -> int:
    """Record each newly overdue case once, by the rules of its own version; return how many were escalated."""
    escalated = 0
    for case_id, kind, deadline_at in store.open_cases_past(conn, now):
        rules = book.for_case(conn, case_id)
        with conn.transaction():
            if not store.mark_alerted(conn, case_id, kind, deadline_at):
                continue  # another worker got there first
            case = store.lock_case(conn, case_id)
            overdue = lifecycle.apply(case, Command(Action.OVERDUE, Role.ADMIN, WATCHER, {
                "deadline": kind, "deadline_at": deadline_at, "note": f"{kind} deadline passed"}), now,
                permissions=rules.permissions, policy=rules.policy)
            store.record_transition(conn, overdue)
            try:
                urged = lifecycle.apply(overdue.case, Command(Action.URGE, Role.ADMIN, WATCHER, {
                    "note": f"{kind} deadline {deadline_at.isoformat()} passed"}), now,
                    permissions=rules.permissions, policy=rules.policy)
                store.record_transition(conn, urged)
            except LifecycleError as exc:  # e.g. a state where urging is not possible
                log.info("case %s overdue but not urgeable: %s", case_id, exc)
            escalated += 1
    return escalated
