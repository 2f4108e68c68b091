"""`civicgrid simulate-people`: the town's people working cases through the HTTP API, with a running summary.

Registered in civicgrid/cli.py beside `simulate`. The people need an admin account to make theirs
(docs/simulators.md): `--admin-user` with `--admin-password-file`, or `--make-admin`, which creates
`<prefix>admin` once with `civicgrid users add … --password-stdin` (the CLI every operator uses) and
keeps its password in the state file with the people's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console

from civicgrid import command_settings
from simulators.people.provision import read_state, write_state
from simulators.people.scenario import DEFAULT_SCENARIO, MONTH_SCENARIO, Month, load_scenario

console = Console(stderr=True)
API_WAIT_S = 120.0  # under `civicgrid run` the people start beside an API that is still starting


def _admin_password(state_path: Path, username: str, password_file: Path | None, make: bool) -> str:
    if password_file is not None:
        return password_file.read_text(encoding="utf-8").strip()
    state = read_state(state_path)
    known = state.get("admin", {})
    if known.get("username") == username:
        return str(known["password"])
    if not make:
        raise typer.BadParameter(f"no password for admin {username}: give --admin-password-file or --make-admin")
    password = secrets.token_urlsafe(18)
    done = subprocess.run([sys.executable, "-m", "civicgrid.cli", "users", "add", username, "--role", "admin",
                           "--display-name", "模拟人员管理员", "--password-stdin"], input=password + "\n",
                          text=True, capture_output=True, check=False)
    if done.returncode != 0:
        raise typer.BadParameter(f"could not create admin {username}: {done.stderr.strip()[-300:]} (an existing "
                                 f"admin without a kept password: pass --admin-user and --admin-password-file)")
    state["admin"] = {"username": username, "password": password}
    write_state(state_path, state)
    return password


def _wait_for_api(url: str) -> None:
    deadline = time.monotonic() + API_WAIT_S
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=5).status_code < 500:
                return
        if time.monotonic() > deadline:
            raise typer.BadParameter(f"no API answers at {url}")
        time.sleep(2)


def _line(summary: dict[str, Any]) -> str:
    actions = summary.get("actions", {})
    done = ", ".join(f"{k} {v}" for k, v in actions.items()) or "nothing yet"
    extra = {**summary.get("notes", {}), **{f"refused {k}": v for k, v in summary.get("refused", {}).items()}}
    return (f"[{summary.get('sim_now', '')[:19]}] people {summary.get('people', {})}; {done}"
            + (f"; {extra}" if extra else "") + (f"; errors {summary['errors']}" if summary.get("errors") else ""))


def simulate_people(
    api_url: Annotated[str | None, typer.Option(help="The API the people use; default: the settings' API.")] = None,
    scenario: Annotated[Path, typer.Option(help="Working hours, delays and error rates (YAML).", exists=True,
                                           dir_okay=False)] = DEFAULT_SCENARIO,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second (as `simulate`).")] = 60.0,
    duration_s: Annotated[float, typer.Option(help="Wall seconds to run.")] = 600.0,
    today: Annotated[bool, typer.Option(help="The clock of `simulate --today`: today's 07:30 at --speed until "
                                             "the present, then real time.")] = False,
    state: Annotated[Path | None, typer.Option(help="Where the people's passwords and the 12319 API key are "
                                                    "kept (mode 0600); default var/city/people.json.")] = None,
    admin_user: Annotated[str | None, typer.Option(help="An admin that creates the people's accounts; default "
                                                        "<user_prefix>admin.")] = None,
    admin_password_file: Annotated[Path | None, typer.Option(help="A file holding that admin's password.",
                                                             exists=True, dir_okay=False)] = None,
    make_admin: Annotated[bool, typer.Option(help="Create the admin with `civicgrid users add` when its "
                                                  "password is not kept in the state file.")] = False,
) -> None:
    """Run the town's simulated people (operators, shift leaders, dispatchers, departments, inspectors,
    12319 callers) against the API; each acts only through HTTP with its own user."""
    from civicgrid.clock import PlatformClock
    from simulators.devices import SimClock
    from simulators.people.person import Clock
    from simulators.people.town import Town
    from simulators.scenario import default_start, today_start

    settings = command_settings.current()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    people = load_scenario(scenario)
    url = (api_url or f"http://{settings.api.host}:{settings.api.port}").rstrip("/")
    state_path = state or settings.stack.var_dir / "city" / "people.json"
    admin = admin_user or f"{people.user_prefix}admin"
    _wait_for_api(url)
    password = _admin_password(state_path, admin, admin_password_file, make_admin)
    platform = PlatformClock.from_settings(settings.clock)
    if platform.is_simulated:  # the platform's simulated clock is everybody's (docs/configuration.md)
        clock: Clock = platform
    else:
        clock = SimClock(today_start(), speed, catch_up=True) if today else SimClock(default_start(duration_s, speed),
                                                                                      speed)
    town = Town(people, clock, url, admin, password, state_path, platform=platform)

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, town.stop)
        runner = asyncio.create_task(town.run(duration_s))
        while not runner.done():
            await asyncio.wait({runner}, timeout=10.0)
            console.print(_line(town.summary()), highlight=False)
        return runner.result()

    summary = asyncio.run(main())
    console.print("[bold]people: final summary[/]")
    console.print(_line(summary), highlight=False)


def county_month(
    scenario: Annotated[Path, typer.Option(help="The month's people, volumes and clock (YAML).", exists=True,
                                           dir_okay=False)] = MONTH_SCENARIO,
    days: Annotated[float | None, typer.Option(help="Simulated days (default: the scenario's month.days).")] = None,
    speed: Annotated[str | None, typer.Option(help="Simulated seconds per wall second, or 'auto': as fast as the "
                                                   "people keep --target-look-min between two looks at their work "
                                                   "lists, up to --max-speed, adjusted while running (default: "
                                                   "the scenario's month.speed).")] = None,
    max_speed: Annotated[float | None, typer.Option(help="With --speed auto: the highest speed (default: the "
                                                         "scenario's month.max_speed).")] = None,
    target_look_min: Annotated[float | None, typer.Option(help="With --speed auto: simulated minutes between two "
                                                               "looks at a work list (default: the scenario's "
                                                               "month.target_look_min, 10).")] = None,
    drain_days: Annotated[float | None, typer.Option(help="After the month: at most this long for the people "
                                                          "to finish what is open.")] = None,
    out: Annotated[Path | None, typer.Option(help="Where the report goes (county-month.json, .md, logs/); "
                                                  "default var/county-month.")] = None,
    state: Annotated[Path | None, typer.Option(help="The people's passwords (mode 0600); default "
                                                    "var/city/people.json.")] = None,
    admin_user: Annotated[str | None, typer.Option(help="An admin that creates the people's accounts; default "
                                                        "<user_prefix>admin.")] = None,
    admin_password_file: Annotated[Path | None, typer.Option(help="A file holding that admin's password.",
                                                             exists=True, dir_okay=False)] = None,
    make_admin: Annotated[bool, typer.Option(help="Create the admin with `civicgrid users add` when its "
                                                  "password is not kept in the state file.")] = False,
) -> None:
    """The county month, accelerated: an API and a deadline watch on one simulated clock, the town's people
    (a loaded city: `civicgrid city load`) working a month of patrol reports, video captures and 12319 calls
    through the API, then a drain; writes the report (cases by source, closure, on-time rates, rework and
    returns, report-to-close times, score tables) as JSON and Markdown (docs/county-month.md)."""
    from simulators.people.month import run_month

    settings = command_settings.current()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    people = load_scenario(scenario)
    given = {k: v for k, v in (("days", days), ("speed", speed), ("drain_days", drain_days),
                               ("max_speed", max_speed), ("target_look_min", target_look_min)) if v is not None}
    try:
        month = Month.model_validate({**people.month.model_dump(), **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise command_settings.fail(f"county-month: {'.'.join(['month', *map(str, first['loc'][:1])])}: {first['msg']} "
                                    "(--speed takes a number or 'auto')") from None
    people = people.model_copy(update={"month": month})
    state_path = state or settings.stack.var_dir / "city" / "people.json"
    out_dir = out or settings.stack.var_dir / "county-month"
    admin = admin_user or f"{people.user_prefix}admin"
    password = _admin_password(state_path, admin, admin_password_file, make_admin)
    result = run_month(settings, people, scenario.name, out_dir, state_path, (admin, password),
                       say=lambda m: console.print(m, highlight=False))
    r, run = result.report, result.run
    console.print(f"[bold]county month[/]: {r['cases']} cases, by source "
                  f"{ {k: v['pct'] for k, v in r['by_source'].items()} } %, closed by the month's end "
                  f"{r['closure']['rate_at_month_end_pct']} %, after the drain {r['closure']['rate_at_end_pct']} %; "
                  f"{run['simulated_days']} simulated days in {run['wall_s']} s, platform CPU "
                  f"{run['cpu_s_per_simulated_day']} s per simulated day", highlight=False)
    if "speeds" in run:
        sp = run["speeds"]
        console.print(f"speed: min {sp['min']}×, median {sp['median']}×, max {sp['max']}× over the run; each person "
                      f"looked every {run['look_interval_sim_min']} simulated minutes", highlight=False)
    console.print(f"report: {result.markdown_path} and {result.json_path}", highlight=False)
