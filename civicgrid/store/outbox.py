"""The outbox relay: publish committed ``outbox`` rows to Kafka in id order, then stamp them.

Several relays may run (API and streams workers): ``FOR UPDATE SKIP LOCKED``
gives each row to one of them.  A row is stamped only after Kafka
acknowledged it, so a crash between the two publishes it again (consumers of
``cg.case-events`` dedupe on ``(case_id, seq)``).
"""

from __future__ import annotations

import logging

import psycopg
from confluent_kafka import Producer

from civicgrid.bus import records
from civicgrid.bus.delivery import produce_all

log = logging.getLogger(__name__)


def relay_once(conn: psycopg.Connection, producer: Producer, batch: int = 500) -> int:
    """Publish up to `batch` pending rows; return how many were published."""
    with conn.transaction():
        rows = conn.execute("SELECT id, topic, key, payload FROM outbox WHERE published_at IS NULL "
                            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (batch,)).fetchall()
        if not rows:
            return 0
        # NotDelivered rolls back: nothing is stamped, everything is retried (duplicates are allowed, losses are
        # not).
        produce_all(producer, ((topic, records.dumps(payload), key.encode(), None) for _, topic, key, payload in rows),
                    "the outbox relay's records")
        conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)", ([r[0] for r in rows],))
    return len(rows)
