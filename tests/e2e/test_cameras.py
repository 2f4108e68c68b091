"""Simulated ONVIF camera → poller (onvif-zeep-async, OpenCV) → Kafka → stream worker → PostgreSQL.

A stall is left in the camera's "stall" region: exactly one ``roi_occupied`` event on
cg.events and exactly one case of the region's event code, whose evidence is the snapshot
(stored as media, downloadable like a photo). Covering the lens then raises the profile's
tamper alarm.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import psycopg
import pytest

from civicgrid.bus import topics
from civicgrid.settings import CameraSettings, Settings
from civicgrid.store import cameras as camera_store
from civicgrid.store.media import media_path
from gateway.cameras.poller import CameraPoller
from simulators.camera import CameraSim, Scene
from tests.e2e.conftest import Corner
from tests.support.kafka import KafkaTail
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e


def _one(db: psycopg.Connection, query: str, *params):
    return db.execute(query, params).fetchone()


def test_an_object_left_in_the_stall_region_becomes_one_case_with_the_snapshot(
        worker, provision, corner: Corner, db: psycopg.Connection) -> None:
    settings: Settings = worker[0]
    device_id, _ = provision("camera", grid_cell_code=corner.cell, component_code=corner.component)
    password_var = f"CG_E2E_CAM_{uuid.uuid4().hex[:6].upper()}"
    os.environ[password_var] = "onvif-pass-e2e"
    cam = CameraSim(device_id, "admin", "onvif-pass-e2e", Scene(seed=11, width=640, height=360))
    poller_settings = settings.model_copy(update={"cameras": CameraSettings(
        snapshot_interval_s=0.5, pull_timeout_s=0.5, registry_refresh_s=1.0, health_every_s=1.0,
        health_snapshot_every_s=1.0)})
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.EVENTS])

    def ours(recs) -> list[dict]:
        return [r for t, _, r in recs if t == topics.EVENTS and r.get("device_id") == device_id]

    def case_rows():
        return db.execute("SELECT DISTINCT c.id, c.source, c.category_code, c.grid_cell_code FROM cases c "
                          "JOIN case_evidence e ON e.case_id = c.id WHERE e.device_id = %s", (device_id,)).fetchall()

    async def scenario() -> None:
        await cam.start()
        camera_store.upsert_camera(db, device_id, name="人民路口", onvif_url=cam.base_url, username="admin",
                                   password_ref=f"env:{password_var}", image_width=640, image_height=360)
        camera_store.replace_rois(db, device_id, [{"id": "stall", "name": "店外经营区", "event_code": "E0504",
                                                   "polygon": cam.scene.stall_roi(), "dwell_s": 2.0}])
        poller = CameraPoller(poller_settings)
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            await asyncio.wait_for(poller.ready.wait(), 20)
            await _until(lambda: device_id in poller.health() and poller.health()[device_id].snapshots >= 4, 30)
            cam.incident("object_left")
            await asyncio.to_thread(wait_for, case_rows, 60, "a case from the camera")
            await asyncio.sleep(3)  # the stall stays: no second event, no second case
            cam.incident("covered")
            await asyncio.to_thread(wait_for, lambda: _one(
                db, "SELECT 1 FROM alarms WHERE device_id = %s AND rule = 'tamper' AND action = 'raise'", device_id),
                30, "the tamper alarm")
        finally:
            stop.set()
            await task
            await cam.stop()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 150))
        tail.collect(lambda recs: any(r["data"]["type"] == "tamper" for r in ours(recs)), 20)
    finally:
        tail.close()
        os.environ.pop(password_var, None)

    occupied = [r for r in ours(tail.records) if r["data"]["type"] == "roi_occupied"]
    assert len(occupied) == 1
    event = occupied[0]
    assert event["data"]["category_code"] == "E0504" and event["data"]["roi_id"] == "stall"
    snapshot_id = event["data"]["snapshot_id"]

    cases = case_rows()
    assert len(cases) == 1
    case_id, source, category, cell = cases[0]
    assert (source, category, cell) == ("camera", "E0504", corner.cell)
    evidence = db.execute("SELECT kind, data FROM case_evidence WHERE case_id = %s", (case_id,)).fetchall()
    assert [(k, d["media_id"], d["content_type"]) for k, d in evidence] == [
        ("camera_event", snapshot_id, "image/jpeg")]

    # The snapshot is media (file + row), as an uploaded photo would be.
    media_file = media_path(settings.api.media_dir, snapshot_id)
    wait_for(lambda: _one(db, "SELECT 1 FROM media WHERE id = %s", snapshot_id), 20, "the snapshot as media")
    assert media_file.read_bytes()[:3] == b"\xff\xd8\xff"

    # History and health as the API serves them.
    wait_for(lambda: _one(db, "SELECT 1 FROM camera_detections WHERE device_id = %s AND kind = 'tamper_covered'",
                          device_id), 20, "the tamper detection in the history")
    kinds = [r[0] for r in db.execute("SELECT kind FROM camera_detections WHERE device_id = %s AND NOT cleared",
                                      (device_id,)).fetchall()]
    assert kinds.count("occupancy") == 1 and "motion" in kinds
    reachable, latest = _one(db, "SELECT reachable, latest_snapshot IS NOT NULL FROM camera_status "
                                 "WHERE device_id = %s", device_id)
    assert reachable and latest


async def _until(predicate, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.1)
