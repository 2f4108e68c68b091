"""The gateway's decision per message, over every recorded payload of every device kind."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from civicgrid.bus import topics
from civicgrid.profiles import load_profiles
from civicgrid.settings import GatewaySettings
from gateway.ingest import Ingestor
from gateway.registry import DeviceInfo
from gateway.rejections import Reason
from gateway.topics import KAFKA_TOPIC_OF_CHANNEL
from tests.support.payloads import PayloadCase, load_cases

NOW = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
CASES = load_cases()


def _device(kind: str, enabled: bool = True) -> DeviceInfo:
    return DeviceInfo.from_row((f"{kind}-1", kind, kind, enabled, None, None, None, None, None, None))


def _ingestor(devices: dict[str, DeviceInfo] | None = None, **settings) -> Ingestor:
    devices = devices if devices is not None else {f"{k}-1": _device(k) for k in load_profiles()}
    return Ingestor(load_profiles(), devices.get, GatewaySettings(**settings))


def test_every_kind_has_recorded_payloads() -> None:
    assert {c.kind for c in CASES} == set(load_profiles())


def test_every_reason_in_the_cases_is_a_known_reason() -> None:
    assert {c.expect for c in CASES} - {"accept"} <= {r.value for r in Reason}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_recorded_payload(case: PayloadCase) -> None:
    out = _ingestor().handle(f"cg/{case.kind}-1/{case.channel}", case.payload, received_at=NOW)
    assert out is not None
    record = orjson.loads(out.value)
    if case.expect == "accept":
        assert out.accepted, record
        assert out.topic == KAFKA_TOPIC_OF_CHANNEL[case.channel]
        assert out.key == f"{case.kind}-1".encode()
        assert record["device_id"] == f"{case.kind}-1"
        case.matches(record)
    else:
        assert (out.topic, record["reason"]) == (topics.DEADLETTER, case.expect), record["detail"]
        assert record["detail"]
        assert record["mqtt_topic"] == f"cg/{case.kind}-1/{case.channel}"
        assert record["size"] == len(case.payload)


def test_dead_letter_keeps_the_original_bytes() -> None:
    import base64

    raw = b"\xff\xfe not json"
    out = _ingestor().handle("cg/bin-sensor-1/telemetry", raw, received_at=NOW)
    assert base64.b64decode(orjson.loads(out.value)["payload_b64"]) == raw


def test_unknown_and_disabled_devices_are_dead_lettered() -> None:
    off = DeviceInfo.from_row(("off", "bin-sensor", "bin-sensor", False, None, None, None, None, None, None))
    ingest = _ingestor({"off": off})
    body = b'{"seq":1,"ts":"2026-11-24T01:00:00Z","fill_pct":1}'
    assert orjson.loads(ingest.handle("cg/ghost/telemetry", body, received_at=NOW).value)["reason"] == "unknown_device"
    assert orjson.loads(ingest.handle("cg/off/telemetry", body, received_at=NOW).value)["reason"] == "device_disabled"


@pytest.mark.parametrize("topic", ["cg", "cg//telemetry", "xx/dev/telemetry", "cg/dev/telemetry/extra"])
def test_malformed_topics_are_dead_lettered(topic: str) -> None:
    out = _ingestor().handle(topic, b"{}", received_at=NOW)
    assert orjson.loads(out.value)["reason"] == "bad_topic"


def test_duplicate_seq_is_forwarded_once_but_a_counter_reset_is_not_a_duplicate() -> None:
    ingest = _ingestor()
    first = b'{"seq":5,"ts":"2026-11-24T01:00:00Z","fill_pct":10}'
    reset = b'{"seq":5,"ts":"2026-11-24T01:20:00Z","fill_pct":30}'
    assert ingest.handle("cg/bin-sensor-1/telemetry", first, received_at=NOW) is not None
    assert ingest.handle("cg/bin-sensor-1/telemetry", first, received_at=NOW) is None
    assert ingest.handle("cg/bin-sensor-1/telemetry", reset, received_at=NOW) is not None


def test_own_command_echo_is_not_forwarded() -> None:
    assert _ingestor().handle("cg/bin-sensor-1/cmd", b'{"command_id":"c1"}', received_at=NOW) is None


def test_own_refusal_notice_echo_is_not_forwarded() -> None:
    assert _ingestor().handle("cg/handheld-1/refused", b'{"seq":1,"reason":"schema"}', received_at=NOW) is None


def test_a_refused_message_of_a_known_device_comes_with_a_notice_on_its_own_topic() -> None:
    body = b'{"seq":7,"ts":"2026-11-24T01:00:00Z","report_id":"r-1","kind":"report","category_code":"X1",' \
           b'"description":"d","lon":116.9,"lat":31.4}'
    out = _ingestor().handle("cg/handheld-1/report", body, received_at=NOW)
    assert out is not None and not out.accepted and out.notice is not None
    topic, payload = out.notice
    notice = orjson.loads(payload)
    assert topic == "cg/handheld-1/refused"
    assert (notice["seq"], notice["report_id"], notice["command_id"], notice["channel"], notice["reason"]) == \
        (7, "r-1", None, "report", "schema")
    assert "category_code" in notice["detail"] and notice["ts"] == "2026-11-24T01:30:00Z"
    # Not JSON: the device is told, without an id to match (it can tell from the reason).
    garbled = orjson.loads(_ingestor().handle("cg/handheld-1/report", b"\xff", received_at=NOW).notice[1])
    assert (garbled["seq"], garbled["reason"]) == (None, "not_json")
    # An unknown channel of a known device is told too; an unknown or disabled device is not.
    assert _ingestor().handle("cg/handheld-1/nonsense", b"{}", received_at=NOW).notice is not None
    off = DeviceInfo.from_row(("off", "handheld", "handheld", False, None, None, None, None, None, None))
    ingest = _ingestor({"off": off})
    assert ingest.handle("cg/ghost/report", body, received_at=NOW).notice is None
    assert ingest.handle("cg/off/report", body, received_at=NOW).notice is None


def test_an_accepted_message_carries_no_notice() -> None:
    body = b'{"seq":1,"ts":"2026-11-24T01:00:00Z","fill_pct":10}'
    out = _ingestor().handle("cg/bin-sensor-1/telemetry", body, received_at=NOW)
    assert out is not None and out.accepted and out.notice is None


def test_command_answer_becomes_a_command_ack_record() -> None:
    answers = []
    ingest = Ingestor(load_profiles(), {"bin-sensor-1": _device("bin-sensor")}.get, GatewaySettings(),
                      on_command_ack=lambda *a: answers.append(a))
    command_id = "0b6f3a52-52a4-4c62-9d8e-6f0d2c1e7a11"
    out = ingest.handle("cg/bin-sensor-1/cmd/ack",
                        b'{"command_id":"%s","status":"failed","detail":"busy"}' % command_id.encode(),
                        received_at=NOW)
    assert out.topic == topics.COMMAND_ACKS
    assert orjson.loads(out.value)["status"] == "failed"
    assert answers == [(command_id, "bin-sensor-1", "failed", "busy")]


def test_a_command_answer_whose_id_is_no_uuid_is_dead_lettered() -> None:
    answers = []
    ingest = Ingestor(load_profiles(), {"bin-sensor-1": _device("bin-sensor")}.get, GatewaySettings(),
                      on_command_ack=lambda *a: answers.append(a))
    out = ingest.handle("cg/bin-sensor-1/cmd/ack", b'{"command_id":"not-a-uuid","status":"ok"}', received_at=NOW)
    assert (out.topic, orjson.loads(out.value)["reason"]) == (topics.DEADLETTER, "schema")
    assert answers == []


def test_a_bug_in_a_handler_becomes_an_internal_error_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = _ingestor()
    monkeypatch.setattr(ingest, "_accept", lambda *a: 1 / 0)
    out = ingest.handle("cg/bin-sensor-1/telemetry", b"{}", received_at=NOW)
    assert orjson.loads(out.value)["reason"] == "internal_error"


def test_payload_limit_is_a_setting() -> None:
    out = _ingestor(max_payload_bytes=10).handle("cg/bin-sensor-1/status", b"online-and-more", received_at=NOW)
    assert orjson.loads(out.value)["reason"] == "too_large"
