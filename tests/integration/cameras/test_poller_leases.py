"""Two `civicgrid cameras` processes share the cameras through their Kafka group's leases
(gateway/cameras/leases.py), and one of them is SIGKILLed: each camera polled by exactly one live poller, and
the dead one's cameras move to the survivor within its session timeout and a rebalance.

Simulated ONVIF cameras (simulators/camera) serve from a thread of the test; the pollers are real processes;
who polls a camera is read from its health records on cg.status (`detail.poller`: host:pid).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest

from civicgrid.bus import topics
from civicgrid.settings import CameraSettings, Settings
from civicgrid.store import cameras as camera_store
from gateway.cameras.leases import LEASE_PARTITIONS, lease_of
from simulators.camera.onvif_server import CameraSim
from simulators.camera.scene import Scene
from tests.support.kafka import KafkaTail
from tests.support.services import start_service, stop_service, wait_for
from tests.support.stack import free_ports

pytestmark = pytest.mark.integration

CAMERAS = 6
SESSION_TIMEOUT_S = 6.0


@pytest.fixture
def cameras(provision, db: psycopg.Connection) -> Iterator[list[str]]:
    """Simulated cameras in the registry, on leases of both parities (the group deals leases round-robin)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    password_var = f"CG_LEASE_CAM_{uuid.uuid4().hex[:6].upper()}"
    os.environ[password_var] = "lease-pass"
    sims, ids = [], []
    while len(ids) < CAMERAS or len({lease_of(d) % 2 for d in ids}) < 2:
        device_id, _ = provision("camera")
        sim = CameraSim(device_id, "admin", "lease-pass", Scene(seed=len(ids), width=320, height=180))
        asyncio.run_coroutine_threadsafe(sim.start(), loop).result(10)
        camera_store.upsert_camera(db, device_id, name=f"lease {len(ids)}", onvif_url=sim.base_url, username="admin",
                                   password_ref=f"env:{password_var}", image_width=320, image_height=180)
        sims.append(sim)
        ids.append(device_id)
    yield ids
    for device_id in ids:  # out of the registry, so later pollers do not try them
        db.execute("UPDATE devices SET enabled = false WHERE id = %s", (device_id,))
    for sim in sims:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def pollers_of(tail: KafkaTail, ids: list[str], since: float) -> dict[str, set[str]]:
    """Which pollers reported each camera as reachable in records taken after `since` (time.monotonic())."""
    seen: dict[str, set[str]] = defaultdict(set)
    for taken_at, (_, _, value) in zip(tail.taken_at, tail.records, strict=True):
        if taken_at >= since and value.get("device_id") in ids and value["detail"].get("reachable"):
            seen[value["device_id"]].add(value["detail"]["poller"])
    return seen


def metric(port: int, name: str) -> float:
    """One unlabelled sample from a poller's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return float(next(line.split()[1] for line in lines if line.startswith(name + " ")))


class TimedTail(KafkaTail):
    """A KafkaTail that remembers when it took each record."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.taken_at: list[float] = []

    def take(self, wait_s: float = 0.5) -> None:
        before = len(self.records)
        super().take(wait_s)
        self.taken_at += [time.monotonic()] * (len(self.records) - before)


def test_each_camera_has_one_live_poller_and_a_dead_pollers_cameras_move(
        settings: Settings, cameras: list[str], tmp_path: Path) -> None:
    poller_settings = settings.model_copy(update={"cameras": CameraSettings(
        snapshot_interval_s=1.0, pull_timeout_s=0.5, registry_refresh_s=1.0, health_every_s=1.0,
        group=f"pollers-{uuid.uuid4().hex[:6]}", session_timeout_s=SESSION_TIMEOUT_S)})
    tail = TimedTail(settings.kafka.bootstrap_servers, [topics.STATUS])
    ports = dict(zip(("a", "b"), free_ports(2), strict=True))

    def on_port(port: int) -> Settings:
        return poller_settings.model_copy(update={"cameras": poller_settings.cameras.model_copy(
            update={"metrics_port": port})})

    procs = {name: start_service("cameras", on_port(port), tmp_path / f"{name}.log") for name, port in ports.items()}
    ids = {name: f"{os.uname().nodename}:{proc.pid}" for name, proc in procs.items()}

    def reports(since: float) -> dict[str, set[str]]:
        tail.take(0.2)
        return pollers_of(tail, cameras, since)

    def window(seconds: float = 4.0) -> dict[str, set[str]]:
        """Who reported each camera over the next `seconds` (every camera reports each second)."""
        since = time.monotonic()
        while time.monotonic() - since < seconds:
            tail.take(0.2)
        return pollers_of(tail, cameras, since)

    try:
        # 1. Both pollers hold cameras, and each camera reports from one poller only.
        wait_for(lambda: set().union(*reports(time.monotonic() - 3).values()) == set(ids.values()), 90,
                 "both pollers polling", procs["b"], tmp_path / "b.log")
        steady = window()
        assert sorted(steady) == sorted(cameras), steady
        assert all(len(p) == 1 for p in steady.values()), steady
        assert set().union(*steady.values()) == set(ids.values()), steady
        b_cameras = [c for c, p in steady.items() if p == {ids["b"]}]
        held = {name: metric(port, "civicgrid_camera_leases") for name, port in ports.items()}
        assert sum(held.values()) == LEASE_PARTITIONS and all(held.values()), held
        # 2. B dies without leaving the group; after its session times out, A takes its cameras.
        procs["b"].send_signal(signal.SIGKILL)
        procs["b"].wait(10)
        killed = time.monotonic()
        wait_for(lambda: all(ids["a"] in reports(killed).get(c, set()) for c in b_cameras),
                 SESSION_TIMEOUT_S + 40, "B's cameras polled by A", procs["a"], tmp_path / "a.log")
        moved_s = time.monotonic() - killed
        assert window() == {c: {ids["a"]} for c in cameras}
        assert metric(ports["a"], "civicgrid_camera_leases") == LEASE_PARTITIONS
        assert metric(ports["a"], "civicgrid_camera_cameras") >= len(cameras)
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['a']}/healthz", timeout=5) as response:
            health = orjson.loads(response.read())
        assert health["ok"] and health["leases"] == LEASE_PARTITIONS and health["poller"] == ids["a"], health
        print(f"B's {len(b_cameras)} cameras moved to A {moved_s:.1f} s after the SIGKILL "
              f"(session timeout {SESSION_TIMEOUT_S} s)")
    finally:
        for proc in procs.values():
            stop_service(proc)
        tail.close()
