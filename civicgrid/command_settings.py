"""The settings of one `civicgrid` command run, and the one way a command refuses, for every module that defines
commands.

The composition root (civicgrid/cli.py) loads the settings once, in its main callback (its
`--config`), and the commands that live beside their code (simulators/cli.py: `city`, `simulate`;
civicgrid/services_cli.py, devices_cli.py, ...) must use those, not load their own nor reach into the
root's internals. They are kept here, not in civicgrid/cli.py: `python -m civicgrid.cli` runs the root
as `__main__`, so anything imported by name from `civicgrid.cli` would be a second, empty copy (settings
then only arrived through the `CIVICGRID_CONFIG` the loader leaves in the environment).
"""

from __future__ import annotations

import typer
from rich.console import Console

from civicgrid.settings import Settings, load_settings

console = Console(stderr=True)


class _Run:
    settings: Settings | None = None


def keep(settings: Settings) -> None:
    """Called by the main callback: these are the settings of this run."""
    _Run.settings = settings


def current() -> Settings:
    """The settings the main callback loaded; outside a `civicgrid` run (a script, a test), loaded now."""
    return _Run.settings if _Run.settings is not None else load_settings(None)


def service_settings(*needs: str) -> Settings:
    """The settings of a service that holds secrets; refuse to start on a missing, short or published one."""
    from civicgrid import local_secrets

    settings = current()
    try:
        local_secrets.check(settings, *(getattr(local_secrets, name) for name in needs))
    except local_secrets.InsecureSecret as exc:
        raise fail(str(exc)) from None
    return settings


def fail(message: str) -> typer.Exit:
    """The command's refusal: `error: <message>` on stderr and exit 1 (`raise fail(...)`)."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)
