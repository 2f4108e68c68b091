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
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from confluent_kafka import Producer

from civicgrid.broker.provisioning import add_device
from civicgrid.bus import topics
from civicgrid.bus.commands import send_command
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import free_ports
from civicgrid.stack.services import spawn_carrier_gateway, stop_service
from civicgrid.store import carrier_devices
from tests.e2e.conftest import Corner
from tests.support.carrier_api import CarrierApiStandIn
from tests.support.kafka import KafkaTail
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e

CTWING_TOKEN = "ctwing-" + uuid.uuid4().hex
ONENET_TOKEN = "onenet" + uuid.uuid4().hex[:20]
ALL = [topics.TELEMETRY, topics.STATUS, topics.DEADLETTER]


CTWING_APP = {"app_key": "AMQ" + uuid.uuid4().hex[:8], "app_secret": uuid.uuid4().hex,
              "master_key": uuid.uuid4().hex}
ONENET_APP = {"onenet_product": "23104", "onenet_access_key": base64.b64encode(uuid.uuid4().bytes * 2).decode()}
API_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def carrier_api() -> Iterator[CarrierApiStandIn]:
    with CarrierApiStandIn(**CTWING_APP, **ONENET_APP, stall_s=API_TIMEOUT_S + 3) as api:
        yield api


@pytest.fixture(scope="module")
def carriers(stack, carrier_api: CarrierApiStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    (port,) = free_ports(1)
    settings = stack.settings.model_copy(update={"carriers": stack.settings.carriers.model_copy(update={
        "listen_host": "127.0.0.1", "listen_port": port, "ctwing_token": CTWING_TOKEN,
        "onenet_token": ONENET_TOKEN, "binding_cache_s": 0.0,
        "ctwing_api_url": carrier_api.url, "ctwing_app_key": CTWING_APP["app_key"],
        "ctwing_app_secret": CTWING_APP["app_secret"], "ctwing_master_key": CTWING_APP["master_key"],
        "ctwing_product_id": 15012345, "onenet_api_url": carrier_api.url,
        "onenet_product_id": ONENET_APP["onenet_product"], "onenet_access_key": ONENET_APP["onenet_access_key"],
        "onenet_command_resource": "3200/0/5750", "api_timeout_s": API_TIMEOUT_S})})
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


def _cover(settings: Settings, db: psycopg.Connection, corner: Corner, platform: str, carrier_id: str,
           imei: str | None = None) -> str:
    device_id = f"nb-cover-{uuid.uuid4().hex[:8]}"
    add_device(settings, device_id, "manhole-sensor", broker=None, component_code=corner.component)
    carrier_devices.bind(db, platform, carrier_id, device_id, imei)  # type: ignore[arg-type]
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


# -- downlink: commands through the platforms' command APIs (docs/carriers.md, "Commands") ----------------------

def _imei() -> str:
    return str(random.randrange(10**14, 10**15))


def _steps(tail: KafkaTail, command_id: str) -> list[tuple[str, str]]:
    return [(v["status"], v["detail"]) for _, _, v in tail.records if v["command_id"] == command_id]


def _settled(tail: KafkaTail, *command_ids: str) -> bool:
    return all(any(s in ("acked", "failed", "timed_out") for s, _ in _steps(tail, c)) for c in command_ids)


def test_commands_go_through_the_carriers_apis_and_their_answers_settle_them(
        carriers: Settings, carrier_api: CarrierApiStandIn, db: psycopg.Connection, corner: Corner) -> None:
    ctwing_id, refused_id, stalled_id = (uuid.uuid4().hex for _ in range(3))
    ctwing = _cover(carriers, db, corner, "ctwing", ctwing_id)
    refused = _cover(carriers, db, corner, "ctwing", refused_id)
    stalled = _cover(carriers, db, corner, "ctwing", stalled_id)
    onenet_imei, offline_imei = _imei(), _imei()
    onenet = _cover(carriers, db, corner, "onenet", str(random.randrange(10**8, 10**9)), onenet_imei)
    offline = _cover(carriers, db, corner, "onenet", str(random.randrange(10**8, 10**9)), offline_imei)
    no_imei = _cover(carriers, db, corner, "onenet", str(random.randrange(10**8, 10**9)))
    carrier_api.refuse |= {refused_id, offline_imei}
    carrier_api.stall.add(stalled_id)
    tail = KafkaTail(carriers.kafka.bootstrap_servers, [topics.COMMAND_ACKS])
    producer = Producer({"bootstrap.servers": carriers.kafka.bootstrap_servers})
    try:
        ids = {device: send_command(producer, device, "set_interval", {"seconds": 300}, timeout_s=120,
                                    issued_by="zhang.wei")
               for device in (ctwing, refused, stalled, onenet, offline, no_imei)}
        tail.collect(lambda r: _settled(tail, *(ids[d] for d in (refused, stalled, onenet, offline, no_imei)))
                     and any(s == "sent" for s, _ in _steps(tail, ids[ctwing])), timeout_s=60)
        (sent,) = [r for r in carrier_api.requests if r.get("deviceId") == ctwing_id]
        assert (sent["content"], sent["productId"], sent["operator"]) == (
            {"serviceIdentifier": "set_interval", "params": {"seconds": 300}}, 15012345, "zhang.wei")
        assert 100 < sent["ttl"] <= 120  # the command's remaining time: the platform keeps it that long
        (executed,) = [r for r in carrier_api.requests if r.get("imei") == onenet_imei]
        assert (executed["obj_id"], executed["obj_inst_id"], executed["res_id"]) == ("3200", "0", "5750")
        assert orjson.loads(executed["args"])["command_id"] == ids[onenet]  # what an MQTT device would get
        task = _steps(tail, ids[ctwing])[0][1].split()[2].rstrip(":")  # "ctwing command 1001: 指令已保存"
        # CTWing pushes the device's answer: a progress report changes nothing, the result settles the command.
        for result in ({"resultCode": "DELIVERED"}, {"resultCode": "SUCCESSFUL", "resultDetail": {"code": 0}}):
            body = orjson.dumps({"messageType": "commandResponse", "deviceId": ctwing_id, "taskId": int(task),
                                 "timestamp": int(time.time() * 1000), "result": result, "protocol": "lwm2m"})
            assert _post(carriers, "/ctwing?token=" + CTWING_TOKEN, body) == 200
        tail.collect(lambda r: _settled(tail, ids[ctwing]), timeout_s=30)
    finally:
        tail.close()
    final = {device: _steps(tail, ids[device])[-1] for device in ids}
    assert [s for s, _ in _steps(tail, ids[ctwing])] == ["sent", "acked"]
    assert final[ctwing][1].startswith("ctwing SUCCESSFUL")
    assert final[refused][0] == "failed" and "code 8002" in final[refused][1]
    assert final[stalled] == ("timed_out", f"ctwing API did not answer within {API_TIMEOUT_S:g} s")
    assert final[onenet][0] == "acked"
    assert final[offline][0] == "failed" and "errno 2001: device not online" in final[offline][1]
    assert final[no_imei][0] == "failed" and "IMEI" in final[no_imei][1]


def _get(settings: Settings, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{settings.carriers.listen_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # loopback only
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""


def test_online_and_offline_pushes_become_status_records_and_onenet_checks_its_url_first(
        carriers: Settings, db: psycopg.Connection, corner: Corner) -> None:
    """CTWing's deviceOnlineOfflineReport and OneNET's type 2 message → `cg.status` as the device's own online and
    offline would be; OneNET's URL check (GET with msg, nonce, signature) is answered with msg only when signed;
    the pushes are counted per platform and status."""
    carrier_id, dev_id = uuid.uuid4().hex, random.randrange(10**8, 10**9)
    ctwing_device = _cover(carriers, db, corner, "ctwing", carrier_id)
    onenet_device = _cover(carriers, db, corner, "onenet", str(dev_id))
    at = int(datetime.now(UTC).timestamp() * 1000) - 5000
    nonce, msg = "x8Fq2ZkA", "verify-" + uuid.uuid4().hex[:8]
    signature = base64.b64encode(hashlib.md5((ONENET_TOKEN + nonce + msg).encode()).digest()).decode()
    assert _get(carriers, "/onenet?" + urllib.parse.urlencode({"msg": msg, "nonce": nonce,
                                                               "signature": signature})) == (200, msg)
    assert _get(carriers, "/onenet?" + urllib.parse.urlencode({"msg": msg, "nonce": nonce,
                                                               "signature": "A" + signature[1:]}))[0] == 401
    tail = KafkaTail(carriers.kafka.bootstrap_servers, [topics.STATUS])
    try:
        for event_type, offset in ((1, 0), (0, 1000)):
            body = orjson.dumps({"timestamp": at + offset, "tenantId": "2000012345", "productId": "15012345",
                                 "messageType": "deviceOnlineOfflineReport", "deviceId": carrier_id,
                                 "eventType": event_type})
            assert _post(carriers, "/ctwing?" + urllib.parse.urlencode({"token": CTWING_TOKEN}), body) == 200
        assert _onenet(carriers, dev_id, {"type": 2, "dev_id": dev_id, "status": 1, "login_type": 10,
                                          "at": at + 2000}) == 200
        ids = {ctwing_device, onenet_device}
        records = tail.collect(lambda r: sum(v.get("device_id") in ids for _, _, v in r) >= 3)
    finally:
        tail.close()
    states = [(v["device_id"], v["state"], v["detail"]["via"]) for _, _, v in records
              if v.get("device_id") in ids]
    assert states == [(ctwing_device, "online", "ctwing"), (ctwing_device, "offline", "ctwing"),
                      (onenet_device, "online", "onenet")]
    with urllib.request.urlopen(f"http://127.0.0.1:{carriers.carriers.listen_port}/metrics", timeout=15) as r:
        text = r.read().decode()
    assert 'civicgrid_carrier_pushes_total{platform="ctwing",status="200"}' in text
    assert 'civicgrid_carrier_pushes_total{platform="onenet",status="401"}' in text
