"""``civicgrid rules``: load a city's rule pack as a new version, show the current one, export it (docs/rules.md).

A pack is a directory of YAML files or one Excel workbook (civicgrid/cases/pack_excel.py), in and out.

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
def rules_load(source: Annotated[Path, typer.Argument(
        metavar="DIR|FILE.xlsx",
        help="The pack: a directory of catalogue.yaml, time_limits.yaml, working_calendar.yaml, permissions.yaml, "
             "scoring.yaml, duplicates.yaml (a missing file is the shipped table) and optionally responsibility.yaml "
             "and patrol_plans.yaml (missing: the database's tables stay), or an Excel workbook as `rules export "
             "--xlsx` writes it (a missing sheet is the shipped table).")]) -> None:
    """Check a pack and store it as the new current version (unless it equals the current one); print the version,
    or every error (a workbook's by sheet and cell, e.g. 处置时限!D7) and exit 1."""
    from civicgrid.cases.pack import InvalidPack, RulePack, load_pack
    from civicgrid.cases.pack_excel import MAX_WORKBOOK_BYTES, read_workbook
    from civicgrid.cases.rulebook import store_pack
    from civicgrid.store.db import connect

    try:
        pack: RulePack
        if source.suffix.lower() == ".xlsx" and not source.is_dir():
            if not source.is_file():
                console.print(f"[bold red]error:[/] no such workbook: {source}", highlight=False)
                raise typer.Exit(1)
            with source.open("rb") as f:
                data = f.read(MAX_WORKBOOK_BYTES + 1)  # bounded: read_workbook refuses what is over
            pack = read_workbook(data, source.name, str(source.resolve()))
        else:
            pack = load_pack(source)
        who = f"cli:{getpass.getuser()}"
        with connect(command_settings.current().db, autocommit=True) as conn:
            # the responsibility table and patrol plans are checked against the database as it is stored
            version, created = store_pack(conn, pack, who)
    except InvalidPack as exc:
        console.print(f"[bold red]error:[/] the rule pack in {source} is refused, {len(exc.errors)} error(s):",
                      highlight=False)
        for error in exc.errors:
            console.print(f"  {error}", highlight=False, markup=False)
        raise typer.Exit(1) from None
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
def rules_export(
    directory: Annotated[Path | None, typer.Argument(help="Where to write the pack's YAML files.")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", metavar="FILE",
                                              help="Write one Excel workbook instead: a sheet per table, Chinese "
                                                   "headers (部件事件目录, 处置时限, 工作日历, 角色权限, 评价权重 …).")]
    = None,
) -> None:
    """Write the current version as a pack directory, or with --xlsx as a workbook; either loads back to the same
    digest."""
    from civicgrid.cases.pack import digest, export_pack, shipped_pack
    from civicgrid.cases.pack_excel import export_workbook
    from civicgrid.store import rule_packs
    from civicgrid.store.db import connect

    if (directory is None) == (xlsx is None):
        console.print("[bold red]error:[/] give a DIRECTORY or --xlsx FILE (one of them)", highlight=False)
        raise typer.Exit(2)
    with connect(command_settings.current().db, autocommit=True) as conn:
        stored = rule_packs.latest(conn)
    content = stored.content if stored is not None else shipped_pack().content
    name = f"version {stored.version}" if stored is not None else "the shipped defaults"
    header = f"civicgrid rule pack, {name}, digest {digest(content)}"
    if xlsx is not None:
        xlsx.parent.mkdir(parents=True, exist_ok=True)
        xlsx.write_bytes(export_workbook(content, header))
        console.print(f"{name} written to {xlsx}", highlight=False)
        return
    assert directory is not None
    export_pack(content, directory, header)
    console.print(f"{name} written to {directory}", highlight=False)
