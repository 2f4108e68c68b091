"""The ``civicgrid`` command: the composition root that builds settings and starts services.

Services are imported inside their command functions, so ``civicgrid --help``
stays fast and a command pulls in only what it runs.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicgrid.settings import Settings, load_settings

app = typer.Typer(help="civicgrid: IoT gateway and streaming telemetry for digital city management.",
                  no_args_is_help=True, add_completion=False)
stack_app = typer.Typer(help="The local service stack: Mosquitto, Tansu (Kafka API), PostgreSQL+TimescaleDB.",
                        no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")

console = Console(stderr=True)


class _State:
    settings: Settings | None = None


@app.callback()
def main_options(
    config: Annotated[Path | None, typer.Option(help="TOML settings file (default: ./civicgrid.toml if present).",
                                                exists=True, dir_okay=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        # yoyo logs every migration step; our own progress lines say what matters.
        logging.getLogger("yoyo").setLevel(logging.WARNING)
    _State.settings = load_settings(config)


def _settings() -> Settings:
    assert _State.settings is not None
    return _State.settings


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


def _print_status(statuses) -> None:
    table = Table(title="civicgrid stack")
    for column in ("service", "address", "pid", "state", "detail"):
        table.add_column(column)
    colours = {"healthy": "green", "unhealthy": "red", "stopped": "yellow", "stale": "yellow"}
    for s in statuses:
        table.add_row(s.name, s.address, str(s.pid or "-"), f"[{colours[s.state]}]{s.state}[/]", s.detail)
    Console().print(table)


@stack_app.command("up")
def stack_up() -> None:
    """Start the services that are not running and wait until each answers."""
    from civicgrid.stack import LocalStack, StackError

    stack = LocalStack(_settings(), progress=lambda m: console.print(f"[cyan]stack[/] {m}", highlight=False))
    try:
        statuses = stack.up()
    except StackError as exc:
        raise _fail(str(exc)) from None
    _print_status(statuses)


@stack_app.command("down")
def stack_down() -> None:
    """Stop the services gracefully (reverse order) and clean up stale pid files."""
    from civicgrid.stack import LocalStack

    stopped = LocalStack(_settings(), progress=lambda m: console.print(f"[cyan]stack[/] {m}")).down()
    if not stopped:
        console.print("stack: nothing was running")


@stack_app.command("status")
def stack_status() -> None:
    """Show each service's pid and whether it really answers; exit 1 unless all are healthy."""
    from civicgrid.stack import LocalStack

    statuses = LocalStack(_settings()).status()
    _print_status(statuses)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations to the configured database and record its TimescaleDB features."""
    from civicgrid.store.migrate import apply_migrations

    applied = apply_migrations(_settings().db)
    console.print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@app.command("run")
def run() -> None:
    """Run the platform locally: start the stack, then wait; Ctrl-C stops everything."""
    from civicgrid.stack import LocalStack, StackError

    stack = LocalStack(_settings(), progress=lambda m: console.print(f"[cyan]stack[/] {m}", highlight=False))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            _print_status(stack.up())
        except StackError as exc:
            raise _fail(str(exc)) from None
        console.print("[bold]civicgrid is running.[/] Press Ctrl-C to stop.")
        while not stop.wait(5):
            unhealthy = [s for s in stack.status() if not s.healthy]
            if unhealthy:
                console.print(f"[red]unhealthy:[/] {', '.join(f'{s.name} ({s.state})' for s in unhealthy)}")
    finally:
        console.print("stopping ...")
        stack.down()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
