"""Duplicate suppression by ``(device_id, seq)``.

QoS 1 is at-least-once: the broker redelivers a message whose PUBACK it did
not see.  A per-device window of recently seen sequence numbers, each with
the hash of its payload, tells a redelivery (same seq, same bytes: drop) from
a device that restarted its counter (same seq, different bytes: accept).  The
window lives in memory: after a gateway restart the idempotent sinks
downstream (unique keys on ``(device_id, seq, time)``) remove what slips through.
"""

from __future__ import annotations

from collections import OrderedDict


class SeqWindow:
    def __init__(self, per_device: int = 256) -> None:
        self.per_device = per_device
        self._seen: dict[str, OrderedDict[int, int]] = {}

    def is_duplicate(self, device_id: str, seq: int, payload: bytes) -> bool:
        """True if this exact message was seen; otherwise remember it and return False."""
        window = self._seen.get(device_id)
        if window is None:
            window = self._seen[device_id] = OrderedDict()
        digest = hash(payload)
        if window.get(seq) == digest:
            return True
        window[seq] = digest
        window.move_to_end(seq)
        if len(window) > self.per_device:
            window.popitem(last=False)
        return False

    def forget(self, device_id: str, seq: int) -> None:
        """Un-remember a message whose produce failed for good, so its redelivery is not dropped."""
        window = self._seen.get(device_id)
        if window is not None:
            window.pop(seq, None)
