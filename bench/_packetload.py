"""Shared by the benchmarks: a load generator that costs next to nothing, so the platform gets the cores (not
itself a benchmark).

What it sends is what the simulated city's devices send: before the hold, each process asks its share of the
city's devices (simulators/devices.py, every n-th from the i-th) for their readings in simulated time (the same
telemetry and events, faults included, with `seq` and `ts`), and encodes each as an MQTT 3.1.1 PUBLISH, QoS 1,
on the device's own topic. Every device logs in on its own connection with its own credentials. During the hold
a process only writes those ready packets to the sockets at its share of the offered rate, and counts the
broker's PUBACKs (4 bytes each) at the window's marks and at the end, reading between them paused: a few
microseconds a message, where a paho client spends a few hundred.

The MQTT framing here is the protocol's simplest part (CONNECT, CONNACK, PUBLISH QoS 1, PUBACK, DISCONNECT;
MQTT 3.1.1 §3.1-3.4, §3.14) written out by hand on purpose: a client library's per-message work is exactly what
this generator exists to avoid.

`PacketLoad(city_dir, settings, rate, duration_s=…).run()` returns the same summary as bench/_simload.py: messages
the broker acknowledged per channel, errors, the hold window and the acknowledged rate inside it. With
`rate=None` (the drain mode) every process sends its messages as fast as the broker takes them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import struct
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from civicgrid.settings import Settings
from simulators.city import load_city_file
from simulators.devices import SimContext, SimDevice
from simulators.scenario import KINDS

PUBACK = b"\x40\x02"
# Faults per reading (simulators/devices.py). The simulators' own 1 % is for watching alarms come in a demo; here
# a device sends a reading every fraction of a second, and 1 % made each one fault about every twenty seconds: at
# 5,000 msg/s about 36 alarm episodes a second, each raised, filed into its cover's case and cleared
# (docs/performance.md "The eighth round"). One in 5,000 is an episode a second at 5,000 msg/s, still 86,400 a
# day, above any centre's whole caseload.
DEFAULT_FAULT_RATE = 0.0002
TICK_S = 0.005  # how often a paced process tops its sending up to the schedule


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, username: str, password: str, keepalive_s: int = 120) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session, user name and password."""
    variable = _utf8("MQTT") + bytes([4, 0x80 | 0x40 | 0x02]) + struct.pack("!H", keepalive_s)
    body = variable + _utf8(client_id) + _utf8(username) + _utf8(password)
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: str, packet_id: int, payload: bytes) -> bytes:
    """PUBLISH, QoS 1, not retained."""
    body = _utf8(topic) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body


def devices_of(city_dir: Path, kinds: set[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The city's devices of these kinds that have a login (the simulators' choice, simulators/scenario.py), and
    the logins."""
    secrets: dict[str, str] = orjson.loads((city_dir / "secrets.json").read_bytes())
    return [d for d in load_city_file(city_dir)["devices"] if d["kind"] in kinds and d["id"] in secrets], secrets


def build(city_dir: Path, kinds: set[str], shard: tuple[int, int], per_device: int, spacing_s: float,
          seed: int, fault_rate: float = DEFAULT_FAULT_RATE
          ) -> tuple[list[tuple[str, str]], list[list[tuple[str, bytes]]]]:
    """Each of this shard's devices: (id, secret), and its packets in order with their channel.

    Reading j of a device is stamped `spacing_s` × j after a start a minute before now, so no reading is
    from the future when it is sent (the gateway refuses those) and each is in order."""
    specs, secrets = devices_of(city_dir, kinds)
    specs = specs[shard[0]::shard[1]]
    ctx = SimContext("127.0.0.1", 0, None, seed=seed, fault_rate=fault_rate, report_rate=0.0)  # type: ignore[arg-type]
    start = datetime.now(UTC) - timedelta(seconds=60)
    logins: list[tuple[str, str]] = []
    packets: list[list[tuple[str, bytes]]] = []
    for spec in specs:
        device: SimDevice = KINDS[spec["kind"]](spec, secrets[spec["id"]], ctx)
        mine: list[tuple[str, bytes]] = []
        j = 0
        while len(mine) < per_device:
            for channel, body in device.readings(start + timedelta(seconds=j * spacing_s)):
                mine.append((channel, publish_packet(f"cg/{device.id}/{channel}", len(mine) % 65535 + 1, body)))
            device.silent = False  # a "silent" fault is a reading missed here, not a device gone for good
            j += 1
        logins.append((device.id, device.secret))
        packets.append(mine[:per_device])
    return logins, packets


class _Connection(asyncio.Protocol):
    """One device's socket: counts the PUBACKs the broker sends back (and the CONNACK)."""

    def __init__(self) -> None:
        self.acked = 0
        self.connack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        self.writable = asyncio.Event()  # cleared while the socket's buffer is over its high-water mark
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        data = self.buffer + data
        if not self.connack.done() and len(data) >= 4:
            self.connack.set_result(data[3])  # the CONNACK's return code
            data = data[4:]
        whole = len(data) - len(data) % 4
        self.acked += whole // 4  # the broker sends this connection nothing but PUBACKs now
        self.buffer = data[whole:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def _connect(host: str, port: int, logins: list[tuple[str, str]]) -> list[_Connection]:
    """Every device logged in on its own connection (a refused login is an error: the city is not provisioned)."""
    loop = asyncio.get_running_loop()
    conns: list[_Connection] = []
    for device_id, secret in logins:
        _, conn = await loop.create_connection(_Connection, host, port)
        assert conn.transport is not None
        conn.transport.write(connect_packet(device_id, device_id, secret))
        conns.append(conn)
    codes = await asyncio.gather(*(asyncio.wait_for(c.connack, 30) for c in conns))
    refused = sum(1 for code in codes if code != 0)
    if refused:
        raise RuntimeError(f"{refused} of {len(conns)} device logins refused")
    return conns


async def _collect(conns: list[_Connection]) -> int:
    """The PUBACKs that have arrived, read now: each socket's reading is paused in between, so the 4-byte acks wait
    in the kernel instead of waking this process once per message (the generator's own CPU at 8,000 msg/s was
    about 0.8 of a core, mostly those wake-ups)."""
    for conn in conns:
        conn.transport.resume_reading()  # type: ignore[union-attr]
    await asyncio.sleep(0.01)
    for conn in conns:
        conn.transport.pause_reading()  # type: ignore[union-attr]
    return sum(c.acked for c in conns)


class _Window:
    """PUBACKs counted at the hold window's two wall-clock marks."""

    def __init__(self, conns: list[_Connection], marks: tuple[float, float], first: int) -> None:
        self.conns, self.end = conns, marks[1]
        self.counts = [first]

    def acked(self) -> int:
        return sum(c.acked for c in self.conns)

    async def check(self, *, final: bool = False) -> None:
        if len(self.counts) == 1 and (final or time.time() >= self.end):
            self.counts.append(await _collect(self.conns))


async def _send(host: str, port: int, logins: list[tuple[str, str]], packets: list[list[tuple[str, bytes]]],
                rate: float | None, marks: tuple[float, float]) -> dict[str, Any]:
    conns = await _connect(host, port, logins)
    # Round robin: the k-th message is device k mod n's next one (each device's own stay in order).
    order = [(d, i) for i in range(max(len(p) for p in packets)) for d in range(len(packets)) if i < len(packets[d])]
    await asyncio.sleep(max(0.0, marks[0] - time.time()))
    begun, sent, window = time.monotonic(), 0, _Window(conns, marks, await _collect(conns))
    channels: Counter[str] = Counter()
    while sent < len(order):
        due = len(order) if rate is None else min(len(order), int((time.monotonic() - begun) * rate) + 1)
        while sent < due:
            d, i = order[sent]
            channel, packet = packets[d][i]
            conn = conns[d]
            if not conn.writable.is_set():  # the broker is behind: wait for this socket (drain mode)
                await conn.writable.wait()
            conn.transport.write(packet)  # type: ignore[union-attr]
            channels[channel] += 1
            sent += 1
            if rate is None and sent % 2000 == 0:
                await asyncio.sleep(0)
        await window.check()
        if rate is not None:
            await asyncio.sleep(TICK_S)
    for conn in conns:  # the last PUBACKs: read as they come
        conn.transport.resume_reading()  # type: ignore[union-attr]
    deadline = time.monotonic() + 120
    while window.acked() < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        await window.check()
    acked = window.acked()
    await window.check(final=True)
    for conn in conns:
        conn.transport.write(b"\xe0\x00")  # type: ignore[union-attr]  # DISCONNECT: no Last Will
        conn.transport.close()  # type: ignore[union-attr]
    # Acknowledged per channel: the PUBACKs missing (if any) are taken off the channels in proportion.
    share = acked / sent if sent else 0.0
    return {"sent": {ch: round(n * share) for ch, n in channels.items()},
            "errors": {"unacked": sent - acked} if acked < sent else {}, "sent_total": acked,
            "window": window.counts[1] - window.counts[0], "send_s": time.monotonic() - begun}


def _run_shard(args: tuple) -> dict[str, Any]:
    city_dir, host, port, kinds, shard, per_device, spacing_s, seed, fault_rate, rate, marks = args
    logins, packets = build(city_dir, kinds, shard, per_device, spacing_s, seed, fault_rate)
    return asyncio.run(_send(host, port, logins, packets, rate, marks))


class PacketLoad:
    """The city's devices at `rate` msg/s for `duration_s` over `processes` processes (module docstring); with
    `rate` None, `messages` in all as fast as the broker takes them (the drain mode's backlog)."""

    def __init__(self, city_dir: Path, settings: Settings, rate: float | None, *, kinds: set[str],
                 duration_s: float = 60.0, messages: int | None = None, processes: int = 2, seed: int = 0,
                 warmup_s: float = 15.0, fault_rate: float = DEFAULT_FAULT_RATE) -> None:
        self.device_ids = [d["id"] for d in devices_of(Path(city_dir), kinds)[0]]
        total = messages if messages is not None else round((rate or 0) * duration_s)
        self.per_device = max(1, -(-total // len(self.device_ids)))
        self.rate, self.processes, self.hold_s, self.warmup_s = rate, processes, duration_s, warmup_s
        spacing_s = duration_s / self.per_device
        self.args = [(Path(city_dir), settings.mqtt.host, settings.mqtt.port, kinds, (i, processes), self.per_device,
                      spacing_s, seed, fault_rate, None if rate is None else rate / processes)
                     for i in range(processes)]

    def run(self) -> dict[str, Any]:
        """Build, connect (the warm-up), then send; the summed summary (module docstring)."""
        window = (time.time() + self.warmup_s, time.time() + self.warmup_s + self.hold_s)
        with multiprocessing.get_context("spawn").Pool(self.processes) as pool:
            parts = pool.map(_run_shard, [(*a, window) for a in self.args])
        sent: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        for part in parts:
            sent.update(part["sent"])
            errors.update(part["errors"])
        return {"sent": dict(sent), "errors": dict(errors), "sent_total": sum(p["sent_total"] for p in parts),
                "window": window, "offered_msgs_per_s": sum(p["window"] for p in parts) / self.hold_s,
                "send_s": max(p["send_s"] for p in parts)}
