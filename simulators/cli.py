"""CLI commands: `civicgrid city generate|load` (typer app `city_app`) and `civicgrid simulate` (`simulate`).

Registered in civicgrid/cli.py: ``app.add_typer(city_app, name="city")`` and ``app.command()(simulate)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from civicgrid.settings import Settings, load_settings

city_app = typer.Typer(help="The synthetic county town: generate it, load it (or a real city's GeoJSON).",
                       no_args_is_help=True)
console = Console(stderr=True)


def _settings() -> Settings:
    """The settings the main `civicgrid` callback loaded (its --config), else the default ones."""
    try:
        from civicgrid.cli import _State  # only when run under the main CLI
    except ImportError:  # pragma: no cover
        return load_settings(None)
    return _State.settings or load_settings(None)


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
) -> None:
    """Generate a reproducible county town (Shucheng, 341523)."""
    from simulators.city import generate_city

    summary = generate_city(seed, area_km2, out, covers=covers, bins=bins, lights=lights, trackers=trackers,
                            inspectors=inspectors)
    console.print(summary)


@city_app.command("load")
def load(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)]) -> None:
    """Import a city directory into the database and provision its devices (secrets → DIR/secrets.json)."""
    from civicgrid.store.city import load_city

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        counts = load_city(_settings(), directory, progress=progress)
    console.print(counts)


def _db_counts(settings: Settings, since: datetime) -> tuple[int, dict[str, int]]:
    from civicgrid.store.db import connect

    with connect(settings.db, autocommit=True) as conn:
        (alarms,) = conn.execute("SELECT count(*) FROM alarms WHERE action = 'raise' AND time >= %s",
                                 (since,)).fetchone()
        states = dict(conn.execute("SELECT state, count(*) FROM cases WHERE reported_at >= %s GROUP BY state",
                                   (since,)).fetchall())
    return alarms, states


def _table(summary: dict[str, Any], alarms: int, states: dict[str, int]) -> Table:
    table = Table(title="civicgrid simulation", show_header=False)
    table.add_row("simulated time", summary["sim_now"][:19])
    table.add_row("devices", ", ".join(f"{k} {v}" for k, v in sorted(summary["devices"].items())))
    table.add_row("messages sent", f"{summary['sent_total']:,}  ({summary['msgs_per_s']:.0f}/s)")
    table.add_row("by channel", ", ".join(f"{k} {v}" for k, v in sorted(summary["sent"].items())))
    table.add_row("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(summary["faults"].items())) or "0")
    table.add_row("reports filed", str(summary["reports"]))
    table.add_row("alarms raised", str(alarms))
    table.add_row("cases by state", ", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "0")
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
    record: Annotated[Path | None, typer.Option(help="Write the injected faults and counts here (JSON).")] = None,
    scenario: Annotated[str, typer.Option(help="Only county-town for now.")] = "county-town",
) -> None:
    """Run the city's devices against the broker at N× real time with a live summary."""
    from simulators.scenario import Scenario

    if scenario != "county-town":
        raise typer.BadParameter(f"unknown scenario {scenario!r}")
    settings = _settings()
    intervals = {k: float(v) for k, v in (item.split("=", 1) for item in interval or [])}
    sim = Scenario(city, settings.mqtt.host, settings.mqtt.port, speed=speed, seed=seed, fault_rate=fault_rate,
                   report_rate=report_rate, intervals=intervals, duration_s=duration_s)

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, sim.stop)
        runner = asyncio.create_task(sim.run())
        since = sim.clock.start
        alarms, states = 0, {}
        with Live(_table(sim.summary(), alarms, states), console=console, refresh_per_second=2) as live:
            while not runner.done():
                await asyncio.wait({runner}, timeout=1.0)
                with contextlib.suppress(Exception):
                    alarms, states = await asyncio.to_thread(_db_counts, settings, since)
                live.update(_table(sim.summary(), alarms, states))
        return runner.result()

    summary = asyncio.run(main())
    if record is not None:
        sim.write_record(record)
    console.print(summary)
