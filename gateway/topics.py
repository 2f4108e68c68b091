"""MQTT topic → (device id, channel), per docs/architecture.md's contract ``cg/{device_id}/{channel}``."""

from __future__ import annotations

from dataclasses import dataclass

from civicgrid.bus import topics as kafka
from civicgrid.profiles import CHANNELS
from gateway.rejections import Reason, Rejected

COMMAND_ACK = "cmd/ack"
COMMAND = "cmd"
REFUSED = "refused"  # downlink: the gateway's refusal notices (gateway/refusals.py)
DOWNLINK = (COMMAND, REFUSED)

# Where each device channel goes in Kafka.
KAFKA_TOPIC_OF_CHANNEL = {
    "telemetry": kafka.TELEMETRY,
    "event": kafka.EVENTS,
    "track": kafka.TRACKS,
    "report": kafka.REPORTS,
    "status": kafka.STATUS,
    COMMAND_ACK: kafka.COMMAND_ACKS,
}


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    device_id: str
    channel: str


def parse_topic(topic: str) -> DeviceTopic:
    match topic.split("/"):
        case ["cg", device_id, channel] if device_id and (channel in CHANNELS or channel in DOWNLINK):
            return DeviceTopic(device_id, channel)
        case ["cg", device_id, "cmd", "ack"] if device_id:
            return DeviceTopic(device_id, COMMAND_ACK)
        case ["cg", device_id, channel] if device_id:
            raise Rejected(Reason.UNKNOWN_CHANNEL, f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    raise Rejected(Reason.BAD_TOPIC, f"topic {topic!r} is not cg/<device id>/<channel>")
