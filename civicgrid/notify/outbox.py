"""The notifications table (migration 0015): what each caller is owed, and every attempt to deliver it.

A closing event owes one notification per caller who asked for a callback and per channel, once (unique on caller,
event and channel, so a re-read event owes nothing new). Delivery takes the due ones with ``FOR UPDATE SKIP
LOCKED`` — any number of notifier processes never send one twice at the same time — and records the outcome: sent,
or the error with the next attempt after an exponential back-off, or failed for good after `max_attempts`. Failures
stay in the table for operators to see (GET /notifications), and an admin sends them again (`resend`, recorded in
``notification_resends``, migration 0025).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from civicgrid.notify.notifier import DeliveryFailed, Message, Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Retry:
    max_attempts: int = 6
    backoff_s: float = 30.0  # then 60, 120, ... between attempts

    def after(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.backoff_s * 2 ** max(attempts - 1, 0))


def owe(conn: psycopg.Connection, case_id: str, event_seq: int, channels: tuple[str, ...]) -> int:
    """The notifications a case's closing event owes its callers who asked for a callback — its own, and those of
    the reports merged into it (合并), which stay on their cancelled case: the merge left a `merged_from` note on
    the case it joined (civicgrid/cases/actions.py), followed here through merges of merges, each an index probe
    on case_evidence (case_id). How many are new."""
    cur = conn.execute(
        "WITH RECURSIVE joined (id) AS (SELECT %(case)s::uuid UNION "
        "SELECT (e.data -> 'merged_from' ->> 'case_id')::uuid FROM case_evidence e JOIN joined j ON e.case_id = j.id "
        "WHERE e.data ? 'merged_from') "
        "INSERT INTO notifications (case_id, caller_id, event_seq, channel) "
        "SELECT %(case)s::uuid, k.id, %(seq)s, ch FROM case_callers k JOIN joined j ON k.case_id = j.id, "
        "unnest(%(channels)s::text[]) AS ch WHERE k.callback ON CONFLICT (caller_id, event_seq, channel) DO NOTHING",
        {"case": case_id, "seq": event_seq, "channels": list(channels)})
    return cur.rowcount


_DUE = (
    "SELECT n.id, n.case_id::text, c.case_no, c.category_code, n.channel, n.attempts, k.channel, k.name, k.phone, "
    "k.email, k.account_id, k.client, e.time, e.payload -> 'data' ->> 'public_note', r.case_no "
    "FROM notifications n JOIN case_callers k ON k.id = n.caller_id JOIN cases c ON c.id = n.case_id "
    "JOIN cases r ON r.id = k.case_id "
    "LEFT JOIN case_events e ON e.case_id = n.case_id AND e.seq = n.event_seq "
    "WHERE n.status = 'pending' AND n.next_attempt_at <= %s ORDER BY n.next_attempt_at LIMIT %s "
    "FOR UPDATE OF n SKIP LOCKED")


def deliver_due(conn: psycopg.Connection, notifiers: Mapping[str, Notifier], now: datetime, retry: Retry,
                limit: int = 20) -> tuple[int, int]:
    """Send what is due; (sent, failed attempts). One transaction: the rows stay locked while they are sent."""
    sent = failed = 0
    with conn.transaction():
        for row in conn.execute(_DUE, (now, limit)).fetchall():
            (nid, case_id, case_no, category, channel, attempts, caller_channel, name, phone, email, account_id,
             client, at, note, reported_as) = row
            message = Message(nid, case_id, case_no, category, "closed", at or now, note, caller_channel, name, phone,
                              email, account_id, client, reported_as)
            notifier = notifiers.get(channel)
            try:
                if notifier is None:
                    raise DeliveryFailed(f"no notifier for channel {channel!r} is configured")
                notifier.send(message)
            except DeliveryFailed as exc:
                failed += 1
                attempts += 1
                gave_up = attempts >= retry.max_attempts
                log.warning("notification %s (case %s, %s): attempt %d failed: %s%s", nid, case_no, channel, attempts,
                            exc, " — giving up" if gave_up else "", extra={"case_id": case_id})
                conn.execute("UPDATE notifications SET attempts = %s, last_error = %s, next_attempt_at = %s, "
                             "status = %s WHERE id = %s",
                             (attempts, str(exc)[:500], now + retry.after(attempts),
                              "failed" if gave_up else "pending", nid))
                continue
            sent += 1
            conn.execute("UPDATE notifications SET attempts = attempts + 1, status = 'sent', sent_at = %s, "
                         "last_error = NULL WHERE id = %s", (now, nid))
    return sent, failed


RESENT = "resent"


def resend(conn: psycopg.Connection, ids: Sequence[int], actor: str, reason: str, now: datetime) -> dict[int, str]:
    """Put failed notifications back in the queue (an admin had the receiver fixed), in one transaction.

    Each one resent goes back to pending, due now, its attempts from zero (so it gets `max_attempts` again), and a
    `notification_resends` row keeps who, when, why and the attempts and error it had failed with. Returns, per id
    asked, `RESENT` or why not: its status (pending, sent) or "unknown"."""
    if not reason.strip():
        raise ValueError("a resend needs its reason: the record is read by people")
    with conn.transaction():
        resent = {r[0] for r in conn.execute(
            "WITH picked AS (SELECT id, attempts, last_error FROM notifications WHERE id = ANY(%(ids)s) "
            "AND status = 'failed' FOR UPDATE), "
            "recorded AS (INSERT INTO notification_resends (notification_id, at, actor, reason, attempts, last_error) "
            "SELECT id, %(now)s, %(actor)s, %(reason)s, attempts, last_error FROM picked) "
            "UPDATE notifications n SET status = 'pending', attempts = 0, next_attempt_at = %(now)s FROM picked "
            "WHERE n.id = picked.id RETURNING n.id",
            {"ids": list(ids), "now": now, "actor": actor, "reason": reason}).fetchall()}
        rows = conn.execute("SELECT id, status FROM notifications WHERE id = ANY(%s)",
                            ([i for i in ids if i not in resent],)).fetchall()
    others: dict[int, str] = {r[0]: r[1] for r in rows}
    for nid in sorted(resent):
        log.info("notification %s sent again by %s: %s", nid, actor, reason)
    return {nid: RESENT if nid in resent else others.get(nid, "unknown") for nid in ids}


def failed_ids(conn: psycopg.Connection, case_id: str | None = None, limit: int = 10_000) -> list[int]:
    """The failed notifications (of one case), oldest first: what `civicgrid notifier resend` sends again."""
    rows = conn.execute("SELECT id FROM notifications WHERE status = 'failed' "
                        "AND (%(case)s::uuid IS NULL OR case_id = %(case)s::uuid) ORDER BY id LIMIT %(limit)s",
                        {"case": case_id, "limit": limit}).fetchall()
    return [r[0] for r in rows]
