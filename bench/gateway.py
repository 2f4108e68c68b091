"""Gateway throughput: 1,000 devices, QoS 1, 200-byte JSON, MQTT → one gateway process → Kafka.

Method (all on this machine, against a throwaway stack this script starts):
1. 1,000 bin sensors are provisioned; the gateway subscribes once (its persistent
   session and shared subscription now exist) and stops.
2. The devices publish a backlog of N messages while no gateway runs: the broker
   queues them in the gateway's session (the same situation as a gateway restart).
3. The gateway starts and drains the backlog; the rate is N / (time from the first
   to the last record acknowledged by Kafka), read from the topic's end offsets.
   Every (device, seq) is then read back from Kafka: `lost` counts the missing.
4. Ceiling, same run, same method: a bare paho-mqtt subscriber (QoS 1, the broker
   acks as usual, no parsing, no Kafka) drains an identical backlog; the same with
   aiomqtt, for the client choice.
5. The price of device affinity (gateway/affinity.py), same method: a gateway that is one of a fleet of
   `--fleet` (2) drains an identical backlog, forwarding its own devices and acking the others unread; its
   rate counts every message it took, and its CPU per message (from /proc) is set against the lone gateway's.
Draining a backlog measures the sustained maximum without the publishers (1,000
MQTT clients in Python) competing for the two cores.

Last line: JSON with msgs_per_s, ceiling_msgs_per_s, ratio, lost, and the fleet member's figures
(docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from confluent_kafka import Consumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

# This file is named like the `gateway` package: the package is imported before its folder is on the path.
sys.path.remove(str(Path(__file__).resolve().parent))  # put first as the script's folder
from gateway.affinity import owner

sys.path.append(str(Path(__file__).resolve().parent))
from _measure import cpu_seconds, metric
from _rates import rate_until

from civicgrid.broker.provisioning import add_devices
from civicgrid.bus import topics
from civicgrid.bus.admin import admin_client
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import ephemeral_settings, free_ports, throwaway_stack
from civicgrid.stack.mosquitto import local_broker
from civicgrid.stack.services import gateway_instance, spawn_gateway, stop_service

PAYLOAD_BYTES = 200


def say(message: str) -> None:
    """Progress goes to stderr: stdout's last line is the JSON result."""
    print(message, file=sys.stderr, flush=True)


def payload(seq: int) -> bytes:
    body = (f'{{"seq":{seq},"ts":"2026-11-24T01:00:00.000Z","fill_pct":{seq % 100}.5,"temperature_c":21.3,'
            f'"tilt_deg":1.2,"battery_pct":88,"signal_dbm":-71}}')
    return (body + " " * (PAYLOAD_BYTES - len(body))).encode()  # JSON allows trailing whitespace


# ----------------------------------------------------------------------------- publishers
def _publish_part(host: str, port: int, devices: list[tuple[str, str]], per_device: int, topic_channel: str) -> int:
    sent = 0
    for device_id, secret in devices:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(device_id, secret)
        client.max_inflight_messages_set(200)
        client.connect(host, port)
        client.loop_start()
        infos = [client.publish(f"cg/{device_id}/{topic_channel}", payload(seq), qos=1)
                 for seq in range(1, per_device + 1)]
        for info in infos:
            info.wait_for_publish(30)
        sent += len(infos)
        client.disconnect()
        client.loop_stop()
    return sent


def publish_backlog(settings: Settings, devices: list[tuple[str, str]], per_device: int) -> int:
    """Every device publishes `per_device` messages (QoS 1, PUBACK awaited), in 2 processes."""
    halves = [devices[0::2], devices[1::2]]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        counts = pool.starmap(_publish_part, [(settings.mqtt.host, settings.mqtt.port, h, per_device, "telemetry")
                                              for h in halves])
    return sum(counts)


# ----------------------------------------------------------------------------- ceiling
def _session_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    return props


def paho_drain(settings: Settings, client_id: str, group: str, expected: int | None) -> float:
    """Subscribe (expected None) or drain `expected` queued messages with a bare paho client; msgs/s."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(settings.mqtt.username, settings.mqtt.password.get_secret_value())
    got = [0]
    stamps: list[float] = []
    done = threading.Event()

    def on_message(c, u, msg):
        if not got[0]:
            stamps.append(time.perf_counter())
        got[0] += 1
        if expected is not None and got[0] >= expected:
            stamps.append(time.perf_counter())
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(f"$share/{group}/cg/+/telemetry", qos=1)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(settings.mqtt.host, settings.mqtt.port, clean_start=False, properties=_session_props())
    client.loop_start()
    subscribed.wait(10)
    if expected is not None:
        done.wait(300)
    client.disconnect()
    client.loop_stop()
    if expected is None:
        return 0.0
    return (got[0] - 1) / (stamps[1] - stamps[0])


async def _aiomqtt_drain(settings: Settings, client_id: str, group: str, expected: int | None) -> float:
    import aiomqtt

    async with aiomqtt.Client(settings.mqtt.host, settings.mqtt.port, identifier=client_id,
                              username=settings.mqtt.username, password=settings.mqtt.password.get_secret_value(),
                              protocol=aiomqtt.ProtocolVersion.V5, clean_start=False,
                              properties=_session_props(), max_queued_incoming_messages=0) as client:
        await client.subscribe(f"$share/{group}/cg/+/telemetry", qos=1)
        if expected is None:
            return 0.0
        got, first = 0, 0.0
        async for _ in client.messages:
            got += 1
            if got == 1:
                first = time.perf_counter()
            if got >= expected:
                return (got - 1) / (time.perf_counter() - first)
    return 0.0


def aiomqtt_drain(settings: Settings, client_id: str, group: str, expected: int | None) -> float:
    return asyncio.run(_aiomqtt_drain(settings, client_id, group, expected))


# ----------------------------------------------------------------------------- gateway
def records_acknowledged(metrics_port: int) -> int:
    """Records Kafka acknowledged to the gateway (its own counter: the topic's end offsets would also count
    other producers' records)."""
    return int(metric(metrics_port, 'civicgrid_gateway_records_out_total{topic="cg.telemetry"}'))


def measure_ceilings(settings: Settings, devices: list[tuple[str, str]], per_device: int) -> dict[str, float]:
    n = len(devices) * per_device
    results: dict[str, float] = {}
    for name, drain in (("paho", paho_drain), ("aiomqtt", aiomqtt_drain)):
        drain(settings, f"ceiling-{name}", f"ceil{name}", None)  # create the session + subscription
        publish_backlog(settings, devices, per_device)
        results[name] = drain(settings, f"ceiling-{name}", f"ceil{name}", n)
        say(f"ceiling: bare {name} subscriber drained {n} messages at {results[name]:,.0f} msg/s")
        # Drop that session's subscription so later backlogs are not queued for it.
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ceiling-{name}", protocol=mqtt.MQTTv5)
        c.username_pw_set(settings.mqtt.username, settings.mqtt.password.get_secret_value())
        c.connect(settings.mqtt.host, settings.mqtt.port, clean_start=True)
        c.disconnect()
    return results


def measure_gateway(settings: Settings, devices: list[tuple[str, str]], per_device: int,
                    log: Path) -> tuple[float, float]:
    """Drain a backlog of every device's messages through the gateway `settings` describe (one of a fleet, or
    alone): (messages taken per second, CPU µs per message taken). Its own devices' records end the drain."""
    n = len(devices) * per_device
    gw = settings.gateway
    forwarded = sum(owner(d, gw.instances) == gw.instance for d, _ in devices) * per_device
    first = spawn_gateway(settings, log)  # creates its session and subscription
    startup_cpu = cpu_seconds(first.pid)  # imports, connections: not the drain's (the backlog may start early)
    stop_service(first)
    publish_backlog(settings, devices, per_device)
    gateway = spawn_gateway(settings, log)
    try:
        rate = rate_until(lambda: records_acknowledged(gw.metrics_port), forwarded, poll_s=0.05,
                          timeout_s=float(os.environ.get("BENCH_DRAIN_TIMEOUT", "300")))
        cpu = cpu_seconds(gateway.pid) - startup_cpu
    finally:
        stop_service(gateway)
    rate *= n / forwarded  # every message was taken in that time, the others' acked unread
    say(f"gateway {gw.instance} of {gw.instances}: drained {n} messages ({forwarded} its own) at {rate:,.0f} msg/s, "
        f"{cpu / n * 1e6:.1f} µs CPU per message")
    return rate, cpu / n * 1e6


def read_back(settings: Settings) -> tuple[set[tuple[str, int]], int]:
    """Every (device, seq) on cg.telemetry, and the number of records (duplicates included)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "bench", "log_level": 3})
    partitions = admin_client(settings.kafka.bootstrap_servers).list_topics(timeout=5).topics[topics.TELEMETRY]
    consumer.assign([TopicPartition(topics.TELEMETRY, p, 0) for p in partitions.partitions])
    seen: set[tuple[str, int]] = set()
    total = 0
    while batch := consumer.consume(5000, 2.0):
        for msg in batch:
            if msg.error() is None:
                record = json.loads(msg.value())
                seen.add((record["device_id"], record["seq"]))
                total += 1
    consumer.close()
    return seen, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--per-device", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory for inspection")
    parser.add_argument("--fleet", type=int, default=2, help="the fleet size for the affinity measurement (1: skip)")
    args = parser.parse_args()
    n = args.devices * args.per_device

    settings = ephemeral_settings(prefix="civicgrid-bench-")
    base = settings.stack.var_dir.parent
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")):
        devices = [(p.device_id, p.secret) for p in
                   add_devices(settings, [(f"bin-{i:05d}", "bin-sensor") for i in range(args.devices)],
                               broker=local_broker(settings))]
        say(f"provisioned {len(devices)} devices; backlogs of {n} messages of {PAYLOAD_BYTES} bytes each")
        time.sleep(1)  # Mosquitto reloads its password file after SIGHUP
        ceilings = measure_ceilings(settings, devices, args.per_device)
        rate, cpu_us = measure_gateway(settings, devices, args.per_device, base / "gateway.log")
        seen, total = read_back(settings)
        fleet_rate = fleet_cpu_us = None
        if args.fleet > 1:  # gateway 1 of the fleet, a session of its own
            (port,) = free_ports(1)  # metrics_port + 1 may be another service's (free ports come in runs)
            member = settings.model_copy(update={"gateway": settings.gateway.model_copy(
                update={**gateway_instance(settings.gateway, 1, args.fleet), "metrics_port": port})})
            fleet_rate, fleet_cpu_us = measure_gateway(member, devices, args.per_device, base / "gateway-1.log")
    expected = {(d, s) for d, _ in devices for s in range(1, args.per_device + 1)}
    ceiling = ceilings["paho"]
    print(json.dumps({
        "msgs_per_s": round(rate), "ceiling_msgs_per_s": round(ceiling), "ratio": round(rate / ceiling, 3),
        "lost": len(expected - seen), "duplicates": total - len(seen), "messages": n, "devices": args.devices,
        "payload_bytes": PAYLOAD_BYTES, "ceiling_paho_msgs_per_s": round(ceilings["paho"]),
        "ceiling_aiomqtt_msgs_per_s": round(ceilings["aiomqtt"]), "cores": os.cpu_count(),
        "cpu_us_per_msg": round(cpu_us, 1), "fleet": args.fleet,
        "fleet_member_msgs_per_s": None if fleet_rate is None else round(fleet_rate),
        "fleet_member_cpu_us_per_msg": None if fleet_cpu_us is None else round(fleet_cpu_us, 1),
    }))


if __name__ == "__main__":
    main()
