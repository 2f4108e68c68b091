"""SIP over UDP and TCP on one port (RFC 3261 §18): bytes in, whole messages to the handler, answers out.

UDP: one datagram is one message; a datagram over `max_message_bytes` is dead-lettered and dropped, and datagrams
beyond `MAX_PENDING_DATAGRAMS` being handled at once are shed unread (counted). TCP: messages
are cut by Content-Length (sip.StreamReader); a connection that overflows, stays silent `idle_timeout_s`, or earns
`max_errors` dead letters is closed, and `max_connections` bounds the process. Nothing a peer sends raises past
here: the handler logs what it did not expect, and this connection (never the server) ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from gateway.gb28181.errors import Gb28181Error, Reason
from gateway.gb28181.registrations import Peer
from gateway.gb28181.sip import StreamReader

log = logging.getLogger(__name__)

Handler = Callable[[bytes, Peer], Awaitable[bool]]  # True when the message was refused (a dead letter)
Refuse = Callable[[bytes, Reason, str, Peer], Awaitable[None]]
MAX_WRITE_BUFFER = 256 * 1024
MAX_PENDING_DATAGRAMS = 1024  # UDP messages being handled at once (each may wait on a registry lookup)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: SipServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # the selector's class is no subclass of it

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        host, port = str(addr[0]), int(addr[1])
        transport = self.transport
        assert transport is not None
        peer = Peer("UDP", host, port, lambda out: transport.sendto(out, (host, port)))
        if not data.strip(b"\r\n\x00 "):
            return  # a keep-alive ping (CRLF) or an empty datagram
        if len(self.server.tasks) >= MAX_PENDING_DATAGRAMS:  # a flood: shed it rather than queue without bound
            self.server.shed += 1
            return
        task = asyncio.ensure_future(self.server.on_udp(data, peer))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)


class SipServer:
    def __init__(self, handle: Handler, refuse: Refuse, *, max_message_bytes: int, max_connections: int,
                 idle_timeout_s: float, max_errors: int) -> None:
        self.handle, self.refuse = handle, refuse
        self.max_message_bytes, self.max_connections = max_message_bytes, max_connections
        self.idle_timeout_s, self.max_errors = idle_timeout_s, max_errors
        self.connections = 0
        self.shed = 0  # datagrams dropped unread at MAX_PENDING_DATAGRAMS
        self.tasks: set[asyncio.Future[None]] = set()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._tcp = await asyncio.start_server(self._connected, host, port, limit=self.max_message_bytes * 2)
        self._udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, port))

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self.tasks):
            task.cancel()

    async def on_udp(self, data: bytes, peer: Peer) -> None:
        try:
            if len(data) > self.max_message_bytes:
                await self.refuse(data, Reason.OVERSIZE, f"a {len(data)}-byte datagram (limit "
                                                         f"{self.max_message_bytes})", peer)
                return
            await self.handle(data, peer)
        except Exception:  # a bug: this message is lost, the server goes on
            log.exception("gb28181 %s: unexpected error on a datagram", peer)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.max_connections:
            writer.close()
            return
        self.connections += 1
        self._writers.add(writer)
        address = writer.get_extra_info("peername")
        host, port = (str(address[0]), int(address[1])) if isinstance(address, tuple) else (str(address), 0)

        def send(out: bytes) -> None:
            if not writer.is_closing():
                writer.write(out)

        peer = Peer("TCP", host, port, send)
        messages = StreamReader(self.max_message_bytes)
        errors = 0
        try:
            while errors < self.max_errors:
                data = await asyncio.wait_for(reader.read(65536), self.idle_timeout_s)
                if not data:
                    break
                try:
                    whole = messages.feed(data)
                except Gb28181Error as exc:  # the next message's start is lost: refuse and close
                    await self.refuse(data[:4096], exc.reason, exc.detail, peer)
                    break
                for message in whole:
                    errors += await self.handle(message, peer)
                if writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
                    log.warning("gb28181 %s does not read its answers; closed", peer)
                    break
            else:
                log.warning("gb28181 %s: %d dead letters, connection closed", peer, errors)
        except TimeoutError:
            log.info("gb28181 %s silent for %g s; closed", peer, self.idle_timeout_s)
        except (ConnectionError, OSError):
            pass
        except Exception:
            log.exception("gb28181 %s: unexpected error; connection closed", peer)
        finally:
            self.connections -= 1
            self._writers.discard(writer)
            writer.close()
