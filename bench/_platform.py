"""The platform processes a benchmark runs beside its throwaway stack: N device-affine gateways and M
stream workers sharing the partitions (`--gateways N --workers M`), with their CPU accounting and the gateways'
own refusal counters summed (not itself a benchmark)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from _measure import gateway_counts

from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import free_port_run
from civicgrid.stack.services import gateway_instance, spawn_gateway, spawn_service, stop_service


class Platform:
    """Gateway i of N forwards its own devices and has its own MQTT client id (its persistent session) and
    metrics port (civicgrid.stack.services.gateway_instance, as in `civicgrid run --gateways N`)."""

    def __init__(self, settings: Settings, base: Path, gateways: int = 1, workers: int = 1) -> None:
        self.base = base
        if gateways > 1:  # a run of free ports for their metrics
            settings = settings.model_copy(update={"gateway": settings.gateway.model_copy(
                update={"metrics_port": free_port_run(gateways)})})
        self.gateway_settings = [settings.model_copy(update={"gateway": settings.gateway.model_copy(
            update=gateway_instance(settings.gateway, i, gateways))}) for i in range(gateways)]
        self.settings = settings
        self.workers_wanted = workers
        self.gateways: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self.start_gateways()
        streams = self.settings.streams
        self.workers = [spawn_service("worker", self.settings.model_copy(update={"streams": streams.model_copy(
            update={"metrics_port": streams.metrics_port + i})}), self.base / f"worker-{i}.log")
                        for i in range(self.workers_wanted)]
        time.sleep(5)  # the workers' consumer groups join

    def start_gateways(self, log_suffix: str = "") -> None:
        self.gateways = [spawn_gateway(s, self.base / f"gateway-{i}{log_suffix}.log")
                         for i, s in enumerate(self.gateway_settings)]

    def stop_gateways(self) -> None:
        for proc in self.gateways:
            stop_service(proc)
        self.gateways = []

    def stop(self) -> None:
        self.stop_gateways()
        for proc in self.workers:
            stop_service(proc)
        self.workers = []

    def pids(self) -> dict[str, list[int]]:
        """The platform's own processes by role; the stack's are added by the caller."""
        return {"gateway": [p.pid for p in self.gateways], "worker": [p.pid for p in self.workers]}

    def refused(self) -> dict[str, float]:
        """The gateways' dead-letter and duplicate counters, summed."""
        total: dict[str, float] = {}
        for s in self.gateway_settings:
            for name, value in gateway_counts(s).items():
                total[name] = total.get(name, 0.0) + value
        return total

    def describe(self) -> str:
        return f"{len(self.gateway_settings)} gateway(s), {self.workers_wanted} worker(s)"
