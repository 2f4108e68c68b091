"""The SIP codec against RFC 3261's own messages (§24.2, the registration of §10) and GB/T 28181-2016-style ones,
the response echo rules (§8.2.6.2, RFC 3581 rport), and malformed messages refused by reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.gb28181 import sip
from gateway.gb28181.errors import Gb28181Error, Reason

# RFC 3261 §24.2 F1 (Bob's REGISTER), with its own header order and values.
RFC3261_REGISTER = (
    b"REGISTER sip:registrar.biloxi.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.com>\r\n"
    b"From: Bob <sip:bob@biloxi.com>;tag=456248\r\n"
    b"Call-ID: 843817637684230@998sdasdh09\r\n"
    b"CSeq: 1826 REGISTER\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Expires: 7200\r\n"
    b"Content-Length: 0\r\n\r\n")

# A GB/T 28181-2016 keepalive as devices send it (状态信息报送, its Annex A body), compact forms and a GB2312 body.
KEEPALIVE_BODY = ('<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
                  "<SN>43</SN>\r\n<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
                  ).encode("gb2312")
KEEPALIVE = (
    b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273\r\n"
    b"f: <sip:34020000001320000001@3402000000>;tag=2043466181\r\n"
    b"t: <sip:34020000002000000001@3402000000>\r\n"
    b"i: 1152690398\r\n"
    b"CSeq: 20 MESSAGE\r\n"
    b"c: Application/MANSCDP+xml\r\n"
    b"Max-Forwards: 70\r\n"
    b"User-Agent: IP Camera\r\n"
    b"l: " + str(len(KEEPALIVE_BODY)).encode() + b"\r\n\r\n" + KEEPALIVE_BODY)


def test_rfc3261_register_decodes_with_every_header() -> None:
    m = sip.decode(RFC3261_REGISTER)
    assert (m.method, m.uri) == ("REGISTER", "sip:registrar.biloxi.com")
    assert m.cseq == (1826, "REGISTER")
    assert m.get("Call-ID") == "843817637684230@998sdasdh09"
    assert sip.uri_user(m.get("from") or "") == "bob"
    assert sip.param(m.get("from") or "", "tag") == "456248"
    assert sip.param(m.all("via")[0], "branch") == "z9hG4bKnashds7"
    assert sip.via_transport(m.all("via")[0]) == "UDP"
    assert m.body == b""


def test_response_echoes_via_from_to_call_id_cseq_and_adds_a_to_tag() -> None:
    """RFC 3261 §24.2 F2: the 200 OK carries the request's Via, From, Call-ID, CSeq, and To with a tag."""
    request = sip.decode(RFC3261_REGISTER)
    out = sip.decode(sip.response(request, 200, to_tag="2493k59kd").encode())
    assert (out.status, out.reason) == (200, "OK")
    for name in ("via", "from", "call-id", "cseq"):
        assert out.all(name) == request.all(name)
    assert out.get("to") == "Bob <sip:bob@biloxi.com>;tag=2493k59kd"
    # a To that already has a tag keeps it
    to = b"To: Bob <sip:bob@biloxi.com>"
    tagged = sip.decode(RFC3261_REGISTER.replace(to, to + b";tag=1"))
    assert sip.decode(sip.response(tagged, 200, to_tag="x").encode()).get("to") == "Bob <sip:bob@biloxi.com>;tag=1"


def test_udp_response_fills_rport_and_received() -> None:
    """RFC 3581 §4: a bare rport gets the source port, and received the source address."""
    request = sip.decode(KEEPALIVE)
    out = sip.decode(sip.response(request, 200, to_tag="1", source=("10.1.2.3", 40001)).encode())
    via = out.all("via")[0]
    assert sip.param(via, "rport") == "40001" and sip.param(via, "received") == "10.1.2.3"
    assert sip.param(via, "branch") == "z9hG4bK1371463273"


def test_compact_forms_and_gb2312_body() -> None:
    m = sip.decode(KEEPALIVE)
    assert m.method == "MESSAGE" and m.get("call-id") == "1152690398"
    assert m.get("content-type") == "Application/MANSCDP+xml"
    assert m.body == KEEPALIVE_BODY


def test_several_vias_in_one_line_are_kept_in_order() -> None:
    raw = RFC3261_REGISTER.replace(b"Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7",
                                   b"Via: SIP/2.0/UDP a.example:5060;branch=z9hG4bK1, "
                                   b"SIP/2.0/UDP b.example;branch=z9hG4bK2")
    assert [sip.param(v, "branch") for v in sip.decode(raw).all("via")] == ["z9hG4bK1", "z9hG4bK2"]


def test_encode_then_decode_is_the_same_message() -> None:
    m = sip.decode(KEEPALIVE)
    again = sip.decode(m.encode())
    assert again.headers == m.headers and again.body == m.body and again.method == m.method


@pytest.mark.parametrize(("raw", "why"), [
    (b"HELLO\r\n\r\n", "start line"),
    (b"REGISTER sip:x SIP/3.0\r\nVia: x\r\n\r\n", "start line"),
    (b"SIP/2.0 2000 OK\r\n\r\n", "status line"),
    (RFC3261_REGISTER.replace(b"Max-Forwards: 70", b"Max Forwards 70"), "header line"),
    (RFC3261_REGISTER.replace(b"Content-Length: 0", b"Content-Length: 99"), "Content-Length 99"),
    (RFC3261_REGISTER.replace(b"Content-Length: 0", b"Content-Length: -1"), "Content-Length"),
    (RFC3261_REGISTER.replace(b"Call-ID: 843817637684230@998sdasdh09\r\n", b""), "missing Call-ID"),
    (RFC3261_REGISTER.replace(b"CSeq: 1826 REGISTER", b"CSeq: 1826 MESSAGE"), "CSeq method"),
    (RFC3261_REGISTER.replace(b"\r\n\r\n", b"\r\n"), "no blank line"),
    (b"REGISTER sip:x SIP/2.0\r\nVia: \xff\xfe\r\n\r\n", "not UTF-8"),
])
def test_malformed_messages_are_refused_with_a_reason(raw: bytes, why: str) -> None:
    with pytest.raises(Gb28181Error) as caught:
        sip.decode(raw)
    assert caught.value.reason == Reason.BAD_SIP and why in caught.value.detail


def test_a_request_read_far_enough_can_still_be_answered_400() -> None:
    with pytest.raises(Gb28181Error) as caught:
        sip.decode(RFC3261_REGISTER.replace(b"Content-Length: 0", b"Content-Length: 99"))
    partial = caught.value.message
    assert isinstance(partial, sip.Message) and sip.answerable(partial)
    assert sip.response(partial, 400).encode().startswith(b"SIP/2.0 400 Bad Request\r\n")


def test_stream_reader_cuts_messages_by_content_length_and_skips_crlf_pings() -> None:
    reader = sip.StreamReader(max_bytes=4096)
    stream = b"\r\n\r\n" + RFC3261_REGISTER + KEEPALIVE + b"\r\n"
    out = []
    for i in range(0, len(stream), 7):  # arriving in small pieces
        out.extend(reader.feed(stream[i:i + 7]))
    assert out == [RFC3261_REGISTER, KEEPALIVE]


def test_stream_reader_refuses_an_oversize_or_unframed_message() -> None:
    with pytest.raises(Gb28181Error) as caught:
        sip.StreamReader(max_bytes=200).feed(b"MESSAGE sip:x SIP/2.0\r\n" + b"X-A: b\r\n" * 40)
    assert caught.value.reason == Reason.OVERSIZE
    with pytest.raises(Gb28181Error) as caught:
        sip.StreamReader(max_bytes=4096).feed(RFC3261_REGISTER.replace(b"Content-Length: 0\r\n", b""))
    assert caught.value.reason == Reason.BAD_SIP


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=400), st.integers(0, len(KEEPALIVE)))
def test_any_bytes_decode_or_raise_a_reason(noise: bytes, at: int) -> None:
    for raw in (noise, KEEPALIVE[:at] + noise + KEEPALIVE[at:]):
        try:
            sip.decode(raw)
        except Gb28181Error as exc:
            assert exc.reason in (Reason.BAD_SIP,)
