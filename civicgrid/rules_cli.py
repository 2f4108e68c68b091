"""``civicgrid rules``: load a city's rule pack as a new version, show the current one, export it (docs/rules.md).

Running services pick a new version up without a restart (civicgrid/cases/rulebook.py). Imports of the database
and the pack happen inside the commands, so ``civicgrid --help`` stays fast.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from civicgrid import command_settings

rules_app = typer.Typer(help="The city's rule pack: catalogue, time limits, calendar, permissions, scoring.",
                        no_args_is_help=True)
console = Console(stderr=True)


@rules_app.command("load")
def rules_load(directory: Annotated[Path, typer.Argument(help="The pack: catalogue.yaml, time_limits.yaml, "
                                                              "working_calendar.yaml, permissions.yaml, scoring.yaml "
                                                              "(a missing file is the shipped table).")]) -> None:
    """Check a pack and store it as the new current version (unless it equals the current one); print the version,
    or every error and exit 1."""
    from civicgrid.cases.pack import InvalidPack, load_pack
    from civicgrid.cases.rulebook import store_pack
    from civicgrid.store.db import connect

    try:
        pack = load_pack(directory)
    except InvalidPack as exc:
        console.print(f"[bold red]error:[/] the rule pack in {directory} is refused, {len(exc.errors)} error(s):",
                      highlight=False)
        for error in exc.errors:
            console.print(f"  {error}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    who = f"cli:{getpass.getuser()}"
    with connect(command_settings.current().db, autocommit=True) as conn:
        version, created = store_pack(conn, pack, who)
    console.print(f"rules version {version} {'stored' if created else 'unchanged (same digest)'}: "
                  f"{pack.digest[:12]} from {pack.source}", highlight=False)
    print(version)


@rules_app.command("show")
def rules_show() -> None:
    """The current version: its number, source, digest, who loaded it when, and what each table holds."""
    from civicgrid.cases.pack import counts, shipped_pack
    from civicgrid.store import rule_packs
    from civicgrid.store.db import connect

    with connect(command_settings.current().db, autocommit=True) as conn:
        stored = rule_packs.latest(conn)
    if stored is None:
        content, lines = shipped_pack().content, ["no version stored yet: the shipped defaults apply "
                                                  "(stored as version 1 when a service first starts)"]
    else:
        content = stored.content
        lines = [f"version    {stored.version}", f"source     {stored.source}", f"digest     {stored.digest}",
                 f"loaded     {stored.loaded_at.isoformat(timespec='seconds')} by {stored.loaded_by}"]
    lines += [f"{table:<17}{what}" for table, what in counts(content).items()]
    print("\n".join(lines))


@rules_app.command("export")
def rules_export(directory: Annotated[Path, typer.Argument(help="Where to write the pack's YAML files.")]) -> None:
    """Write the current version as a pack directory that loads back to the same digest."""
    from civicgrid.cases.pack import digest, export_pack, shipped_pack
    from civicgrid.store import rule_packs
    from civicgrid.store.db import connect

    with connect(command_settings.current().db, autocommit=True) as conn:
        stored = rule_packs.latest(conn)
    content = stored.content if stored is not None else shipped_pack().content
    name = f"version {stored.version}" if stored is not None else "the shipped defaults"
    export_pack(content, directory, f"civicgrid rule pack, {name}, digest {digest(content)}")
    console.print(f"{name} written to {directory}", highlight=False)
