"""A device's Catalog response, assembled from its MESSAGEs (GB/T 28181-2016, 目录查询 and its 应答).

A device answers one Catalog query with as many MESSAGEs as its channels need, each with the query's SN, the
total `SumNum` and a `DeviceList` of some items; UDP brings them in any order and may lose one. Pure: the clock
comes in. A catalog completes when it holds SumNum distinct channels; one that has not after `timeout_s` is handed
back by `expired` (the gateway dead-letters it and keeps what it had before).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.gb28181.errors import Gb28181Error, Reason
from gateway.gb28181.manscdp import CatalogPart, Channel


@dataclass(slots=True)
class Pending:
    device_id: str
    sn: int
    sum_num: int
    started: float
    channels: dict[str, Channel] = field(default_factory=dict)


class Catalogs:
    """The catalogs being received, per (device, SN); at most `max_pending` at once per device."""

    def __init__(self, timeout_s: float, max_pending: int = 2) -> None:
        self.timeout_s, self.max_pending = timeout_s, max_pending
        self._pending: dict[tuple[str, int], Pending] = {}

    def add(self, device_id: str, sn: int, part: CatalogPart, now: float) -> list[Channel] | None:
        """The whole catalog once this part completes it, else None."""
        key = (device_id, sn)
        pending = self._pending.get(key)
        if pending is None:
            if sum(1 for d, _ in self._pending if d == device_id) >= self.max_pending:
                raise Gb28181Error(Reason.BAD_BODY, f"more than {self.max_pending} catalogs at once from {device_id}")
            pending = self._pending[key] = Pending(device_id, sn, part.sum_num, now)
        elif part.sum_num != pending.sum_num:
            raise Gb28181Error(Reason.BAD_BODY, f"SumNum {part.sum_num} after {pending.sum_num} for SN {sn}")
        for channel in part.items:
            pending.channels[channel.channel_id] = channel
        if len(pending.channels) >= pending.sum_num:
            del self._pending[key]
            return list(pending.channels.values())
        return None

    def expired(self, now: float) -> list[Pending]:
        gone = [p for p in self._pending.values() if now - p.started > self.timeout_s]
        for p in gone:
            del self._pending[(p.device_id, p.sn)]
        return gone

    def forget(self, device_id: str) -> None:
        for key in [k for k in self._pending if k[0] == device_id]:
            del self._pending[key]
