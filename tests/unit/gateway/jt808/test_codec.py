"""The JT/T 808 codec against frames published by two well-known open implementations, and round trips.

Sources of the byte sequences (each test names its own):
- SmallChi/JT808 (C#, MIT), src/JT808.Protocol.Test/MessageBody/JT808_0x0100Test.cs, JT808_0x0102Test.cs and
  JT808_0x0200Test.cs: 2013 and 2019 registration, 2013 authentication, 2013 location reports (one with escapes).
- hylexus/xtream-codec (Java, the JT/T 808 server starter's debug UI), debug/jt/jt-808-server-spring-boot-starter-
  debug-ui/src/utils/codec-utils.ts: 2019 location report, batch upload, 0x8001 and 0x8100.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.jt808 import bodies, frames, location
from gateway.jt808.bodies import Authentication, BatchLocation, GeneralResponse, MsgId, RegisterResponse, Registration
from gateway.jt808.errors import Jt808Error, Jt808Reason
from gateway.jt808.frames import Edition, Packet, SubPacket, decode_frame, encode_frame
from gateway.jt808.location import Location, decode_location, encode_location


def inner(hex_frame: str) -> bytes:
    """A published frame's bytes between the two 0x7e flags."""
    raw = bytes.fromhex(hex_frame.replace(" ", ""))
    assert raw[0] == raw[-1] == 0x7E
    return raw[1:-1]


# SmallChi/JT808 JT808_0x0200Test.Demo1/Demo2: serial 126 (0x007e → 7d 02) and fuel 125 (0x007d → 7d 01).
SMALLCHI_0200_ESCAPED = ("7E02000026123456789012007D02000000010000000200BA7F0E07E4F11C0028003C00001810151010100104"
                         "000000640202007D01137E")
# SmallChi/JT808 JT808_0x0200Test.Test5.
SMALLCHI_0200 = ("7E 02 00 00 26 11 22 33 44 55 66 22 B8 00 00 00 01 00 00 00 02 00 BA 7F 0E 07 E4 F1 1C 00 28 00 3C"
                 " 00 00 18 07 15 10 10 10 01 04 00 00 00 64 02 02 00 37 57 7E")
# SmallChi/JT808 JT808_0x0100Test.Test1 (2013) and Test2019_1 (2019).
SMALLCHI_0100_2013 = ("7E0100002D000123456789000A002800323132333430736D616C6C6368693132333030303030303030304348"
                      "493132333001D4C1413132333435BA7E")
SMALLCHI_0100_2019 = ("7E010040540100000000000123456789000A002800323030303030303031323334303030303030303030303030303030"
                      "30303030736D616C6C63686931323330303030303030303030303030303030303030303030303043484931323301D4C1"
                      "413132333435B27E")
# SmallChi/JT808 JT808_0x0102Test.Test3.
SMALLCHI_0102_2013 = "7E010200090123456789003039343536313231313131BE7E"
# xtream-codec codec-utils.ts: BuiltinMessage0200, BuiltinMessage0704, BuiltinMessage8001, BuiltinMessage8100.
XTREAM_0200_2019 = ("7e02004026010000000001391234432900000000006f0000001601dc9a0707456246007b00420003250129223344"
                    "0202006401040000000c417e")
XTREAM_0704_2019 = ("7e0704403f01000000000139123443290000000200001c000000010000000101d907f2073d336c029a002100592410"
                    "29213903001c000000010000000101d907f3073d336d03090043005a241029213903f87e")
XTREAM_8001_2019 = "7e8001400501000000000139123443290000006f020000dc7e"
XTREAM_8100_2019 = "7e8100400d01000000000139123443290000006f006f6b2e2e6f6b2e2e6f6bd27e"


def test_2013_location_with_escapes_decodes_and_encodes_to_the_same_bytes() -> None:
    packet = decode_frame(inner(SMALLCHI_0200_ESCAPED))
    assert (packet.msg_id, packet.phone, packet.serial, packet.edition) == (0x0200, "123456789012", 126, Edition.V2013)
    loc = decode_location(packet.body)
    assert (loc.alarm, loc.status, loc.lat_e6, loc.lon_e6) == (1, 2, 12222222, 132444444)
    assert (loc.altitude_m, loc.speed_dkmh, loc.direction) == (40, 60, 0)
    assert loc.time == datetime(2018, 10, 15, 2, 10, 10, tzinfo=UTC)  # 10:10:10 Beijing time
    assert location.item_fields(loc.items) == {"mileage_km": 10.0, "fuel_l": 12.5}
    assert encode_frame(packet).hex().upper() == SMALLCHI_0200_ESCAPED


def test_2013_location_test5() -> None:
    packet = decode_frame(inner(SMALLCHI_0200))
    assert (packet.phone, packet.serial, packet.terminal_id) == ("112233445566", 8888, "112233445566")
    loc = decode_location(packet.body)
    assert loc.time == datetime(2018, 7, 15, 2, 10, 10, tzinfo=UTC)
    assert location.item_fields(loc.items) == {"mileage_km": 10.0, "fuel_l": 5.5}
    assert loc.positioned and loc.alarms() == ["emergency"]


def test_2013_registration() -> None:
    packet = decode_frame(inner(SMALLCHI_0100_2013))
    assert (packet.msg_id, packet.serial, packet.terminal_id) == (MsgId.REGISTER, 10, "123456789")
    reg = Registration.decode(packet.body, packet.edition)
    assert (reg.province, reg.city, reg.maker, reg.terminal, reg.plate_color, reg.plate) == (
        40, 50, "12340", "CHI1230", 1, "粤A12345")
    assert reg.model == "smallchi123000000000"
    assert encode_frame(packet).hex().upper() == SMALLCHI_0100_2013


def test_2019_registration() -> None:
    packet = decode_frame(inner(SMALLCHI_0100_2019))
    assert (packet.edition, packet.protocol_version, packet.phone) == (Edition.V2019, 1, "00000000000123456789")
    assert packet.terminal_id == "123456789"  # the same id the 2013 edition gives
    reg = Registration.decode(packet.body, packet.edition)
    assert (reg.maker, reg.terminal, reg.plate) == ("00000001234", "CHI123".rjust(30, "0"), "粤A12345")
    assert reg.encode(Edition.V2019) == packet.body
    assert encode_frame(packet).hex().upper() == SMALLCHI_0100_2019


def test_2013_authentication() -> None:
    packet = decode_frame(inner(SMALLCHI_0102_2013))
    assert (packet.msg_id, packet.serial, packet.terminal_id) == (MsgId.AUTHENTICATE, 12345, "12345678900")
    assert Authentication.decode(packet.body, packet.edition) == Authentication("456121111")


def test_2019_authentication_round_trip_with_imei_and_software_version() -> None:
    auth = Authentication("a1b2c3", imei="860000000000001", software_version="V1.2.3")
    body = auth.encode(Edition.V2019)
    assert body[0] == 6 and len(body) == 1 + 6 + 15 + 20
    assert Authentication.decode(body, Edition.V2019) == auth
    with pytest.raises(Jt808Error) as exc:
        Authentication.decode(body[:-1], Edition.V2019)
    assert exc.value.reason is Jt808Reason.BAD_BODY


def test_2019_location_report() -> None:
    packet = decode_frame(inner(XTREAM_0200_2019))
    assert (packet.edition, packet.terminal_id) == (Edition.V2019, "13912344329")
    loc = decode_location(packet.body)
    assert (loc.alarm, loc.status, loc.lat_e6, loc.lon_e6, loc.altitude_m, loc.speed_dkmh, loc.direction) == (
        111, 22, 31234567, 121987654, 123, 66, 3)
    assert loc.time == datetime(2025, 1, 29, 14, 33, 44, tzinfo=UTC)
    assert location.item_fields(loc.items) == {"fuel_l": 10.0, "mileage_km": 1.2}
    assert encode_frame(packet) == bytes.fromhex(XTREAM_0200_2019)


def test_2019_batch_location_upload() -> None:
    packet = decode_frame(inner(XTREAM_0704_2019))
    batch = BatchLocation.decode(packet.body)
    assert not batch.blind_area
    assert [(loc.lat_e6, loc.lon_e6, loc.altitude_m, loc.speed_dkmh, loc.direction) for loc in batch.locations] == [
        (31000562, 121451372, 666, 33, 89), (31000563, 121451373, 777, 67, 90)]
    assert batch.encode() == packet.body


def test_platform_general_response_and_registration_response() -> None:
    packet = decode_frame(inner(XTREAM_8001_2019))
    assert GeneralResponse.decode(packet.body) == GeneralResponse(111, 0x0200, 0)
    answer = Packet(MsgId.PLATFORM_RESPONSE, "00000000013912344329", 0, GeneralResponse(111, 0x0200, 0).encode(),
                    Edition.V2019, 1)
    assert encode_frame(answer) == bytes.fromhex(XTREAM_8001_2019)
    packet = decode_frame(inner(XTREAM_8100_2019))
    assert RegisterResponse.decode(packet.body) == RegisterResponse(111, 0, "ok..ok..ok")
    assert RegisterResponse(111, 0, "ok..ok..ok").encode() == packet.body
    assert RegisterResponse(111, bodies.RegisterResult.NO_TERMINAL, "ignored").encode() == bytes.fromhex("006f04")


def checked(hex_content: str) -> bytes:
    content = bytes.fromhex(hex_content)
    return frames.escape(content + bytes((frames.check_code(content),)))


@pytest.mark.parametrize(("frame", "reason"), [
    (bytes.fromhex("0200") + b"\x7d\x03" + bytes(12), Jt808Reason.BAD_ESCAPE),
    (bytes.fromhex("0200") + bytes(10) + b"\x7d", Jt808Reason.BAD_ESCAPE),
    (inner(SMALLCHI_0200)[:-1] + b"\x00", Jt808Reason.BAD_CHECK_CODE),
    (bytes(5), Jt808Reason.BAD_HEADER),
    (checked("000200050000000000000001"), Jt808Reason.BAD_HEADER),  # the header says 5 body bytes, there are none
    (checked("0002000000000000000a0001"), Jt808Reason.BAD_HEADER),  # a phone number that is not BCD
    (checked("000220000000000000000001"), Jt808Reason.BAD_HEADER),  # a sub-packet without its item
])
def test_malformed_frames_are_refused_with_their_reason(frame: bytes, reason: Jt808Reason) -> None:
    with pytest.raises(Jt808Error) as exc:
        decode_frame(frame)
    assert exc.value.reason is reason


def test_location_with_bad_items_and_times() -> None:
    loc = Location(0, 3, 31_460_000, 116_940_000, 30, 350, 90, datetime(2026, 11, 24, 1, 20, tzinfo=UTC),
                   (location.item(0x01, 1234.5), location.overspeed_item(), location.area_item(1, 7, False)))
    body = encode_location(loc)
    assert decode_location(body) == loc
    assert location.item_fields(loc.items) == {"mileage_km": 1234.5, "overspeed_area_type": "none",
                                               "area_type": "circle", "area_id": 7, "area_direction": "in"}
    for bad in (body[:27], body[:-1], body[:22] + bytes.fromhex("261399000000") + body[28:]):
        with pytest.raises(Jt808Error) as exc:
            decode_location(bad)
        assert exc.value.reason is Jt808Reason.BAD_BODY


def test_the_video_terminals_items_0x14_to_0x18_become_fields() -> None:
    # JT/T 1078-2016 Tables 13-15: 0x14 video alarms (bits 0 signal lost, 5 abnormal driving), 0x15 channels
    # 1 and 3 lost, 0x16 channel 2 blocked, 0x17 main storage 1 failed, 0x18 phone call and smoking at level 40.
    items = bytes.fromhex("140400000021" "150400000005" "160400000002" "17020001" "1803000628")
    loc = decode_location(encode_location(Location(0, 3, 31_460_000, 116_940_000, 30, 350, 90,
                                                    datetime(2026, 11, 24, 1, 20, tzinfo=UTC))) + items)
    assert location.item_fields(loc.items) == {
        "video_alarm_flags": 0x21, "video_lost_channels": 0b101, "video_blocked_channels": 0b10,
        "storage_fault_flags": 1, "abnormal_driving": ["phone_call", "smoking"], "fatigue_level": 40}
    assert location.abnormal_driving_item(0b110, 40) == (0x18, bytes.fromhex("000628"))
    with pytest.raises(Jt808Error) as exc:
        location.item_fields(((0x18, b"\x00\x06"),))
    assert exc.value.reason is Jt808Reason.BAD_BODY


def test_south_and_west_hemispheres_follow_the_status_bits() -> None:
    loc = Location(0, 0b1110, 33_868_800, 151_209_300, 0, 0, 0, datetime(2026, 1, 1, tzinfo=UTC))
    assert (loc.lat, loc.lon) == (-33.8688, -151.2093)


def test_frame_reader_splits_bounds_and_recovers() -> None:
    a, b = encode_frame(decode_frame(inner(SMALLCHI_0200))), bytes.fromhex(SMALLCHI_0102_2013)
    reader = frames.FrameReader(max_frame=200)
    stream = a + b + a[1:]  # the third frame shares its opening flag with the second's closing one
    got = [out for i in range(0, len(stream), 7) for out in reader.feed(stream[i:i + 7])]
    assert got == [a[1:-1], b[1:-1], a[1:-1]]
    flood = reader.feed(b"\x7e" + b"\x01" * 500) + reader.feed(b"\x02" * 500 + a)
    assert isinstance(flood[0], frames.Oversize) and flood[0].size > 200 and len(flood[0].head) == 500
    assert flood[1:] == [a[1:-1]] and reader.pending == 0


def test_sub_packets_reassemble_within_bounds() -> None:
    from gateway.jt808.subpackets import Reassembler

    body = bytes(range(256)) * 10
    parts = frames.split_message(MsgId.BATCH_LOCATION, "13912344329", 65534, body, Edition.V2013)
    assert [p.serial for p in parts] == [65534, 65535, 0] and all(p.subpacket for p in parts)
    wire = [decode_frame(encode_frame(p)[1:-1]) for p in parts]
    assembler = Reassembler(max_packets=8, max_pending=2, timeout_s=30)
    assert assembler.add(wire[2], 0) is None and assembler.add(wire[0], 1) is None
    whole, used = assembler.add(wire[1], 2) or (None, [])
    assert whole is not None and whole.body == body and whole.serial == 65534 and len(used) == 3
    assert len(assembler) == 0
    with pytest.raises(Jt808Error):
        assembler.add(Packet(0x0704, "1", 1, b"", subpacket=SubPacket(9, 1)), 3)
    with pytest.raises(Jt808Error):
        assembler.add(Packet(0x0704, "1", 1, b"", subpacket=SubPacket(2, 3)), 3)
    assembler.add(Packet(0x0704, "1", 10, b"x", subpacket=SubPacket(2, 1)), 3)
    assembler.add(Packet(0x0704, "1", 20, b"x", subpacket=SubPacket(2, 1)), 3)
    with pytest.raises(Jt808Error):
        assembler.add(Packet(0x0704, "1", 30, b"x", subpacket=SubPacket(2, 1)), 3)
    expired = assembler.expired(40)
    assert sorted(e.first_serial for e in expired) == [10, 20] and len(assembler) == 0

packets = st.builds(
    Packet, st.integers(0, 0xFFFF), st.from_regex(r"\A[0-9]{12}\Z"), st.integers(0, 0xFFFF),
    st.binary(max_size=1023), st.just(Edition.V2013), st.just(0), st.integers(0, 7),
    st.none() | st.builds(SubPacket, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)))
packets_2019 = packets.map(lambda p: Packet(p.msg_id, p.phone.rjust(20, "0"), p.serial, p.body, Edition.V2019, 1,
                                            p.encryption, p.subpacket))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(packets | packets_2019)
def test_any_packet_round_trips(packet: Packet) -> None:
    wire = encode_frame(packet)
    assert b"\x7e" not in wire[1:-1]
    assert decode_frame(wire[1:-1]) == packet


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused_with_a_reason(raw: bytes) -> None:
    try:
        packet = decode_frame(raw)
    except Jt808Error as exc:
        assert exc.reason in Jt808Reason
        return
    for parse in (decode_location, BatchLocation.decode, GeneralResponse.decode,
                  lambda b: Registration.decode(b, packet.edition), lambda b: Authentication.decode(b, packet.edition)):
        with contextlib.suppress(Jt808Error):
            parse(packet.body)
