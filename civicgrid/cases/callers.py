"""The people who reported a case: the first caller, and each later one whose report was linked to it as a
duplicate. Those who asked for a callback are told when the case closes (civicgrid/notify/)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True, slots=True)
class Caller:
    """Who reported, and how to reach them. `channel` is the way the report came (open311, hotline, inspector …);
    `client` who filed it for them (the Open311 key's operator, the console user)."""

    channel: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    account_id: str | None = None
    client: str | None = None
    callback: bool = False
    description: str | None = None
    media_url: str | None = None


def add_caller(conn: psycopg.Connection, case_id: str, caller: Caller, *, linked: bool) -> int:
    """Keep `caller` on the case (in the caller's transaction); the row's id."""
    row = conn.execute(
        "INSERT INTO case_callers (case_id, channel, name, phone, email, account_id, client, callback, linked, "
        "description, media_url) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (case_id, caller.channel, caller.name, caller.phone, caller.email, caller.account_id, caller.client,
         caller.callback, linked, caller.description, caller.media_url),
    ).fetchone()
    assert row is not None
    return int(row[0])


def same_transfer(conn: psycopg.Connection, case_id: str, caller: Caller) -> int | None:
    """The caller row already on the case for the same transfer (the same body and its reference), if `caller` is a
    transfer: a transfer names itself, so seeing it again is a repeat, not a second person to tell."""
    if caller.channel != "transfer" or not caller.account_id:
        return None
    row = conn.execute("SELECT id FROM case_callers WHERE case_id = %s AND channel = 'transfer' AND name = %s "
                       "AND account_id = %s ORDER BY id LIMIT 1", (case_id, caller.name, caller.account_id)).fetchone()
    return None if row is None else int(row[0])
