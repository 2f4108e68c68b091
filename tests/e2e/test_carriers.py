"""NB-IoT covers through the carriers' platforms, over real HTTP: a CTWing-style and a OneNET-style push →
`carrier-gateway` (a real process) → Kafka → a stream worker → PostgreSQL (telemetry rows, alarms, a case).

The pushes are built here from the platforms' published shapes (docs/carriers.md), apart from the gateway's parser:
a CTWing ``dataReport`` with the cover's 11 bytes in ``payload.APPdata``, a OneNET type-1 data point with them as
hex, signed Base64(MD5(token + nonce + msg)). A forged signature or token is refused with 401 and nothing reaches
Kafka; a payload of the wrong length or out of the profile's range is a dead letter with its reason.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from civicgrid.broker.provisioning import add_device
from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import free_ports
from civicgrid.stack.services import spawn_carrier_gateway, stop_service
from civicgrid.store import carrier_devices
from tests.e2e.conftest import Corner
from tests.support.kafka import KafkaTail
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e

CTWING_TOKEN = "ctwing-" + uuid.uuid4().hex
ONENET_TOKEN = "onenet" + uuid.uuid4().hex[:20]
ALL = [topics.TELEMETRY, topics.STATUS, topics.DEADLETTER]


@pytest.fixture(scope="module")
def carriers(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    (port,) = free_ports(1)
    settings = stack.settings.model_copy(update={"carriers": stack.settings.carriers.model_copy(update={
        "listen_host": "127.0.0.1", "listen_port": port, "ctwing_token": CTWING_TOKEN,
        "onenet_token": ONENET_TOKEN, "binding_cache_s": 0.0})})
    proc = spawn_carrier_gateway(settings, tmp_path_factory.mktemp("carriers") / "carrier-gateway.log")
    try:
        yield settings
    finally:
        stop_service(proc)


def _cover_bytes(seq: int, tilt_deg: float, battery_pct: int = 80) -> bytes:
    # seq, tilt ×0.1°, displacement mm, water mm, gas ×0.5 %LEL, battery %, signal dBm (device-profiles/manhole-sensor)
    return struct.pack(">HHHHBBb", seq, round(tilt_deg * 10), 3, 400, 4, battery_pct, -85)


def _post(settings: Settings, path: str, body: bytes) -> int:
    url = f"http://127.0.0.1:{settings.carriers.listen_port}{path}"
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # loopback only
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _ctwing(settings: Settings, carrier_id: str, payload: bytes, sn: int, token: str = CTWING_TOKEN) -> int:
    at = datetime.now(UTC) - timedelta(seconds=60 - sn)
    body = orjson.dumps({
        "upPacketSN": sn, "upDataSN": -1, "topic": "v1/up/ad", "timestamp": int(at.timestamp() * 1000),
        "tenantId": "2000012345", "serviceId": "", "protocol": "lwm2m", "productId": "15012345",
        "messageType": "dataReport", "deviceType": "", "deviceId": carrier_id, "assocMessage": None,
        "IMSI": "460111176511234", "IMEI": "869975031234567",
        "payload": {"APPdata": base64.b64encode(payload).decode()}})
    return _post(settings, "/ctwing?" + urllib.parse.urlencode({"token": token}), body)


def _onenet(settings: Settings, dev_id: int, msg: object, token: str = ONENET_TOKEN) -> int:
    nonce = uuid.uuid4().hex[:8]
    text = orjson.dumps(msg).decode()
    signature = base64.b64encode(hashlib.md5((token + nonce + text).encode()).digest()).decode()
    body = ('{"msg": ' + text + ', "msg_signature": "' + signature + '", "nonce": "' + nonce + '"}').encode()
    return _post(settings, "/onenet", body)


def _point(dev_id: int, payload: bytes, at_ms: int) -> dict:
    return {"type": 1, "dev_id": dev_id, "ds_id": "3200_0_5750", "at": at_ms, "value": payload.hex(),
            "imei": "869975039876543"}


def _cover(settings: Settings, db: psycopg.Connection, corner: Corner, platform: str, carrier_id: str) -> str:
    device_id = f"nb-cover-{uuid.uuid4().hex[:8]}"
    add_device(settings, device_id, "manhole-sensor", broker=None, component_code=corner.component)
    carrier_devices.bind(db, platform, carrier_id, device_id)  # type: ignore[arg-type]
    return device_id


def _case(db: psycopg.Connection, component: str) -> list[tuple]:
    return db.execute("SELECT source, category_code, disposal_class FROM cases WHERE component_code = %s",
                      (component,)).fetchall()


def test_a_ctwing_push_becomes_telemetry_and_a_tilted_cover_a_case(carriers: Settings, worker, corner: Corner,
                                                                   db: psycopg.Connection) -> None:
    carrier_id = uuid.uuid4().hex
    device_id = _cover(carriers, db, corner, "ctwing", carrier_id)
    for sn, tilt in enumerate((2.0, 22.5, 25.0), start=1):  # debounce: two readings above 15°
        assert _ctwing(carriers, carrier_id, _cover_bytes(sn, tilt), sn) == 200
    query = "SELECT seq, (payload->>'tilt_deg')::float FROM telemetry WHERE device_id = %s ORDER BY seq"
    rows = wait_for(lambda: (r := db.execute(query, (device_id,)).fetchall()) and len(r) == 3 and r, 60,
                    "telemetry rows")
    assert [(seq, float(t)) for seq, t in rows] == [(1, 2.0), (2, 22.5), (3, 25.0)]
    (case,) = wait_for(lambda: _case(db, corner.component), 60, "the tilted cover's case")
    assert case == ("sensor", "C0102", "A")
    assert _ctwing(carriers, carrier_id, _cover_bytes(3, 25.0), 3) == 200  # the platform's retry: dropped by dedup


def test_a_onenet_push_becomes_telemetry_a_case_and_a_device_alarm(carriers: Settings, worker, corner: Corner,
                                                                   db: psycopg.Connection) -> None:
    dev_id = random.randrange(10**8, 10**9)
    device_id = _cover(carriers, db, corner, "onenet", str(dev_id))
    base = int((datetime.now(UTC) - timedelta(minutes=2)).timestamp() * 1000)
    points = [_point(dev_id, _cover_bytes(i, tilt, battery), base + i * 1000)
              for i, (tilt, battery) in enumerate([(1.0, 15), (30.0, 14), (31.0, 13)], start=1)]
    assert _onenet(carriers, dev_id, points[0]) == 200
    assert _onenet(carriers, dev_id, points[1:]) == 200  # batch mode: a list of messages
    assert _onenet(carriers, dev_id, {"type": 2, "dev_id": dev_id, "status": 1, "login_type": 10,
                                      "at": base + 4000}) == 200
    wait_for(lambda: db.execute("SELECT count(*) FROM telemetry WHERE device_id = %s", (device_id,)).fetchone()[0]
             == 3, 60, "telemetry rows")
    (case,) = wait_for(lambda: _case(db, corner.component), 60, "the tilted cover's case")
    assert case == ("sensor", "C0102", "A")
    alarms = wait_for(lambda: db.execute("SELECT rule, action FROM alarms WHERE device_id = %s AND rule = "
                                         "'battery_low'", (device_id,)).fetchall(), 60, "the battery device alarm")
    assert alarms == [("battery_low", "raise")]


def test_a_forged_push_is_refused_and_nothing_reaches_kafka(carriers: Settings, db: psycopg.Connection,
                                                            corner: Corner) -> None:
    carrier_id, dev_id = uuid.uuid4().hex, random.randrange(10**8, 10**9)
    ctwing_device = _cover(carriers, db, corner, "ctwing", carrier_id)
    onenet_device = _cover(carriers, db, corner, "onenet", str(dev_id))
    at = int(datetime.now(UTC).timestamp() * 1000) - 5000
    tail = KafkaTail(carriers.kafka.bootstrap_servers, ALL)
    try:
        assert _ctwing(carriers, carrier_id, _cover_bytes(1, 80.0), 1, token="guessed-" + CTWING_TOKEN[8:]) == 401
        assert _post(carriers, "/ctwing", b"{}") == 401  # no token at all
        assert _onenet(carriers, dev_id, _point(dev_id, _cover_bytes(1, 80.0), at), token="not-the-token") == 401
        assert _post(carriers, "/onenet", b"not json") == 401  # cannot be verified: refused, not dead-lettered
        # Then one genuine push each: once they are on Kafka, whatever the forged ones made would be too.
        assert _ctwing(carriers, carrier_id, _cover_bytes(2, 3.0), 2) == 200
        assert _onenet(carriers, dev_id, _point(dev_id, _cover_bytes(2, 3.0), at + 1)) == 200
        ids = {ctwing_device, onenet_device}
        records = tail.collect(lambda r: {v.get("device_id") for _, _, v in r} >= ids)
    finally:
        tail.close()
    mine = [(t, v) for t, _, v in records if v.get("device_id") in ids or "carrier/" in str(v.get("mqtt_topic"))]
    assert sorted((t, v["device_id"], v["seq"]) for t, v in mine) == sorted(
        [(topics.TELEMETRY, ctwing_device, 2), (topics.TELEMETRY, onenet_device, 2)])


def test_malformed_payloads_are_dead_lettered_with_their_reason(carriers: Settings, db: psycopg.Connection,
                                                               corner: Corner) -> None:
    carrier_id = uuid.uuid4().hex
    device_id = _cover(carriers, db, corner, "ctwing", carrier_id)
    unbound = uuid.uuid4().hex
    tail = KafkaTail(carriers.kafka.bootstrap_servers, [topics.DEADLETTER])
    try:
        assert _ctwing(carriers, carrier_id, b"\x00\x01\x02", 1) == 200  # 3 bytes, the layout has 11
        assert _ctwing(carriers, carrier_id, _cover_bytes(2, 200.0), 2) == 200  # tilt 200° > max 180
        assert _ctwing(carriers, unbound, _cover_bytes(3, 1.0), 3) == 200
        body = b'{"messageType": "dataReport", "timestamp": 1}'  # signed (token) but no deviceId
        assert _post(carriers, "/ctwing?token=" + CTWING_TOKEN, body) == 200
        records = tail.collect(lambda r: len([v for _, _, v in r if "carrier/ctwing" in v["mqtt_topic"]]) >= 4)
    finally:
        tail.close()
    letters = {(v["reason"], v["device_id"]): v for _, _, v in records if "carrier/ctwing" in v["mqtt_topic"]}
    assert set(letters) >= {("carrier_bad_payload", device_id), ("schema", device_id),
                            ("carrier_unknown_device", None), ("carrier_bad_body", None)}
    assert "tilt_deg" in letters["schema", device_id]["detail"]
    assert "11" in letters["carrier_bad_payload", device_id]["detail"]
    original = base64.b64decode(letters["schema", device_id]["payload_b64"])
    assert orjson.loads(original)["deviceId"] == carrier_id  # the carrier's own request is the evidence
