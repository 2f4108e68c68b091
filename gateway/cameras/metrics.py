"""The camera poller's Prometheus metrics and health, served like the gateway's (``/metrics``, ``/healthz``) on
``cameras.metrics_port``.

Label values come from fixed sets (a detection's kind, a failure's reason code), never from a camera's id: a
city's thousands of cameras would each be a time series. Per camera, the health records on cg.status say more.
"""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge


class PollerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.cameras = Gauge("civicgrid_camera_cameras", "Cameras this poller holds (its leases' cameras)",
                             registry=r)
        self.reachable = Gauge("civicgrid_camera_reachable", "Cameras this poller reaches now", registry=r)
        self.leases = Gauge("civicgrid_camera_leases", "Leases (partitions of cg.camera-leases) this poller holds",
                            registry=r)
        self.snapshots = Counter("civicgrid_camera_snapshots", "Snapshots fetched and analysed", registry=r)
        self.detections = Counter("civicgrid_camera_detections", "Detections sent on cg.events, by kind",
                                  ["kind"], registry=r)
        self.failures = Counter("civicgrid_camera_failures",
                                "Camera connections that failed, by reason (unauthorized, unreachable, credentials …)",
                                ["reason"], registry=r)
        self.kafka_errors = Counter("civicgrid_camera_kafka_errors", "Camera records Kafka refused", registry=r)
        self.detection = functools.cache(self.detections.labels)
        self.failure = functools.cache(self.failures.labels)
