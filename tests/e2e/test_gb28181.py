"""A GB/T 28181 camera through real sockets: SIP over UDP and TCP → `gb28181-gateway` → Kafka and PostgreSQL.

The simulated device (simulators/gb28181_device.py, written apart from the gateway's codec) is refused with a
wrong password, registers through the Digest challenge, is asked for its catalog and answers with two channels in
two MESSAGEs (stored in gb28181_channels), keeps alive (`cg.status` online), sends an alarm (one `cg.events`
record with the channel's catalog position, answered 200 and then with the standard's Alarm response), goes
silent (offline after the missed keepalives), comes back, and unregisters (offline). Malformed and unregistered
messages are refused with their reasons. A tamper alarm becomes a device alarm in a real stream worker.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest

from civicgrid.broker.provisioning import add_device
from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import free_ports
from gateway.gb28181.digest import sip_password
from gateway.gb28181.service import run as run_gb28181
from simulators.gb28181_device import Device, DeviceError, SimChannel
from tests.support.kafka import KafkaTail
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e


def _healthy(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.gb28181.metrics_port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _metrics(settings: Settings) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.gb28181.metrics_port}/metrics", timeout=2) as r:
        return r.read().decode()


@pytest.fixture(scope="module")
def gb28181(settings: Settings) -> Iterator[Settings]:
    """The gateway in this process (its own asyncio loop in a thread), on free ports; keepalives every 0.4 s, so
    two missed take a device offline within a second."""
    listen, metrics = free_ports(2)
    s = settings.model_copy(update={"gb28181": settings.gb28181.model_copy(update={
        "listen_host": "127.0.0.1", "listen_port": listen, "metrics_port": metrics, "keepalive_interval_s": 0.4,
        "keepalive_misses": 2})})
    stop = threading.Event()
    thread = threading.Thread(target=run_gb28181, args=(s, stop), daemon=True)
    thread.start()
    wait_for(lambda: _healthy(s), 30, "gb28181 gateway healthy")
    yield s
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def provision(settings: Settings, db: psycopg.Connection) -> tuple[str, str]:
    device_id = f"3402000000132{random.randrange(10**7):07d}"
    add_device(settings, device_id, "gb28181-camera", broker=None)
    row = db.execute("SELECT secret_hash FROM devices WHERE id = %s", (device_id,)).fetchone()
    assert row is not None
    return device_id, sip_password(device_id, row[0])


def test_camera_registers_keeps_alive_reports_its_catalog_and_an_alarm(gb28181: Settings, db: psycopg.Connection,
                                                                        ) -> None:
    device_id, password = provision(gb28181, db)
    ch1, ch2 = f"3402000000131{device_id[-7:]}", f"3402000000134{device_id[-7:]}"  # an IPC's channel codes
    channels = [SimChannel(ch1, "东门广场 1 号", lon=116.9412, lat=31.4603), SimChannel(ch2, "西门 2 号")]
    tail = KafkaTail(gb28181.kafka.bootstrap_servers, [topics.STATUS, topics.EVENTS, topics.DEADLETTER])
    port = gb28181.gb28181.listen_port

    def mine(topic: str) -> list[dict]:
        return [r for r in tail.of(topic) if r.get("device_id") == device_id]

    async def drive() -> None:
        camera = Device(device_id, password, channels=channels)
        await camera.connect("127.0.0.1", port)
        with pytest.raises(DeviceError) as refused:
            await camera.register(password="not-the-password")
        assert refused.value.status == 403
        answer = await camera.register()
        assert answer.headers["expires"] == "3600" and "date" in answer.headers
        for _ in range(20):  # the catalog query comes after the 200; the device answers in two MESSAGEs
            if camera.catalog_queries and not camera._tasks:
                break
            await asyncio.sleep(0.1)
        assert camera.catalog_queries == 1
        await camera.register()  # a refresh, the catalog known: not asked again
        assert await camera.keepalive() == 200 and camera.catalog_queries == 1
        assert await camera.alarm(ch1, method=5, alarm_type=6, description="区域入侵") == 200
        response = await camera.alarm_response()
        assert b"<CmdType>Alarm</CmdType>" in response and b"<Result>OK</Result>" in response
        await asyncio.sleep(1.5)  # silent: more than 2 × 0.4 s without a keepalive
        assert await camera.keepalive() == 200  # back online
        assert await camera.unregister() == 200
        await camera.close()

    asyncio.run(drive())
    rows = wait_for(lambda: db.execute("SELECT channel_id, name, lon, lat, status FROM gb28181_channels WHERE "
                                       "device_id = %s ORDER BY channel_id", (device_id,)).fetchall(), 10,
                    "catalog stored")
    assert rows == [(ch1, "东门广场 1 号", 116.9412, 31.4603, "ON"), (ch2, "西门 2 号", None, None, "ON")]

    tail.collect(lambda _: len(mine(topics.EVENTS)) >= 1 and any(
        r["detail"].get("reason") == "unregistered" for r in mine(topics.STATUS)), 20)
    [event] = mine(topics.EVENTS)
    assert event["profile"] == "gb28181-camera" and event["channel"] == "event"
    assert event["data"] == {"type": "intrusion", "source": "gb28181", "alarm_method": "video", "alarm_type": 6,
                             "alarm_priority": 1, "channel_id": ch1, "channel_name": "东门广场 1 号",
                             "description": "区域入侵", "lon": 116.9412, "lat": 31.4603}
    states = [(r["state"], r["detail"].get("reason")) for r in mine(topics.STATUS)]
    assert states[0] == ("online", None) and ("offline", "keepalive_missed") in states
    assert states.index(("offline", "keepalive_missed")) < len(states) - 2  # online again, then unregistered
    assert states[-1] == ("offline", "unregistered")
    assert [r["reason"] for r in mine(topics.DEADLETTER)] == ["gb28181_auth_failed"]
    tail.close()


def test_tcp_registration_and_refusals_by_reason(gb28181: Settings, db: psycopg.Connection) -> None:
    device_id, password = provision(gb28181, db)
    port = gb28181.gb28181.listen_port
    tail = KafkaTail(gb28181.kafka.bootstrap_servers, [topics.DEADLETTER, topics.STATUS])

    async def drive() -> None:
        stranger = Device("34020000001329999999", "x", transport="TCP")
        await stranger.connect("127.0.0.1", port)
        assert await stranger.keepalive() == 403  # not registered: the device must register again
        await stranger.close()
        camera = Device(device_id, password, transport="TCP")  # no channels: it never answers the query
        await camera.connect("127.0.0.1", port)
        await camera.register()
        assert await camera.keepalive() == 200 and camera.catalog_queries == 1
        await camera.register()  # a refresh while no catalog is known: asked again
        assert await camera.keepalive() == 200 and camera.catalog_queries == 2
        assert await camera.message(b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN></Notify>") == 400  # no DeviceID
        impostor = Device(device_id, "", local_host="127.0.0.2")  # its id, from another host, without registering
        await impostor.connect("127.0.0.1", port)
        assert await impostor.alarm(device_id, method=2, alarm_type=2) == 403
        await impostor.close()
        await camera.close()

    asyncio.run(drive())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:  # not SIP: dropped, dead-lettered, no answer
        udp.sendto(b"GET / HTTP/1.1\r\n\r\n", ("127.0.0.1", port))
    tail.collect(lambda _: {"gb28181_bad_sip", "gb28181_bad_body", "gb28181_unregistered"}
                 <= {r["reason"] for r in tail.of(topics.DEADLETTER)}, 20)
    assert any(r["device_id"] == device_id and r["state"] == "online" and r["detail"].get("keepalive") == "OK"
               for r in tail.of(topics.STATUS))
    assert any(r["device_id"] == device_id and "registered at 127.0.0.1" in r["detail"]
               for r in tail.of(topics.DEADLETTER))
    text = _metrics(gb28181)
    assert 'civicgrid_gb28181_auth_total{outcome="challenged"}' in text and _healthy(gb28181)
    tail.close()


def test_a_tamper_alarm_raises_a_device_alarm_through_the_streams(gb28181: Settings, worker: tuple[Settings, Path],
                                                                  db: psycopg.Connection) -> None:
    """The existing stream path: the event's type meets the gb28181-camera profile's rule in a real worker."""
    device_id, password = provision(gb28181, db)

    async def drive() -> None:
        camera = Device(device_id, password)
        await camera.connect("127.0.0.1", gb28181.gb28181.listen_port)
        await camera.register()
        assert await camera.alarm(device_id, method=2, alarm_type=2, description="防拆") == 200
        await camera.close()

    asyncio.run(drive())
    # Not the offline rule: the fixture's 0.4 s keepalive takes this silent camera offline within a second, and on
    # a loaded machine that can come before the alarm (raised, then cleared by the alarm's arrival).
    alarms = wait_for(lambda: db.execute("SELECT rule, action, urgency FROM alarms WHERE device_id = %s "
                                         "AND rule <> 'offline'", (device_id,)).fetchall(), 60, "the tamper alarm")
    assert alarms == [("tamper", "raise", "B")]


def test_the_towns_simulated_cameras_register_keep_alive_and_raise_alarms(
        gb28181: Settings, db: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `civicgrid run` starts (`simulate-gb28181`): provisioned, the SIP password asked of the CLI, then
    registration, the catalogue, keepalives and a motion alarm through the gateway."""
    from civicgrid.stack.ephemeral import as_environment
    from simulators import gb28181_cameras as town

    street = {"type": "Feature", "properties": {"name": "人民路", "road_class": "main"},
              "geometry": {"type": "LineString", "coordinates": [[116.94, 31.46], [116.95, 31.46]]}}
    (tmp_path / "streets.geojson").write_bytes(orjson.dumps({"type": "FeatureCollection", "features": [street]}))
    seed = random.randrange(10**6)
    (device_id, channel), = town.plan_cameras(tmp_path, 1, seed)
    assert (channel.name, channel.lon, channel.lat) == ("人民路监控点", 116.945, 31.46)
    for name, value in as_environment(gb28181).items():  # the password command reads this test's stack
        monkeypatch.setenv(name, value)
    passwords = town.provision(gb28181, [device_id])
    camera = town.Camera(Device(device_id, passwords[device_id], channels=[channel]))
    tail = KafkaTail(gb28181.kafka.bootstrap_servers, [topics.EVENTS])
    try:
        result = asyncio.run(town.run_network([camera], "127.0.0.1", gb28181.gb28181.listen_port, keepalive_s=0.3,
                                              alarm_every_s=0.6, duration_s=2.5, seed=seed))
        events = tail.collect(lambda r: any(v.get("device_id") == device_id for _, _, v in r), timeout_s=20)
    finally:
        tail.close()
    assert result["registrations"] == 1 and result["keepalives"] >= 4 and result["alarms"] >= 1
    assert db.execute("SELECT name FROM gb28181_channels WHERE device_id = %s", (device_id,)).fetchall() == [
        ("人民路监控点",)]
    assert any(v.get("device_id") == device_id for _, _, v in events)
