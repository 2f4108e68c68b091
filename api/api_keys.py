"""API keys for integrations: scoped, expiring, revocable; only their SHA-256 is stored.

Scopes (docs/security.md):
- ``open311``: Open311 GeoReport intake (a 12319 hotline's system posting requests); the default;
- ``api``: every route, as the key's user (whose role and scope still apply).
A key whose user is disabled, that is revoked, or that has expired is refused at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from api.users import USER_COLUMNS, User, user_from_row

Scope = Literal["open311", "api"]
SCOPES: tuple[Scope, ...] = ("open311", "api")
PREFIX = "cgk_"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(conn: psycopg.Connection, user_id: int, name: str, scopes: tuple[Scope, ...] = ("open311",),
                expires_at: datetime | None = None) -> tuple[int, str]:
    """(its id, the key): the key is shown once; only its hash is stored."""
    key = PREFIX + secrets.token_urlsafe(32)
    (key_id,) = conn.execute("INSERT INTO api_keys (key_hash, user_id, name, scopes, expires_at) "
                             "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                             (key_hash(key), user_id, name, list(scopes), expires_at)).fetchone()
    return key_id, key


def caller_for_api_key(conn: psycopg.Connection, key: str) -> tuple[User, frozenset[str]] | None:
    """The key's user and scopes, if the key is live (not revoked, not expired, its user enabled)."""
    columns = ", ".join("u." + c.strip() for c in USER_COLUMNS.split(","))
    row = conn.execute(f"SELECT {columns}, k.scopes FROM api_keys k JOIN users u ON u.id = k.user_id "
                       "WHERE k.key_hash = %s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR "
                       "k.expires_at > now()) AND u.enabled", (key_hash(key),)).fetchone()
    if row is None:
        return None
    # At most one write a minute per key: enough to see which keys are in use.
    conn.execute("UPDATE api_keys SET last_used_at = now() WHERE key_hash = %s AND (last_used_at IS NULL OR "
                 "last_used_at < now() - interval '1 minute')", (key_hash(key),))
    return user_from_row(row[:-1]), frozenset(row[-1])


def list_api_keys(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT k.id, k.name, k.user_id, u.username, k.scopes, k.created_at, k.expires_at, "
                           "k.revoked_at, k.last_used_at FROM api_keys k JOIN users u ON u.id = k.user_id "
                           "ORDER BY k.id").fetchall()


def revoke_api_key(conn: psycopg.Connection, key_id: int) -> bool:
    """Revoke at once; False when there is no such key. Revoking twice keeps the first time."""
    row = conn.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s RETURNING id",
                       (key_id,)).fetchone()
    return row is not None


def expiry(days: float | None, now: datetime) -> datetime | None:
    return None if days is None else now + timedelta(days=days)
