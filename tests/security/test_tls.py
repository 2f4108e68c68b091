"""Item 14: the stack's broker serves MQTT over TLS with its own CA and devices connect that way; Kafka and
PostgreSQL answer TLS too, and the gateway, Kafka's client libraries and the database driver use it when told."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import uuid

import orjson
import paho.mqtt.client as mqtt
import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from civicgrid.bus import clients, topics
from civicgrid.settings import Settings
from civicgrid.stack import LocalStack
from civicgrid.store.db import connect
from gateway.service import Gateway
from tests.conftest import gateway_settings
from tests.support.kafka import KafkaTail


def _tls_client(settings: Settings, device_id: str, secret: str, ca: str | None) -> tuple[mqtt.Client, list]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(device_id, secret)
    client.tls_set(ca_certs=ca)
    answers: list = []
    done = threading.Event()

    def connected(c, userdata, flags, reason_code, properties):
        answers.append(reason_code)
        done.set()

    client.on_connect = connected
    client.connect(settings.mqtt.host, settings.mqtt.tls_port)
    client.loop_start()
    done.wait(10)
    return client, answers


def test_a_device_publishes_over_tls_trusting_the_stack_ca(stack: LocalStack, gateway: Gateway, provision) -> None:
    settings = stack.settings
    device_id, secret = provision("bin-sensor")
    ca = str(settings.stack.var_dir.resolve() / "tls" / "ca.crt")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TELEMETRY])
    client, answers = _tls_client(settings, device_id, secret, ca)
    try:
        assert answers and not answers[0].is_failure, answers
        info = client.publish(f"cg/{device_id}/telemetry", b'{"seq": 1, "ts": "2026-11-24T01:00:00Z", "fill_pct": 7}',
                              qos=1)
        info.wait_for_publish(10)
        seen = tail.collect(lambda rs: any(v.get("device_id") == device_id for _, _, v in rs), timeout_s=20)
    finally:
        client.loop_stop()
        client.disconnect()
        tail.close()
    assert [v["data"]["fill_pct"] for _, _, v in seen if v.get("device_id") == device_id] == [7]


def test_a_handheld_speaks_mqtt_over_websockets_with_tls_and_the_gateway_holds_it_to_its_profile(
        stack: LocalStack, gateway: Gateway, provision) -> None:
    """The handheld app's transport without the proxy (docs/handheld.md): Mosquitto's wss listener with the stack's
    certificate, the device's own account; a track the handheld profile refuses is a dead letter with its reason."""
    settings = stack.settings
    device_id, secret = provision("handheld")
    ca = str(settings.stack.var_dir.resolve() / "tls" / "ca.crt")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TRACKS, topics.DEADLETTER])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5,
                         transport="websockets")
    client.username_pw_set(device_id, secret)
    client.tls_set(ca_certs=ca)
    connected = threading.Event()
    client.on_connect = lambda c, userdata, flags, reason_code, properties: connected.set()
    client.connect(settings.mqtt.host, settings.mqtt.wss_port)
    client.loop_start()
    try:
        assert connected.wait(10), "no CONNACK over wss"
        for seq, lat in ((1, 31.46), (2, 231.46)):  # the second is off the globe
            body = {"seq": seq, "ts": "2026-11-24T01:00:00Z", "lon": 116.94, "lat": lat, "accuracy_m": 8}
            client.publish(f"cg/{device_id}/track", orjson.dumps(body), qos=1).wait_for_publish(10)
        seen = tail.collect(lambda rs: sum(v.get("device_id") == device_id for _, _, v in rs) >= 2, timeout_s=20)
    finally:
        client.loop_stop()
        client.disconnect()
        tail.close()
    mine = [(topic, v) for topic, _, v in seen if v.get("device_id") == device_id]
    assert [(t, v["data"]["lat"]) for t, v in mine if t == topics.TRACKS] == [(topics.TRACKS, 31.46)]
    letters = [v for t, v in mine if t == topics.DEADLETTER]
    assert len(letters) == 1 and "lat" in letters[0]["detail"], letters
    with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs only: the stack's certificate is not theirs
        plain = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, transport="websockets")
        plain.tls_set()
        plain.connect(settings.mqtt.host, settings.mqtt.wss_port)


def test_a_client_that_does_not_trust_the_ca_is_refused_the_handshake(stack: LocalStack, provision) -> None:
    device_id, secret = provision("bin-sensor")
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_client(stack.settings, device_id, secret, ca=None)  # the system's CAs only


def test_the_api_serves_https_with_a_configured_certificate(stack: LocalStack, api_settings: Settings) -> None:
    """uvicorn's TLS from `api.tls_certfile`/`tls_keyfile` (here the stack's own certificate for 127.0.0.1)."""
    import time

    import httpx
    import uvicorn

    from api.service import server_config
    from tests.support.stack import free_ports

    tls_dir = stack.settings.stack.var_dir.resolve() / "tls"
    (port,) = free_ports(1)
    settings = api_settings.model_copy(update={"api": api_settings.api.model_copy(update={
        "port": port, "tls_certfile": tls_dir / "server.crt", "tls_keyfile": tls_dir / "server.key"})})
    server = uvicorn.Server(server_config(settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
            time.sleep(0.05)
        r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=str(tls_dir / "ca.crt"))
        assert r.status_code == 200 and r.json()["status"] == "ok"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/healthz")  # not trusted without the CA
    finally:
        server.should_exit = True
        thread.join(15)


def _over_tls(settings: Settings) -> Settings:
    """The same stack reached over TLS on every link, trusting the stack's CA: MQTT's TLS listener, Kafka's
    SSL listener (stack.kafka_tls_port), PostgreSQL with sslmode=verify-full."""
    ca = settings.stack.var_dir.resolve() / "tls" / "ca.crt"
    mqtt_tls = settings.mqtt.model_copy(update={"tls": True, "ca_file": ca})
    kafka_tls = settings.kafka.model_copy(update={
        "bootstrap_servers": f"127.0.0.1:{settings.stack.kafka_tls_port}", "security_protocol": "SSL",
        "ssl_ca_file": ca})
    url = settings.db.url.get_secret_value()
    db_tls = settings.db.model_copy(update={"url": SecretStr(f"{url}?sslmode=verify-full&sslrootcert={ca}")})
    return settings.model_copy(update={"mqtt": mqtt_tls, "kafka": kafka_tls, "db": db_tls})


def test_device_gateway_kafka_and_database_links_all_run_over_tls(stack: LocalStack, provision) -> None:
    settings = _over_tls(stack.settings)
    with connect(settings.db) as conn:
        assert conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]
    device_id, secret = provision("bin-sensor")
    gw = Gateway(gateway_settings(settings, "tls"))
    stop = threading.Event()
    thread = threading.Thread(target=gw.run, args=(stop,), daemon=True)
    thread.start()
    consumer = Consumer(clients.librdkafka(settings.kafka, {
        "group.id": f"tls-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "latest", "enable.auto.commit": False}))
    client = None
    try:
        assert gw.subscribed.wait(15), "gateway did not subscribe"
        # Read from the partitions' current ends, asked over TLS before the device publishes (a subscription
        # with auto.offset.reset=latest may resolve "latest" after the record landed, and miss it).
        partitions = consumer.list_topics(topics.TELEMETRY, timeout=20).topics[topics.TELEMETRY].partitions
        consumer.assign([TopicPartition(topics.TELEMETRY, p, consumer.get_watermark_offsets(
            TopicPartition(topics.TELEMETRY, p), timeout=20)[1]) for p in partitions])
        deadline = time.monotonic() + 20
        client, answers = _tls_client(settings, device_id, secret, str(settings.mqtt.ca_file))
        assert answers and not answers[0].is_failure, answers
        client.publish(f"cg/{device_id}/telemetry", b'{"seq": 1, "ts": "2026-11-24T01:00:00Z", "fill_pct": 9}',
                       qos=1).wait_for_publish(10)
        seen = None
        while seen is None and time.monotonic() < deadline + 20:
            message = consumer.poll(0.5)
            if message is not None and not message.error() and message.key() == device_id.encode():
                seen = orjson.loads(message.value())
    finally:
        if client is not None:
            client.loop_stop()
            client.disconnect()
        consumer.close()
        stop.set()
        thread.join(20)
    assert seen is not None and seen["data"]["fill_pct"] == 9
    assert asyncio.run(_aiokafka_sees_the_topics(settings))


async def _aiokafka_sees_the_topics(settings: Settings) -> bool:
    """The streams' client library (aiokafka) over the same TLS listener."""
    consumer = AIOKafkaConsumer(**clients.aiokafka(settings.kafka))
    await consumer.start()
    try:
        return topics.TELEMETRY in await consumer.topics()
    finally:
        await consumer.stop()
