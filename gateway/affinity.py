"""Device-affine gateways: each device's messages go through exactly one of N gateway processes.

Why not the broker's shared subscription: Mosquitto deals a share group's messages to its members in turn,
message by message, so one device's readings go through every gateway. While one gateway stalls or is dead
(its share waits in its persistent session until it is back), the device's newer readings reach Kafka
first, and the alarm rules, which count a device's consecutive readings in arrival order, miss or split
episodes (measured: 10 of 15 tilt episodes on a cover; docs/gateway.md "Several gateways").

So every gateway subscribes to every device topic *without* a share group, forwards only the devices whose
id hashes to its index (`owner`), and acknowledges the rest unread. A device's order then holds through one
gateway and its idempotent producer; a dead gateway's devices wait in its session until it is back under
its client id, as before. The price is N deliveries of each message from the broker and a topic parse in
each gateway (measured in docs/performance.md).

The hash is CRC-32 of the device id: stable across processes, versions and machines (Python's `hash()` of
a str is salted per process), and cheap. Changing N moves devices between gateways; docs/gateway.md says
how to do it without losing messages.
"""

from __future__ import annotations

import zlib

TOPIC_ROOT = "cg/"


def owner(device_id: str, instances: int) -> int:
    """The index (0 … `instances` - 1) of the gateway that forwards `device_id`'s messages."""
    return zlib.crc32(device_id.encode()) % instances


class Affinity:
    """Which topics this gateway forwards: `owns(topic)` for `cg/<device>/…`, remembered per device."""

    def __init__(self, instance: int, instances: int) -> None:
        if not 0 <= instance < instances:
            raise ValueError(f"gateway instance {instance} is not one of 0 … {instances - 1}")
        self.instance, self.instances = instance, instances
        self._owned: dict[str, bool] = {}

    def owns(self, topic: str) -> bool:
        """True for this gateway's devices, and for any topic it cannot place: the ingestor gives that one
        its dead letter, once, from the gateway that owns index 0."""
        if self.instances == 1:
            return True
        end = topic.find("/", len(TOPIC_ROOT))
        if not topic.startswith(TOPIC_ROOT) or end < 0:
            return self.instance == 0
        device = topic[len(TOPIC_ROOT):end]
        owned = self._owned.get(device)
        if owned is None:
            owned = self._owned[device] = owner(device, self.instances) == self.instance
        return owned
