"""What each request of a registered (or registering) device becomes: REGISTER with Digest, MESSAGE Keepalive,
Catalog response, Alarm; and the platform's own MESSAGEs to a device (docs/gb28181.md).

The process (gateway/gb28181/service.py) owns the sockets, Kafka, the registry and the watch; this module the
rules of the exchange, through it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from civicgrid.bus import topics as kafka
from civicgrid.bus.device_records import DeviceRecord
from civicgrid.store import gb28181 as store
from civicgrid.store.db import connect
from gateway.gb28181 import digest, manscdp, sip
from gateway.gb28181.convert import event_data, event_seq
from gateway.gb28181.errors import Gb28181Error, Reason
from gateway.gb28181.manscdp import Command
from gateway.gb28181.registrations import Peer, Registration
from gateway.registry import DeviceInfo
from gateway.rejections import Rejected

if TYPE_CHECKING:
    from gateway.gb28181.service import Gb28181Gateway

log = logging.getLogger(__name__)


class Requests:
    def __init__(self, gw: Gb28181Gateway) -> None:
        self.gw = gw

    async def _device(self, device_id: str | None) -> tuple[DeviceInfo | None, Reason | None]:
        if not device_id:
            return None, Reason.UNKNOWN_DEVICE
        device = await asyncio.to_thread(self.gw.registry.get, device_id)
        if device is None or device.profile not in self.gw.settings.profiles:
            return None, Reason.UNKNOWN_DEVICE
        if not device.enabled:
            return None, Reason.DEVICE_DISABLED
        return device, None

    async def register(self, request: sip.Message, data: bytes, peer: Peer) -> bool:
        g = self.gw.settings
        device_id = sip.uri_user(request.get("from") or "")
        authorization = request.get("authorization")
        credentials = digest.parse_authorization(authorization) if authorization else None
        nonce_state = self.gw.nonces.check(credentials.nonce, time.monotonic()) if credentials else "forged"
        if credentials is None or nonce_state != "ok":
            self.gw.metrics.auth.labels("challenged").inc()
            self.gw.answer(request, peer, 401, [("www-authenticate", digest.challenge(
                g.domain, self.gw.nonces.issue(time.monotonic()), stale=nonce_state == "stale"))])
            return False
        device, refused = await self._device(device_id)
        secret_hash = None if device is None else await asyncio.to_thread(self.gw.secrets.get, device.device_id)
        if (device is None or secret_hash is None or credentials.username != device.device_id
                or not digest.response_matches(credentials, "REGISTER", digest.sip_password(device.device_id,
                                                                                            secret_hash))):
            self.gw.metrics.auth.labels("refused").inc()
            detail = f"REGISTER of {device_id} as {credentials.username!r} refused"
            # the dead letter keeps no bytes: the Authorization header is not for the dead-letter topic
            self.gw.dead_letter(b"", refused or Reason.AUTH_FAILED, detail, peer, device_id, "REGISTER")
            self.gw.answer(request, peer, 403)
            return True
        expires = _expires(request)
        if expires == 0:
            gone = self.gw.registrations.unregister(device.device_id)
            self.gw.catalogs.forget(device.device_id)
            self.gw.metrics.auth.labels("unregistered").inc()
            if gone is not None and gone.online:
                self.gw.status(device, "offline", {"reason": "unregistered", "peer": str(peer)})
            self.gw.answer(request, peer, 200, [("expires", "0")])
            self.gw.gauges()
            return False
        expires = max(g.min_expires_s, min(expires if expires is not None else g.max_expires_s, g.max_expires_s))
        contact = request.get("contact") or f"<sip:{device.device_id}@{peer.host}:{peer.port}>"
        reg, fresh = self.gw.registrations.register(device, peer, contact, expires, time.monotonic(),
                                                 (request.get("user-agent") or "")[:100])
        self.gw.metrics.auth.labels("ok").inc()
        now_local = datetime.now(self.gw.device_zone).replace(tzinfo=None).isoformat(timespec="milliseconds")
        self.gw.answer(request, peer, 200, [("contact", contact), ("expires", str(expires)), ("date", now_local)])
        self.gw.status(device, "online", {"peer": str(peer), "expires_s": expires, "user_agent": reg.user_agent})
        if fresh:
            log.info("gb28181 %s registered %s for %d s (%s)", peer, device.device_id, expires, reg.user_agent)
        if fresh or device.device_id not in self.gw.channels:  # a lost query (UDP, sent once) is asked again here
            self.send_message(reg, manscdp.catalog_query(self.gw.next_sn(), device.device_id))
        self.gw.gauges()
        return False

    async def message(self, request: sip.Message, data: bytes, peer: Peer) -> bool:
        device_id = sip.uri_user(request.get("from") or "") or ""
        reg = self.gw.registrations.get(device_id)
        if reg is None:
            exc = Gb28181Error(Reason.UNREGISTERED, f"MESSAGE from {device_id or 'an unnamed sender'}, not registered")
            self.gw.refuse(data, exc, request, peer, 403)  # the device registers again
            return True
        if peer.host != reg.peer.host:  # MESSAGE carries no credentials: only a Digest REGISTER moves a device
            exc = Gb28181Error(Reason.UNREGISTERED, f"MESSAGE from {device_id} at {peer.host}, registered at "
                                                    f"{reg.peer.host}")
            self.gw.refuse(data, exc, request, peer, 403)
            return True
        self.gw.registrations.seen(device_id, time.monotonic())
        if (reg.peer.transport, reg.peer.port) != (peer.transport, peer.port):
            reg.peer = peer  # a NAT rebinding, or a new TCP connection from the same host: answer where it is now
        cmd = Command.of(request.body)
        self.gw.metrics.command(cmd.cmd_type)
        resumed, reg.online = not reg.online, True  # a sign of life after the keepalives were missed
        what = (cmd.root, cmd.cmd_type)
        if what != ("Notify", "Keepalive") and resumed:
            self.gw.status(reg.device, "online", {"peer": str(peer), "resumed": True})
        if what == ("Notify", "Keepalive"):
            self.gw.answer(request, peer, 200)
            self.gw.status(reg.device, "online", {"keepalive": manscdp.keepalive_status(cmd), "resumed": resumed})
        elif what == ("Response", "Catalog"):
            self.gw.answer(request, peer, 200)
            await self.catalog(reg, cmd, peer)
        elif what == ("Notify", "Alarm"):
            self.alarm(reg, cmd, request, data, peer)
        else:
            self.gw.answer(request, peer, 200)
            self.gw.dead_letter(data, Reason.UNKNOWN_COMMAND, f"{cmd.root}/{cmd.cmd_type[:40]} is not taken", peer,
                             device_id, "MESSAGE")
        return False

    async def catalog(self, reg: Registration, cmd: Command, peer: Peer) -> None:
        part = manscdp.catalog_part(cmd, self.gw.settings.max_catalog_items)
        channels = self.gw.catalogs.add(reg.device.device_id, cmd.sn, part, time.monotonic())
        if channels is None:
            return
        device_id = reg.device.device_id
        self.gw.channels[device_id] = {c.channel_id: c for c in channels}  # known at once: no query on a refresh

        def write() -> None:
            with connect(self.gw.db, autocommit=True) as conn:
                store.replace_channels(conn, device_id, cmd.sn, [c.as_json() for c in channels])

        try:
            await asyncio.to_thread(write)
        except Exception:  # the database away: forgotten, so the device's next registration refresh asks again
            log.exception("gb28181 %s: catalog of %s (%d channels) not stored", peer, device_id, len(channels))
            self.gw.channels.pop(device_id, None)
            return
        self.gw.metrics.channels_stored.inc(len(channels))
        log.info("gb28181 %s: catalog of %s stored, %d channel(s)", peer, device_id, len(channels))

    def alarm(self, reg: Registration, cmd: Command, request: sip.Message, data: bytes, peer: Peer) -> None:
        alarm = manscdp.alarm(cmd, self.gw.settings.device_utc_offset_min)
        device, received = reg.device, datetime.now(UTC)
        at = alarm.time or received
        if at - received > self.gw.max_future:
            exc = Gb28181Error(Reason.CLOCK_FUTURE, f"AlarmTime {at.isoformat()} is ahead of the gateway clock")
            self.gw.refuse(data, exc, request, peer)
            return
        channel = self.gw.channels.get(device.device_id, {}).get(alarm.channel_id)
        try:
            checked = self.gw.validators[device.profile](event_data(alarm, channel))
        except Rejected as exc:
            self.gw.refuse(data, Gb28181Error(Reason.SCHEMA, exc.detail), request, peer)
            return
        record = DeviceRecord(device.device_id, device.kind, device.profile, "event", event_seq(alarm, at), at,
                              received, checked, **device.links)

        def delivered(ok: bool) -> None:  # answered once Kafka has the event: a device resends an unanswered one
            if not ok:
                self.gw.answer(request, peer, 500)
                return
            self.gw.answer(request, peer, 200)
            self.send_message(reg, manscdp.alarm_response(alarm.sn, alarm.channel_id))

        self.gw.produce(kafka.EVENTS, device.key, record.encode(), delivered)

    # -- the platform's own requests ------------------------------------------------------------
    def send_message(self, reg: Registration, body: bytes) -> None:
        """A MESSAGE from the platform to a registered device, over the transport it registered on. Over UDP it is
        sent once (no retransmission timer): a lost Catalog query is asked again at the next registration."""
        g, peer, host = self.gw.settings, reg.peer, self.gw.host
        device_id = reg.device.device_id
        request = sip.Message(method="MESSAGE", uri=f"sip:{device_id}@{peer.host}:{peer.port}", body=body, headers=[
            ("via", f"SIP/2.0/{peer.transport} {host}:{g.listen_port};rport;branch=z9hG4bK{secrets.token_hex(8)}"),
            ("from", f"<sip:{g.server_id}@{g.domain}>;tag={secrets.token_hex(4)}"),
            ("to", f"<sip:{device_id}@{g.domain}>"), ("call-id", f"{secrets.token_hex(8)}@{host}"),
            ("cseq", f"{next(self.gw.cseq)} MESSAGE"), ("max-forwards", "70"), ("user-agent", "civicgrid"),
            ("content-type", "Application/MANSCDP+xml")])
        peer.send(request.encode())


def _expires(request: sip.Message) -> int | None:
    """The lifetime asked: the Contact's `expires` parameter, else the Expires header (RFC 3261 §10.2.1.1)."""
    contact = request.get("contact")
    value = sip.param(contact, "expires") if contact else None
    value = value if value is not None else request.get("expires")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise Gb28181Error(Reason.BAD_SIP, f"Expires {value[:20]!r}")
    return int(value)
