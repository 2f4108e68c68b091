"""Start the real local stack for a test session: free ports, a throwaway directory."""

from __future__ import annotations

import socket
import tempfile
from contextlib import ExitStack, closing
from pathlib import Path

from civicgrid.settings import DbSettings, KafkaSettings, MqttSettings, Settings, StackSettings


def free_ports(count: int) -> list[int]:
    """Ports the kernel considers free right now (all held open until all are chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(closing(socket.socket())) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def test_settings(base: Path | None = None) -> Settings:
    """Settings for a stack on free ports under a fresh directory the postgres user can reach."""
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="civicgrid-test-"))
        base.chmod(0o755)  # PostgreSQL runs as 'postgres' and must walk into it
    pg, mqtt, kafka = free_ports(3)
    return Settings(
        mqtt=MqttSettings(port=mqtt, password="gateway-test-secret"),
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{kafka}", partitions=4),
        db=DbSettings(url=f"postgresql://civicgrid:civicgrid-test@127.0.0.1:{pg}/civicgrid"),
        stack=StackSettings(var_dir=base / "var", pg_durable=False),
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as CIVICGRID_* environment variables, for a service run as a subprocess."""
    gw = settings.gateway
    return {
        "CIVICGRID_MQTT__HOST": settings.mqtt.host,
        "CIVICGRID_MQTT__PORT": str(settings.mqtt.port),
        "CIVICGRID_MQTT__PASSWORD": settings.mqtt.password.get_secret_value(),
        "CIVICGRID_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "CIVICGRID_DB__URL": settings.db.url.get_secret_value(),
        "CIVICGRID_STACK__VAR_DIR": str(settings.stack.var_dir),
        "CIVICGRID_GATEWAY__CLIENT_ID": gw.client_id,
        "CIVICGRID_GATEWAY__METRICS_PORT": str(gw.metrics_port),
    }
