"""The ``civicgrid`` command: the composition root that builds settings and starts services.

Services are imported inside their command functions, so ``civicgrid --help``
stays fast and a command pulls in only what it runs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicgrid.settings import Settings, load_settings

app = typer.Typer(help="civicgrid: IoT gateway and streaming telemetry for digital city management.",
                  no_args_is_help=True, add_completion=False)
stack_app = typer.Typer(help="The local service stack: Mosquitto, Apache Kafka (KRaft), PostgreSQL+TimescaleDB.",
                        no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
devices_app = typer.Typer(help="The device registry: provisioning, secrets, enabling.", no_args_is_help=True)
users_app = typer.Typer(help="API users: operators, dispatchers, departments, inspectors, leaders, admins.",
                        no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(devices_app, name="devices")
app.add_typer(users_app, name="users")


def _register_simulators() -> None:
    # The simulators' commands live beside them (simulators/cli.py); imported here so
    # `civicgrid city ...` and `civicgrid simulate` are one command with the rest.
    from simulators.cli import city_app, simulate

    app.add_typer(city_app, name="city")
    app.command("simulate")(simulate)


_register_simulators()

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


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@app.command("gateway")
def gateway() -> None:
    """Run the MQTT → Kafka gateway until Ctrl-C (metrics on gateway.metrics_port)."""
    from gateway.service import Gateway

    settings = _settings()
    stop = _stop_on_signals()
    console.print(f"gateway: MQTT {settings.mqtt.host}:{settings.mqtt.port} → Kafka "
                  f"{settings.kafka.bootstrap_servers}; metrics on http://{settings.gateway.metrics_host}:"
                  f"{settings.gateway.metrics_port}/metrics")
    Gateway(settings).run(stop)


@app.command("worker")
def worker(loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info") -> None:
    """Run one stream worker (alarms, cases, sinks, deadline watch, outbox relay) until Ctrl-C."""
    from streams.worker import run as run_worker

    run_worker(_settings(), loglevel)


@app.command("streams")
def streams(workers: Annotated[int, typer.Option(help="Worker processes sharing the partitions.")] = 1) -> None:
    """Run N stream workers as child processes until Ctrl-C."""
    import subprocess

    settings = _settings()
    procs = []
    for n in range(workers):
        env = {**os.environ, "CIVICGRID_STREAMS__DATA_DIR": str(settings.streams.data_dir / f"worker-{n}")}
        procs.append(subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "worker"], env=env))
    stop = _stop_on_signals()
    while not stop.wait(1):
        if any(p.poll() is not None for p in procs):
            break
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(30)


@app.command("api")
def api() -> None:
    """Run the HTTP API (uvicorn; OpenAPI docs at /docs) and the operator console (at /) until Ctrl-C."""
    from api.service import run as run_api

    run_api(_settings())


@app.command("cameras")
def cameras() -> None:
    """Poll the registered ONVIF cameras, analyse their snapshots, report on Kafka until Ctrl-C."""
    from gateway.cameras.poller import run as run_cameras

    run_cameras(_settings())


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="operator, dispatcher, department, inspector, shift_leader, leader "
                                           "or admin.")],
    department: Annotated[str | None, typer.Option(help="Department id (role department).")] = None,
    grid: Annotated[str | None, typer.Option(help="Responsibility grid id (role inspector).")] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console.")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin instead of generating one.")]
    = False,
) -> None:
    """Create an API user (e.g. the first admin); prints a generated password once."""
    from api.users import UserError, add_user

    password = sys.stdin.readline().strip() if password_stdin else None
    try:
        created_password = add_user(_settings(), username, role, department_id=department,
                                    responsibility_grid_id=grid, display_name=display_name, password=password)
    except UserError as exc:
        raise _fail(str(exc)) from None
    console.print(f"user {username} ({role}) created")
    if not password_stdin:
        console.print("password (shown once):")
        print(created_password)


@app.command("run")
def run(
    simulate_city: Annotated[bool, typer.Option("--simulate/--no-simulate",
                                                help="Run the simulated county town.")] = True,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 60.0,
) -> None:
    """Run the platform locally: the stack, gateway, camera poller, stream worker, API and a simulated city.

    Ctrl-C stops all.
    """
    import subprocess

    from civicgrid.stack import LocalStack, StackError

    settings = _settings()
    stack = LocalStack(settings, progress=lambda m: console.print(f"[cyan]stack[/] {m}", highlight=False))
    stop = _stop_on_signals()
    services: dict[str, subprocess.Popen] = {}
    argv = [sys.executable, "-m", "civicgrid.cli"]
    logs = settings.stack.var_dir / "log"
    try:
        try:
            _print_status(stack.up())
        except StackError as exc:
            raise _fail(str(exc)) from None
        city = settings.stack.var_dir / "city"
        if simulate_city:
            if not (city / "city.json").exists():
                subprocess.run([*argv, "city", "generate", "--seed", "1", "--out", str(city)], check=True)
            subprocess.run([*argv, "city", "load", str(city)], check=True)
        # Services run as their own processes, in their own process groups so that Ctrl-C
        # reaches them only through us, in order; their output goes to var/log/.
        if simulate_city:  # the simulated cameras' ONVIF passwords are their device secrets
            os.environ.setdefault("CIVICGRID_CAMERAS__SECRETS_FILE", str(city / "secrets.json"))
        for name in ("gateway", "worker", "api", "cameras"):
            with (logs / f"{name}.log").open("ab") as out:
                services[name] = subprocess.Popen([*argv, name], start_new_session=True,
                                                  stdout=out, stderr=subprocess.STDOUT)
        console.print(f"[bold]civicgrid is running.[/] Operator console http://{settings.api.host}:"
                      f"{settings.api.port}/ ; API docs http://{settings.api.host}:{settings.api.port}/docs "
                      f"(first user: `civicgrid users add NAME --role admin`); gateway metrics "
                      f"http://{settings.gateway.metrics_host}:{settings.gateway.metrics_port}/metrics; "
                      f"service logs in {logs}/. Press Ctrl-C to stop.")
        if simulate_city:
            time.sleep(8)  # the gateway subscribes and the worker joins its groups first
            services["simulator"] = subprocess.Popen(
                # One wall hour: the simulated clock starts far enough back (speed × duration) that
                # the run ends at "now", since the gateway refuses device times in the future.
                [*argv, "simulate", "--city", str(city), "--speed", str(speed), "--duration-s", "3600"],
                start_new_session=True)
        _watch(services, stack, stop, logs)
    finally:
        console.print("stopping ...")
        _stop_children(services)
        stack.down()


def _watch(services: dict, stack, stop: threading.Event, logs: Path) -> None:
    """Until Ctrl-C: stop everything if a service dies; say so if the stack turns unhealthy."""
    while not stop.wait(2):
        for name, proc in list(services.items()):
            if proc.poll() is None:
                continue
            if name == "simulator" and proc.returncode == 0:
                console.print("the simulated run is over; the platform keeps running (Ctrl-C stops it)")
                del services[name]
                continue
            console.print(f"[red]{name} exited with code {proc.returncode} (see {logs}/{name}.log); stopping[/]")
            return
        unhealthy = [s for s in stack.status() if not s.healthy]
        if unhealthy:
            console.print(f"[red]unhealthy:[/] {', '.join(f'{s.name} ({s.state})' for s in unhealthy)}")


def _stop_children(services: dict) -> None:
    """SIGINT in reverse start order, SIGKILL after 15 s."""
    import subprocess

    for proc in reversed(list(services.values())):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


# ----------------------------------------------------------------------------- devices
@devices_app.command("add")
def devices_add(
    device_id: Annotated[str, typer.Argument(help="Device id: the MQTT username and topic level cg/<id>/...")],
    kind: Annotated[str, typer.Option(help="Device kind: a profile in device-profiles/.")],
    profile: Annotated[str | None, typer.Option(help="Profile, if other than the kind.")] = None,
    component: Annotated[str | None, typer.Option(help="16-digit code of the component it is fitted to.")] = None,
    grid_cell: Annotated[str | None, typer.Option(help="Unit grid cell code where it is installed.")] = None,
    inspector: Annotated[int | None, typer.Option(help="User id of the inspector carrying it.")] = None,
    secret_stdin: Annotated[bool, typer.Option(help="Read the secret from stdin instead of generating one.")] = False,
) -> None:
    """Register a device and create its broker account; prints the generated secret once."""
    from civicgrid.broker.provisioning import add_device
    from civicgrid.broker.sync import mosquitto_pid, wait_for_login
    from civicgrid.store.devices import DeviceExists

    secret = sys.stdin.readline().strip() if secret_stdin else None
    settings = _settings()
    try:
        done = add_device(settings, device_id, kind, profile=profile, secret=secret, component_code=component,
                          grid_cell_code=grid_cell, inspector_user_id=inspector)
    except (ValueError, DeviceExists) as exc:
        raise _fail(str(exc)) from None
    console.print(f"device {device_id} registered; its MQTT username is {device_id}")
    if mosquitto_pid(settings) is not None:  # the local stack's broker: wait until the new login works
        if wait_for_login(settings, device_id, done.secret):
            console.print("the broker accepts its login")
        else:
            console.print("[yellow]warning:[/] the broker did not accept its login within 15 s; "
                          "`civicgrid stack status` shows whether Mosquitto is running")
    if not secret_stdin:
        console.print("secret (shown once; only its hash is kept):")
        print(done.secret)


@devices_app.command("list")
def devices_list(kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None) -> None:
    """List registered devices."""
    from civicgrid.store.db import connect
    from civicgrid.store.devices import list_devices

    with connect(_settings().db) as conn:
        devices = list_devices(conn, kind=kind)
    table = Table(title=f"{len(devices)} devices")
    for column in ("id", "kind", "enabled", "component", "grid cell", "last seen"):
        table.add_column(column)
    for d in devices:
        table.add_row(d.id, d.kind, "yes" if d.enabled else "[red]no[/]", d.component_code or "",
                      d.grid_cell_code or "", str(d.last_seen_at or ""))
    Console().print(table)


@devices_app.command("show")
def devices_show(device_id: str) -> None:
    """Show one device's registry entry (never its secret)."""
    import dataclasses

    from civicgrid.store.db import connect
    from civicgrid.store.devices import DeviceNotFound, get_device

    with connect(_settings().db) as conn:
        try:
            device = get_device(conn, device_id)
        except DeviceNotFound as exc:
            raise _fail(str(exc)) from None
    for key, value in dataclasses.asdict(device).items():
        print(f"{key}: {value if value is not None else ''}")


def _set_enabled(device_id: str, enabled: bool) -> None:
    from civicgrid.broker.provisioning import set_device_enabled
    from civicgrid.store.devices import DeviceNotFound

    try:
        set_device_enabled(_settings(), device_id, enabled)
    except DeviceNotFound as exc:
        raise _fail(str(exc)) from None
    console.print(f"device {device_id} {'enabled' if enabled else 'disabled: the broker refuses its logins'}")


@devices_app.command("disable")
def devices_disable(device_id: str) -> None:
    """Disable a device: its broker account is removed and the gateway dead-letters its messages."""
    _set_enabled(device_id, False)


@devices_app.command("enable")
def devices_enable(device_id: str) -> None:
    """Enable a disabled device again."""
    _set_enabled(device_id, True)


@devices_app.command("rotate-secret")
def devices_rotate_secret(device_id: str) -> None:
    """Give a device a new secret (printed once); the old one stops working at once."""
    from civicgrid.broker.provisioning import rotate_secret
    from civicgrid.store.devices import DeviceNotFound

    try:
        done = rotate_secret(_settings(), device_id)
    except DeviceNotFound as exc:
        raise _fail(str(exc)) from None
    console.print("new secret (shown once; only its hash is kept):")
    print(done.secret)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
