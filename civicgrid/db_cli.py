"""``civicgrid db``: the database schema's migrations and the one-off backfills that follow an upgrade.

``db_app`` is added by civicgrid/cli.py; the migrations and the database are imported inside the commands,
so ``civicgrid --help`` stays fast.
"""

from __future__ import annotations

import typer
from rich.console import Console

from civicgrid import command_settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
console = Console(stderr=True)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations to the configured database and record its TimescaleDB features."""
    from civicgrid.store.migrate import apply_migrations

    applied = apply_migrations(command_settings.current().db)
    console.print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@db_app.command("backfill-scoring")
def db_backfill_scoring() -> None:
    """Fill the scoring facts (`case_facts`, migration 0023) of cases written before that table existed: the case
    service keeps every later case's facts itself (docs/domain.md, "Maintained facts"). Run once after upgrading;
    a second run finds nothing to do."""
    from datetime import timedelta

    from api.case_facts_cache import backfill
    from civicgrid.cases.rulebook import RuleBook
    from civicgrid.store.db import connect

    settings = command_settings.current()
    with connect(settings.db, autocommit=True) as conn:
        span = conn.execute("SELECT min(reported_at), max(reported_at) FROM cases").fetchone()
        filled = 0
        if span and span[0] is not None:
            filled = backfill(RuleBook(settings.rules_dir, loaded_by="cli"), conn, span[0], span[1] + timedelta(
                seconds=1))
    console.print(f"scoring facts filled for {filled} case(s)")
