"""Start and stop platform services (`civicgrid <command>`) as subprocesses with given settings.

Used by `civicgrid run`'s children, the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from civicgrid.settings import GatewaySettings, Settings, StreamsSettings
from civicgrid.stack.ephemeral import as_environment
from civicgrid.stack.process import StackError, tail


def gateway_instance(gateway: GatewaySettings, index: int, count: int) -> dict[str, Any]:
    """What gateway number `index` (0 … `count` - 1) of a fleet of `count` changes in `gateway`: its place in the
    fleet (`instance`, `instances`: the devices it forwards, gateway/affinity.py), its own MQTT client id (a
    persistent session each) and metrics port (`metrics_port` + index). Gateway 0 keeps the configured ones."""
    if count == 1:
        return {}
    place: dict[str, Any] = {"instance": index, "instances": count}
    if index == 0:
        return place
    return {**place, "client_id": f"{gateway.client_id}-{index + 1}", "metrics_port": gateway.metrics_port + index}


def gateway_instance_env(gateway: GatewaySettings, index: int, count: int) -> dict[str, str]:
    """`gateway_instance` as CIVICGRID_GATEWAY__* variables, for a child process that reads its settings itself."""
    return {f"CIVICGRID_GATEWAY__{key.upper()}": str(value)
            for key, value in gateway_instance(gateway, index, count).items()}


def worker_instance_env(streams: StreamsSettings, index: int) -> dict[str, str]:
    """Worker number `index` (0: the configured one) of several: its own metrics and health port
    (`streams.metrics_port` + index)."""
    return {} if index == 0 else {"CIVICGRID_STREAMS__METRICS_PORT": str(streams.metrics_port + index)}


def spawn_service(command: str, settings: Settings, log: Path,
                  extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`civicgrid <command>` with `settings` (as CIVICGRID_* variables, plus `extra_env`), output appended to
    `log`."""
    env = {**os.environ, **as_environment(settings), **(extra_env or {})}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "civicgrid.cli", command], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_service(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGINT (the services' graceful stop), then SIGKILL after `timeout_s`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def spawn_gateway(settings: Settings, log: Path, timeout_s: float = 30.0) -> subprocess.Popen[bytes]:
    """`civicgrid gateway`, returned once its /healthz answers 200 (subscribed to the broker)."""
    return _spawn_healthy("gateway", settings, log, settings.gateway.metrics_port, "the gateway", timeout_s)


def _spawn_healthy(command: str, settings: Settings, log: Path, port: int, what: str, timeout_s: float,
                   extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`spawn_service`, returned once http://127.0.0.1:`port`/healthz answers 200; stopped, and a StackError with
    the log's tail, when it exits or does not become healthy within `timeout_s`."""
    proc = spawn_service(command, settings, log, extra_env)
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # loopback only
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    stop_service(proc)
    raise StackError(f"{what} did not become healthy within {timeout_s:.0f} s:\n{tail(log)}")


def jt808_environment(settings: Settings) -> dict[str, str]:
    """The ``jt808`` section as CIVICGRID_JT808__* variables (as_environment carries the other sections)."""
    import orjson

    return {f"CIVICGRID_JT808__{key.upper()}": orjson.dumps(value).decode() if isinstance(value, list) else str(value)
            for key, value in settings.jt808.model_dump(mode="json").items()}


def spawn_jt808_gateway(settings: Settings, log: Path, timeout_s: float = 30.0) -> subprocess.Popen[bytes]:
    """`civicgrid jt808-gateway` with `settings`, returned once its /healthz answers 200 (listening, registry
    loaded)."""
    return _spawn_healthy("jt808-gateway", settings, log, settings.jt808.metrics_port, "the jt808 gateway",
                          timeout_s, jt808_environment(settings))


def carrier_environment(settings: Settings) -> dict[str, str]:
    """The ``carriers`` section as CIVICGRID_CARRIERS__* variables, its tokens included (docs/carriers.md)."""
    env = {}
    for key in type(settings.carriers).model_fields:
        value = getattr(settings.carriers, key)
        if value is not None:
            text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
            env[f"CIVICGRID_CARRIERS__{key.upper()}"] = text
    return env


def spawn_carrier_gateway(settings: Settings, log: Path, timeout_s: float = 30.0) -> subprocess.Popen[bytes]:
    """`civicgrid carrier-gateway` with `settings`, returned once its /healthz answers 200 (registry loaded)."""
    return _spawn_healthy("carrier-gateway", settings, log, settings.carriers.listen_port, "the carrier gateway",
                          timeout_s, carrier_environment(settings))
