"""One typed settings object for every service and the local stack.

Values come, highest priority first, from keyword arguments (tests pass their
free ports this way), ``CIVICGRID_*`` environment variables (nested with
``__``, e.g. ``CIVICGRID_DB__URL``), a TOML file (``--config FILE`` or
``CIVICGRID_CONFIG``; ``./civicgrid.toml`` when present), then the defaults
below.  The defaults describe the local stack of ``civicgrid stack up``:
its own Mosquitto, Apache Kafka and PostgreSQL on ports in the 18xxx range, so they
never collide with system services on the standard ports.

Built once in the composition root (``civicgrid.cli``) and passed down; there
is no module-level instance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from civicgrid.clock import ClockSettings

DEFAULT_CONFIG_FILE = Path("civicgrid.toml")
# device-profiles/ beside the package (the repository layout; an editable install keeps it).
DEFAULT_PROFILES_DIR = Path(__file__).resolve().parent.parent / "device-profiles"


class _Section(BaseModel):
    # Unknown keys are typos: fail loudly and name them.
    model_config = ConfigDict(extra="forbid")


class MqttSettings(_Section):
    """The MQTT broker devices connect to, and the gateway's service account."""

    host: str = "127.0.0.1"
    port: int = 18883
    username: str = "civicgrid-gateway"
    # No default that works: the local stack generates one (civicgrid/local_secrets.py).
    password: SecretStr | None = None
    keepalive_s: int = 30
    # MQTT over TLS: devices connect to tls_port and trust ca_file (None: the system's trust store; the
    # local stack's CA is <var>/tls/ca.crt). `tls` makes this client (gateway, simulators) use it too.
    tls: bool = False
    tls_port: int = 18884
    ca_file: Path | None = None
    # MQTT over WebSockets for the inspectors' handheld web app (docs/handheld.md): the stack's listener, and
    # the URL phones use (None: ws(s)://<the app page's host>:ws_port/; behind a TLS proxy, wss://host/mqtt).
    ws_port: int = 18885
    ws_url: str | None = None
    # The same over TLS (wss://) with the stack's certificate, for phones that reach the broker directly rather than
    # through the HTTPS proxy (set ws_url to wss://<host>:<wss_port>/ then).
    wss_port: int = 18886

    def endpoint(self) -> tuple[str, int]:
        """Where a client of these settings connects (the TLS listener when `tls`)."""
        return self.host, self.tls_port if self.tls else self.port

    def password_value(self) -> str:
        """The service account's password, for the code that cannot do without it (a clear error, not None)."""
        if self.password is None:
            raise RuntimeError("mqtt.password (the gateway's MQTT account) is not set: run `civicgrid stack up`, "
                               "which generates it, or set CIVICGRID_MQTT__PASSWORD")
        return self.password.get_secret_value()


class TopicRetention(_Section):
    """How long Kafka keeps a topic's records: whichever limit is reached first drops the oldest segment.

    The database keeps what matters for good; Kafka's retention is the room to replay after an outage
    of a consumer (a long weekend of a stopped worker) or to inspect dead letters.
    """

    hours: float = Field(default=72.0, gt=0)
    # retention.bytes is per partition in Kafka; None: time alone.
    mb_per_partition: int | None = Field(default=1024, gt=0)

    def topic_config(self) -> dict[str, str]:
        return {
            "cleanup.policy": "delete",
            "retention.ms": str(int(self.hours * 3_600_000)),
            "retention.bytes": "-1" if self.mb_per_partition is None else str(self.mb_per_partition * 1024 * 1024),
        }


def _default_retention() -> dict[str, TopicRetention]:
    return {
        # Raw device data: three days of replay, bounded in size (a 100 k-sensor city writes ~1 GB/day/partition).
        "cg.telemetry": TopicRetention(hours=72, mb_per_partition=2048),
        "cg.tracks": TopicRetention(hours=72, mb_per_partition=2048),
        "cg.events": TopicRetention(hours=72, mb_per_partition=512),
        "cg.status": TopicRetention(hours=72, mb_per_partition=256),
        "cg.reports": TopicRetention(hours=7 * 24, mb_per_partition=512),
        # Dead letters are read by people, days later: a month.
        "cg.deadletter": TopicRetention(hours=30 * 24, mb_per_partition=1024),
        "cg.alarms": TopicRetention(hours=7 * 24, mb_per_partition=512),
        "cg.case-events": TopicRetention(hours=30 * 24, mb_per_partition=512),
        # A command nobody delivered within a day is stale; acks are read at once.
        "cg.commands": TopicRetention(hours=24, mb_per_partition=64),
        "cg.command-acks": TopicRetention(hours=72, mb_per_partition=64),
    }


class KafkaSettings(_Section):
    """The Kafka cluster (the stack's own Apache Kafka locally; a three-broker cluster or Redpanda in production)."""

    bootstrap_servers: str = "127.0.0.1:18092"
    # Every cg.* topic is declared with this count before anything produces to it:
    # a topic created implicitly gets the broker default, and the alarm state changelog has one
    # partition per source partition (docs/streams.md).
    partitions: int = 4
    replication_factor: int = 1
    # A cluster that requires TLS and/or SASL (civicgrid/bus/clients.py passes these to every client).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_ca_file: Path | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # Per topic (cg.* names; naming one leaves the others' defaults); retention_default for any other.
    # The alarm state changelog is compacted (the latest state per device is kept, never aged out).
    retention: dict[str, TopicRetention] = Field(default_factory=_default_retention)
    retention_default: TopicRetention = Field(default_factory=TopicRetention)

    @field_validator("retention")
    @classmethod
    def _known_topics(cls, value: dict[str, TopicRetention]) -> dict[str, TopicRetention]:
        from civicgrid.bus.topics import ALL_TOPICS

        unknown = sorted(set(value) - set(ALL_TOPICS))
        if unknown:
            raise ValueError(f"no such platform topic: {', '.join(unknown)} (known: {', '.join(ALL_TOPICS)})")
        # A file or variable that names one topic changes that topic; the others keep their defaults.
        return {**_default_retention(), **value}

    def retention_of(self, topic: str) -> TopicRetention:
        return self.retention.get(topic, self.retention_default)


class DbSettings(_Section):
    """PostgreSQL with TimescaleDB."""

    # The role's password belongs in the URL; left out, the local stack generates one (civicgrid/local_secrets.py).
    url: SecretStr = SecretStr("postgresql://civicgrid@127.0.0.1:18432/civicgrid")
    pool_min: int = 1
    pool_max: int = 10


class GatewaySettings(_Section):
    """The MQTT → Kafka gateway (``civicgrid gateway``)."""

    # Each gateway process needs its own client id: the broker keeps that session's
    # queue (session_expiry_s) while the process restarts, so nothing is lost.
    client_id: str = "civicgrid-gateway-1"
    # Device-affine gateways (gateway/affinity.py): this process forwards the devices whose id hashes to
    # `instance` of `instances`, and acknowledges the others' messages unread. Every gateway of a fleet has
    # the same `instances` and its own `instance` (and client id); a dead one must come back as itself.
    instance: int = Field(default=0, ge=0)
    instances: int = Field(default=1, ge=1, le=64)
    # The fleet's name: its command consumer groups are ``civicgrid-gateway-commands-<share_group>[-<instance>]``.
    # (Before device affinity it named a shared subscription, which a gateway now drops from its session.)
    share_group: str = "gateway"
    session_expiry_s: int = 3600
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 18081
    max_payload_bytes: int = 256 * 1024
    max_clock_future_s: float = 300.0
    # Devices that send local time without an offset send the city's local time.
    naive_timezone: str = "Asia/Shanghai"
    dedup_window: int = 256
    registry_refresh_s: float = 60.0
    kafka_linger_ms: int = 20  # 20 against 5: gateway 48 → 40, Kafka 54 → 49 µs a message at 5,000 msg/s
    # After a wake-up that found a few messages (not a full read), the gateway lets the next ones gather this long
    # before it reads again: a wake-up per message at a few thousand a second cost more than the messages
    # (docs/performance.md). Added once to a message's way; 0 reads as soon as anything arrives.
    gather_ms: float = Field(default=5.0, ge=0, le=100)
    command_default_timeout_s: float = 60.0

    @model_validator(mode="after")
    def _instance_in_fleet(self) -> GatewaySettings:
        if self.instance >= self.instances:
            raise ValueError(f"gateway.instance {self.instance} is not one of 0 … {self.instances - 1} "
                             f"(gateway.instances = {self.instances})")
        return self


class StreamsSettings(_Section):
    """The stream workers (``civicgrid worker``; docs/streams.md)."""

    # Each role's consumer group is ``<app_id>-<role>``; the alarm state changelog is ``<app_id>-alarm-state``.
    app_id: str = "civicgrid-streams"
    # Device problems merge into an open case about the same component, or of the same
    # category in the same grid cell reported within this window (docs/domain.md §3; ours).
    merge_window_s: float = 24 * 3600
    # Records per sink batch (one COPY per table, one offset commit): on a backlog 5,000 wrote 103-105 k rows/s,
    # 2,000 85-93 k and 10,000 98 k (bench/streams.py --only sinks, docs/performance.md "The ninth round").
    sink_batch: int = 5000
    sink_within_s: float = 0.2  # how long a role's fetch waits for records before it works on what it has
    # Each fetch waits on the broker until this much is there or `fetch_max_wait_ms` has passed: at a few thousand
    # records a second a fetch per record's arrival made small batches, each a database commit and an offset
    # commit (docs/performance.md). The wait is added to a record's way to its row, at most once per hop.
    # 256 KiB / 250 ms against 64 KiB / 100 ms: platform CPU at 5,000 msg/s 297 → 224 µs a message and publish →
    # row p99 617 → 352 ms (bench/e2e.py, docs/performance.md "Batching").
    fetch_min_bytes: int = Field(default=256 * 1024, ge=1)
    fetch_max_wait_ms: int = Field(default=250, ge=0, le=1000)
    alarm_batch: int = 2000  # records per alarm-detection batch (one changelog flush and commit each)
    # A device state whose only change is a rate-of-change window (a reading slid into it) is written to the alarm
    # state's changelog at most this often; any other change (an episode, a debounce count) with its batch. Every
    # reading of a manhole moves its water-level window: written at once, they were a changelog record for most
    # readings (docs/streams.md "Alarms"). Restored after a crash or a rebalance, a window misses at most this much
    # of its readings (the water surge's window is 600 s).
    alarm_window_write_s: float = Field(default=10.0, ge=0)
    case_batch: int = 500  # records per case-builder batch (one transaction per problem)
    deadline_scan_s: float = 30.0
    outbox_poll_s: float = 0.2
    # GeoJSON FeatureCollection of unit grid cells (properties.code); None: cells from the database.
    grid_cells_geojson: Path | None = None
    # How long the group coordinator waits for a silent worker before handing its partitions to
    # the others (a longer one would let a SIGKILLed worker's partitions stand still that long).
    # Kafka accepts 6-300 s (group.min/max.session.timeout.ms).
    session_timeout_s: float = Field(default=10.0, ge=6.0, le=300.0)
    # Each worker's /metrics, /healthz and /readyz (streams/health.py; docs/observability.md). Worker i of
    # `civicgrid run --workers M` listens on metrics_port + i - 1; a port already taken leaves that worker
    # without the endpoint (logged), never without its work.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=18100, ge=1, le=65535)

    @model_validator(mode="after")
    def _one_detector(self) -> StreamsSettings:
        if "alarms" in self.roles and "telemetry" in self.roles:
            raise ValueError("streams.roles: `telemetry` is alarm detection with the telemetry rows; name it or "
                             "`alarms`, not both (two detectors would take every record twice)")
        return self

    def group_timing_ms(self) -> dict[str, int]:
        """aiokafka's session timeout and heartbeat (a third of it) for this worker's own consumer groups."""
        return {"session_timeout_ms": int(self.session_timeout_s * 1000),
                "heartbeat_interval_ms": int(self.session_timeout_s * 1000 / 3)}
    # What this worker runs; a deployment may split them over processes (the benchmark measures each).
    # `telemetry` is alarm detection that also writes the telemetry rows, cg.telemetry read once (one group,
    # ``<app_id>-telemetry``); `alarms` is detection alone (``<app_id>-alarms``), the older split in which the
    # sinks read cg.telemetry a second time. The sinks leave cg.telemetry out only in a worker that runs
    # `telemetry` itself, so no mix of workers leaves a telemetry partition without a row writer (docs/streams.md
    # "cg.telemetry read once").
    roles: tuple[Literal["telemetry", "alarms", "cases", "sinks", "deadlines", "outbox", "cameras", "patrol"],
                 ...] = ("telemetry", "cases", "sinks", "deadlines", "outbox", "cameras", "patrol")


class PatrolSettings(_Section):
    """Patrol coverage (the worker's ``patrol`` role; docs/patrol.md): cleaning, matching, passes, anomalies."""

    max_hdop: float = 5.0  # fixes with a worse HDOP are rejected (poor_precision)
    max_accuracy_m: float = 50.0  # fixes reporting a worse accuracy are rejected (poor_precision)
    # Faster than this from the last clean fix is a GPS jump (rejected); per device kind, m/s.
    max_speed_mps: dict[str, float] = Field(default_factory=lambda: {"handheld": 50.0, "gps-tracker": 60.0})
    default_max_speed_mps: float = 60.0
    jump_reset: int = 3  # jumps in a row after which the new position is taken
    match_tolerance_m: float = 20.0  # farthest a fix may be from a road segment to be matched to it
    pass_min_fraction: float = 0.8  # share of a segment's length a traversal must cover to be a pass
    max_gap_s: float = 180.0  # a longer silence breaks a traversal (and is not distance walked)
    outside_grid_min: float = 15.0
    stationary_min: float = 20.0
    stationary_radius_m: float = 30.0
    speeding_mps: float = 7.0  # faster than walking or cycling (25 km/h)
    speeding_min_s: float = 60.0
    offline_min: float = 15.0
    # How often an idle consumer judges silence and closed windows (0: never; tests replaying a past day).
    offline_check_s: float = 5.0
    utc_offset_h: float = 8.0  # the city's time zone (days and windows are local)
    batch: int = 5000
    within_s: float = 0.5
    segment_max_length_m: float = 250.0  # `city load` cuts streets into pieces at most this long
    segment_min_length_m: float = 20.0  # and merges shorter pieces into their neighbour
    refresh_s: float = 60.0  # plans, segments and cells re-read this often


class ApiSettings(_Section):
    """The HTTP API and operator console (``civicgrid api``)."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Signs the JWTs. No default that works: the local stack generates one (civicgrid/local_secrets.py).
    jwt_secret: SecretStr | None = None
    token_ttl_s: int = 8 * 3600
    media_dir: Path = Path("var/media")
    max_upload_bytes: int = 10 * 1024 * 1024
    # Every other request body (JSON, forms): answered 413 past this, before authentication.
    max_body_bytes: int = 1024 * 1024
    # A base-data import's file (POST /basedata/{components,addresses}/import; docs/basedata.md): a county's
    # components as GeoJSON are a few MB; larger files go through `civicgrid basedata import`.
    max_import_bytes: int = 32 * 1024 * 1024
    # Photos declaring more pixels are refused (415) from their header, before any decoding:
    # a 100 KB PNG can declare 30,000 × 30,000 pixels and decode into gigabytes.
    max_photo_pixels: int = 50_000_000
    # Login throttling (api/login_throttle.py): failures per user name and per client address in the window,
    # then 429 with a back-off that doubles; argon2 hashes at once (each takes 64 MiB).
    login_max_failures_per_user: int = 5
    login_max_failures_per_address: int = 30
    login_window_s: float = 900.0
    login_max_concurrent_hashes: int = 2
    # The live feed (/feed): credentials checked again this often (an expired token, a revoked key or a
    # disabled user ends the stream), and at most this many open streams per user.
    feed_recheck_s: float = 30.0
    feed_max_streams_per_user: int = 5
    # /docs, /redoc and /openapi.json; off in production unless a proxy in front authenticates.
    docs_enabled: bool = True
    # When set, /metrics answers only `Authorization: Bearer <metrics_token>` (Prometheus' bearer_token).
    metrics_token: SecretStr | None = None
    # HTTPS: a PEM certificate (chain) and its key; unset, plain HTTP (behind a TLS-terminating proxy).
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiSettings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("api.tls_certfile and api.tls_keyfile go together")
        return self
    # Optional raster tiles under the console's map, e.g. a Chinese provider's XYZ URL with {z}/{x}/{y};
    # overlays are then drawn in GCJ-02. Unset: the city's own cells and streets are the base map.
    console_tile_url: str | None = None
    # Open311's discovery document (docs/open311.md): whom a client's developer asks, and how one gets an api_key.
    open311_contact: str = "12319 城管热线 hotline"
    open311_key_service: str = "api_key: ask the supervision centre's administrator (made with POST /api-keys)"


class NotifySettings(_Section):
    """Feedback to citizens (``civicgrid notifier``; docs/notify.md): callers told when their case closes."""

    # The hotline system's endpoint that receives a signed POST per message (None: no webhook).
    webhook_url: str | None = None
    # HMAC-SHA256 key of the webhook's signature, shared with the receiver. No default that works: required with
    # webhook_url, at least 24 characters.
    webhook_secret: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)  # then the notification is `failed`, shown for an operator
    backoff_s: float = Field(default=30.0, ge=0)  # before the 2nd attempt; doubling after each failure
    poll_s: float = Field(default=1.0, gt=0)
    group_id: str = "civicgrid-notify"


class CameraSettings(_Section):
    """The ONVIF camera poller (``civicgrid cameras``; part of the gateway package, writes only to Kafka)."""

    snapshot_interval_s: float = 10.0  # a camera's own snapshot_interval_s (registry) wins
    pull_timeout_s: float = 5.0  # PullMessages long poll
    connect_timeout_s: float = 10.0
    registry_refresh_s: float = 15.0  # cameras and ROIs re-read from the registry
    health_every_s: float = 30.0  # cg.status per camera at least this often (the profile's offline rule: 180 s)
    health_snapshot_every_s: float = 60.0  # the latest snapshot rides on a health record this often
    retry_backoff_s: float = 2.0  # unreachable camera: first wait, doubling up to max_backoff_s
    auth_backoff_s: float = 60.0  # refused credentials: first wait, doubling up to max_backoff_s
    max_backoff_s: float = 600.0
    max_snapshot_bytes: int = 400_000  # larger JPEGs are re-encoded smaller before they go on Kafka
    # A camera's answer is read up to this size and refused beyond it (health: snapshot-too-large).
    max_fetched_snapshot_bytes: int = Field(default=8_000_000, ge=100_000)
    qr_every: int = 6  # read QR codes on every Nth snapshot (0: never); about 30 ms per 1280×720 frame
    # JSON object {key: password} for password_ref "secrets:KEY" (mode 0600; `city load` writes one).
    secrets_file: Path | None = None
    # Several poller processes share the cameras through this Kafka consumer group (gateway/cameras/leases.py):
    # each camera is polled by one live poller, and a dead poller's cameras move to the others after
    # `session_timeout_s` (Kafka accepts 6-300 s).
    group: str = "civicgrid-camera-pollers"
    session_timeout_s: float = Field(default=10.0, ge=6.0, le=300.0)
    # The poller's /metrics and /healthz (a second poller on the same host needs its own port). Below the simulated
    # city's cameras (18201 + n) and above the workers' (18100 + i).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=18150, ge=1, le=65535)


class Jt808Settings(_Section):
    """The JT/T 808 vehicle-terminal gateway (``civicgrid jt808-gateway``, gateway/jt808/, docs/jt808.md)."""

    # Terminals connect over TCP. JT/T 808 has no registered port; 18808 sits in the stack's 18xxx range (away
    # from Kafka 18092, the gateways' 18081 + i, workers' 18100 + i, cameras' 18150 and 18201 + n) and names the
    # standard. Production listens on what the terminals are configured with (often 7611 or 6808).
    listen_host: str = "0.0.0.0"
    listen_port: int = Field(default=18808, ge=1, le=65535)
    # /metrics and /healthz; between the camera poller (18150) and the simulated cameras (18201 + n).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=18170, ge=1, le=65535)
    # Profiles whose devices may connect as JT/T 808 terminals.
    profiles: tuple[str, ...] = ("vehicle-terminal",)
    # A 0x0100 from a provisioned terminal is answered with its authentication code; off, terminals get their
    # code only from the operator (`civicgrid devices jt808-code ID`) and registration answers "terminal registered".
    allow_registration: bool = True
    # What the terminals' coordinates are: the standard's receiver coordinates (WGS-84 / CGCS2000), or a fleet that
    # reports GCJ-02, converted back to WGS-84 (civicgrid/domain/coords.py).
    coordinate_system: Literal["wgs84", "gcj02"] = "wgs84"
    # A frame is at most 2 × (21-byte 2019 header + 4-byte sub-packet item + 1023-byte body + check code) escaped,
    # plus its flags: 2,100 bytes. A longer run without 0x7e is dead-lettered and skipped.
    max_frame_bytes: int = Field(default=2200, ge=64, le=65536)
    max_subpackets: int = Field(default=64, ge=1, le=65535)  # per message: 64 × 1023 bytes
    max_pending_messages: int = Field(default=4, ge=1, le=64)  # messages assembled at once per connection
    subpacket_timeout_s: float = Field(default=60.0, gt=0)
    # A terminal heartbeats every 60 s by default (parameter 0x0001); silence for this long closes the connection.
    idle_timeout_s: float = Field(default=180.0, gt=0)
    max_connections: int = Field(default=20000, ge=1)
    max_in_flight: int = Field(default=256, ge=1)  # records per connection waiting for Kafka; reading pauses beyond
    max_errors: int = Field(default=32, ge=1)  # dead letters on one connection before it is closed
    kafka_linger_ms: int = 5


class Gb28181Settings(_Section):
    """The GB/T 28181 SIP server for video devices (``civicgrid gb28181-gateway``, docs/gb28181.md)."""

    # SIP over UDP and TCP on one port. 5060 is SIP's own; 15060 keeps clear of another SIP server on the host.
    # Production listens where its devices are configured to register (often 5060).
    listen_host: str = "0.0.0.0"
    listen_port: int = Field(default=15060, ge=1, le=65535)
    # The address devices reach the platform at (Via/From/Contact of its own requests); None: listen_host, or
    # 127.0.0.1 when that is 0.0.0.0.
    public_host: str | None = None
    # /metrics and /healthz; beside the jt808 gateway's (18170) and the carrier gateway's (18190).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=18175, ge=1, le=65535)
    # The platform's own 20-digit SIP id (中心信令控制服务器编码) and its domain (the first 10 digits: the
    # administrative area); devices are configured with both. Digest's realm is the domain.
    server_id: str = Field(default="34020000002000000001", pattern=r"^[0-9]{20}$")
    domain: str = Field(default="3402000000", pattern=r"^[0-9]{10}$")
    # Device profiles that may register (each with an event channel).
    profiles: tuple[str, ...] = ("gb28181-camera",)
    # The registration lifetime granted: a device's Expires is capped to this (and raised to min_expires_s).
    max_expires_s: int = Field(default=3600, ge=60)
    min_expires_s: int = Field(default=60, ge=1)
    nonce_ttl_s: float = Field(default=300.0, gt=0)  # a Digest nonce answered after this is stale
    # The devices' keepalive interval (GB/T 28181 default 60 s) and how many may be missed before the device is
    # offline (default 3), as the devices themselves are configured.
    keepalive_interval_s: float = Field(default=60.0, gt=0)
    keepalive_misses: int = Field(default=3, ge=1)
    catalog_timeout_s: float = Field(default=30.0, gt=0)  # a Catalog response's parts must all come within
    max_catalog_items: int = Field(default=4096, ge=1)
    # Device times carry no zone: the offset of the devices' clocks from UTC (Beijing time, +8 h).
    device_utc_offset_min: int = Field(default=480, ge=-720, le=840)
    max_message_bytes: int = Field(default=65536, ge=1024, le=1048576)  # UDP datagram or TCP message
    max_connections: int = Field(default=10000, ge=1)  # TCP
    idle_timeout_s: float = Field(default=300.0, gt=0)  # a TCP connection silent this long is closed
    max_errors: int = Field(default=32, ge=1)  # dead letters on one TCP connection before it is closed
    kafka_linger_ms: int = 5


class CarrierSettings(_Section):
    """The NB-IoT carrier push receiver (``civicgrid carrier-gateway``, gateway/carriers/, docs/carriers.md)."""

    # HTTP for the platforms' pushes, /metrics and /healthz; 18190 sits between the jt808 metrics (18170) and the
    # simulated cameras (18201 + n). Production puts it behind the city's TLS terminator.
    listen_host: str = "0.0.0.0"
    listen_port: int = Field(default=18190, ge=1, le=65535)
    # CTWing: the token of the subscription URL (…/ctwing?token=…); OneNET: the push token configured there.
    # No default: a platform without one is refused (404), and the service does not start without either.
    ctwing_token: SecretStr | None = None
    onenet_token: SecretStr | None = None
    max_body_bytes: int = Field(default=65536, ge=1024)
    # The answer waits this long for Kafka; then 503, and the platform pushes again (CTWing retries 3 times).
    kafka_timeout_s: float = Field(default=10.0, gt=0)
    binding_cache_s: float = Field(default=30.0, ge=0)  # carrier id → device, remembered this long
    # Downlink (docs/carriers.md, "Commands"): a command to a carrier-bound device goes through the platform's
    # API. CTWing/AEP: the application's App Key and App Secret (HMAC-SHA1 signature) and the product's
    # MasterKey and id; OneNET: the product id and its access key (the Authorization token), and the LwM2M
    # resource the devices execute commands on ("obj/inst/res"). No secret has a default: a platform without
    # its set refuses its devices' commands (failed, with the reason).
    ctwing_api_url: str = "https://ag-api.ctwing.cn"
    ctwing_app_key: str | None = None
    ctwing_app_secret: SecretStr | None = None
    ctwing_master_key: SecretStr | None = None
    ctwing_product_id: int | None = None
    onenet_api_url: str = "https://api.heclouds.com"
    onenet_product_id: str | None = None
    onenet_access_key: SecretStr | None = None
    onenet_command_resource: str | None = Field(default=None, pattern=r"^[0-9]{1,5}/[0-9]{1,5}/[0-9]{1,5}$")
    api_timeout_s: float = Field(default=10.0, gt=0)  # a platform API call that takes longer: timed_out


class StatisticsSettings(_Section):
    """The statistics a centre publishes (docs/statistics.md): scheduled publications and their documents."""

    # The API publishes each kind's last complete period on its own (civicgrid/statistics/schedule.py).
    schedule: bool = True
    kinds: tuple[Literal["daily", "xun", "monthly", "yearly"], ...] = ("daily", "xun", "monthly", "yearly")
    check_s: float = Field(default=600.0, gt=0)
    first_check_s: float = Field(default=30.0, ge=0)
    # Hours after a period ends before it is published (late reports of its last hour get in).
    settle_h: float = Field(default=1.0, ge=0)
    # `civicgrid publish` writes the documents here (and records them in the database like the schedule).
    output_dir: Path = Path("var/publications")
    # A TrueType CJK font for the PDFs; None: the first Debian one found (fonts-wqy-microhei, make setup).
    cjk_font: Path | None = None


class StackSettings(_Section):
    """The local service stack started by ``civicgrid stack up``.

    Ports and credentials of the services themselves come from the sections
    above (the stack parses ``db.url`` and reads ``mqtt.port``), so one setting
    moves both the server and its clients.
    """

    var_dir: Path = Path("var")
    # Apache Kafka's jars, put there by `make setup` from Maven Central (deploy/kafka/pom.xml pins the version).
    kafka_libs: Path = Path("/var/cache/civicgrid-setup/kafka/libs")
    java_bin: Path = Path("java")
    # Kafka's KRaft controller listener (the broker listens on kafka.bootstrap_servers).
    kafka_controller_port: int = 18093
    # A second Kafka listener serving TLS with the stack's CA (<var>/tls/ca.crt), for clients configured with
    # kafka.security_protocol = "SSL" and that port (the services themselves use the plaintext one on 127.0.0.1).
    kafka_tls_port: int = 18095
    # Fixed heap: Kafka keeps records in the page cache, not on the heap (docs/stack.md).
    kafka_heap_mb: int = Field(default=1024, ge=256)
    # The JVM's garbage collector and its options (split as a shell would): Kafka's own defaults.
    kafka_jvm_options: str = "-XX:+UseG1GC -XX:MaxGCPauseMillis=20"
    # Retention drops whole segments: small ones let a slow topic age out within hours.
    kafka_segment_mb: int = Field(default=64, ge=1)
    mosquitto_bin: Path = Path("/usr/sbin/mosquitto")
    pg_bindir: Path = Path("/usr/lib/postgresql/15/bin")
    # fsync/synchronous_commit/full_page_writes: off only for throwaway test clusters.
    pg_durable: bool = True
    # Mosquitto's defaults (1000 queued, 20 in flight per client) silently drop
    # QoS 1 messages to a subscriber that falls behind; see docs/stack.md.
    mqtt_max_queued_messages: int = 1_000_000
    mqtt_max_inflight_messages: int = 1000
    start_timeout_s: float = 30.0


class Settings(BaseSettings):
    """Everything configurable, in one place."""

    model_config = SettingsConfigDict(
        env_prefix="CIVICGRID_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    profiles_dir: Path = DEFAULT_PROFILES_DIR
    # The city's rule pack (docs/rules.md): catalogue, time limits, calendar, permissions, scoring as YAML files;
    # a process started with it stores it as a new rules version when it differs. None: the latest stored version,
    # else the shipped defaults.
    rules_dir: Path | None = None
    # The city's own place names a caller may say before an address (province, city, county, street names),
    # stripped when geocoding and when importing addresses (docs/geocoding.md).
    address_prefixes: tuple[str, ...] = ()
    # Every service's log lines (civicgrid/logs.py): "text" for a person at a terminal, "json" (one object a
    # line, with device_id / case_id / alarm_key when the line carries them) for a log collector.
    log_format: Literal["text", "json"] = "text"
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    db: DbSettings = Field(default_factory=DbSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    streams: StreamsSettings = Field(default_factory=StreamsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    patrol: PatrolSettings = Field(default_factory=PatrolSettings)
    statistics: StatisticsSettings = Field(default_factory=StatisticsSettings)
    cameras: CameraSettings = Field(default_factory=CameraSettings)
    jt808: Jt808Settings = Field(default_factory=Jt808Settings)
    gb28181: Gb28181Settings = Field(default_factory=Gb28181Settings)
    carriers: CarrierSettings = Field(default_factory=CarrierSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    # The platform clock (civicgrid/clock.py): the system clock unless `clock.start` makes it a simulated one.
    clock: ClockSettings = Field(default_factory=ClockSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _config_file()
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def _config_file() -> Path | None:
    explicit = os.environ.get("CIVICGRID_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"CIVICGRID_CONFIG names {path}, which is not a file")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once, optionally from an explicit TOML file; secrets left unset are read from the
    local stack's ``<var>/secrets/`` when it made them (civicgrid/local_secrets.py)."""
    from civicgrid.local_secrets import with_local_secrets

    if config is not None:
        os.environ["CIVICGRID_CONFIG"] = str(config)
    return with_local_secrets(Settings(**overrides))
