"""Case statistics in SQL on the case record (`cases`), and the publications table (migration 0014).

Every count selects the cases *reported* in [start, end) that pass one `CaseFilter` (a cell-code
prefix, a responsibility grid, a category-code prefix, a source), so the totals, the breakdowns,
the hot spots and the trend of one answer always add up. Area roll-ups are prefixes of the
14-digit cell code (county 6, street 9, community 12; docs/domain.md §1), which the
`cases_cell_prefix` index answers; a case outside every cell counts under the key None.
The trend is TimescaleDB's `time_bucket` in the city's zone, so day and week buckets start at
local midnight (weeks on Mondays). Shaping into reports is civicgrid/statistics/shaping.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import psycopg

CITY_ZONE = "Asia/Shanghai"  # the zone of civicgrid.domain.working_calendar.CHINA_TZ (UTC+8, no summer time)


class Dimension(StrEnum):
    CATEGORY = "category"
    SOURCE = "source"
    STREET = "street"
    COMMUNITY = "community"
    CELL = "cell"
    GRID = "grid"  # responsibility grid (责任网格)


@dataclass(frozen=True, slots=True)
class CaseFilter:
    area: str | None = None  # a cell-code prefix: 6 digits a county, 9 a street, 12 a community, 14 a cell
    grid: str | None = None  # a responsibility grid id
    category: str | None = None  # a typed category-code prefix: E, E01, E0102
    source: str | None = None


@dataclass(frozen=True, slots=True)
class CountRow:
    key: str | None
    name: str | None
    cases: int
    closed: int
    closed_on_time: int
    cancelled: int


@dataclass(frozen=True, slots=True)
class RecurringRow:
    cell: str
    category: str
    category_name: str | None
    cases: int


# Key and name of each breakdown; the grid's name comes from its table.
_KEYS: dict[Dimension, tuple[str, str, str]] = {
    Dimension.CATEGORY: ("c.category_code", "max(c.category_name)", ""),
    Dimension.SOURCE: ("c.source", "NULL", ""),
    Dimension.STREET: ("left(c.grid_cell_code, 9)", "NULL", ""),
    Dimension.COMMUNITY: ("left(c.grid_cell_code, 12)", "NULL", ""),
    Dimension.CELL: ("c.grid_cell_code", "max(gc.name)", "LEFT JOIN grid_cells gc ON gc.code = c.grid_cell_code"),
    Dimension.GRID: ("gc.responsibility_grid_id", "max(rg.name)",
                     "LEFT JOIN grid_cells gc ON gc.code = c.grid_cell_code "
                     "LEFT JOIN responsibility_grids rg ON rg.id = gc.responsibility_grid_id"),
}

_WHERE = """c.reported_at >= %(start)s AND c.reported_at < %(end)s
  AND (%(area)s::text IS NULL OR c.grid_cell_code LIKE %(area)s || '%%')
  AND (%(grid)s::text IS NULL OR c.grid_cell_code IN
       (SELECT code FROM grid_cells WHERE responsibility_grid_id = %(grid)s))
  AND (%(category)s::text IS NULL OR c.category_code LIKE %(category)s || '%%')
  AND (%(source)s::text IS NULL OR c.source = %(source)s)"""

_MEASURES = """count(*) AS cases,
  count(*) FILTER (WHERE c.state = 'closed') AS closed,
  count(*) FILTER (WHERE c.state = 'closed' AND c.close_type = 'normal') AS closed_on_time,
  count(*) FILTER (WHERE c.state = 'cancelled') AS cancelled"""


def _params(start: datetime, end: datetime, where: CaseFilter, **more: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "area": where.area, "grid": where.grid, "category": where.category,
            "source": where.source, **more}


def totals(conn: psycopg.Connection, start: datetime, end: datetime, where: CaseFilter) -> CountRow:
    row = conn.execute(f"SELECT {_MEASURES} FROM cases c WHERE {_WHERE}", _params(start, end, where)).fetchone()
    assert row is not None  # an aggregate without GROUP BY always answers one row
    return CountRow(None, None, *row)


def counts_by(conn: psycopg.Connection, dimension: Dimension, start: datetime, end: datetime,
              where: CaseFilter) -> list[CountRow]:
    """One row per key that has cases, the most cases first (ties by key)."""
    key, name, joins = _KEYS[dimension]
    rows = conn.execute(
        f"SELECT {key} AS key, {name} AS name, {_MEASURES} FROM cases c {joins} WHERE {_WHERE} "
        f"GROUP BY 1 ORDER BY cases DESC, key NULLS LAST", _params(start, end, where)).fetchall()
    return [CountRow(*r) for r in rows]


def recurring(conn: psycopg.Connection, start: datetime, end: datetime, where: CaseFilter, *, at_least: int,
              limit: int) -> list[RecurringRow]:
    """Cell and category pairs reported at least `at_least` times: the same problem coming back in one place."""
    rows = conn.execute(
        f"SELECT c.grid_cell_code, c.category_code, max(c.category_name), count(*) AS cases FROM cases c "
        f"WHERE {_WHERE} AND c.grid_cell_code IS NOT NULL GROUP BY 1, 2 HAVING count(*) >= %(at_least)s "
        f"ORDER BY cases DESC, 1, 2 LIMIT %(limit)s",
        _params(start, end, where, at_least=at_least, limit=limit)).fetchall()
    return [RecurringRow(*r) for r in rows]


def per_bucket(conn: psycopg.Connection, width_days: int, start: datetime, end: datetime,
               where: CaseFilter) -> dict[date, int]:
    """Cases per local day (`width_days` 1) or week (7: buckets start on Mondays, TimescaleDB's origin)."""
    rows = conn.execute(
        f"SELECT time_bucket(make_interval(days => %(width)s), c.reported_at, %(zone)s)::timestamptz "
        f"AT TIME ZONE %(zone)s AS bucket, count(*) FROM cases c WHERE {_WHERE} GROUP BY 1",
        _params(start, end, where, width=width_days, zone=CITY_ZONE)).fetchall()
    return {bucket.date(): n for bucket, n in rows}


# ---------------------------------------------------------------- publications (migration 0014)

@dataclass(frozen=True, slots=True)
class PublicationRow:
    id: int
    kind: str
    period_first: date
    period_last: date
    title: str
    generated_at: datetime
    trigger: str
    cases: int
    xlsx_bytes: int
    pdf_bytes: int


_PUBLICATION = ("id, kind, period_first, period_last, title, generated_at, trigger, cases, octet_length(xlsx), "
                "octet_length(pdf)")


def save_publication(conn: psycopg.Connection, *, kind: str, first: date, last: date, title: str, trigger: str,
                     cases: int, xlsx: bytes, pdf: bytes) -> PublicationRow:
    """Record a publication; the same kind and period again replaces the earlier documents."""
    row = conn.execute(
        f"INSERT INTO publications (kind, period_first, period_last, title, trigger, cases, xlsx, pdf) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (kind, period_first) DO UPDATE SET "
        f"period_last = EXCLUDED.period_last, title = EXCLUDED.title, trigger = EXCLUDED.trigger, "
        f"cases = EXCLUDED.cases, xlsx = EXCLUDED.xlsx, pdf = EXCLUDED.pdf, generated_at = now() "
        f"RETURNING {_PUBLICATION}", (kind, first, last, title, trigger, cases, xlsx, pdf)).fetchone()
    assert row is not None
    return PublicationRow(*row)


def publication_exists(conn: psycopg.Connection, kind: str, first: date) -> bool:
    return conn.execute("SELECT 1 FROM publications WHERE kind = %s AND period_first = %s",
                        (kind, first)).fetchone() is not None


def list_publications(conn: psycopg.Connection, kind: str | None, limit: int) -> list[PublicationRow]:
    """The newest periods first (without the documents)."""
    rows = conn.execute(f"SELECT {_PUBLICATION} FROM publications WHERE (%s::text IS NULL OR kind = %s) "
                        f"ORDER BY period_first DESC, kind LIMIT %s", (kind, kind, limit)).fetchall()
    return [PublicationRow(*r) for r in rows]


def publication_document(conn: psycopg.Connection, publication_id: int,
                         fmt: str) -> tuple[PublicationRow, bytes] | None:
    if fmt not in ("xlsx", "pdf"):
        raise ValueError(f"no document format {fmt!r}")
    row = conn.execute(f"SELECT {_PUBLICATION}, {fmt} FROM publications WHERE id = %s",
                       (publication_id,)).fetchone()
    return None if row is None else (PublicationRow(*row[:-1]), bytes(row[-1]))
