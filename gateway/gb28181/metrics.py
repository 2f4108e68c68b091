"""The GB/T 28181 gateway's Prometheus metrics (``civicgrid_gb28181_*``), served with its /healthz."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

METHODS = ("REGISTER", "MESSAGE", "ACK", "OPTIONS", "BYE", "INVITE", "NOTIFY", "SUBSCRIBE", "INFO", "CANCEL")
COMMANDS = ("Keepalive", "Catalog", "Alarm")


class Gb28181Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests_in = Counter("civicgrid_gb28181_requests_in", "SIP requests read, by method (other: the rest)",
                                   ["method"], registry=r)
        self.responses_in = Counter("civicgrid_gb28181_responses_in", "SIP responses to the platform's requests, by "
                                    "status class", ["status"], registry=r)
        self.commands_in = Counter("civicgrid_gb28181_commands_in", "MANSCDP commands read, by CmdType "
                                   "(other: the rest)", ["command"], registry=r)
        self.responses_out = Counter("civicgrid_gb28181_responses_out", "SIP responses sent, by status", ["status"],
                                     registry=r)
        self.records_out = Counter("civicgrid_gb28181_records_out", "Kafka records acknowledged, by topic", ["topic"],
                                   registry=r)
        self.dead_letters = Counter("civicgrid_gb28181_dead_letters", "Messages dead-lettered, by reason", ["reason"],
                                    registry=r)
        self.auth = Counter("civicgrid_gb28181_auth", "REGISTER outcomes (challenged, ok, refused, unregistered)",
                            ["outcome"], registry=r)
        self.channels_stored = Counter("civicgrid_gb28181_channels_stored", "Channels written from complete "
                                       "catalogs", registry=r)
        self.refused = Counter("civicgrid_gb28181_kafka_refused", "Records Kafka refused for good", registry=r)
        self.registered = Gauge("civicgrid_gb28181_registered", "Devices with a live registration", registry=r)
        self.online = Gauge("civicgrid_gb28181_online", "Registered devices whose keepalives are on time", registry=r)
        self.connections = Gauge("civicgrid_gb28181_tcp_connections", "SIP-over-TCP connections", registry=r)
        self.produce_latency = Histogram(
            "civicgrid_gb28181_kafka_produce_seconds", "Time from produce to Kafka acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)

    def request(self, method: str) -> None:
        self.requests_in.labels(method if method in METHODS else "other").inc()

    def command(self, cmd_type: str) -> None:
        self.commands_in.labels(cmd_type if cmd_type in COMMANDS else "other").inc()
