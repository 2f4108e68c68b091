"""The commands that run one service until Ctrl-C: ``civicgrid gateway``, ``worker``, ``streams``, ``api``,
``cameras``, ``jt808-gateway``, ``gb28181-gateway``, ``carrier-gateway`` and ``notifier`` without a command.

Each builds its settings (refusing a missing, short or published secret), starts its service and stops it
on SIGINT or SIGTERM. They are plain functions that civicgrid/cli.py registers on the ``civicgrid`` app
(and ``notifier`` as the callback of civicgrid/notify/cli.py's group), so that the composition root lists
every command in one place. Services are imported inside the commands, so ``civicgrid --help`` stays fast.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console

from civicgrid import command_settings
from civicgrid.command_settings import fail, service_settings

console = Console(stderr=True)


def stop_on_signals() -> threading.Event:
    """Set on Ctrl-C or SIGTERM, so that a service (and `civicgrid run`) stops its parts in order instead of dying
    mid-batch."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def gateway() -> None:
    """Run the MQTT → Kafka gateway until Ctrl-C (metrics on gateway.metrics_port)."""
    from gateway.service import Gateway

    settings = service_settings("GATEWAY_MQTT", "DB_ROLE")
    stop = stop_on_signals()
    console.print(f"gateway: MQTT {settings.mqtt.host}:{settings.mqtt.port} → Kafka "
                  f"{settings.kafka.bootstrap_servers}; metrics on http://{settings.gateway.metrics_host}:"
                  f"{settings.gateway.metrics_port}/metrics")
    Gateway(settings).run(stop)


def worker(loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info") -> None:
    """Run one stream worker (the jobs of streams.roles: telemetry (alarm detection and the telemetry rows) or
    alarms, cases, sinks, deadlines, outbox, cameras, patrol) until Ctrl-C."""
    from streams.worker import run as run_worker

    run_worker(service_settings("DB_ROLE"), loglevel)


def streams(workers: Annotated[int, typer.Option(help="Worker processes sharing the partitions.")] = 1) -> None:
    """Run N stream workers as child processes until Ctrl-C."""
    import subprocess

    from civicgrid.stack.services import worker_instance_env

    streams_settings = command_settings.current().streams
    procs = [subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "worker"],
                              env={**os.environ, **worker_instance_env(streams_settings, i)}) for i in range(workers)]
    stop = stop_on_signals()
    while not stop.wait(1):
        if any(p.poll() is not None for p in procs):
            break
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(30)


def api() -> None:
    """Run the HTTP API (uvicorn; OpenAPI docs at /docs) and the operator console (at /) until Ctrl-C."""
    from api.service import run as run_api
    from civicgrid.stack.mosquitto import local_broker

    settings = service_settings("JWT", "DB_ROLE")
    # Devices registered through the API get their login on the local stack's Mosquitto at once (when it runs).
    run_api(settings, broker=local_broker(settings))


def cameras() -> None:
    """Poll the registered ONVIF cameras, analyse their snapshots, report on Kafka until Ctrl-C."""
    from gateway.cameras.poller import run as run_cameras

    run_cameras(service_settings("DB_ROLE"))


def jt808_gateway() -> None:
    """Serve JT/T 808 vehicle terminals over TCP (jt808.listen_port) into Kafka until Ctrl-C (docs/jt808.md)."""
    from gateway.jt808.service import run as run_jt808
    from gateway.jt808.service import tune_gc

    settings = service_settings("DB_ROLE")
    console.print(f"jt808-gateway: TCP {settings.jt808.listen_host}:{settings.jt808.listen_port} → Kafka "
                  f"{settings.kafka.bootstrap_servers}; metrics on http://{settings.jt808.metrics_host}:"
                  f"{settings.jt808.metrics_port}/metrics")
    tune_gc()
    run_jt808(settings)


def gb28181_gateway() -> None:
    """Serve GB/T 28181 video devices as their SIP server (UDP and TCP on gb28181.listen_port) into Kafka until
    Ctrl-C (docs/gb28181.md)."""
    from gateway.gb28181.service import run as run_gb28181

    settings = service_settings("DB_ROLE")
    g = settings.gb28181
    console.print(f"gb28181-gateway: SIP udp+tcp {g.listen_host}:{g.listen_port} as {g.server_id}@{g.domain} → Kafka "
                  f"{settings.kafka.bootstrap_servers}; metrics on http://{g.metrics_host}:{g.metrics_port}/metrics")
    run_gb28181(settings)


def carrier_gateway() -> None:
    """Receive CTWing/AEP and OneNET HTTP pushes (carriers.listen_port) into Kafka, and send carrier-bound devices'
    commands through the platforms' APIs, until Ctrl-C; needs carriers.ctwing_token or carriers.onenet_token
    (docs/carriers.md)."""
    from gateway.carriers.service import run as run_carriers

    settings = service_settings("DB_ROLE")
    try:
        run_carriers(settings)
    except ValueError as exc:
        raise fail(str(exc)) from None


def notifier(ctx: typer.Context) -> None:
    """Tell callers who asked for a callback that their case closed (signed webhook POST), reading case events
    from Kafka, until Ctrl-C; needs notify.webhook_url and notify.webhook_secret (docs/notify.md). `resend`: send
    failed notifications again."""
    if ctx.invoked_subcommand is not None:
        return
    from civicgrid.notify.service import run as run_notifier

    settings = service_settings("DB_ROLE")
    try:
        run_notifier(settings, stop_on_signals())
    except ValueError as exc:
        raise fail(str(exc)) from None
