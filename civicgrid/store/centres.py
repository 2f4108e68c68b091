"""The city's centres in the database (migration 0027; the rules: civicgrid/domain/centres.py).

Loaded from ``city.json``'s ``centres`` (`civicgrid city load`) or `PUT /centres/{id}`; every write checks the
whole tree again, so a prefix outside its parent or a second top is refused with the centre named, never
stored. The centre a case belongs to is `centre_of_cell` in SQL (the feed triggers use the same function).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from civicgrid.domain.centres import Centre, CentreLevel, CentreTree, InvalidCentres

COLUMNS = "id, name, name_en, level, cell_prefix, parent_id"


def read_tree(conn: psycopg.Connection) -> CentreTree:
    rows = conn.execute("SELECT id, name, level, cell_prefix, parent_id FROM centres").fetchall()
    return CentreTree(Centre(r[0], r[1], CentreLevel(r[2]), r[3], r[4]) for r in rows)


def has_centres(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM centres)").fetchone() == (True,)


def list_centres(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {COLUMNS} FROM centres ORDER BY cell_prefix, id").fetchall()


def centre_from(data: Mapping[str, Any]) -> Centre:
    """A centre from a city file's or a request's fields, with the field named when one is wrong."""
    try:
        level = CentreLevel(data.get("level", ""))
    except ValueError:
        raise InvalidCentres(f"centre {data.get('id')!r}: level {data.get('level')!r} is not one of "
                             f"{', '.join(v.value for v in CentreLevel)}") from None
    if not data.get("id") or not data.get("name"):
        raise InvalidCentres(f"a centre needs an id and a name: {dict(data)!r}")
    return Centre(str(data["id"]), str(data["name"]), level, str(data.get("cell_prefix", "")),
                  data.get("parent_id"))


def upsert_centres(conn: psycopg.Connection, centres: Iterable[Mapping[str, Any]]) -> int:
    """Insert or update centres (by id), in one transaction, after checking the tree they make with the rest."""
    new = [(centre_from(c), c.get("name_en")) for c in centres]
    with conn.transaction():
        conn.execute("LOCK TABLE centres IN SHARE ROW EXCLUSIVE MODE")  # two loads cannot each pass the check
        known = {c.id: c for c in read_tree(conn).by_id.values()}
        known.update({c.id: c for c, _ in new})
        CentreTree(known.values())  # raises InvalidCentres naming the centre
        # Parents first, so that each row's parent exists when it is written.
        depth = {"city": 0, "district": 1, "street": 2}
        for centre, name_en in sorted(new, key=lambda pair: depth[pair[0].level.value]):
            conn.execute(
                "INSERT INTO centres (id, name, name_en, level, cell_prefix, parent_id) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                "name_en = excluded.name_en, level = excluded.level, cell_prefix = excluded.cell_prefix, "
                "parent_id = excluded.parent_id",
                (centre.id, centre.name, name_en, centre.level.value, centre.cell_prefix, centre.parent_id))
    return len(new)


def case_centre(conn: psycopg.Connection, case_id: str) -> str | None:
    row = conn.execute("SELECT centre_id FROM cases WHERE id = %s", (case_id,)).fetchone()
    return None if row is None else row[0]


def department_centre(conn: psycopg.Connection, department_id: str) -> str | None:
    row = conn.execute("SELECT centre_id FROM departments WHERE id = %s", (department_id,)).fetchone()
    return None if row is None else row[0]


def user_centre(conn: psycopg.Connection, username: str) -> str | None:
    row = conn.execute("SELECT centre_id FROM users WHERE username = %s", (username,)).fetchone()
    return None if row is None else row[0]


# The centres a user of centre %(scope_centre)s reaches: it and every centre under it (a WHERE fragment's
# sub-select; the top's users are given no fragment at all).
WITHIN_SQL = ("(WITH RECURSIVE below AS (SELECT id FROM centres WHERE id = %(scope_centre)s UNION "
              "SELECT c.id FROM centres c JOIN below b ON c.parent_id = b.id) SELECT id FROM below)")
