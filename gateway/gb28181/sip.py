"""The SIP message codec GB/T 28181 needs (RFC 3261 §7, §8.2.6, §18; RFC 3581 rport), small and strict.

No maintained Python SIP library fits: PyPI's `aiosip` (0.2.0, 2017) is abandoned, `aiosipua` and `pysipio` are
one-author micro-libraries, `pjsua2` is a C stack's binding for user agents. A GB/T 28181 platform needs only to
read a request or response, answer with the header echo rules, and write its own MESSAGE requests, so the codec
is written here: a start line, headers (compact forms expanded, repeated headers kept in order), and a body of
exactly Content-Length bytes. Anything else is a `SipError` whose reason the gateway dead-letters; a request whose
Via, From, To, Call-ID and CSeq were read gets 400 with the reason, anything less is dropped (no address to answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.gb28181.errors import Gb28181Error, Reason

SIP_VERSION = "SIP/2.0"
CRLF = b"\r\n"
# RFC 3261 §7.3.3: the compact forms a device may use.
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}
# Headers a response copies from its request (RFC 3261 §8.2.6.2), in the order written.
ECHOED = ("via", "from", "to", "call-id", "cseq")
REQUIRED = ("via", "from", "to", "call-id", "cseq")
CANONICAL = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq", "contact": "Contact",
             "content-length": "Content-Length", "content-type": "Content-Type", "www-authenticate": "WWW-Authenticate",
             "authorization": "Authorization", "max-forwards": "Max-Forwards", "expires": "Expires",
             "user-agent": "User-Agent", "date": "Date", "subject": "Subject", "supported": "Supported"}
REASONS = {100: "Trying", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
           481: "Call/Transaction Does Not Exist", 500: "Server Internal Error", 503: "Service Unavailable"}
_METHOD = re.compile(r"^[A-Z]{2,16}$")
_TOKEN_PARAM = re.compile(r";\s*([A-Za-z0-9.!%*_+`'~-]+)(?:\s*=\s*(\"[^\"]*\"|[^;,\s]*))?")


@dataclass(slots=True)
class Message:
    """A request (`method` and `uri` set) or a response (`status` set); headers in arrival order, names lowered."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def set(self, name: str, value: str) -> None:
        name = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k != name] + [(name, value)]

    @property
    def cseq(self) -> tuple[int, str]:
        raw = self.get("cseq") or ""
        number, _, method = raw.strip().partition(" ")
        if not number.isdigit() or not method.strip():
            raise Gb28181Error(Reason.BAD_SIP, f"CSeq {raw!r}")
        return int(number), method.strip().upper()

    def encode(self) -> bytes:
        start = f"{self.method} {self.uri} {SIP_VERSION}" if self.is_request else \
            f"{SIP_VERSION} {self.status} {self.reason or REASONS.get(self.status, '')}"
        lines = [start] + [f"{CANONICAL.get(k, k.title())}: {v}" for k, v in self.headers if k != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def decode(data: bytes, *, stream: bool = False) -> Message:
    """One whole message. Over TCP (`stream`) Content-Length is required; over UDP it may be absent (the rest of
    the datagram is the body) and must not exceed what arrived."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = data.partition(b"\n\n")  # bare LF line ends: tolerated (RFC 3261 §7 asks CRLF)
        if not sep:
            raise Gb28181Error(Reason.BAD_SIP, "no blank line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise Gb28181Error(Reason.BAD_SIP, "headers are not UTF-8") from None
    message = _start_line(text.replace("\r\n", "\n").split("\n", 1)[0])
    _headers(message, text.replace("\r\n", "\n").split("\n")[1:])
    length = message.get("content-length")
    if length is None:
        if stream:
            raise Gb28181Error(Reason.BAD_SIP, "no Content-Length on a stream transport", message)
        message.body = rest
    else:
        if not length.strip().isdigit():
            raise Gb28181Error(Reason.BAD_SIP, f"Content-Length {length[:20]!r}", message)
        size = int(length)
        if size > len(rest):
            raise Gb28181Error(Reason.BAD_SIP, f"Content-Length {size} but {len(rest)} body bytes", message)
        message.body = rest[:size]
    if message.is_request:
        try:
            check_request(message)
        except Gb28181Error as exc:
            exc.message = message
            raise
    return message


def _headers(message: Message, lines: list[str]) -> None:
    for line in lines:
        if line[:1] in (" ", "\t") and message.headers:  # folded continuation (RFC 3261 §7.3.1)
            name, value = message.headers[-1]
            message.headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name:
            raise Gb28181Error(Reason.BAD_SIP, f"header line {line[:80]!r}")
        name = COMPACT.get(name, name)
        if name == "via" and "," in value:
            message.headers.extend((name, part.strip()) for part in value.split(","))  # several Vias in one line
        else:
            message.headers.append((name, value.strip()))


def _start_line(line: str) -> Message:
    parts = line.strip().split(" ", 2)
    if len(parts) == 3 and parts[0] == SIP_VERSION:
        if not (parts[1].isdigit() and len(parts[1]) == 3):
            raise Gb28181Error(Reason.BAD_SIP, f"status line {line[:80]!r}")
        return Message(status=int(parts[1]), reason=parts[2])
    if len(parts) == 3 and parts[2] == SIP_VERSION and _METHOD.match(parts[0]) and parts[1]:
        return Message(method=parts[0], uri=parts[1])
    raise Gb28181Error(Reason.BAD_SIP, f"start line {line[:80]!r}")


def check_request(message: Message) -> None:
    """The headers every request must carry (RFC 3261 §8.1.1), and a CSeq naming the request's method."""
    missing = [h for h in REQUIRED if message.get(h) is None]
    if missing:
        raise Gb28181Error(Reason.BAD_SIP, f"missing {', '.join(CANONICAL[h] for h in missing)}")
    _, method = message.cseq
    if method != message.method:
        raise Gb28181Error(Reason.BAD_SIP, f"CSeq method {method} on a {message.method}")


def answerable(message: Message) -> bool:
    """A request a response can be built for: it has every header the response copies."""
    return message.is_request and all(message.get(h) is not None for h in ECHOED)


def response(request: Message, status: int, *, to_tag: str | None = None, source: tuple[str, int] | None = None,
             headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> Message:
    """The response to `request` (RFC 3261 §8.2.6.2): its Vias, From, To, Call-ID and CSeq copied; a To tag added
    when the request's To has none (`to_tag`); over UDP (`source`) the top Via gets `received` and, if it asked
    with a bare `rport`, the port (RFC 3581), which is also where the answer goes."""
    out = Message(status=status, reason=REASONS.get(status, ""))
    vias = request.all("via")
    if vias and source is not None:
        vias = [with_received(vias[0], *source), *vias[1:]]
    out.headers.extend(("via", v) for v in vias)
    for name in ECHOED[1:]:
        value = request.get(name)
        if value is None:
            continue
        if name == "to" and to_tag and param(value, "tag") is None:
            value = f"{value};tag={to_tag}"
        out.headers.append((name, value))
    out.headers.extend(headers or [])
    out.body = body
    return out


def with_received(via: str, host: str, port: int) -> str:
    params = dict(params_of(via))
    if "rport" in params and not params["rport"]:
        via = re.sub(r";\s*rport(?=;|$)", f";rport={port}", via)
    if "received" not in params:
        via = f"{via};received={host}"
    return via


def params_of(value: str) -> list[tuple[str, str]]:
    """The `;name=value` parameters after a header's address (quotes removed); a bare `;name` has value ''."""
    after = value.rsplit(">", 1)[1] if ">" in value else value[value.find(";"):] if ";" in value else ""
    return [(m.group(1).lower(), (m.group(2) or "").strip('"')) for m in _TOKEN_PARAM.finditer(after)]


def param(value: str, name: str) -> str | None:
    return next((v for k, v in params_of(value) if k == name), None)


def uri_user(value: str) -> str | None:
    """The user part of a From/To/Contact/Request-URI (`34020000001320000001` of `<sip:3402...@3402000000>`)."""
    m = re.search(r"sips?:([^@;>\s]+)@", value)
    return m.group(1) if m else None


def uri_of(value: str) -> str:
    """The URI of a name-addr (`<sip:…>`) or addr-spec."""
    m = re.search(r"<([^>]*)>", value)
    return m.group(1) if m else value.split(";", 1)[0].strip()


def via_transport(via: str) -> str:
    """`UDP` of `SIP/2.0/UDP host:port;branch=…`."""
    m = re.match(r"\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z]+)", via)
    return m.group(1).upper() if m else ""


class StreamReader:
    """Whole messages out of a TCP byte stream, by Content-Length; CRLF keep-alives between them are skipped
    (RFC 5626 §3.5.1). A header block longer than `max_bytes`, or a body that would make the message longer, is
    an error: the connection cannot find the next message's start, so the gateway closes it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self.max_bytes:
                    raise Gb28181Error(Reason.OVERSIZE, f"{len(self._buffer)} bytes without the end of the headers")
                return out
            head = self._buffer[:end]
            m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d{1,9})[ \t]*$", head)
            if m is None:
                raise Gb28181Error(Reason.BAD_SIP, "no Content-Length on a stream transport")
            total = end + 4 + int(m.group(1))
            if total > self.max_bytes:
                raise Gb28181Error(Reason.OVERSIZE, f"a {total}-byte message (limit {self.max_bytes})")
            if len(self._buffer) < total:
                return out
            out.append(self._buffer[:total])
            self._buffer = self._buffer[total:]
