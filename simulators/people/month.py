"""The county month, accelerated: the platform on a simulated clock, the town's people working a month of cases.

`run_month` is a composition root like `civicgrid run`, for the case loop alone: it starts an API and a stream
worker (the deadline watch) on one simulated clock (civicgrid/clock.py) that begins at midnight of a day far
enough back that the month and its drain end before the present, runs the people (simulators/people/town.py)
on that same clock through the API (at a fixed speed, or with `speed: auto` at the speed `Pace` finds,
written as a clock schedule that every process of the run reads: civicgrid/clock_schedule.py), stops new
problems at the month's end, lets the people finish what is open
(the drain: until every case of the run is closed or cancelled, or `drain_days` have passed), and writes the
report (simulators/people/report.py). The database, Kafka and the town's base data (`civicgrid city load`)
come from the settings, as for `civicgrid simulate`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from civicgrid.clock import ClockSettings, PlatformClock
from civicgrid.clock_schedule import LEAD_S, Schedule, write_schedule
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment
from civicgrid.store.db import connect
from simulators.people.decisions import CST, TERMINAL
from simulators.people.pace import Pace, PaceSettings
from simulators.people.report import Period, build_report, markdown, run_case_ids
from simulators.people.scenario import Month, PeopleScenario
from simulators.people.town import Town

log = logging.getLogger(__name__)
TICK_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class MonthResult:
    report: dict[str, Any]
    run: dict[str, Any]  # speed, wall_s, cpu_s, cpu_s_per_simulated_day, …
    json_path: Path
    markdown_path: Path


def month_start(days: float, drain_days: float, now: datetime | None = None) -> datetime:
    """Local midnight far enough back that the month and its drain end a day before `now`."""
    local = (now or datetime.now(UTC)).astimezone(CST)
    back = math.ceil(days + drain_days) + 1
    return (local - timedelta(days=back)).replace(hour=0, minute=0, second=0, microsecond=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (from /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK_S


class Platform:
    """An API and a deadline-watching worker on the month's clock, their output in `log_dir`."""

    def __init__(self, settings: Settings, clock: PlatformClock, log_dir: Path) -> None:
        self.port = _free_port()
        base = {**os.environ, **as_environment(settings), **clock.env()}
        api_env = {**base, "CIVICGRID_API__PORT": str(self.port), "CIVICGRID_API__HOST": "127.0.0.1"}
        worker_env = {**base, "CIVICGRID_STREAMS__ROLES": '["deadlines"]', "CIVICGRID_STREAMS__DEADLINE_SCAN_S": "1",
                      "CIVICGRID_STREAMS__METRICS_PORT": str(_free_port()),
                      "CIVICGRID_STREAMS__APP_ID": f"county-month-{uuid.uuid4().hex[:6]}"}
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, env in (("api", api_env), ("worker", worker_env)):
            with (log_dir / f"{name}.log").open("ab") as out:
                self.procs[name] = subprocess.Popen([sys.executable, "-m", "civicgrid.cli", name], env=env,
                                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the month's {name} exited with code {proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the month's API did not answer at {self.url}")

    def cpu_s(self) -> dict[str, float]:
        return {name: round(cpu_seconds(p.pid), 2) for name, p in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(2)  # SIGINT: the services' graceful stop
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _open_run_cases(settings: Settings, users: list[str], period: Period) -> int:
    with connect(settings.db, autocommit=True) as conn:
        ids = run_case_ids(conn, users, period)
        row = conn.execute("SELECT count(*) FROM cases WHERE id = ANY(%s::uuid[]) AND state <> ALL(%s)",
                           (ids, list(TERMINAL))).fetchone()
    return int(row[0]) if row else 0


def _open_reasons(town: Town) -> dict[str, str]:
    """Why each case a person still plans for is open: whose plan, which action, when (simulated time)."""
    reasons: dict[str, str] = {}
    for person in town.people:
        for case_id, plan in person.plans.items():
            when = plan.not_before or plan.due
            reasons.setdefault(case_id, f"{person.role} {person.name} plans {plan.action} at {when.isoformat()}"
                               + (f" ({plan.note})" if plan.note else ""))
    return reasons


class Governor:
    """The adaptive speed of one run: `Pace`'s decisions written to the run's clock schedule."""

    def __init__(self, month: Month, poll_s: float, path: Path, start: datetime) -> None:
        # First guess: a tick takes twice `poll_s` (the looks as long as the pause); `Pace` corrects it.
        initial = month.target_look_min * 60 / (2 * poll_s)
        self.pace = Pace(PaceSettings(month.target_look_min, month.min_speed, month.max_speed), initial)
        self.initial, self.path, self.wall0 = self.pace.speed, path.absolute(), time.time()
        self.schedule = Schedule.fixed(start, self.initial, datetime.fromtimestamp(self.wall0, UTC))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_schedule(self.path, self.schedule)

    def clock(self) -> PlatformClock:
        first = self.schedule.first
        return PlatformClock.from_settings(ClockSettings(start=first.sim, speed=first.speed, anchor=first.wall,
                                                         schedule=self.path))

    def step(self, ticks: int, sim: datetime) -> float | None:
        wall = time.time()
        new = self.pace.observe(wall, ticks, sim, LEAD_S)
        if new is not None:
            self.schedule = self.schedule.then(new, datetime.fromtimestamp(wall + LEAD_S, UTC))
            write_schedule(self.path, self.schedule)
        return new

    def summary(self) -> dict[str, object]:
        return self.pace.summary(self.wall0, time.time(), self.initial)


async def _work(town: Town, clock: PlatformClock, settings: Settings, period: Period, drain_end: datetime,
                say: Callable[[str], None], governor: Governor | None = None) -> datetime:
    """Run the town through the month and the drain; return when (simulated) it stopped."""
    runner = asyncio.create_task(town.run())
    last_line, intake_open = 0.0, True
    try:
        while not runner.done():
            await asyncio.wait({runner}, timeout=1.0)
            now = clock.now()
            anticipated = governor.pace.anticipated if governor is not None else 0
            if governor is not None and (new := governor.step(town.ticks, now)) is not None:
                why = ("the next hour was slow the last day" if governor.pace.anticipated > anticipated else
                       f"look interval {governor.pace.intervals[-1]:.1f} simulated min")
                say(f"[{now.astimezone(CST):%Y-%m-%d %H:%M}] {why} (target "
                    f"{governor.pace.settings.target_look_min:g}): speed {new:.0f}× from {LEAD_S:g} s on")
            if intake_open and now >= period.month_end:
                town.stop_intake()
                intake_open = False
                say(f"[{now.astimezone(CST):%Y-%m-%d %H:%M}] the month is over: no new problems; draining")
            if now >= drain_end:
                break
            if time.monotonic() - last_line >= 10:
                last_line = time.monotonic()
                summary = town.summary()
                say(f"[{now.astimezone(CST):%Y-%m-%d %H:%M}] actions {sum(summary.get('actions', {}).values())}, "
                    f"errors {sum(summary.get('errors', {}).values())}")
                if not intake_open and town.staff is not None:
                    users = run_users(town)
                    if await asyncio.to_thread(_open_run_cases, settings, users,
                                               Period(period.start, period.month_end, now)) == 0:
                        break
    finally:
        stopped = clock.now()
        town.stop()
        await runner
    return stopped


def run_users(town: Town) -> list[str]:
    assert town.staff is not None
    return [a.username for a in town.staff.accounts]


def run_month(settings: Settings, scenario: PeopleScenario, scenario_name: str, out_dir: Path, state_path: Path,
              admin: tuple[str, str], *, say: Callable[[str], None] = print) -> MonthResult:
    """The whole run; `admin` (username, password) makes the people's accounts through the API."""
    m = scenario.month
    start = month_start(m.days, m.drain_days)
    period = Period(start, start + timedelta(days=m.days), start + timedelta(days=m.days + m.drain_days))
    governor = None if m.speed != "auto" else Governor(m, scenario.poll_s, out_dir / "clock-schedule.json", start)
    clock = governor.clock() if governor is not None else PlatformClock.simulated(start, float(m.speed))
    platform = Platform(settings, clock, out_dir / "logs")
    wall0 = time.monotonic()
    try:
        platform.wait_ready()
        say(f"platform up at {platform.url} on the {clock.describe()}")
        town = Town(scenario, clock, platform.url, admin[0], admin[1], state_path, platform=clock)
        stopped = asyncio.run(_work(town, clock, settings, period, period.end, say, governor))
        wall_s = time.monotonic() - wall0
        cpu = platform.cpu_s()
    finally:
        platform.stop()
    end = max(stopped, period.month_end)
    with connect(settings.db, autocommit=True) as conn:
        ids = run_case_ids(conn, run_users(town), Period(start, period.month_end, end))
        report = build_report(conn, ids, Period(start, period.month_end, end), _open_reasons(town),
                              {"source_mix": m.seed_source_mix, "closure_pct": m.seed_closure_pct,
                               "calibration": m.calibration})
    simulated_days = (end - start).total_seconds() / 86400
    run = {"scenario": scenario_name, "speed": m.speed, "wall_s": round(wall_s, 1), "simulated_days": round(
        simulated_days, 3), "cpu_s": round(sum(cpu.values()), 1), "cpu_s_by_process": cpu,
        "cpu_s_per_simulated_day": round(sum(cpu.values()) / simulated_days, 2) if simulated_days else None,
        # How often each person looked at their work list, in simulated minutes: the granularity of every delay
        # (a speed the platform does not keep up with shows here first).
        "look_interval_sim_min": round(simulated_days * 1440 / town.ticks, 2) if town.ticks else None,
        "people": town.summary(), "users": run_users(town)}
    if governor is not None:
        # The speeds used, weighted by wall time, and each change (wall seconds from the start, speed).
        run["speeds"] = governor.summary()
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "county-month.json", out_dir / "county-month.md"
    json_path.write_bytes(orjson.dumps({"run": run, "report": report}, option=orjson.OPT_INDENT_2))
    md_path.write_text(markdown(report, run), encoding="utf-8")
    return MonthResult(report, run, json_path, md_path)
