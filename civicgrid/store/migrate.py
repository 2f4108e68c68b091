"""Schema migrations (yoyo-migrations, raw SQL files in ``migrations/``) and the feature check.

Migrations are numbered SQL files applied in order under yoyo's lock, so two
services starting at once do not race.  After migrating, `record_features`
stores what the TimescaleDB build offers: the community-licensed build
(``timescale``) has continuous aggregates and compression, the Apache build
of the local stack (``apache``) has hypertables, ``time_bucket`` and
``drop_chunks`` only.  Code that needs rollups reads ``platform_features``
instead of probing again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import psycopg
from yoyo import get_backend, read_migrations

from civicgrid.settings import DbSettings
from civicgrid.store.db import connect, sqlalchemy_style_url

log = logging.getLogger(__name__)


def migrations_dir() -> str:
    return str(resources.files("civicgrid.store") / "migrations")


def apply_migrations(db: DbSettings) -> list[str]:
    """Apply every pending migration; return the ids applied (empty when up to date)."""
    backend = get_backend(sqlalchemy_style_url(db))
    migrations = read_migrations(migrations_dir())
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    with connect(db) as conn:
        record_features(conn)
    return applied


@dataclass(frozen=True, slots=True)
class TimescaleFeatures:
    version: str
    license: str

    @property
    def continuous_aggregates(self) -> bool:
        return self.license == "timescale"

    @property
    def compression(self) -> bool:
        return self.license == "timescale"


def detect_features(conn: psycopg.Connection) -> TimescaleFeatures:
    row = conn.execute(
        "SELECT extversion, current_setting('timescaledb.license', true) "
        "FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if row is None:
        raise RuntimeError("the timescaledb extension is not installed in this database")
    version, license_ = row
    return TimescaleFeatures(version=version, license=license_ or "apache")


def record_features(conn: psycopg.Connection) -> TimescaleFeatures:
    features = detect_features(conn)
    values = {
        "timescaledb_version": features.version,
        "timescaledb_license": features.license,
        "continuous_aggregates": str(features.continuous_aggregates).lower(),
        "compression": str(features.compression).lower(),
    }
    with conn.transaction():
        for name, value in values.items():
            conn.execute(
                "INSERT INTO platform_features (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, detected_at = now()",
                (name, value),
            )
    return features

