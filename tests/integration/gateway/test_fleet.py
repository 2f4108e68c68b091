"""A fleet of two device-affine gateways (gateway/affinity.py) on the real Mosquitto and Kafka: each device's
messages and commands go through the one gateway that owns it."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import orjson
import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import Producer
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from civicgrid.bus import topics
from civicgrid.bus.commands import send_command
from civicgrid.settings import Settings
from civicgrid.stack.services import gateway_instance
from gateway.affinity import owner
from gateway.service import Gateway
from tests.conftest import gateway_settings
from tests.support.kafka import KafkaTail
from tests.support.mqtt import MqttTestClient
from tests.support.stack import free_ports

pytestmark = pytest.mark.integration

READINGS = 30


@pytest.fixture
def fleet(settings: Settings) -> Iterator[list[Gateway]]:
    """Gateways 0 and 1 of two, in threads of the test process, subscribed."""
    base = gateway_settings(settings, "fleet")
    gateways, stops, threads = [], [], []
    for i, port in enumerate(free_ports(2)):
        gw = base.gateway.model_copy(update={**gateway_instance(base.gateway, i, 2), "metrics_port": port})
        gateways.append(Gateway(base.model_copy(update={"gateway": gw})))
        stops.append(threading.Event())
        threads.append(threading.Thread(target=gateways[i].run, args=(stops[i],), daemon=True))
        threads[i].start()
    for gw in gateways:
        assert gw.subscribed.wait(10), "gateway did not subscribe"
    yield gateways
    for stop in stops:
        stop.set()
    for thread in threads:
        thread.join(20)


def devices_of_both(provision: Callable[..., tuple[str, str]], kind: str, each: int) -> list[tuple[str, str]]:
    """At least `each` devices owned by each of the two gateways."""
    devices: list[tuple[str, str]] = []
    while min(sum(owner(d, 2) == i for d, _ in devices) for i in (0, 1)) < each:
        devices.append(provision(kind))
    return devices


def records_out(gw: Gateway, topic: str) -> float:
    return gw.metrics.registry.get_sample_value("civicgrid_gateway_records_out_total", {"topic": topic}) or 0.0


def test_each_device_is_forwarded_by_its_own_gateway_once_and_in_order(
        settings: Settings, fleet: list[Gateway], provision) -> None:
    devices = devices_of_both(provision, "bin-sensor", 2)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TELEMETRY])
    clients = [MqttTestClient(settings.mqtt.host, settings.mqtt.port, d, s, client_id=d) for d, s in devices]
    try:
        for client in clients:
            client.connect()
        for seq in range(1, READINGS + 1):  # interleaved, as a city's devices publish
            for (device_id, _), client in zip(devices, clients, strict=True):
                body = orjson.dumps({"seq": seq, "ts": f"2026-11-24T03:00:{seq:02d}Z", "fill_pct": seq})
                assert client.publish(f"cg/{device_id}/telemetry", body).value == 0
        ours = {d.encode() for d, _ in devices}
        tail.collect(lambda r: sum(k in ours for _, k, _ in r) >= READINGS * len(devices), timeout_s=30)
        tail.take(1.0)  # a duplicate, if any, would land now
    finally:
        for client in clients:
            client.close()
        tail.close()
    seqs: dict[str, list[int]] = defaultdict(list)
    for _, key, value in tail.records:
        if key in ours:
            seqs[key.decode()].append(value["seq"])
    assert seqs == {d: list(range(1, READINGS + 1)) for d, _ in devices}
    for i, gw in enumerate(fleet):  # each gateway forwarded its own devices' readings, and no other's
        mine = sum(owner(d, 2) == i for d, _ in devices)
        assert records_out(gw, topics.TELEMETRY) == mine * READINGS, (i, mine)


def test_a_command_is_sent_by_the_gateway_that_receives_its_answer(
        settings: Settings, fleet: list[Gateway], provision) -> None:
    """So the sender's wait ends with the answer: `sent`, `acked`, and never a `timed_out` from the other one."""
    devices = devices_of_both(provision, "manhole-sensor", 2)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.COMMAND_ACKS])
    clients = []
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    try:
        commands = {}
        for device_id, secret in devices:
            client = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
            client.connect()
            client.subscribe(f"cg/{device_id}/cmd")
            clients.append(client)
            commands[device_id] = send_command(producer, device_id, "set_interval", {"seconds": 60}, timeout_s=4)
        for (device_id, _), client in zip(devices, clients, strict=True):
            command = orjson.loads(client.next_message(timeout_s=30).payload)
            assert command["command_id"] == commands[device_id]
            client.publish(f"cg/{device_id}/cmd/ack", orjson.dumps({"command_id": command["command_id"],
                                                                   "status": "ok"}))

        def steps(command_id: str) -> list[str]:
            return [v["status"] for _, _, v in tail.records if v["command_id"] == command_id]

        tail.collect(lambda r: all(steps(c) == ["sent", "acked"] for c in commands.values()), timeout_s=30)
        time.sleep(5)  # past the commands' 4 s timeout: a gateway still waiting would time them out now
        tail.take(1.0)
        assert {d: steps(c) for d, c in commands.items()} == {d: ["sent", "acked"] for d in commands}
        # Neither gateway still waits for one (other tests' older commands, read from the topic's start, may be).
        assert not [c for c in commands.values() for gw in fleet if c in gw.tracker]
    finally:
        for client in clients:
            client.close()
        tail.close()


def test_a_session_from_the_shared_subscription_days_drops_its_share(settings: Settings, provision) -> None:
    """A gateway's persistent session made before device affinity still holds `$share/<group>/cg/+/+`; beside the
    plain subscription it would bring every message twice (the second dropped as a duplicate, at twice the work)."""
    gws = gateway_settings(settings, "legacy")
    old = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=gws.gateway.client_id, protocol=mqtt.MQTTv5)
    old.username_pw_set(settings.mqtt.username, settings.mqtt.password.get_secret_value())
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    subscribed = threading.Event()
    old.on_subscribe = lambda *args: subscribed.set()
    old.connect(settings.mqtt.host, settings.mqtt.port, clean_start=False, properties=props)
    old.loop_start()
    group = gws.gateway.share_group
    old.subscribe([(f"$share/{group}/cg/+/+", 1), (f"$share/{group}/cg/+/cmd/ack", 1)])
    assert subscribed.wait(10)
    old.disconnect()
    old.loop_stop()
    gw = Gateway(gws)
    stop = threading.Event()
    thread = threading.Thread(target=gw.run, args=(stop,), daemon=True)
    thread.start()
    device_id, secret = provision("bin-sensor")
    device = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TELEMETRY])
    try:
        assert gw.subscribed.wait(10), "gateway did not subscribe"
        device.connect()
        for seq in range(1, 6):
            body = orjson.dumps({"seq": seq, "ts": f"2026-11-24T04:00:{seq:02d}Z", "fill_pct": seq})
            assert device.publish(f"cg/{device_id}/telemetry", body).value == 0
        tail.collect(lambda r: sum(k == device_id.encode() for _, k, _ in r) >= 5, timeout_s=20)
        time.sleep(1)
        sample = gw.metrics.registry.get_sample_value
        assert sample("civicgrid_gateway_messages_in_total", {"channel": "telemetry"}) == 5
        assert sample("civicgrid_gateway_duplicates_total") == 0
    finally:
        device.close()
        tail.close()
        stop.set()
        thread.join(20)
