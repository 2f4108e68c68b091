"""The gateway's Prometheus metrics (served with its ``/healthz`` by civicgrid/metrics_http.py)."""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from civicgrid.profiles import CHANNELS


def channel_label(mqtt_topic: str) -> str:
    """The channel of the MQTT contract a topic ends in, else "other": a device cannot grow the metrics
    without bound by inventing topic levels."""
    channel = mqtt_topic.rsplit("/", 1)[-1]
    return channel if channel in CHANNELS or channel in ("cmd", "ack") else "other"


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages_in = Counter("civicgrid_gateway_messages_in", "MQTT messages received, by channel",
                                   ["channel"], registry=r)
        self.records_out = Counter("civicgrid_gateway_records_out", "Kafka records acknowledged, by topic",
                                   ["topic"], registry=r)
        self.dead_letters = Counter("civicgrid_gateway_dead_letters", "Messages dead-lettered, by reason",
                                    ["reason"], registry=r)
        self.dropped = Counter("civicgrid_gateway_dropped", "Dead letters Kafka refused even without their payload "
                               "(acked and dropped, so the broker does not redeliver them forever)", registry=r)
        self.duplicates = Counter("civicgrid_gateway_duplicates", "Duplicate (device_id, seq) dropped",
                                  registry=r)
        self.produce_latency = Histogram(
            "civicgrid_gateway_kafka_produce_seconds", "Time from produce to Kafka acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.mqtt_connected = Gauge("civicgrid_gateway_mqtt_connected", "1 while connected to the broker",
                                    registry=r)
        self.in_flight = Gauge("civicgrid_gateway_in_flight", "MQTT messages waiting for their Kafka ack",
                               registry=r)
        self.commands = Counter("civicgrid_gateway_commands", "Downlink command steps, by status",
                                ["status"], registry=r)
        # The per-message counters' children, looked up once per label value (a `labels()` call per message
        # was a few per cent of the gateway's time); the values are bounded (channels, topics).
        self.message_in = functools.cache(self.messages_in.labels)
        self.record_out = functools.cache(self.records_out.labels)
