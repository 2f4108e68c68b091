"""The JT/T 808 gateway's Prometheus metrics (``civicgrid_jt808_*``), served with its /healthz."""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.jt808.bodies import MsgId

_NAMES = {m.value: m.name.lower() for m in MsgId}


class Jt808Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.frames_in = Counter("civicgrid_jt808_frames_in", "Frames decoded, by message (other: ids not taken)",
                                 ["message"], registry=r)
        self.records_out = Counter("civicgrid_jt808_records_out", "Kafka records acknowledged, by topic", ["topic"],
                                   registry=r)
        self.dead_letters = Counter("civicgrid_jt808_dead_letters", "Frames or reports dead-lettered, by reason",
                                    ["reason"], registry=r)
        self.auth = Counter("civicgrid_jt808_auth", "Registrations and authentications, by outcome", ["outcome"],
                            registry=r)
        self.subpackets = Counter("civicgrid_jt808_subpackets", "Sub-packets received", registry=r)
        self.refused = Counter("civicgrid_jt808_kafka_refused", "Records Kafka refused for good", registry=r)
        self.refused_connections = Counter("civicgrid_jt808_refused_connections",
                                           "Connections closed at once: jt808.max_connections reached", registry=r)
        self.connections = Gauge("civicgrid_jt808_connections", "Terminals connected", registry=r)
        self.produce_latency = Histogram(
            "civicgrid_jt808_kafka_produce_seconds", "Time from produce to Kafka acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.record_out = functools.cache(self.records_out.labels)
        self._frame = functools.cache(self.frames_in.labels)

    def frame_in(self, msg_id: int) -> None:
        self._frame(_NAMES.get(msg_id, "other")).inc()
