"""Deadline watch: a timer that asks the case service to escalate overdue (超期) open cases, once per deadline
(civicgrid/cases/deadlines.py: an overdue transition and an urging, 督办)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import faust
from psycopg_pool import ConnectionPool

from civicgrid.cases import CaseService

log = logging.getLogger(__name__)


def register(app: faust.App, pool: ConnectionPool, cases: CaseService, every_s: float) -> None:
    def escalate() -> int:
        with pool.connection() as conn:
            return cases.escalate_overdue(conn, datetime.now(UTC))

    @app.timer(every_s)
    async def watch_deadlines() -> None:
        try:
            n = await asyncio.to_thread(escalate)
            if n:
                log.info("deadline watch: %d case(s) overdue and urged", n)
        except Exception:
            log.exception("deadline watch failed; next round in %s s", every_s)
