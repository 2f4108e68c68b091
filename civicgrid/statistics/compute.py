"""One statistics answer for a period and a filter: the store's queries, shaped (shaping.py).

Every part of the answer reads the same cases (reported in the period, passing the filter) in one
REPEATABLE READ transaction, so a case filed meanwhile cannot make the breakdowns disagree with the total.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from civicgrid.statistics import shaping
from civicgrid.statistics.periods import Period
from civicgrid.statistics.shaping import Bucket, Statistics
from civicgrid.store import statistics as q
from civicgrid.store.statistics import CaseFilter, Dimension

AREA_LEVELS = (Dimension.STREET, Dimension.COMMUNITY, Dimension.CELL, Dimension.GRID)
RECURS_AT = 2  # a category reported this often in one cell within the period is a recurring problem


def collect(conn: psycopg.Connection, period: Period, where: CaseFilter | None = None, *,
            area_level: Dimension = Dimension.STREET, top: int = 10, bucket: Bucket | None = None) -> Statistics:
    if area_level not in AREA_LEVELS:
        raise ValueError(f"area level {area_level} is not one of {', '.join(AREA_LEVELS)}")
    where = where or CaseFilter()
    previous = period.previous()
    bucket = bucket or shaping.bucket_for(period)
    width = 1 if bucket is Bucket.DAY else 7
    start, end = period.start, period.end
    with _snapshot(conn):
        totals = q.totals(conn, start, end, where)
        categories = q.counts_by(conn, Dimension.CATEGORY, start, end, where)
        sources = q.counts_by(conn, Dimension.SOURCE, start, end, where)
        areas = q.counts_by(conn, area_level, start, end, where)
        cells = areas if area_level is Dimension.CELL else q.counts_by(conn, Dimension.CELL, start, end, where)
        recurring = q.recurring(conn, start, end, where, at_least=RECURS_AT, limit=top)
        now = q.per_bucket(conn, width, start, end, where)
        before = q.per_bucket(conn, width, previous.start, previous.end, where)
    n = totals.cases
    return Statistics(
        period=period, previous=previous, totals=shaping.totals_of(totals),
        by_category=shaping.counts(Dimension.CATEGORY, categories, n),
        by_source=shaping.counts(Dimension.SOURCE, sources, n),
        area_level=area_level, by_area=shaping.counts(area_level, areas, n),
        hot_cells=shaping.counts(Dimension.CELL, [c for c in cells if c.key is not None], n, limit=top),
        recurring=shaping.hot_spots(recurring),
        trend=shaping.trend(period, previous, bucket, now, before))


@contextmanager
def _snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """A read-only REPEATABLE READ transaction, unless the caller already holds one."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        yield
        return
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield
