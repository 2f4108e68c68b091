"""A throwaway stack on free ports: its settings (the test session fixture, the benchmarks) and, for the
benchmarks, the stack itself up and down around a block."""

from __future__ import annotations

import random
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, SecretStr

from civicgrid.local_secrets import new_secret
from civicgrid.settings import (
    ApiSettings,
    CameraSettings,
    DbSettings,
    GatewaySettings,
    KafkaSettings,
    MqttSettings,
    Settings,
    StackSettings,
    StreamsSettings,
)
from civicgrid.stack.local import LocalStack


def free_ports(count: int) -> list[int]:
    """Ports the kernel considers free right now (all held open until all are chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(closing(socket.socket())) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def free_port_run(count: int, tries: int = 200) -> int:
    """The first of `count` consecutive ports free right now, below the kernel's range for outgoing connections
    (an outgoing socket elsewhere on the machine could take a port of the run between this check and its bind;
    seen: a simulated camera's port taken that way)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(tries):
        base = rng.randrange(max(1024, low - 12000), low - count)
        with ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    stack.enter_context(closing(socket.socket())).bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no {count} consecutive free ports below {low}")


@contextmanager
def throwaway_stack(settings: Settings | None = None, *, keep: bool = False,
                    progress: Callable[[str], None] | None = None) -> Iterator[LocalStack]:
    """A local stack under a fresh directory (the benchmarks'): up on entry; stopped on exit, and its
    directory deleted unless `keep` (to read its logs). `settings` from `ephemeral_settings`, adjusted."""
    settings = settings or ephemeral_settings(prefix="civicgrid-bench-")
    stack = LocalStack(settings, progress=progress)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        if not keep:
            shutil.rmtree(settings.stack.var_dir.parent, ignore_errors=True)


def ephemeral_settings(base: Path | None = None, prefix: str = "civicgrid-test-") -> Settings:
    """A stack on free ports under a fresh directory the postgres user can reach; fsync off, Kafka's heap 512 MiB."""
    if base is None:
        base = Path(tempfile.mkdtemp(prefix=prefix))
        base.chmod(0o755)  # PostgreSQL runs as 'postgres' and must walk into it
    (pg, mqtt, mqtt_tls, mqtt_ws, mqtt_wss, kafka, controller, kafka_tls, metrics, worker_metrics,
     poller_metrics) = free_ports(11)
    return Settings(
        mqtt=MqttSettings(port=mqtt, tls_port=mqtt_tls, ws_port=mqtt_ws, wss_port=mqtt_wss, password=new_secret()),
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{kafka}", partitions=4),
        db=DbSettings(url=f"postgresql://civicgrid:{new_secret()}@127.0.0.1:{pg}/civicgrid"),
        gateway=GatewaySettings(metrics_port=metrics),
        streams=StreamsSettings(metrics_port=worker_metrics),
        cameras=CameraSettings(metrics_port=poller_metrics),
        # Media (uploads, camera evidence) under the throwaway directory, not the working directory.
        api=ApiSettings(media_dir=base / "var" / "media", jwt_secret=new_secret()),
        stack=StackSettings(var_dir=base / "var", pg_durable=False, kafka_controller_port=controller,
                            kafka_tls_port=kafka_tls, kafka_heap_mb=512),
    )


def as_environment(settings: Settings) -> dict[str, str]:
    """The settings a service subprocess needs, as CIVICGRID_* environment variables.

    Every setting, section by section, so a setting changed in a test or benchmark (a small sink batch, a
    short deadline scan, a rule pack, a JT/T 808 port) reaches the subprocess without being listed here; only
    the broker, the database and the stack's directory are picked by hand.
    """
    env = {
        "CIVICGRID_MQTT__HOST": settings.mqtt.host,
        "CIVICGRID_MQTT__PORT": str(settings.mqtt.port),
        "CIVICGRID_MQTT__PASSWORD": settings.mqtt.password_value(),
        "CIVICGRID_MQTT__TLS_PORT": str(settings.mqtt.tls_port),
        "CIVICGRID_MQTT__TLS": str(settings.mqtt.tls).lower(),
        "CIVICGRID_MQTT__WS_PORT": str(settings.mqtt.ws_port),
        "CIVICGRID_MQTT__WSS_PORT": str(settings.mqtt.wss_port),
        **({"CIVICGRID_MQTT__WS_URL": settings.mqtt.ws_url} if settings.mqtt.ws_url else {}),
        **({"CIVICGRID_MQTT__CA_FILE": str(settings.mqtt.ca_file)} if settings.mqtt.ca_file else {}),
        "CIVICGRID_DB__URL": settings.db.url.get_secret_value(),
        "CIVICGRID_STACK__VAR_DIR": str(settings.stack.var_dir),
    }
    for name in type(settings).model_fields:
        if name in ("mqtt", "db", "stack"):
            continue
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            secret = {k for k, f in type(value).model_fields.items() if "SecretStr" in str(f.annotation)}
            dumped = value.model_dump(mode="json", exclude=secret)  # enums, paths, times, tuples as JSON forms
            for key in type(value).model_fields:
                raw = getattr(value, key)
                _put(env, f"CIVICGRID_{name.upper()}__{key.upper()}",
                     (raw.get_secret_value() if isinstance(raw, SecretStr) else raw) if key in secret else dumped[key])
        else:
            _put(env, f"CIVICGRID_{name.upper()}", settings.model_dump(mode="json", include={name})[name])
    return env


def _put(env: dict[str, str], variable: str, value: Any) -> None:
    """One setting as pydantic-settings reads it back: JSON for lists and mappings."""
    if value is not None:
        env[variable] = orjson.dumps(value).decode() if isinstance(value, list | dict) else str(value)
