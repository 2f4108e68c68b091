"""``civicgrid basedata``: import and export the component and address databases in the city's CRS and formats
(docs/basedata.md). Imports of the database and pyproj happen inside the commands, so ``--help`` stays fast."""

from __future__ import annotations

import getpass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from civicgrid import command_settings

basedata_app = typer.Typer(help="Base data (基础数据): components and addresses in and out, in the city's coordinate "
                                "system (WGS 84, CGCS2000 EPSG:4490, Gauss–Krüger such as EPSG:4548).",
                           no_args_is_help=True)
console = Console(stderr=True)


class Kind(StrEnum):
    components = "components"
    addresses = "addresses"


CRS_HELP = ("The file's coordinate reference system: EPSG:4326 (WGS 84, lon/lat), EPSG:4490 (CGCS2000, lon/lat) or a "
            "projected one in metres such as EPSG:4548 (CGCS2000 3° Gauss–Krüger, central meridian 117° E; "
            "easting/northing).")


@basedata_app.command("import")
def basedata_import(
    kind: Annotated[Kind, typer.Argument(help="components (部件) or addresses (门牌, buildings, landmarks, road "
                                              "segments)")],
    file: Annotated[Path, typer.Argument(help="A .geojson, .csv (UTF-8 or GB18030) or .xlsx file (first sheet, "
                                              "header row first)", exists=True, dir_okay=False)],
    crs: Annotated[str | None, typer.Option(help=CRS_HELP + " Default: the CRS a GeoJSON file's own crs member "
                                             "names (a different --crs is refused), else EPSG:4326.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="geojson, csv or xlsx (default: from the file's "
                                                              "suffix)")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, kept in each component's history (default: the file "
                                                    "name)")] = None,
) -> None:
    """Check every row and import the file (all or nothing): print each error at its row and field and exit 1, or
    print how many were added, updated and unchanged."""
    from civicgrid.basedata.crs import UnknownCrs, city_crs
    from civicgrid.basedata.imports import import_file
    from civicgrid.basedata.registry import Change
    from civicgrid.basedata.tables import MAX_FILE_BYTES, InvalidImport, format_of
    from civicgrid.clock import PlatformClock
    from civicgrid.store.db import connect

    settings = command_settings.current()
    try:
        city = city_crs(crs) if crs is not None else None
        with file.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        form = format_of(file.name, fmt)
        change = Change(f"cli:{getpass.getuser()}", PlatformClock.from_settings(settings.clock).now(),
                        reason or f"import {file.name}" + (f" ({city.code})" if city else ""))

        def progress(stage: str, done: int, total: int) -> None:
            console.print(f"  {stage}: {done}/{total}", highlight=False)

        with connect(settings.db, autocommit=True) as conn:
            result = import_file(conn, kind.value, data, form, city, change, name=file.name,
                                 prefixes=settings.address_prefixes, progress=progress, crs_given_as="--crs says")
    except UnknownCrs as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except InvalidImport as exc:
        console.print(f"[bold red]error:[/] {file} is refused, {exc.total} error(s); nothing was imported:",
                      highlight=False)
        for error in exc.errors:
            console.print(f"  {error}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    console.print(f"{kind.value} from {file.name} ({result.crs}): {result.rows} rows, {result.added} added, "
                  f"{result.updated} updated, {result.unchanged} unchanged", highlight=False)


@basedata_app.command("follow")
def basedata_follow() -> None:
    """Keep each component's state with its cases (a cover reported missing is 丢失 until its case closes as fixed),
    reading case events from Kafka until Ctrl-C; `civicgrid run` starts it (docs/basedata.md)."""
    import signal
    import threading

    from civicgrid import local_secrets
    from civicgrid.basedata.follower import run

    settings = command_settings.current()
    try:
        local_secrets.check(settings, local_secrets.DB_ROLE)
    except local_secrets.InsecureSecret as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run(settings, stop)


class Format(StrEnum):
    geojson = "geojson"
    xlsx = "xlsx"


@basedata_app.command("export")
def basedata_export(
    kind: Annotated[Kind, typer.Argument(help="components or addresses")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write", dir_okay=False)],
    crs: Annotated[str, typer.Option(help=CRS_HELP)] = "EPSG:4326",
    fmt: Annotated[Format | None, typer.Option("--format", help="geojson or xlsx (default: from --out's "
                                                                "suffix)")] = None,
    include_retired: Annotated[bool, typer.Option(help="components: the retired ones too")] = False,
) -> None:
    """Write the component or address database as GeoJSON or Excel in a CRS, for a department that asks for it; the
    workbook's columns are the ones `basedata import` reads."""
    from civicgrid.basedata.crs import UnknownCrs, city_crs
    from civicgrid.basedata.exports import export
    from civicgrid.clock import PlatformClock
    from civicgrid.store.db import connect

    settings = command_settings.current()
    form = fmt.value if fmt else {".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson"}.get(out.suffix.lower())
    if form is None:
        console.print("[bold red]error:[/] say --format geojson|xlsx, or name the file .geojson or .xlsx",
                      highlight=False)
        raise typer.Exit(2)
    try:
        city = city_crs(crs)
    except UnknownCrs as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    with connect(settings.db, autocommit=True) as conn:
        data = export(conn, kind.value, form, city, PlatformClock.from_settings(settings.clock).now(),
                      include_retired=include_retired)
    out.write_bytes(data)
    console.print(f"{kind.value} written to {out} ({form}, {city.code}, {len(data)} bytes)", highlight=False)
