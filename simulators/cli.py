"""CLI commands: `civicgrid city generate|load` (typer app `city_app`) and `civicgrid simulate` (`simulate`).

Registered in civicgrid/cli.py: ``app.add_typer(city_app, name="city")`` and ``app.command()(simulate)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from civicgrid import command_settings
from civicgrid.settings import Settings

city_app = typer.Typer(help="The synthetic county town: generate it, load it (or a real city's GeoJSON).",
                       no_args_is_help=True)
console = Console(stderr=True)


def _settings() -> Settings:
    """The settings the main `civicgrid` callback loaded (its --config), else the default ones."""
    return command_settings.current()


@city_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Directory to write cells/streets/components.geojson and city.json.")],
    seed: Annotated[int, typer.Option(help="The same seed gives the same city.")] = 1,
    area_km2: Annotated[float, typer.Option(help="Built-up area; cells are ~100 m × 100 m.")] = 25.0,
    covers: Annotated[int, typer.Option(help="Manhole covers (each with a sensor).")] = 400,
    bins: Annotated[int, typer.Option(help="Trash bins (each with a sensor).")] = 200,
    lights: Annotated[int, typer.Option(help="Street lights (no device).")] = 150,
    trackers: Annotated[int, typer.Option(help="Vehicles with a GPS tracker.")] = 4,
    inspectors: Annotated[int, typer.Option(help="Inspectors, each with a handheld.")] = 18,
    cameras: Annotated[int, typer.Option(help="ONVIF cameras on street lights (simulated on ports 18201…).")] = 21,
) -> None:
    """Generate a reproducible county town (Shucheng, 341523)."""
    from simulators.city import generate_city

    summary = generate_city(seed, area_km2, out, covers=covers, bins=bins, lights=lights, trackers=trackers,
                            inspectors=inspectors, cameras=cameras)
    console.print(summary)


CRS_HELP = ("The GeoJSON files' coordinate system, e.g. EPSG:4548 (CGCS2000 3° Gauss–Krüger, easting first) or "
            "EPSG:4490; default: city.json's crs, else WGS 84 (docs/basedata.md)")


@city_app.command("load")
def load(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
         crs: Annotated[str | None, typer.Option(help=CRS_HELP)] = None) -> None:
    """Import a city directory into the database and provision its devices (secrets → DIR/secrets.json)."""
    from civicgrid.basedata.crs import UnknownCrs, city_crs
    from civicgrid.stack.mosquitto import local_broker
    from civicgrid.store.city import load_city

    try:
        if crs is not None:
            city_crs(crs)
    except UnknownCrs as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None

    settings = _settings()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        try:
            counts = load_city(settings, directory, progress=progress, broker=local_broker(settings), crs=crs,
                               actor=f"cli:{getpass.getuser()}")
        except ValueError as exc:  # a file in another CRS, or a point outside it: nothing was written
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
    console.print(counts)


def _db_figures(settings: Settings, since: datetime, sim_day: str) -> dict[str, Any]:
    """What the platform made of the run so far, read back from the database."""
    from civicgrid.store.db import connect

    with connect(settings.db, autocommit=True) as conn:
        rules = dict(conn.execute("SELECT rule, count(*) FROM alarms WHERE action = 'raise' AND time >= %s "
                                  "GROUP BY rule", (since,)).fetchall())
        states = dict(conn.execute("SELECT state, count(*) FROM cases WHERE reported_at >= %s GROUP BY state",
                                   (since,)).fetchall())
        sources = dict(conn.execute("SELECT source, count(*) FROM cases WHERE reported_at >= %s GROUP BY source",
                                    (since,)).fetchall())
        coverage = conn.execute("SELECT u.username, p.plan_met_pct, p.distance_m FROM patrol_coverage p "
                                "JOIN users u ON u.id = p.inspector_user_id WHERE p.day = %s ORDER BY p.plan_met_pct",
                                (sim_day,)).fetchall()
    return {"alarms": sum(rules.values()), "alarms_by_rule": rules, "cases_by_state": states,
            "cases_by_source": sources, "coverage": [{"inspector": u, "plan_met_pct": round(p, 1),
                                                      "distance_m": round(d)} for u, p, d in coverage]}


def _coverage_line(coverage: list[dict[str, Any]]) -> str:
    if not coverage:
        return "no coverage yet"
    pct = [c["plan_met_pct"] for c in coverage]
    return (f"{len(pct)} inspectors, plan met {sum(pct) / len(pct):.0f} % on average "
            f"(lowest {coverage[0]['inspector']} {pct[0]:.0f} %, highest {max(pct):.0f} %)")


def _joined(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "0"


def _table(summary: dict[str, Any], db: dict[str, Any], title: str = "civicgrid simulation") -> Table:
    table = Table(title=title, show_header=False)
    table.add_row("simulated time", summary["sim_now"][:19])
    table.add_row("devices", _joined(summary["devices"]))
    table.add_row("messages sent", f"{summary['sent_total']:,}  ({summary['msgs_per_s']:.0f}/s)")
    table.add_row("by channel", _joined(summary["sent"]))
    table.add_row("faults injected", _joined(summary["faults"]))
    table.add_row("reports filed", f"{summary['reports']} (photos uploaded: {summary['photos'].get('ok', 0)}, "
                                   f"showing a bin's QR label: {summary['labelled_reports']})")
    table.add_row("alarms raised", f"{db.get('alarms', 0)}  ({_joined(db.get('alarms_by_rule', {}))})")
    table.add_row("cases by state", _joined(db.get("cases_by_state", {})))
    table.add_row("cases by source", _joined(db.get("cases_by_source", {})))
    table.add_row("coverage so far", _coverage_line(db.get("coverage", [])))
    if summary["errors"]:
        table.add_row("errors", str(summary["errors"]))
    return table


def simulate(
    city: Annotated[Path, typer.Option(help="A generated and loaded city directory.", exists=True, file_okay=False)],
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 60.0,
    duration_s: Annotated[float, typer.Option(help="Wall seconds to run.")] = 600.0,
    seed: Annotated[int, typer.Option()] = 0,
    fault_rate: Annotated[float, typer.Option(help="Probability of a fault per sensor reading.")] = 0.01,
    report_rate: Annotated[float, typer.Option(help="Probability of a report per handheld track point.")] = 0.02,
    interval: Annotated[list[str] | None, typer.Option(help="KIND=SECONDS: a kind's reporting interval "
                                                            "(simulated), e.g. gps-tracker=30.")] = None,
    record: Annotated[Path | None, typer.Option(help="Write the injected faults, counts and the platform's "
                                                     "figures here (JSON).")] = None,
    scenario: Annotated[str, typer.Option(help="Only county-town for now.")] = "county-town",
    api_url: Annotated[str | None, typer.Option(help="Where handhelds upload report photos (POST /media); "
                                                     "default: the API of the settings.")] = None,
    photos: Annotated[bool, typer.Option(help="Handhelds upload a photo with each report.")] = True,
    skip: Annotated[list[str] | None, typer.Option(help="INSPECTOR=FRACTION (username or handheld id): the part "
                                                        "of its grid's route the inspector never walks, e.g. "
                                                        "sim-insp03=0.5.")] = None,
    patrol_speed: Annotated[float | None, typer.Option(help="Handhelds' mean speed, m/s (default 1.2, walking; "
                                                            "3.5 is an e-bike).")] = None,
    today: Annotated[bool, typer.Option(help="Start at today's 07:30 (Beijing) and run at --speed until the "
                                             "present, then in real time (patrol hours fall on today).")] = False,
    people_scenario: Annotated[Path | None, typer.Option(
        help="The people's scenario (simulators/scenarios/county.yaml): handhelds answer field tasks with its "
             "inspectors' refute and check-fail rates. Default: always confirmed / fixed.")] = None,
) -> None:
    """Run the city's devices against the broker at N× real time with a live summary, then a final report."""
    from civicgrid.clock import PlatformClock
    from simulators.mobile import CST
    from simulators.scenario import Scenario

    if scenario != "county-town":
        raise typer.BadParameter(f"unknown scenario {scenario!r}")
    settings = _settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per photo upload would bury the live summary
    intervals = {k: float(v) for k, v in (item.split("=", 1) for item in interval or [])}
    skips = {k: float(v) for k, v in (item.split("=", 1) for item in skip or [])}
    api = (api_url or f"http://{settings.api.host}:{settings.api.port}") if photos else None
    host, port = settings.mqtt.endpoint()  # mqtt.tls: the broker's TLS listener, trusting mqtt.ca_file
    tls_ca = (settings.mqtt.ca_file or settings.stack.var_dir / "tls" / "ca.crt") if settings.mqtt.tls else None
    platform = PlatformClock.from_settings(settings.clock)  # the platform's simulated clock, when it has one
    if platform.is_simulated:  # the devices keep the platform's time (docs/configuration.md, "The platform clock")
        speed, today = platform.speed, platform.catch_up
    sim = Scenario(city, host, port, speed=speed, seed=seed, fault_rate=fault_rate,
                   report_rate=report_rate, intervals=intervals, duration_s=duration_s, api_url=api, skip=skips,
                   patrol_speed_mps=patrol_speed, tls_ca=tls_ca, today=today,
                   start=platform.now() if platform.is_simulated else None)
    if people_scenario is not None:
        from simulators.people.scenario import load_scenario

        inspectors = load_scenario(people_scenario).inspectors
        sim.ctx.refute_rate, sim.ctx.check_fail_rate = inspectors.refute_rate, inspectors.check_fail_rate
    since = sim.clock.start

    def figures() -> dict[str, Any]:
        return _db_figures(settings, since, sim.clock.now().astimezone(CST).date().isoformat())

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, sim.stop)
        runner = asyncio.create_task(sim.run())
        db: dict[str, Any] = {}
        with Live(_table(sim.summary(), db), console=console, refresh_per_second=2) as live:
            while not runner.done():
                await asyncio.wait({runner}, timeout=1.0)
                with contextlib.suppress(Exception):  # the live view never stops the run
                    db = await asyncio.to_thread(figures)
                live.update(_table(sim.summary(), db))
        return runner.result(), db

    summary, db = asyncio.run(main())
    console.print("[dim]run over; letting the platform settle for the final report …[/dim]")
    db = _settled(figures, db)
    console.print(_table(summary, db, title="civicgrid simulation — final report"))
    if db.get("coverage"):
        per = Table(title="patrol coverage by inspector", show_header=True)
        for column in ("inspector", "plan met %", "distance m"):
            per.add_column(column)
        for c in db["coverage"]:
            per.add_row(c["inspector"], f"{c['plan_met_pct']:.1f}", f"{c['distance_m']:,}")
        console.print(per)
    if record is not None:
        sim.write_record(record, platform=db)
        console.print(f"record written to {record}")


def _settled(figures: Any, last: dict[str, Any], quiet_s: float = 3.0, limit_s: float = 20.0) -> dict[str, Any]:
    """Figures once they stop changing for `quiet_s` (the last records are still flowing), at most `limit_s`."""
    start = stable_since = time.monotonic()
    while time.monotonic() - start < limit_s:
        time.sleep(1.0)
        try:
            now = figures()
        except Exception as exc:  # the database went away: report what we have
            console.print(f"[yellow]cannot read the platform's figures: {exc}[/yellow]")
            return last
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            break
    return last
