"""A stream worker (a real `civicgrid worker` process) beside the gateway, and a city corner to work in."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psycopg
import pytest

from civicgrid.settings import Settings
from tests.support.services import start_service, stop_service, wait_for


@dataclass(frozen=True)
class Corner:
    """One unit grid cell (a 100 m square) and a sewage manhole cover in it."""

    cell: str
    component: str
    lon: float
    lat: float


@pytest.fixture
def corner(db: psycopg.Connection) -> Corner:
    lon = 116.9 + random.random() * 0.5  # somewhere in the county, away from other tests' cells
    lat = 31.3 + random.random() * 0.3
    d = 0.001
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    cell = f"341523001{random.randrange(1, 1000):03d}{random.randrange(1, 100):02d}"  # sequences start at 1
    component = f"34152301{'02'}{random.randrange(10**6):06d}"
    db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000) ON CONFLICT DO NOTHING",
               (cell, orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
    db.execute("INSERT INTO components (code, category_code, lon, lat) VALUES (%s, 'C0102', %s, %s) "
               "ON CONFLICT DO NOTHING", (component, lon + d / 2, lat + d / 2))
    return Corner(cell, component, lon + d / 2, lat + d / 2)


def worker_settings(settings: Settings) -> Settings:
    # Checking the end-to-end tests' power: CIVICGRID_E2E_DISABLE=cases (worker roles, comma-separated)
    # runs the worker without those stages, and the tests that depend on them must fail (docs/simulators.md).
    disabled = {r.strip() for r in os.environ.get("CIVICGRID_E2E_DISABLE", "").split(",") if r.strip()}
    streams = settings.streams.model_copy(update={"app_id": f"streams-{uuid.uuid4().hex[:6]}",
                                                  "deadline_scan_s": 2.0,
                                                  "roles": tuple(r for r in settings.streams.roles
                                                                 if r not in disabled)})
    return settings.model_copy(update={"streams": streams})


@pytest.fixture(scope="module")
def worker(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    """One stream worker for a test module, ready once a probe row went through its sink."""
    settings = worker_settings(stack.settings)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = start_service("worker", settings, log)
    try:
        wait_for(lambda: "Worker: Ready" in log.read_text() or "Ready" in log.read_text(), 60, "worker ready",
                 proc, log)
        yield settings, log
    finally:
        stop_service(proc)
