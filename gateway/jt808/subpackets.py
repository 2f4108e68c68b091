"""Sub-packet reassembly for one connection, bounded in count, size and time.

A message longer than 1023 bytes travels as packets 1 … total with consecutive serial numbers
(JT/T 808-2019 §4.4.3, 2013 alike); the message is known by its id and the serial number of its first
packet (serial − index + 1). A terminal may hold the gateway's memory only within the bounds: at most
`max_packets` per message, `max_pending` messages being assembled at once, each for at most `timeout_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.jt808.errors import Jt808Error, Jt808Reason
from gateway.jt808.frames import Packet


@dataclass(slots=True)
class _Assembly:
    total: int
    started: float
    parts: dict[int, Packet] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Expired:
    """A message whose packets stopped coming: what arrived of it, for its dead letter."""

    msg_id: int
    first_serial: int
    total: int
    parts: tuple[Packet, ...]


class Reassembler:
    def __init__(self, max_packets: int, max_pending: int, timeout_s: float) -> None:
        self.max_packets, self.max_pending, self.timeout_s = max_packets, max_pending, timeout_s
        self._pending: dict[tuple[int, int], _Assembly] = {}

    def add(self, packet: Packet, now: float) -> tuple[Packet, list[Packet]] | None:
        """The whole message (one packet with the joined body, and the packets it came in) once its last packet
        is here; None while parts are missing. A packet out of bounds raises `Jt808Error` (SUBPACKET)."""
        sub = packet.subpacket
        assert sub is not None, "only sub-packets are reassembled"
        if not 1 <= sub.total <= self.max_packets:
            raise Jt808Error(Jt808Reason.SUBPACKET, f"{sub.total} packets; at most {self.max_packets} are taken")
        if not 1 <= sub.index <= sub.total:
            raise Jt808Error(Jt808Reason.SUBPACKET, f"packet {sub.index} of {sub.total}")
        key = (packet.msg_id, (packet.serial - sub.index + 1) & 0xFFFF)
        assembly = self._pending.get(key)
        if assembly is None:
            if len(self._pending) >= self.max_pending:
                raise Jt808Error(Jt808Reason.SUBPACKET, f"{len(self._pending)} messages already being assembled")
            assembly = self._pending[key] = _Assembly(sub.total, now)
        elif assembly.total != sub.total:
            raise Jt808Error(Jt808Reason.SUBPACKET, f"packet says {sub.total} packets, its first said {assembly.total}")
        assembly.parts[sub.index] = packet  # a resent packet replaces the one held
        if len(assembly.parts) < assembly.total:
            return None
        del self._pending[key]
        parts = [assembly.parts[i] for i in range(1, assembly.total + 1)]
        first = parts[0]
        whole = Packet(first.msg_id, first.phone, first.serial, b"".join(p.body for p in parts), first.edition,
                       first.protocol_version, first.encryption, None)
        return whole, parts

    def expired(self, now: float) -> list[Expired]:
        gone = [key for key, a in self._pending.items() if now - a.started > self.timeout_s]
        out = []
        for key in gone:
            a = self._pending.pop(key)
            out.append(Expired(key[0], key[1], a.total, tuple(a.parts[i] for i in sorted(a.parts))))
        return out

    def __len__(self) -> int:
        return len(self._pending)
