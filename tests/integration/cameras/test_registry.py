"""The camera registry as the city loader writes it and the poller reads it (never writes)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from civicgrid.broker.provisioning import set_device_enabled
from civicgrid.settings import CameraSettings, Settings
from civicgrid.stack.mosquitto import local_broker
from civicgrid.store import cameras as store
from gateway.cameras.poller import CameraPoller

pytestmark = pytest.mark.integration
ROIS = [{"id": "stall", "name": "店外经营区", "event_code": "E0504", "dwell_s": 120,
         "polygon": [[179, 432], [563, 432], [563, 562], [179, 562]]}]


def test_city_cameras_are_registered_with_a_password_reference_and_read_by_the_poller(
        settings: Settings, db: psycopg.Connection, provision) -> None:
    device_id, _ = provision("camera")
    with psycopg.connect(settings.db.url.get_secret_value()) as conn:
        assert store.register_city_cameras(conn, [
            {"id": device_id, "kind": "camera", "name": "路灯杆摄像机 1", "onvif_host": "127.0.0.1",
             "onvif_port": 9, "image": [1280, 720], "rois": ROIS},
            {"id": "not-a-camera", "kind": "bin-sensor"}]) == 1
    row = db.execute("SELECT onvif_url, username, password_ref FROM cameras WHERE device_id = %s",
                     (device_id,)).fetchone()
    assert row == ("http://127.0.0.1:9", "admin", f"secrets:{device_id}")
    entry = next(e for e in store.gateway_cameras(db) if e.device_id == device_id)
    assert entry.rois == [{**ROIS[0], "dwell_s": 120.0}] and entry.image_width == 1280

    poller_settings = settings.model_copy(update={"cameras": CameraSettings(retry_backoff_s=30)})
    out: list = []

    async def scenario():
        poller = CameraPoller(poller_settings, emit=lambda *record: out.append(record))
        await poller.refresh()
        worker = poller.workers[device_id][0]
        first_analyzer = worker.analyzer
        store.replace_rois(db, device_id, [{**ROIS[0], "dwell_s": 30}])
        await poller.refresh()
        same_worker = poller.workers[device_id][0]
        set_device_enabled(settings, device_id, False, broker=local_broker(settings))
        await poller.refresh()
        gone = device_id not in poller.workers
        for _, task, stop in poller.workers.values():
            stop.set()
            task.cancel()
        return worker, first_analyzer, same_worker, gone

    worker, first_analyzer, same_worker, gone = asyncio.run(scenario())
    assert same_worker is worker and worker.analyzer is not first_analyzer  # new ROIs, same connection
    assert worker.entry.rois[0]["dwell_s"] == 30.0
    assert gone  # a disabled camera is no longer polled
    assert db.execute("SELECT count(*) FROM camera_status WHERE device_id = %s", (device_id,)).fetchone() == (0,)
