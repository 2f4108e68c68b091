"""Connections to PostgreSQL through psycopg 3."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from civicgrid.settings import DbSettings


def conninfo(db: DbSettings, **overrides: str | int) -> str:
    """The libpq connection string of the settings, with keys overridden (e.g. another dbname)."""
    return make_conninfo(db.url.get_secret_value(), **overrides)


def conninfo_parts(db: DbSettings) -> dict[str, str]:
    """host, port, user, password and dbname of the configured URL (libpq defaults filled in)."""
    parts = {k: str(v) for k, v in conninfo_to_dict(db.url.get_secret_value()).items()}
    parts.setdefault("host", "127.0.0.1")
    parts.setdefault("port", "5432")
    parts.setdefault("user", "civicgrid")
    parts.setdefault("dbname", parts["user"])
    return parts


def connect(db: DbSettings, *, autocommit: bool = False, connect_timeout: int = 5) -> psycopg.Connection:
    return psycopg.connect(conninfo(db), autocommit=autocommit, connect_timeout=connect_timeout)


def sqlalchemy_style_url(db: DbSettings) -> str:
    """The URL form yoyo-migrations expects (``postgresql+psycopg://``, psycopg 3 driver)."""
    p = conninfo_parts(db)
    auth = quote(p["user"], safe="")
    if p.get("password"):
        auth += ":" + quote(p["password"], safe="")
    return f"postgresql+psycopg://{auth}@{p['host']}:{p['port']}/{quote(p['dbname'], safe='')}"
