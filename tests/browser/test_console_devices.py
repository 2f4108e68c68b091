"""Devices and patrol pages driven in the browser: a command sent from the console reaches the device over
MQTT (gateway) and its acknowledgement comes back to the page; a track is played back with the slider."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.browser.conftest import Org
from tests.e2e.test_device_to_case import Device

pytestmark = pytest.mark.e2e


def test_a_command_from_the_console_is_acknowledged_by_the_device(gateway, provision, org: Org, new_page,
                                                                  settings) -> None:
    device = Device(settings, *provision("bin-sensor"))
    device.client.subscribe(f"cg/{device.id}/cmd")
    received: list[dict] = []

    def answer() -> None:  # the device: take the command, say it is done
        msg = device.client.next_message(timeout_s=60)
        command = orjson.loads(msg.payload)
        received.append(command)
        device.client.publish(f"cg/{device.id}/cmd/ack",
                              orjson.dumps({"command_id": command["command_id"], "status": "ok"}))

    responder = threading.Thread(target=answer, daemon=True)
    responder.start()
    try:
        page = new_page(org.users["operator"], "#/devices")
        page.select_option("#d-kind", "bin-sensor")
        page.click(f"tr[data-device='{device.id}'] button")
        page.fill("#cmd-name", "set_interval")
        page.fill("#cmd-args", '{"seconds": 300}')
        page.click("form[aria-label] button[type=submit]")
        page.wait_for_selector(".cmd-status[data-status='acked']", timeout=60_000)
        responder.join(5)
        assert received and (received[0]["name"], received[0]["args"]) == ("set_interval", {"seconds": 300})
    finally:
        device.close()


def test_track_playback_with_the_time_slider(org: Org, new_page, db) -> None:
    device_id = f"ui-hh-{org.suffix}"
    db.execute("INSERT INTO devices (id, kind, profile, secret_hash) VALUES (%s, 'handheld', 'handheld', 'x')",
               (device_id,))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    points = [(start + timedelta(seconds=30 * n), device_id, n + 1, org.lon + n * 0.0001, org.lat)
              for n in range(20)]
    with db.cursor() as cur:
        cur.executemany("INSERT INTO track_points (time, device_id, seq, lon, lat) VALUES (%s, %s, %s, %s, %s)",
                        points)
    page = new_page(org.users["operator"], "#/patrol")
    page.wait_for_selector("#patrol-map[data-rendered='true']", timeout=60_000)
    page.wait_for_function("(id) => [...document.querySelectorAll('#p-device option')].some(o => o.value === id)",
                           arg=device_id, timeout=60_000)  # (option values are properties, not attributes)
    page.select_option("#p-device", device_id)
    city = timedelta(hours=8)
    page.fill("#p-start", (start + city - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#p-end", (start + city + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    page.click("button:has-text('加载')")
    slider = page.wait_for_selector("#p-slider")
    assert slider.get_attribute("max") == "19"
    first = page.inner_text("label[for=p-slider]")
    slider.fill("19")
    page.wait_for_function("(t) => document.querySelector('label[for=p-slider]').innerText !== t", arg=first)
    assert page.locator(".small:has-text('20')").count() >= 1
