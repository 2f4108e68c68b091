"""The local platform on one machine: ``civicgrid stack up|down|status`` (Mosquitto, Kafka, PostgreSQL),
``civicgrid run`` (the stack, every service as a supervised process and the simulated town) and
``civicgrid status`` (all of it, with the consumer groups' lag).

``stack_app`` is added and ``run`` and ``status`` are registered by civicgrid/cli.py. ``run`` starts each
service as ``python -m civicgrid.cli <command>`` (civicgrid/services_cli.py); the stack and the supervisor
are imported inside the commands, so ``civicgrid --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from civicgrid import command_settings
from civicgrid.command_settings import fail
from civicgrid.services_cli import stop_on_signals

if TYPE_CHECKING:
    from collections.abc import Iterable

    from civicgrid.clock import ClockSettings
    from civicgrid.settings import Settings
    from civicgrid.stack.local import LocalStack, ServiceStatus
    from civicgrid.stack.supervisor import Supervisor

stack_app = typer.Typer(help="The local service stack: Mosquitto, Apache Kafka (KRaft), PostgreSQL+TimescaleDB.",
                        no_args_is_help=True)
console = Console(stderr=True)


def _print_status(statuses: Iterable[ServiceStatus]) -> None:
    from civicgrid.status import stack_table

    Console().print(stack_table(statuses))


@stack_app.command("up")
def stack_up() -> None:
    """Start the services that are not running and wait until each answers."""
    from civicgrid.stack import LocalStack, StackError

    stack = LocalStack(command_settings.current(),
                       progress=lambda m: console.print(f"[cyan]stack[/] {m}", highlight=False))
    try:
        statuses = stack.up()
    except StackError as exc:
        raise fail(str(exc)) from None
    _print_status(statuses)


@stack_app.command("down")
def stack_down() -> None:
    """Stop the services gracefully (reverse order) and clean up stale pid files."""
    from civicgrid.stack import LocalStack

    stopped = LocalStack(command_settings.current(), progress=lambda m: console.print(f"[cyan]stack[/] {m}")).down()
    if not stopped:
        console.print("stack: nothing was running")


@stack_app.command("status")
def stack_status() -> None:
    """Show each service's pid and whether it really answers; exit 1 unless all are healthy."""
    from civicgrid.stack import LocalStack

    statuses = LocalStack(command_settings.current()).status()
    _print_status(statuses)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


def run(
    simulate_city: Annotated[bool, typer.Option("--simulate/--no-simulate",
                                                help="Run the simulated county town.")] = True,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 60.0,
    gateways: Annotated[int, typer.Option(min=1, max=64, help="Device-affine gateway processes, each forwarding "
                                                      "the devices that hash to it (gateway i: client id "
                                                      "<gateway.client_id>-i, metrics port + i-1).")] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Stream worker processes sharing the partitions.")] = 1,
) -> None:
    """Run the platform locally: the stack, gateways, camera poller, stream workers, API and a simulated city.

    Ctrl-C stops all.
    """
    import subprocess

    from civicgrid.stack import LocalStack, StackError
    from civicgrid.stack.supervisor import Supervisor

    settings = command_settings.current()
    stack = LocalStack(settings, progress=lambda m: console.print(f"[cyan]stack[/] {m}", highlight=False))
    stop = stop_on_signals()
    argv = [sys.executable, "-m", "civicgrid.cli"]
    logs = settings.stack.var_dir / "log"
    services = Supervisor(settings.stack.var_dir / "run",
                          report=lambda m: console.print(f"[yellow]services[/] {m}", highlight=False))
    try:
        try:
            _print_status(stack.up())
        except StackError as exc:
            raise fail(str(exc)) from None
        city = settings.stack.var_dir / "city"
        if simulate_city and settings.clock.start is None:
            settings = settings.model_copy(update={"clock": _share_todays_clock(speed)})
        if simulate_city:
            if not (city / "city.json").exists():
                subprocess.run([*argv, "city", "generate", "--seed", "1", "--out", str(city)], check=True)
            subprocess.run([*argv, "city", "load", str(city)], check=True)
        _start_platform(services, settings, argv, logs, city if simulate_city else None, gateways, workers)
        console.print(f"[bold]civicgrid is running.[/] Operator console http://{settings.api.host}:"
                      f"{settings.api.port}/ ; API docs http://{settings.api.host}:{settings.api.port}/docs "
                      f"(first user: `civicgrid users add NAME --role admin`); gateway metrics "
                      f"http://{settings.gateway.metrics_host}:{settings.gateway.metrics_port}/metrics; "
                      f"service logs in {logs}/; `civicgrid status` in another terminal. Press Ctrl-C to stop.")
        if simulate_city and not stop.wait(8):  # the gateway subscribes and the worker joins its groups first
            _start_simulation(services, settings, argv, logs, city, speed)
        _watch(services, stack, stop)
    finally:
        console.print("stopping ...")
        services.stop()
        stack.down()


def _share_todays_clock(speed: float) -> ClockSettings:
    """One platform clock for every process `run` starts (in the settings they are given, and in the environment
    of those started by hand; civicgrid/clock.py): today's patrol day from 07:30 at `speed` until the present,
    then real time, so the simulated morning's cases and deadlines carry the morning's times, as the devices'
    readings do."""
    from civicgrid.clock import PlatformClock
    from simulators.scenario import today_start

    clock = PlatformClock.simulated(today_start(), speed, catch_up=True)
    os.environ.update(clock.env())
    return clock.settings()


def _start_platform(services: Supervisor, settings: Settings, argv: list[str], logs: Path, city: Path | None,
                    gateways: int, workers: int) -> None:
    """`civicgrid run`'s platform processes; `city`: the simulated town's directory, when it runs."""
    import orjson

    from civicgrid.stack.services import gateway_instance_env, worker_instance_env

    # Services run as their own processes, in their own process groups so that Ctrl-C
    # reaches them only through us, in order; their output goes to var/log/. One that dies
    # is started again with back-off (civicgrid/stack/supervisor.py).
    env = None  # the simulated cameras' ONVIF passwords are their device secrets
    if city is not None and "CIVICGRID_CAMERAS__SECRETS_FILE" not in os.environ:
        env = {"CIVICGRID_CAMERAS__SECRETS_FILE": str(city / "secrets.json")}
    for i in range(gateways):
        name = "gateway" if gateways == 1 else f"gateway-{i + 1}"
        services.start(name, [*argv, "gateway"], logs / f"{name}.log",
                       env=gateway_instance_env(settings.gateway, i, gateways))
    for i in range(workers):
        name = "worker" if workers == 1 else f"worker-{i + 1}"
        services.start(name, [*argv, "worker"], logs / f"{name}.log", env=worker_instance_env(settings.streams, i))
    api_env = None  # the simulated town's place names, stripped when geocoding (docs/geocoding.md)
    if city is not None and "CIVICGRID_ADDRESS_PREFIXES" not in os.environ:
        prefixes = orjson.loads((city / "city.json").read_bytes()).get("address_prefixes", [])
        api_env = {"CIVICGRID_ADDRESS_PREFIXES": orjson.dumps(prefixes).decode()}
    services.start("api", [*argv, "api"], logs / "api.log", env=api_env)
    services.start("cameras", [*argv, "cameras"], logs / "cameras.log", env=env)
    # Each component's state follows its cases (docs/basedata.md): a consumer group on cg.case-events.
    services.start("component-state", [*argv, "basedata", "follow"], logs / "component-state.log")
    services.start("jt808-gateway", [*argv, "jt808-gateway"], logs / "jt808-gateway.log")
    services.start("gb28181-gateway", [*argv, "gb28181-gateway"], logs / "gb28181-gateway.log")
    _start_notifier(services, settings, argv, logs)


def _start_simulation(services: Supervisor, settings: Settings, argv: list[str], logs: Path, city: Path,
                      speed: float) -> None:
    """`civicgrid run`'s simulated town: its devices, its people, its trucks and its cameras."""
    # Today's patrol day from 07:30 at `speed` until the present, then in real time (the gateway
    # refuses device times in the future); a week of wall time, i.e. until Ctrl-C.
    # The simulated devices connect as devices on 4G would: over TLS, trusting the stack's CA.
    from simulators.people.scenario import DEFAULT_SCENARIO as people

    clock = ["--speed", str(speed), "--duration-s", "604800", "--today"]
    services.start("simulator", [*argv, "simulate", "--city", str(city), *clock,
                                 "--people-scenario", str(people)], None,
                   env={"CIVICGRID_MQTT__TLS": "true",
                        "CIVICGRID_MQTT__CA_FILE": str(settings.stack.var_dir.resolve() / "tls" / "ca.crt")})
    # The people who work the cases, through the API (docs/simulators.md, "People").
    services.start("people", [*argv, "simulate-people", *clock, "--scenario", str(people), "--make-admin"],
                   logs / "people.log")
    # The town's trucks with JT/T 808 terminals, through the jt808-gateway (docs/jt808.md).
    services.start("jt808-fleet", [*argv, "simulate-jt808", "--city", str(city)], logs / "jt808-fleet.log")
    # Two IP cameras on the town's streets over GB/T 28181, through the gb28181-gateway (docs/gb28181.md).
    services.start("gb28181-cameras", [*argv, "simulate-gb28181", "--city", str(city)], logs / "gb28181-cameras.log")


def _start_notifier(services: Supervisor, settings: Settings, argv: list[str], logs: Path) -> None:
    """Feedback to citizens runs only where a receiver is configured (notify.webhook_url; docs/notify.md)."""
    if settings.notify.webhook_url:
        services.start("notifier", [*argv, "notifier"], logs / "notifier.log")


def _watch(services: Supervisor, stack: LocalStack, stop: threading.Event) -> None:
    """Until Ctrl-C: restart a service that died (with back-off); say so (once, with its log's tail) when a stack
    service turns unhealthy, and again when it is healthy."""
    reported: dict[str, str] = {}
    while not stop.wait(2):
        services.check()
        for s in stack.status():
            if s.healthy and s.name in reported:
                console.print(f"[green]{s.name} is healthy again[/]")
                del reported[s.name]
            elif not s.healthy and reported.get(s.name) != s.state:
                console.print(f"[red]{s.name} is {s.state}[/] {s.detail}", highlight=False)
                reported[s.name] = s.state


def status() -> None:
    """The local stack, the services of a running `civicgrid run` (restarts, last exit codes, the health each
    reports) and each Kafka consumer group's members and lag; exit 1 when anything is not ok."""
    from civicgrid.status import show_status

    if show_status(command_settings.current(), console):
        raise typer.Exit(1)
