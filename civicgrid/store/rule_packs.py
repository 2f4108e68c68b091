"""Rule pack versions (table ``rule_packs``): the API, the stream workers and the CLI store and read them here.

A version is never changed or deleted: a case keeps the number of the version it was filed under
(``cases.rules_version``) and is judged by it for good. Storing is serialised by an advisory lock, so two
processes starting with the same pack store it once, and the numbers have no gaps. Each stored version gets its
audit record (who, when, which tables changed, why: civicgrid/store/rule_audit.py) in the same transaction, and
a pack's responsibility table and patrol plans replace the database's there too (civicgrid/store/pack_duties.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from civicgrid.cases.pack import InvalidPack
from civicgrid.store import pack_duties, rule_audit

_LOCK = "civicgrid:rule_packs"


@dataclass(frozen=True, slots=True)
class StoredPack:
    version: int
    digest: str
    content: dict[str, Any]
    source: str
    loaded_by: str
    loaded_at: datetime


_COLUMNS = "version, digest, content, source, loaded_by, loaded_at"


def latest_version(conn: psycopg.Connection) -> int | None:
    """The current version's number (None: nothing stored yet); an index lookup, cheap to ask often."""
    row = conn.execute("SELECT max(version) FROM rule_packs").fetchone()
    return None if row is None else row[0]


def get(conn: psycopg.Connection, version: int) -> StoredPack | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM rule_packs WHERE version = %s", (version,)).fetchone()
    return None if row is None else StoredPack(*row)


def latest(conn: psycopg.Connection) -> StoredPack | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM rule_packs ORDER BY version DESC LIMIT 1").fetchone()
    return None if row is None else StoredPack(*row)


def store(conn: psycopg.Connection, content: Mapping[str, Any], digest: str, source: str, loaded_by: str, *,
          only_if_empty: bool = False, reason: str | None = None) -> tuple[int, bool]:
    """Store a pack as the next version unless the latest has the same digest; (version, created).

    `only_if_empty`: store only when no version exists (the shipped defaults as version 1) and answer the
    latest otherwise. Version 1 is always the shipped defaults (a process started with a city's pack stores the
    defaults first, then the city's as version 2), so a case filed before versions existed (``rules_version``
    NULL) is judged by version 1 without being rewritten: every reader takes NULL as the shipped defaults. (It
    used to be rewritten here, in one `UPDATE` that took a city's first start 7 minutes at 10 M cases.)
    `reason`: the admin's why, kept on the audit record.
    Raises `InvalidPack` when the pack's responsibility table or patrol plans name what the database lacks."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
        row = conn.execute("SELECT version, digest, content FROM rule_packs ORDER BY version DESC LIMIT 1").fetchone()
        if row is not None and (only_if_empty or row[1] == digest):
            return int(row[0]), False
        version = 1 if row is None else int(row[0]) + 1
        errors = pack_duties.reference_errors(conn, content)
        if errors:  # a department, cell, inspector or grid the database lacks: refused, nothing stored
            raise InvalidPack(errors)
        pack_duties.apply(conn, content)
        conn.execute("INSERT INTO rule_packs (version, digest, content, source, loaded_by) "
                     "VALUES (%s, %s, %s, %s, %s)", (version, digest, Jsonb(dict(content)), source, loaded_by))
        rule_audit.record(conn, version=version, previous_version=None if row is None else int(row[0]),
                          actor=loaded_by, source=source, digest=digest, before=None if row is None else row[2],
                          after=content, reason=reason)
    return version, True
