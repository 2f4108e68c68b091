"""Which devices are registered, where they answer, and whether their keepalives say they are online. Pure: the
monotonic clock comes in, the service turns each `Change` into a `cg.status` record.

A device is online from its registration until it unregisters (Expires: 0), its registration expires, or
`misses` keepalive intervals pass without a keepalive (GB/T 28181-2016 状态信息报送: 3 × 60 s by default); a keepalive
after that brings it back online without a new registration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.registry import DeviceInfo


@dataclass(slots=True)
class Peer:
    """Where a device's messages came from and how to send it one: UDP to its address, or its TCP connection."""

    transport: str  # UDP | TCP
    host: str
    port: int
    send: Callable[[bytes], None]

    def __str__(self) -> str:
        return f"{self.transport.lower()}:{self.host}:{self.port}"


@dataclass(slots=True)
class Registration:
    device: DeviceInfo
    peer: Peer
    contact: str
    expires_at: float
    last_seen: float
    online: bool = True
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    device: DeviceInfo
    state: str  # online | offline
    detail: dict[str, Any]


class Registrations:
    def __init__(self, keepalive_interval_s: float, misses: int) -> None:
        self.silence_s = keepalive_interval_s * misses
        self._by_id: dict[str, Registration] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, device_id: str) -> Registration | None:
        return self._by_id.get(device_id)

    def online_count(self) -> int:
        return sum(1 for r in self._by_id.values() if r.online)

    def register(self, device: DeviceInfo, peer: Peer, contact: str, expires_s: float, now: float,
                 user_agent: str = "") -> tuple[Registration, bool]:
        """The registration, and whether it is new (not a refresh of a live one: the platform then asks for the
        catalog)."""
        old = self._by_id.get(device.device_id)
        fresh = old is None
        reg = Registration(device, peer, contact, now + expires_s, now, True, user_agent)
        self._by_id[device.device_id] = reg
        return reg, fresh

    def unregister(self, device_id: str) -> Registration | None:
        return self._by_id.pop(device_id, None)

    def seen(self, device_id: str, now: float) -> Registration | None:
        """A keepalive (or any message) from a registered device; its registration, which may have been offline."""
        reg = self._by_id.get(device_id)
        if reg is not None:
            reg.last_seen = now
        return reg

    def watch(self, now: float) -> list[Change]:
        """Registrations expired (dropped) and devices silent past the keepalive misses (kept, offline)."""
        changes: list[Change] = []
        for device_id, reg in list(self._by_id.items()):
            if now >= reg.expires_at:
                del self._by_id[device_id]
                if reg.online:
                    changes.append(Change(reg.device, "offline", {"reason": "registration_expired"}))
            elif reg.online and now - reg.last_seen >= self.silence_s:
                reg.online = False
                changes.append(Change(reg.device, "offline", {"reason": "keepalive_missed",
                                                              "silent_s": round(now - reg.last_seen)}))
        return changes
