"""Scheduled publications: each kind's last complete period, published once, by whichever API replica gets there.

Where it runs: a thread of the API process (`PublicationSchedule`, started by the app's lifespan with the
other background loops when `statistics.schedule` is on), because the API is the one service every
installation runs and it already holds the database. Every `statistics.check_s` seconds it asks, for each
kind in `statistics.kinds`, for the last period that ended before today (platform clock: a simulated run
publishes its simulated days), and publishes it unless the table already has it. A transaction-level
advisory lock per kind keeps two replicas from making the same documents twice; the loser finds the row
and moves on. `statistics.settle_h` waits that long after a period ends, so late reports of its last
hour are in. A failure is logged and retried at the next check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.settings import Settings
from civicgrid.statistics.periods import Period, last_complete
from civicgrid.statistics.publications import PublicationKind, publish
from civicgrid.store import statistics as q
from civicgrid.store.db import connect

log = logging.getLogger(__name__)


def due(kinds: Sequence[PublicationKind], now: datetime, settle: timedelta) -> list[tuple[PublicationKind, Period]]:
    """The last complete period of each kind, once it has been over for `settle`."""
    today = (now - settle).astimezone(CHINA_TZ).date()
    return [(kind, last_complete(kind.period_kind, today)) for kind in kinds]


def publish_due(conn: psycopg.Connection, kinds: Sequence[PublicationKind], now: datetime, settle: timedelta,
                font: Path | None = None) -> list[q.PublicationRow]:
    """Publish what is due and not yet in the table; returns the new rows."""
    made = []
    for kind, period in due(kinds, now, settle):
        if q.publication_exists(conn, kind.value, period.first):
            continue
        with conn.transaction():
            # One replica at a time per kind; the lock goes with the transaction.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"publication:{kind.value}",))
            if q.publication_exists(conn, kind.value, period.first):
                continue
            row, _ = publish(conn, kind, period, now, "schedule", font)
        log.info("published %s %s (%s cases, %s + %s bytes)", kind.value, period.label, row.cases, row.xlsx_bytes,
                 row.pdf_bytes)
        made.append(row)
    return made


class PublicationSchedule(threading.Thread):
    """The API's scheduled-publication loop; `stop()` ends it within a check."""

    def __init__(self, connect: Callable[[], psycopg.Connection], now: Callable[[], datetime],
                 kinds: Sequence[PublicationKind], check_s: float, settle: timedelta, font: Path | None = None,
                 first_check_s: float = 30.0) -> None:
        super().__init__(name="publication-schedule", daemon=True)
        self.connect, self.now, self.kinds, self.check_s = connect, now, tuple(kinds), check_s
        self.settle, self.font, self.first_check_s = settle, font, first_check_s
        self.stop_event = threading.Event()

    def run(self) -> None:
        # The first check waits a little: start-up (pool, rules, relay) goes first.
        wait = self.first_check_s
        while not self.stop_event.wait(wait):
            wait = self.check_s
            try:
                with self.connect() as conn:
                    publish_due(conn, self.kinds, self.now(), self.settle, self.font)
            except Exception:
                log.exception("scheduled publications failed; next try in %.0f s", self.check_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        self.join(timeout_s)


def schedule_from_settings(settings: Settings, now: Callable[[], datetime]) -> PublicationSchedule | None:
    """The loop the settings ask for (None when `statistics.schedule` is off)."""
    s = settings.statistics
    if not s.schedule:
        return None
    return PublicationSchedule(lambda: connect(settings.db, autocommit=True), now,
                               [PublicationKind(k) for k in s.kinds], s.check_s, timedelta(hours=s.settle_h),
                               s.cjk_font, s.first_check_s)
