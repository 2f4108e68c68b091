"""MANSCDP bodies (GB/T 28181-2016 Annex A): encodings, the Catalog response in parts, alarms → event data,
registrations' keepalive watch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.gb28181 import manscdp
from gateway.gb28181.catalog import Catalogs
from gateway.gb28181.convert import event_data, event_seq
from gateway.gb28181.errors import Gb28181Error, Reason
from gateway.gb28181.manscdp import Command
from gateway.gb28181.registrations import Peer, Registrations
from gateway.registry import DeviceInfo

DEVICE = "34020000001320000001"


def catalog(sn: int, sum_num: int, *items: tuple[str, str, str], encoding: str = "GB2312") -> bytes:
    body = "".join(f"<Item><DeviceID>{i}</DeviceID><Name>{name}</Name><Status>ON</Status>{extra}</Item>"
                   for i, name, extra in items)
    return (f'<?xml version="1.0" encoding="{encoding}"?>\r\n<Response><CmdType>Catalog</CmdType><SN>{sn}</SN>'
            f'<DeviceID>{DEVICE}</DeviceID><SumNum>{sum_num}</SumNum><DeviceList Num="{len(items)}">{body}'
            "</DeviceList></Response>").encode(encoding)


def test_gb2312_and_gbk_bodies_decode_by_their_declaration() -> None:
    for encoding in ("GB2312", "GBK", "UTF-8"):
        cmd = Command.of(catalog(7, 1, ("34020000001320000101", "东门广场 1 号", ""), encoding=encoding))
        part = manscdp.catalog_part(cmd, 100)
        assert (cmd.root, cmd.cmd_type, cmd.sn, cmd.device_id) == ("Response", "Catalog", 7, DEVICE)
        assert part.items[0].name == "东门广场 1 号"
    # GBK text labelled GB2312 (devices do): read as GB18030, its superset
    assert Command.of('<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Keepalive</CmdType><SN>1</SN>'
                      '<DeviceID>镕</DeviceID></Notify>'.encode("gbk")).device_id == "镕"
    # no declaration: UTF-8, else GB18030
    assert Command.of("<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>东</DeviceID></Notify>"
                      .encode("gb18030")).device_id == "东"


@pytest.mark.parametrize(("body", "reason", "why"), [
    (b"", Reason.BAD_XML, "empty"),
    (b"<Notify><CmdType>Keepalive</CmdType>", Reason.BAD_XML, ""),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Notify>&a;</Notify>', Reason.BAD_XML, "DOCTYPE"),
    (b'<?xml version="1.0" encoding="no-such"?><Notify/>', Reason.BAD_XML, "not decodable"),
    (b"<Notify><SN>1</SN><DeviceID>1</DeviceID></Notify>", Reason.BAD_XML, "without CmdType"),
    (b"<Notify><CmdType>Keepalive</CmdType><DeviceID>1</DeviceID></Notify>", Reason.BAD_BODY, "no SN"),
    (b"<Notify><CmdType>Keepalive</CmdType><SN>x</SN><DeviceID>1</DeviceID></Notify>", Reason.BAD_BODY, "SN"),
    (b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN></Notify>", Reason.BAD_BODY, "DeviceID"),
])
def test_bad_bodies_are_refused_with_a_reason(body: bytes, reason: Reason, why: str) -> None:
    with pytest.raises(Gb28181Error) as caught:
        Command.of(body)
    assert caught.value.reason == reason and why in caught.value.detail


def test_catalog_arrives_in_parts_in_any_order_and_completes_at_sum_num() -> None:
    catalogs = Catalogs(timeout_s=30)
    second = manscdp.catalog_part(Command.of(catalog(9, 2, ("C2", "二", "<Longitude>116.9</Longitude>"
                                                                            "<Latitude>31.4</Latitude>"))), 100)
    first = manscdp.catalog_part(Command.of(catalog(9, 2, ("C1", "一", ""))), 100)
    assert catalogs.add(DEVICE, 9, second, now=0.0) is None
    assert catalogs.add(DEVICE, 9, second, now=0.1) is None  # a UDP resend counts once
    done = catalogs.add(DEVICE, 9, first, now=0.2)
    assert done is not None and {c.channel_id: (c.lon, c.lat) for c in done} == {"C2": (116.9, 31.4),
                                                                                  "C1": (None, None)}
    assert catalogs.expired(1000.0) == []


def test_an_incomplete_catalog_expires_and_a_changed_sum_num_is_refused() -> None:
    catalogs = Catalogs(timeout_s=30)
    catalogs.add(DEVICE, 5, manscdp.catalog_part(Command.of(catalog(5, 3, ("C1", "一", ""))), 100), now=0.0)
    with pytest.raises(Gb28181Error):
        catalogs.add(DEVICE, 5, manscdp.catalog_part(Command.of(catalog(5, 4, ("C2", "二", ""))), 100), now=1.0)
    gone = catalogs.expired(31.0)
    assert [(g.sn, g.sum_num, len(g.channels)) for g in gone] == [(5, 3, 1)]
    with pytest.raises(Gb28181Error, match="SumNum 5000"):
        manscdp.catalog_part(Command.of(catalog(6, 5000)), 4096)


ALARM = ('<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Alarm</CmdType>\r\n<SN>12</SN>\r\n'
         "<DeviceID>34020000001340000101</DeviceID>\r\n<AlarmPriority>1</AlarmPriority>\r\n"
         "<AlarmMethod>5</AlarmMethod>\r\n<AlarmTime>2026-11-24T09:20:00</AlarmTime>\r\n"
         "<AlarmDescription>区域入侵</AlarmDescription>\r\n{position}"
         "<Info>\r\n<AlarmType>6</AlarmType>\r\n<AlarmTypeParam><EventType>1</EventType></AlarmTypeParam>\r\n"
         "</Info>\r\n</Notify>\r\n")


def test_alarm_becomes_an_event_named_by_the_table_in_utc_with_the_channels_position() -> None:
    alarm = manscdp.alarm(Command.of(ALARM.format(position="").encode("gb2312")), utc_offset_min=480)
    assert alarm.type == "intrusion" and alarm.time == datetime(2026, 11, 24, 1, 20, tzinfo=UTC)
    channel = manscdp.Channel("34020000001340000101", name="东门", lon=116.94, lat=31.46)
    data = event_data(alarm, channel)
    assert data == {"type": "intrusion", "source": "gb28181", "alarm_method": "video", "alarm_type": 6,
                    "alarm_priority": 1, "event_type": 1, "channel_id": "34020000001340000101",
                    "channel_name": "东门", "description": "区域入侵", "lon": 116.94, "lat": 31.46}
    own = manscdp.alarm(Command.of(ALARM.format(position="<Longitude>117.0</Longitude><Latitude>31.5</Latitude>")
                                   .encode("gb2312")), 480)
    assert (event_data(own, channel)["lon"], event_data(own, channel)["lat"]) == (117.0, 31.5)  # the alarm's wins
    assert "lon" not in event_data(alarm, None)
    assert event_seq(alarm, alarm.time) == event_seq(own, alarm.time)  # one SN and time: the same event (a resend)


@pytest.mark.parametrize(("method", "alarm_type", "name"), [(2, 2, "tamper"), (2, 1, "video_loss"),
                                                           (6, 1, "disk_fault"), (1, None, "phone_alarm"),
                                                           (5, 99, "video_alarm")])
def test_alarm_names(method: int, alarm_type: int | None, name: str) -> None:
    info = f"<Info><AlarmType>{alarm_type}</AlarmType></Info>" if alarm_type is not None else ""
    body = (f"<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>X</DeviceID><AlarmMethod>{method}</AlarmMethod>"
            f"{info}</Notify>").encode()
    assert manscdp.alarm(Command.of(body), 480).type == name


def test_an_unknown_alarm_method_is_refused() -> None:
    with pytest.raises(Gb28181Error, match="AlarmMethod 9"):
        manscdp.alarm(Command.of(b"<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>X</DeviceID>"
                                 b"<AlarmMethod>9</AlarmMethod></Notify>"), 480)


def test_platform_bodies() -> None:
    query = Command.of(manscdp.catalog_query(17430, DEVICE))
    assert (query.root, query.cmd_type, query.sn, query.device_id) == ("Query", "Catalog", 17430, DEVICE)
    answer = Command.of(manscdp.alarm_response(12, "34020000001340000101"))
    assert (answer.root, answer.cmd_type, answer.sn) == ("Response", "Alarm", 12)
    assert answer.element.findtext("Result") == "OK"


def test_keepalives_keep_a_device_online_and_their_absence_takes_it_offline() -> None:
    regs = Registrations(keepalive_interval_s=60, misses=3)
    device = DeviceInfo(DEVICE, "gb28181-camera", "gb28181-camera", True)
    peer = Peer("UDP", "127.0.0.1", 5060, lambda _: None)
    _, fresh = regs.register(device, peer, "<sip:x@y>", expires_s=3600, now=0.0)
    assert fresh and not regs.register(device, peer, "<sip:x@y>", 3600, now=1.0)[1]  # a refresh
    regs.seen(DEVICE, 100.0)
    assert regs.watch(279.0) == []
    [change] = regs.watch(280.0)
    assert (change.state, change.detail["reason"]) == ("offline", "keepalive_missed")
    assert regs.watch(281.0) == [] and regs.online_count() == 0 and len(regs) == 1
    regs.get(DEVICE).online = True  # type: ignore[union-attr]
    regs.seen(DEVICE, 3600.0)
    [change] = regs.watch(3601.0)
    assert change.detail["reason"] == "registration_expired" and len(regs) == 0


def test_the_profile_takes_every_event_type_and_raises_device_alarms_on_tamper_and_intrusion() -> None:
    """Every name the alarm table can give is in the profile's enum (else its events would be dead-lettered), and
    the stream's alarm rules raise on them: each alarm its own episode (the standard sends no clear)."""
    from civicgrid.domain.alarms import evaluate_event
    from civicgrid.profiles import load_profiles

    profile = load_profiles()["gb28181-camera"]
    names = set(manscdp.ALARM_TYPES.values()) | {f"{m}_alarm" for m in manscdp.ALARM_METHODS.values()}
    enum = profile.channels["event"].fields["type"].enum
    assert enum is not None and names == set(enum)
    at = datetime(2026, 11, 24, 1, 20, tzinfo=UTC)
    state, raised = evaluate_event(profile.alarms, {}, "tamper", at)
    assert [(e.rule_id, e.action) for e in raised] == [("tamper", "raise")]
    _, again = evaluate_event(profile.alarms, state, "tamper", at)
    assert [e.action for e in again] == ["raise"]
    assert evaluate_event(profile.alarms, {}, "motion", at)[1] == []
