"""The ONVIF client (onvif-zeep-async) and the poller against the simulated camera over real HTTP/SOAP.

No platform services are needed: the poller's output is captured where it would go to Kafka
(the end-to-end path through Kafka, the stream worker and the database is tests/e2e/test_cameras.py).
"""

from __future__ import annotations

import asyncio
import os
import time

import orjson
import pytest

from civicgrid.bus import topics
from civicgrid.settings import CameraSettings, Settings
from civicgrid.store.cameras import CameraEntry
from gateway.cameras.decoding import decode_jpeg
from gateway.cameras.onvif_client import CameraAuthError, OnvifClient
from gateway.cameras.poller import CameraWorker
from simulators.camera import CameraSim, Scene

pytestmark = pytest.mark.integration
USER, PASSWORD = "admin", "s3cret-onvif"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def with_camera(body, **scene):
    cam = CameraSim("cam-test", USER, PASSWORD, Scene(seed=4, width=640, height=360, **scene))
    await cam.start()
    try:
        return await body(cam)
    finally:
        await cam.stop()


def test_device_information_profiles_and_a_snapshot_are_read() -> None:
    async def body(cam: CameraSim):
        client = OnvifClient("127.0.0.1", cam.port, USER, PASSWORD)
        try:
            info = await client.connect()
            jpeg = await client.snapshot()
        finally:
            await client.close()
        return info, jpeg

    info, jpeg = run(with_camera(body))
    assert (info.manufacturer, info.model, info.serial) == ("civicgrid", "CG-SIM-1280", "cam-test")
    assert (info.profile_token, info.width, info.height) == ("profile_main", 640, 360)
    assert info.snapshot_uri.endswith("/snapshot.jpg") and info.pullpoint
    assert decode_jpeg(jpeg).shape == (360, 640, 3)  # fetched with HTTP Digest


def test_a_motion_event_is_pulled_from_the_pullpoint_subscription() -> None:
    async def body(cam: CameraSim):
        client = OnvifClient("127.0.0.1", cam.port, USER, PASSWORD)
        try:
            await client.connect()
            await client.subscribe()
            assert await client.pull(0.3) == []  # nothing happened yet
            cam.incident("object_left")
            events = await client.pull(5)
            renewed = await client._manager._call_subscription_renew()  # Renew, as the manager does on its timer
        finally:
            await client.close()  # Unsubscribe
        return events, renewed, cam._subs

    events, renewed, subscriptions = run(with_camera(body))
    assert [(e.topic, e.state, e.is_motion) for e in events] == [("tns1:VideoSource/MotionAlarm", True, True)]
    assert renewed > 0
    assert subscriptions == {}  # unsubscribed


def test_wrong_credentials_are_refused_by_the_camera() -> None:
    async def body(cam: CameraSim):
        client = OnvifClient("127.0.0.1", cam.port, USER, "wrong-password")
        try:
            with pytest.raises(CameraAuthError):
                await client.connect()
        finally:
            await client.close()
        return cam.auth_failures

    assert run(with_camera(body)) >= 1


def types_sent(out: list) -> list[str]:
    return [r["data"]["type"] for t, r in out if t == topics.EVENTS]


async def until(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.1)


def _worker(cam: CameraSim, password_env: str, out: list, **cfg) -> CameraWorker:
    settings = Settings(cameras=CameraSettings(snapshot_interval_s=0.5, pull_timeout_s=0.5, **cfg))
    roi = {"id": "stall", "name": "stall", "event_code": "E0504", "polygon": cam.scene.stall_roi(), "dwell_s": 1.5}
    entry = CameraEntry("cam-w", "cam", cam.base_url, USER, f"env:{password_env}", None, "34152300100101",
                        None, None, None, [roi])
    return CameraWorker(entry, settings, lambda topic, key, value: out.append((topic, orjson.loads(value))))


def test_the_poller_reports_refused_credentials_and_backs_off() -> None:
    os.environ["CG_TEST_CAM_BAD"] = "not-the-password"
    out: list = []

    async def body(cam: CameraSim):
        worker = _worker(cam, "CG_TEST_CAM_BAD", out, auth_backoff_s=1.0)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(2.5)
        stop.set()
        await task
        return worker.health, cam.requests

    health, requests = run(with_camera(body))
    # Backoff 1 s then 2 s: at most 3 connection attempts in 2.5 s, each a handful of SOAP requests
    # (a tight loop would make hundreds).
    assert 1 <= health.connects <= 3 and health.auth_failures == health.connects
    assert requests <= 4 * health.connects
    assert not health.reachable and health.last_error.startswith("unauthorized")
    statuses = [r for t, r in out if t == topics.STATUS]
    assert statuses and statuses[-1]["state"] == "offline"
    assert statuses[-1]["detail"]["last_error"].startswith("unauthorized")
    assert PASSWORD not in str(out) and "not-the-password" not in str(out)  # never in a record


def test_the_poller_turns_an_object_left_and_a_covered_lens_into_events_with_snapshots() -> None:
    os.environ["CG_TEST_CAM_GOOD"] = PASSWORD
    out: list = []

    async def body(cam: CameraSim):
        worker = _worker(cam, "CG_TEST_CAM_GOOD", out)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await until(lambda: worker.health.snapshots >= 5)  # connected, reference and background learnt
        cam.incident("object_left")
        await until(lambda: "roi_occupied" in types_sent(out))
        await asyncio.sleep(2.0)  # it stays: no second event
        cam.incident("covered")
        await until(lambda: "tamper" in types_sent(out))
        stop.set()
        await task
        return worker.health

    health = run(with_camera(body))
    events = [r for t, r in out if t == topics.EVENTS]
    types = [e["data"]["type"] for e in events]
    assert types.count("roi_occupied") == 1
    assert "motion" in types and "tamper" in types
    occupied = next(e for e in events if e["data"]["type"] == "roi_occupied")
    assert occupied["data"]["category_code"] == "E0504" and occupied["data"]["roi_id"] == "stall"
    assert occupied["snapshot"]["id"] == occupied["data"]["snapshot_id"]
    assert occupied["grid_cell_code"] == "34152300100101" and occupied["kind"] == "camera"
    tamper = next(e for e in events if e["data"]["type"] == "tamper")
    assert tamper["data"]["tamper"] == "covered"
    assert health.reachable and health.snapshots >= 5
