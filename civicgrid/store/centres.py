"""The city's centres in the database (migration 0027; the rules: civicgrid/domain/centres.py).

Loaded from ``city.json``'s ``centres`` (`civicgrid city load`) or `PUT /centres/{id}`; every write checks the
whole tree again, so a prefix outside its parent or a second top is refused with the centre named, never
stored. The centre a case belongs to is `centre_of_cell` in SQL (the feed triggers use the same function).
Every change — added, changed, removed — writes its audit record in the same transaction
(civicgrid/store/centre_audit.py); a centre is removed only when nothing belongs to it any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from civicgrid.domain.centres import Centre, CentreLevel, CentreTree, InvalidCentres
from civicgrid.store import centre_audit

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


class CentreInUse(Exception):
    """A centre that something still belongs to (child centres, departments, users, cases): not removed."""


def _fields(centre: Centre, name_en: str | None) -> dict[str, Any]:
    return {"id": centre.id, "name": centre.name, "name_en": name_en, "level": centre.level.value,
            "cell_prefix": centre.cell_prefix, "parent_id": centre.parent_id}


def _stored(conn: psycopg.Connection, centre_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {COLUMNS} FROM centres WHERE id = %s", (centre_id,)).fetchone()


def upsert_centres(conn: psycopg.Connection, centres: Iterable[Mapping[str, Any]], *, actor: str = "unknown",
                   reason: str | None = None) -> int:
    """Insert or update centres (by id), in one transaction, after checking the tree they make with the rest; each
    one added or changed gets its audit record (by `actor`, with `reason`), one written again unchanged none."""
    new = [(centre_from(c), c.get("name_en")) for c in centres]
    with conn.transaction():
        conn.execute("LOCK TABLE centres IN SHARE ROW EXCLUSIVE MODE")  # two loads cannot each pass the check
        known = {c.id: c for c in read_tree(conn).by_id.values()}
        known.update({c.id: c for c, _ in new})
        CentreTree(known.values())  # raises InvalidCentres naming the centre
        # Parents first, so that each row's parent exists when it is written.
        depth = {"city": 0, "district": 1, "street": 2}
        for centre, name_en in sorted(new, key=lambda pair: depth[pair[0].level.value]):
            before = _stored(conn, centre.id)
            conn.execute(
                "INSERT INTO centres (id, name, name_en, level, cell_prefix, parent_id) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                "name_en = excluded.name_en, level = excluded.level, cell_prefix = excluded.cell_prefix, "
                "parent_id = excluded.parent_id",
                (centre.id, centre.name, name_en, centre.level.value, centre.cell_prefix, centre.parent_id))
            centre_audit.record(conn, centre.id, actor=actor, before=before, after=_fields(centre, name_en),
                                reason=reason)
    return len(new)


def _named(what: str, ids: list[str], total: int) -> str:
    shown = ", ".join(ids) + (", …" if total > len(ids) else "")
    return f"{total} {what}{'' if total == 1 else 's'} ({shown})"


def _belongings(conn: psycopg.Connection, centre_id: str) -> list[str]:
    """What still belongs to the centre, in words (each kind with its count and up to five ids)."""
    out: list[str] = []
    for what, sql in (("child centre", "SELECT id FROM centres WHERE parent_id = %s ORDER BY id"),
                      ("department", "SELECT id FROM departments WHERE centre_id = %s ORDER BY id"),
                      ("user", "SELECT username FROM users WHERE centre_id = %s ORDER BY username")):
        ids = [r[0] for r in conn.execute(sql, (centre_id,)).fetchall()]
        if ids:
            out.append(_named(what, ids[:5], len(ids)))
    (cases,) = conn.execute("SELECT count(*) FROM cases WHERE centre_id = %s", (centre_id,)).fetchone() or (0,)
    if cases:
        sample = [r[0] for r in conn.execute("SELECT case_no FROM cases WHERE centre_id = %s ORDER BY reported_at "
                                             "DESC LIMIT 3", (centre_id,)).fetchall()]
        out.append(_named("case", [str(x) for x in sample], cases) + " that it handles or handled (transfer an open "
                   "one to another centre; a closed case keeps the centre that handled it)")
    return out


def delete_centre(conn: psycopg.Connection, centre_id: str, *, actor: str, reason: str | None = None) -> bool:
    """Remove a centre that nothing belongs to any more, with its audit record; False when there is no such centre.
    Raises CentreInUse naming what still belongs to it (child centres, departments, users, cases)."""
    with conn.transaction():
        conn.execute("LOCK TABLE centres IN SHARE ROW EXCLUSIVE MODE")
        before = _stored(conn, centre_id)
        if before is None:
            return False
        still = _belongings(conn, centre_id)
        if still:
            raise CentreInUse(f"centre {centre_id!r} still has {', '.join(still)}: move them to another centre "
                              "first")
        try:
            with conn.transaction():
                conn.execute("DELETE FROM centres WHERE id = %s", (centre_id,))
        except psycopg.errors.ForeignKeyViolation as exc:  # a table that names centres beyond the ones above
            raise CentreInUse(f"centre {centre_id!r} is still named by table {exc.diag.table_name}: move those rows "
                              "to another centre first") from None
        centre_audit.record(conn, centre_id, actor=actor, before=before, after=None, reason=reason)
    return True


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
