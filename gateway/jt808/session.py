"""One terminal's TCP connection: frames in, records to Kafka, platform answers out (after Kafka took them).

Every frame ends as records on Kafka, a dead letter with its reason, or nothing (a terminal's own general
response); the platform's general response (0x8001) to a report is written only from the delivery callback of
its last record, the rule the MQTT gateway keeps (docs/gateway.md). Nothing a terminal sends raises past
`run`: frame and body errors are dead letters, an unexpected error is logged and closes this connection only.
Bounds: the frame reader's `max_frame_bytes`, the reassembler's, `max_in_flight` records (reading pauses), an
idle timeout, `max_errors` dead letters per connection, and the answer buffer of a terminal that does not read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from civicgrid.bus import records
from civicgrid.bus import topics as kafka
from civicgrid.bus.device_records import DeviceRecord, StatusRecord
from gateway.jt808 import auth
from gateway.jt808.bodies import (
    Authentication,
    BatchLocation,
    GeneralResponse,
    MsgId,
    RegisterResponse,
    RegisterResult,
    Registration,
    Result,
)
from gateway.jt808.convert import AlarmEdges, track_data
from gateway.jt808.errors import Jt808Error, Jt808Reason
from gateway.jt808.frames import FrameReader, Oversize, Packet, decode_frame, encode_frame
from gateway.jt808.location import Location, decode_location, encode_location
from gateway.jt808.subpackets import Reassembler
from gateway.registry import DeviceInfo
from gateway.rejections import Rejected

if TYPE_CHECKING:
    from gateway.jt808.service import Jt808Gateway

log = logging.getLogger(__name__)

MAX_WRITE_BUFFER = 256 * 1024  # answers queued for a terminal that does not read them


class _Answer:
    """The general response owed for a message once its `left` Kafka deliveries are in."""

    __slots__ = ("failed", "left", "packet", "result", "serials", "session")

    def __init__(self, session: Session, packet: Packet, serials: list[int], result: Result = Result.OK) -> None:
        self.session, self.packet, self.serials, self.result = session, packet, serials, result
        self.left, self.failed = 0, False

    def delivered(self, ok: bool) -> None:
        self.left -= 1
        self.failed |= not ok
        self.session.in_flight -= 1
        if self.left == 0:
            self.session.respond(self.packet, self.serials, Result.FAILED if self.failed else self.result)
        if self.session.in_flight < self.session.gw.settings.jt808.max_in_flight:
            self.session.readable.set()


class Session:
    def __init__(self, gw: Jt808Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        j = gw.settings.jt808
        self.gw, self.reader, self.writer = gw, reader, writer
        self.frames = FrameReader(j.max_frame_bytes)
        self.reassembler = Reassembler(j.max_subpackets, j.max_pending_messages, j.subpacket_timeout_s)
        self.device: DeviceInfo | None = None
        self.edges = AlarmEdges()
        self.serial = 0  # the platform's own message serial numbers on this connection
        self.in_flight = 0
        self.readable = asyncio.Event()
        self.readable.set()
        self.errors = 0
        self.closed = False
        self.last_read = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._out: list[bytes] = []  # answers of this loop iteration, written together
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    # -- the connection ----------------------------------------------------------------
    async def run(self) -> None:
        j = self.gw.settings.jt808
        try:
            while not self.closed:
                # No timer per read (asyncio.wait_for cost ~5 % of a report, bench/jt808.py): the gateway's idle
                # sweep closes a connection silent for idle_timeout_s, which ends the read here.
                if not self.readable.is_set():
                    await self.readable.wait()
                data = await self.reader.read(65536)
                if not data:
                    break
                self.last_read = time.monotonic()
                for frame in self.frames.feed(data):
                    await self.on_frame(frame)
                for gone in self.reassembler.expired(time.monotonic()):
                    await self.dead_letter(b"".join(p.body for p in gone.parts), Jt808Reason.SUBPACKET_INCOMPLETE,
                                           f"{len(gone.parts)} of {gone.total} packets of {gone.msg_id:#06x} "
                                           f"(serial {gone.first_serial}) in {j.subpacket_timeout_s:g} s",
                                           gone.parts[0] if gone.parts else None)
                if self.errors >= j.max_errors:
                    log.warning("jt808 %s (%s): %d dead letters, connection closed", self.peer, self.terminal,
                                self.errors)
                    break
                if self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
                    log.warning("jt808 %s (%s) does not read its answers; closed", self.peer, self.terminal)
                    break
        except (ConnectionError, OSError):
            pass
        except Exception:  # a bug: this connection ends, the gateway goes on
            log.exception("jt808 %s (%s): unexpected error; connection closed", self.peer, self.terminal)
        finally:
            self.closed = True
            self.writer.close()
            if self.device is not None:
                self._status("offline", {"protocol": "jt808", "peer": self.peer})

    def close_if_idle(self, now: float, idle_s: float) -> bool:
        """Close the connection when nothing came for `idle_s` (the gateway's sweep); its read then ends."""
        if self.closed or now - self.last_read < idle_s:
            return False
        log.info("jt808 %s (%s) silent for %g s; closed", self.peer, self.terminal, idle_s)
        self.closed = True
        self.readable.set()  # a session paused for Kafka wakes, sees `closed` and ends
        self.writer.close()
        return True

    @property
    def terminal(self) -> str:
        return self.device.device_id if self.device else "unauthenticated"

    def _next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    def registered(self, packet: Packet, result: RegisterResult, code: str = "") -> None:
        self.send(packet, MsgId.REGISTER_RESPONSE, RegisterResponse(packet.serial, result, code).encode())

    def send(self, packet: Packet, msg_id: MsgId, body: bytes) -> None:
        if self.closed or self.writer.is_closing():
            return
        answer = Packet(msg_id, packet.phone, self._next_serial(), body, packet.edition, packet.protocol_version)
        if not self._out:  # the deliveries of one Kafka poll answer in one write (a send() each cost more)
            self._loop.call_soon(self._flush)
        self._out.append(encode_frame(answer))

    def _flush(self) -> None:
        data, self._out = b"".join(self._out), []
        if data and not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    def respond(self, packet: Packet, serials: list[int], result: Result) -> None:
        for serial in serials:
            self.send(packet, MsgId.PLATFORM_RESPONSE, GeneralResponse(serial, packet.msg_id, result).encode())

    # -- frames ------------------------------------------------------------------------
    async def on_frame(self, frame: bytes | Oversize) -> None:
        if isinstance(frame, Oversize):
            await self.dead_letter(frame.head, Jt808Reason.OVERSIZE,
                                   f"{frame.size} bytes without a closing 0x7e (limit "
                                   f"{self.gw.settings.jt808.max_frame_bytes})", None, size=frame.size)
            return
        try:
            packet = decode_frame(frame)
        except Jt808Error as exc:
            await self.dead_letter(frame, exc.reason, exc.detail, None)
            return
        self.gw.metrics.frame_in(packet.msg_id)
        serials = [packet.serial]
        if packet.encryption:
            await self.dead_letter(frame, Jt808Reason.ENCRYPTED, f"encryption bits {packet.encryption}", packet,
                                   Result.NOT_SUPPORTED)
            return
        if packet.subpacket is not None:
            try:
                whole = self.reassembler.add(packet, time.monotonic())
            except Jt808Error as exc:
                await self.dead_letter(frame, exc.reason, exc.detail, packet, Result.MESSAGE_ERROR)
                return
            self.gw.metrics.subpackets.inc()
            if whole is None:
                return  # answered with the whole message, once Kafka has it
            packet, parts = whole
            serials = [p.serial for p in parts]
        try:
            await self.on_packet(packet, serials)
        except Jt808Error as exc:
            await self.dead_letter(packet.body, exc.reason, exc.detail, packet, Result.MESSAGE_ERROR, serials)

    async def on_packet(self, packet: Packet, serials: list[int]) -> None:
        msg = packet.msg_id
        if msg == MsgId.REGISTER:
            await self.register(packet)
        elif msg == MsgId.AUTHENTICATE:
            await self.authenticate(packet, serials)
        elif msg == MsgId.TERMINAL_RESPONSE:
            GeneralResponse.decode(packet.body)  # the terminal's answer to a platform message: nothing owed
        elif msg not in (MsgId.HEARTBEAT, MsgId.LOCATION, MsgId.BATCH_LOCATION):
            await self.dead_letter(packet.body, Jt808Reason.UNKNOWN_MESSAGE, f"message id {msg:#06x}", packet,
                                   Result.NOT_SUPPORTED, serials)
        elif self.device is None or packet.terminal_id != self.device.device_id:
            await self.dead_letter(packet.body, Jt808Reason.UNAUTHENTICATED,
                                   f"{msg:#06x} from {packet.terminal_id} before its authentication", packet,
                                   Result.FAILED, serials)
        elif msg == MsgId.HEARTBEAT:
            self.respond(packet, serials, Result.OK)
        elif msg == MsgId.LOCATION:
            await self.report(packet, serials, [decode_location(packet.body)], blind_area=False)
        else:
            batch = BatchLocation.decode(packet.body)
            await self.report(packet, serials, list(batch.locations), batch.blind_area)

    # -- registration and authentication ------------------------------------------------
    async def _terminal(self, packet: Packet) -> tuple[DeviceInfo | None, Jt808Reason | None]:
        device = await asyncio.to_thread(self.gw.registry.get, packet.terminal_id)
        if device is None or device.profile not in self.gw.settings.jt808.profiles:
            return None, Jt808Reason.UNKNOWN_TERMINAL
        if not device.enabled:
            return None, Jt808Reason.DEVICE_DISABLED
        return device, None

    async def register(self, packet: Packet) -> None:
        registration = Registration.decode(packet.body, packet.edition)
        device, refused = await self._terminal(packet)
        if refused is not None or device is None:
            self.gw.metrics.auth.labels("register_refused").inc()
            await self.dead_letter(packet.body, refused or Jt808Reason.UNKNOWN_TERMINAL,
                                   f"registration of {packet.terminal_id} (plate {registration.plate})", packet)
            self.registered(packet, RegisterResult.NO_TERMINAL)
            return
        if not self.gw.settings.jt808.allow_registration:
            self.gw.metrics.auth.labels("register_closed").inc()
            self.registered(packet, RegisterResult.TERMINAL_REGISTERED)
            return
        secret_hash = await asyncio.to_thread(self.gw.secrets.get, device.device_id)
        if secret_hash is None:
            self.registered(packet, RegisterResult.NO_TERMINAL)
            return
        log.info("jt808 %s registered %s (plate %s, terminal %s, %s)", self.peer, device.device_id,
                 registration.plate, registration.terminal, packet.edition.value)
        self.gw.metrics.auth.labels("registered").inc()
        self.registered(packet, RegisterResult.OK, auth.auth_code(device.device_id, secret_hash))

    async def authenticate(self, packet: Packet, serials: list[int]) -> None:
        credentials = Authentication.decode(packet.body, packet.edition)
        device, refused = await self._terminal(packet)
        secret_hash = None if device is None else await asyncio.to_thread(self.gw.secrets.get, device.device_id)
        if device is None or secret_hash is None or not auth.code_matches(device.device_id, secret_hash,
                                                                           credentials.code):
            self.gw.metrics.auth.labels("refused").inc()
            await self.dead_letter(b"", refused or Jt808Reason.AUTH_FAILED,  # the code itself is not kept
                                   f"authentication of {packet.terminal_id} refused", packet, Result.FAILED, serials)
            return
        self.device = device
        self.edges = AlarmEdges()
        self.gw.metrics.auth.labels("ok").inc()
        answer = _Answer(self, packet, serials)
        self._status("online", {"protocol": "jt808", "edition": packet.edition.value, "peer": self.peer,
                                "imei": credentials.imei, "software_version": credentials.software_version}, answer)

    def _status(self, state: str, detail: dict[str, Any], answer: _Answer | None = None) -> None:
        assert self.device is not None
        record = StatusRecord(device_id=self.device.device_id, kind=self.device.kind, state=state,
                              ts=datetime.now(UTC), retained=False, source="device", profile=self.device.profile,
                              detail=detail)
        self.gw.produce(kafka.STATUS, self.device.key, record.encode(), answer)

    # -- reports ---------------------------------------------------------------------------
    async def report(self, packet: Packet, serials: list[int], locations: list[Location], blind_area: bool) -> None:
        assert self.device is not None
        device, received_at = self.device, datetime.now(UTC)
        validate_track, validate_event = self.gw.validators[device.profile]
        out: list[tuple[str, bytes]] = []
        for loc in locations:
            if loc.time - received_at > self.gw.max_future:
                await self.dead_letter(encode_location(loc), Jt808Reason.CLOCK_FUTURE,
                                       f"fix time {loc.time.isoformat()} is ahead of the gateway clock", packet)
                continue
            data = track_data(loc, self.gw.settings.jt808.coordinate_system, blind_area)
            try:
                checked = validate_track({k: v for k, v in data.items() if v is not None})
                events = [] if blind_area else self.edges.events(loc, data)
                checked_events = [(e, validate_event(e.data)) for e in events]
            except Rejected as exc:
                await self.dead_letter(encode_location(loc), Jt808Reason.SCHEMA, exc.detail, packet)
                continue
            ts_ms = int(loc.time.timestamp() * 1000)
            if not checked["fix_valid"]:
                checked.update(lat=None, lon=None)
            out.append((kafka.TRACKS, DeviceRecord(device.device_id, device.kind, device.profile, "track", ts_ms,
                                                   loc.time, received_at, checked, **device.links).encode()))
            out.extend((kafka.EVENTS, DeviceRecord(device.device_id, device.kind, device.profile, "event",
                                                   e.seq(ts_ms), loc.time, received_at, d, **device.links).encode())
                       for e, d in checked_events)
        if not out:  # every position was refused (each has its dead letter)
            self.respond(packet, serials, Result.MESSAGE_ERROR)
            return
        answer = _Answer(self, packet, serials)
        for topic, value in out:
            self.gw.produce(topic, device.key, value, answer)

    # -- dead letters ----------------------------------------------------------------------
    async def dead_letter(self, payload: bytes, reason: Jt808Reason, detail: str, packet: Packet | None,
                          result: Result | None = None, serials: list[int] | None = None, size: int | None = None,
                          ) -> None:
        """The frame's dead letter; with `result`, the general response that says so once Kafka has it."""
        self.errors += 1
        device_id = packet.terminal_id if packet is not None else (self.device.device_id if self.device else None)
        origin = f"jt808:{packet.msg_id:#06x}" if packet is not None else "jt808"
        record = records.DeadLetterRecord.of(payload=payload, mqtt_topic=origin, device_id=device_id,
                                             reason=str(reason), detail=f"{detail} (from {self.peer})"[:500],
                                             received_at=datetime.now(UTC), keep_bytes=records.DEAD_LETTER_KEEP_BYTES)
        if size is not None:
            record.size = size
        answer = _Answer(self, packet, serials or [packet.serial], result) if packet and result is not None else None
        self.gw.metrics.dead_letters.labels(str(reason)).inc()
        self.gw.produce(kafka.DEADLETTER, (device_id or "unknown").encode(), record.encode(), answer)
