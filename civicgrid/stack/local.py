"""The local service stack: PostgreSQL+TimescaleDB, Mosquitto and Apache Kafka as child processes.

Started in dependency order (the database first: migrations, then the broker
accounts generated from the device registry, then Kafka with its topics) and
stopped in reverse.  Used by ``civicgrid stack``, ``make run`` and the test
session fixture.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from civicgrid.local_secrets import with_local_secrets
from civicgrid.settings import Settings
from civicgrid.stack.kafka import KafkaService
from civicgrid.stack.mosquitto import MosquittoService
from civicgrid.stack.postgres import PostgresService
from civicgrid.stack.process import ManagedProcess, StackError, tail
from civicgrid.store.migrate import apply_migrations

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str
    process: ManagedProcess

    @property
    def address(self) -> str: ...
    def start(self) -> None: ...
    def stop(self) -> bool: ...
    def health(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    state: str  # healthy | unhealthy | stopped | stale
    detail: str

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"


class LocalStack:
    def __init__(self, settings: Settings, progress: Callable[[str], None] | None = None) -> None:
        # The stack owns <var>/secrets: every secret the settings leave unset is generated there once.
        self.settings = settings = with_local_secrets(settings, create=True)
        self.postgres = PostgresService(settings)
        self.mosquitto = MosquittoService(settings)
        self.kafka = KafkaService(settings)
        self.services: list[Service] = [self.postgres, self.mosquitto, self.kafka]
        self.progress = progress or (lambda msg: log.info("%s", msg))

    def up(self) -> list[ServiceStatus]:
        """Start what is not running; leave healthy services alone; fail clearly on anything else."""
        self.settings.stack.var_dir.mkdir(parents=True, exist_ok=True)
        started: list[Service] = []
        try:
            for service in self.services:
                if self._ensure_started(service):
                    started.append(service)
                if service is self.postgres:
                    applied = apply_migrations(self.settings.db)
                    if applied:
                        self.progress(f"postgres: applied migrations {', '.join(applied)}")
        except BaseException:
            # Leave nothing half-started behind: a failed `up` stops what it started.
            for service in reversed(started):
                service.stop()
            raise
        return self.status()

    def _ensure_started(self, service: Service) -> bool:
        pid = service.process.pid()
        if pid is not None:
            health = service.health()
            if health == "ok":
                self.progress(f"{service.name}: already running (pid {pid}) on {service.address}")
                return False
            raise StackError(
                f"{service.name} is running (pid {pid}) but does not answer: {health}. "
                "Run `civicgrid stack down` and try again."
            )
        if service.process.has_stale_pid_file():
            self.progress(f"{service.name}: removed a stale pid file")
        self.progress(f"{service.name}: starting on {service.address}")
        service.start()
        self.progress(f"{service.name}: ready (pid {service.process.pid()})")
        return True

    def down(self) -> list[str]:
        """Stop every service in reverse order; return the names that were running."""
        stopped = []
        for service in reversed(self.services):
            if service.stop():
                self.progress(f"{service.name}: stopped")
                stopped.append(service.name)
        return stopped

    def status(self) -> list[ServiceStatus]:
        result = []
        for service in self.services:
            stale = service.process.has_stale_pid_file()
            pid = service.process.pid()
            if pid is None:
                state = "stale" if stale else "stopped"
                detail = (f"its process died (pid file cleaned); last lines of {service.process.log_path}:\n"
                          f"{tail(service.process.log_path, 8)}") if stale else ""
            else:
                health = service.health()
                state, detail = ("healthy", "") if health == "ok" else ("unhealthy", health)
            result.append(ServiceStatus(service.name, service.address, pid, state, detail))
        return result

    def reload_broker_accounts(self) -> int:
        """After a registry change: regenerate Mosquitto's accounts and SIGHUP it."""
        return self.mosquitto.reload_accounts()
