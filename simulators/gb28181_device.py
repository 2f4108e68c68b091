"""A simulated GB/T 28181 video device (an IPC with two channels) over asyncio UDP or TCP.

Written apart from the gateway's codec (simulators import nothing of gateway/, docs/architecture.md), from
RFC 3261, RFC 2617 and GB/T 28181-2016 Annex A, so the tests that drive the gateway with it check one
implementation against another. It registers (answering the Digest challenge), keeps alive, answers the
platform's Catalog query with its channels in separate MESSAGEs (SumNum, GB2312 bodies with Chinese names),
sends alarms and records the platform's Alarm responses, and unregisters.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))


class DeviceError(RuntimeError):
    """The platform refused the device (`status`), or did not answer in time (status 0)."""

    def __init__(self, text: str, status: int = 0) -> None:
        super().__init__(text)
        self.status = status


@dataclass
class SimChannel:
    channel_id: str
    name: str
    lon: float | None = None
    lat: float | None = None


@dataclass
class _Parsed:
    start: str
    headers: dict[str, str]
    body: bytes

    @property
    def status(self) -> int:
        parts = self.start.split(" ")
        return int(parts[1]) if self.start.startswith("SIP/2.0") else 0


def _parse(raw: bytes) -> _Parsed:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    length = int(headers.get("content-length", len(body)))
    return _Parsed(lines[0], headers, body[:length])


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def xml(root: str, fields: str, encoding: str = "GB2312") -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?>\r\n<{root}>\r\n{fields}</{root}>\r\n'.encode(encoding)


@dataclass
class Device:
    """`device_id` (20 digits) registering at `server_id`@`domain` with `password`."""

    device_id: str
    password: str
    server_id: str = "34020000002000000001"
    domain: str = "3402000000"
    transport: str = "UDP"
    local_host: str | None = None  # the address to send from (another loopback address: another host)
    channels: list[SimChannel] = field(default_factory=list)
    timeout_s: float = 5.0
    alarm_responses: list[bytes] = field(default_factory=list)
    catalog_queries: int = 0
    _cseq: int = 0
    _sn: int = 0
    _pending: dict[str, asyncio.Future[_Parsed]] = field(default_factory=dict)
    _got_alarm_response: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)

    async def connect(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        loop = asyncio.get_running_loop()
        if self.transport == "UDP":
            device = self

            class Protocol(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                    device._received(data)

            local = (self.local_host, 0) if self.local_host else None
            self._udp, _ = await loop.create_datagram_endpoint(Protocol, local_addr=local, remote_addr=(host, port))
            self.local = self._udp.get_extra_info("sockname")
        else:
            local = (self.local_host, 0) if self.local_host else None
            self._reader, self._writer = await asyncio.open_connection(host, port, local_addr=local)
            self.local = self._writer.get_extra_info("sockname")
            self._reading = asyncio.create_task(self._read_stream())

    async def close(self) -> None:
        if self.transport == "UDP":
            self._udp.close()
        else:
            self._reading.cancel()
            self._writer.close()

    def send_raw(self, data: bytes) -> None:
        if self.transport == "UDP":
            self._udp.sendto(data)
        else:
            self._writer.write(data)

    async def _read_stream(self) -> None:
        buffer = b""
        while data := await self._reader.read(65536):
            buffer += data
            while (end := buffer.find(b"\r\n\r\n")) >= 0:
                m = re.search(rb"(?i)content-length:\s*(\d+)", buffer[:end])
                total = end + 4 + (int(m.group(1)) if m else 0)
                if len(buffer) < total:
                    break
                self._received(buffer[:total])
                buffer = buffer[total:]

    # -- SIP ------------------------------------------------------------------------------------------------
    def _request(self, method: str, body: bytes = b"", extra: str = "", call_id: str | None = None,
                 ) -> tuple[str, bytes]:
        self._cseq += 1
        call_id = call_id or f"{secrets.token_hex(8)}@{self.local[0]}"
        local = f"{self.local[0]}:{self.local[1]}"
        uri = f"sip:{self.server_id}@{self.domain}"
        head = (f"{method} {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/{self.transport} {local};rport;branch=z9hG4bK{secrets.token_hex(6)}\r\n"
                f"From: <sip:{self.device_id}@{self.domain}>;tag={secrets.token_hex(4)}\r\n"
                f"To: <sip:{self.device_id if method == 'REGISTER' else self.server_id}@{self.domain}>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: {self._cseq} {method}\r\nMax-Forwards: 70\r\n"
                f"User-Agent: civicgrid-sim IPC\r\n{extra}")
        if body:
            head += "Content-Type: Application/MANSCDP+xml\r\n"
        return call_id, f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    async def _transact(self, method: str, body: bytes = b"", extra: str = "", call_id: str | None = None,
                        ) -> _Parsed:
        call_id, data = self._request(method, body, extra, call_id)
        key = f"{call_id} {self._cseq}"
        future = self._pending[key] = asyncio.get_running_loop().create_future()
        self.send_raw(data)
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise DeviceError(f"no answer to {method} in {self.timeout_s} s") from None
        finally:
            self._pending.pop(key, None)

    def _received(self, raw: bytes) -> None:
        msg = _parse(raw)
        if msg.status:
            number = msg.headers.get("cseq", "").split(" ")[0]
            future = self._pending.get(f"{msg.headers.get('call-id')} {number}")
            if future is not None and not future.done() and msg.status >= 200:
                future.set_result(msg)
            return
        self._answer(msg, 200)  # the platform's MESSAGE
        if b"<CmdType>Catalog</CmdType>" in msg.body and b"<Query>" in msg.body:
            self.catalog_queries += 1
            sn = int(re.search(rb"<SN>(\d+)</SN>", msg.body).group(1))  # type: ignore[union-attr]
            task = asyncio.ensure_future(self._send_catalog(sn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif b"<CmdType>Alarm</CmdType>" in msg.body and b"<Response>" in msg.body:
            self.alarm_responses.append(msg.body)
            self._got_alarm_response.set()

    def _answer(self, request: _Parsed, status: int) -> None:
        h = request.headers
        to = h["to"] if "tag=" in h["to"] else f"{h['to']};tag={secrets.token_hex(4)}"
        self.send_raw((f"SIP/2.0 {status} OK\r\nVia: {h['via']}\r\nFrom: {h['from']}\r\nTo: {to}\r\n"
                       f"Call-ID: {h['call-id']}\r\nCSeq: {h['cseq']}\r\nContent-Length: 0\r\n\r\n").encode())

    # -- what a device does -----------------------------------------------------------------------------------
    async def register(self, expires: int = 3600, password: str | None = None) -> _Parsed:
        """REGISTER, the 401 challenge, REGISTER with Digest credentials; the 200 answer, else DeviceError."""
        call_id = f"{secrets.token_hex(8)}@{self.local[0]}"
        extra = f"Contact: <sip:{self.device_id}@{self.local[0]}:{self.local[1]}>\r\nExpires: {expires}\r\n"
        first = await self._transact("REGISTER", extra=extra, call_id=call_id)
        if first.status != 401:
            raise DeviceError(f"REGISTER answered {first.status}, not a challenge", first.status)
        challenge = first.headers["www-authenticate"]
        realm = re.search(r'realm="([^"]*)"', challenge).group(1)  # type: ignore[union-attr]
        nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)  # type: ignore[union-attr]
        uri = f"sip:{self.server_id}@{self.domain}"
        ha1 = _md5(f"{self.device_id}:{realm}:{password or self.password}")
        response = _md5(f"{ha1}:{nonce}:{_md5(f'REGISTER:{uri}')}")
        auth = (f'Authorization: Digest username="{self.device_id}", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", response="{response}", algorithm=MD5\r\n')
        answer = await self._transact("REGISTER", extra=extra + auth, call_id=call_id)
        if answer.status != 200:
            raise DeviceError(f"REGISTER refused with {answer.status}", answer.status)
        return answer

    def _next_sn(self) -> int:
        self._sn += 1
        return self._sn

    async def message(self, body: bytes) -> int:
        return (await self._transact("MESSAGE", body)).status

    async def keepalive(self) -> int:
        return await self.message(xml("Notify", f"<CmdType>Keepalive</CmdType>\r\n<SN>{self._next_sn()}</SN>\r\n"
                                                f"<DeviceID>{self.device_id}</DeviceID>\r\n<Status>OK</Status>\r\n"))

    async def _send_catalog(self, sn: int) -> None:
        """One MESSAGE per channel, each with the whole SumNum (Annex A 目录查询应答); a device without channels
        sends nothing (it stands for one that lost the query)."""
        for channel in self.channels:
            position = "" if channel.lon is None else \
                f"<Longitude>{channel.lon}</Longitude>\r\n<Latitude>{channel.lat}</Latitude>\r\n"
            item = (f"<Item>\r\n<DeviceID>{channel.channel_id}</DeviceID>\r\n<Name>{channel.name}</Name>\r\n"
                    f"<Manufacturer>civicgrid</Manufacturer>\r\n<Model>SIM-IPC</Model>\r\n<Owner>Owner</Owner>\r\n"
                    f"<CivilCode>{self.domain[:6]}</CivilCode>\r\n<Address>{channel.name}</Address>\r\n"
                    f"<Parental>0</Parental>\r\n<ParentID>{self.device_id}</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n"
                    f"<RegisterWay>1</RegisterWay>\r\n<Secrecy>0</Secrecy>\r\n<Status>ON</Status>\r\n{position}"
                    "</Item>\r\n")
            await self.message(xml("Response", f"<CmdType>Catalog</CmdType>\r\n<SN>{sn}</SN>\r\n"
                                               f"<DeviceID>{self.device_id}</DeviceID>\r\n"
                                               f"<SumNum>{len(self.channels)}</SumNum>\r\n"
                                               f'<DeviceList Num="1">\r\n{item}</DeviceList>\r\n'))

    async def alarm(self, channel_id: str, method: int, alarm_type: int | None = None, priority: int = 1,
                    at: datetime | None = None, description: str = "", position: tuple[float, float] | None = None,
                    ) -> int:
        """A Notify/Alarm (Annex A 报警通知); the platform's status (its Alarm response follows)."""
        at = (at or datetime.now(BEIJING)).astimezone(BEIJING).replace(tzinfo=None, microsecond=0)
        fields = (f"<CmdType>Alarm</CmdType>\r\n<SN>{self._next_sn()}</SN>\r\n<DeviceID>{channel_id}</DeviceID>\r\n"
                  f"<AlarmPriority>{priority}</AlarmPriority>\r\n<AlarmMethod>{method}</AlarmMethod>\r\n"
                  f"<AlarmTime>{at.isoformat()}</AlarmTime>\r\n<AlarmDescription>{description}</AlarmDescription>\r\n")
        if position:
            fields += f"<Longitude>{position[0]}</Longitude>\r\n<Latitude>{position[1]}</Latitude>\r\n"
        if alarm_type is not None:
            fields += f"<Info>\r\n<AlarmType>{alarm_type}</AlarmType>\r\n</Info>\r\n"
        self._got_alarm_response.clear()
        return await self.message(xml("Notify", fields))

    async def alarm_response(self) -> bytes:
        await asyncio.wait_for(self._got_alarm_response.wait(), self.timeout_s)
        return self.alarm_responses[-1]

    async def unregister(self) -> int:
        return (await self.register(expires=0)).status
