"""MANSCDP bodies (GB/T 28181-2016 Annex A, `Application/MANSCDP+xml`): read a device's, write the platform's.

Devices write GB2312 or GBK as often as UTF-8, and Python's expat decodes neither; the body is decoded here with
the encoding its XML declaration names (GB2312 and GBK read as GB18030, their superset, since devices label GBK
text GB2312), or UTF-8 then GB18030 without one, and the text parsed with the stdlib. A DOCTYPE (entities,
external references) is refused before parsing: no MANSCDP body has one.

Pure: the caller gives the clock's offset. Alarm names come from one table (`ALARM_TYPES`), after the 2016
edition's AlarmMethod and Info/AlarmType codes.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from gateway.gb28181.errors import Gb28181Error, Reason

_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")
_ANY_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_WIDE = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "cp936": "gb18030"}

# AlarmMethod (报警方式, Annex A) and, within a method, Info/AlarmType (2016 edition) → the event's type.
ALARM_METHODS = {1: "phone", 2: "device", 3: "sms", 4: "gps", 5: "video", 6: "fault", 7: "other"}
ALARM_TYPES = {
    (2, 1): "video_loss", (2, 2): "tamper", (2, 3): "storage_full", (2, 4): "high_temperature",
    (2, 5): "low_temperature",
    (5, 1): "manual", (5, 2): "motion", (5, 3): "left_object", (5, 4): "object_removed", (5, 5): "tripwire",
    (5, 6): "intrusion", (5, 7): "wrong_way", (5, 8): "loitering", (5, 9): "flow_count", (5, 10): "crowd_density",
    (5, 11): "video_abnormal", (5, 12): "fast_moving",
    (6, 1): "disk_fault", (6, 2): "fan_fault",
}


def parse(body: bytes) -> ET.Element:
    """The body's root element, or `Gb28181Error(BAD_XML)` saying why not."""
    if not body.strip():
        raise Gb28181Error(Reason.BAD_XML, "empty body")
    m = _DECLARATION.match(body)
    declared = m.group(1).decode("ascii").lower() if m else ""
    codecs = [_WIDE.get(declared, declared)] if declared else ["utf-8", "gb18030"]
    text = None
    for codec in codecs:
        try:
            text = body.decode(codec)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    if text is None:
        raise Gb28181Error(Reason.BAD_XML, f"not decodable as {declared or 'UTF-8 or GB18030'}")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise Gb28181Error(Reason.BAD_XML, "a DOCTYPE or ENTITY declaration")
    try:
        return ET.fromstring(_ANY_DECLARATION.sub("", text, count=1).lstrip("\ufeff"))
    except ET.ParseError as exc:
        raise Gb28181Error(Reason.BAD_XML, str(exc)) from None


def _text(el: ET.Element, tag: str) -> str | None:
    child = el.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _int(el: ET.Element, tag: str, required: bool = False) -> int | None:
    value = _text(el, tag)
    if value is None:
        if required:
            raise Gb28181Error(Reason.BAD_BODY, f"no {tag}")
        return None
    if not re.fullmatch(r"-?\d{1,12}", value):
        raise Gb28181Error(Reason.BAD_BODY, f"{tag} {value[:40]!r} is not an integer")
    return int(value)


def _float(el: ET.Element, tag: str) -> float | None:
    value = _text(el, tag)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise Gb28181Error(Reason.BAD_BODY, f"{tag} {value[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise Gb28181Error(Reason.BAD_BODY, f"{tag} {value[:40]!r} is not a number")
    return number


def position(el: ET.Element) -> tuple[float, float] | None:
    """(lon, lat) when given and inside the coordinate ranges; devices send 0/0 for 'none'."""
    lon, lat = _float(el, "Longitude"), _float(el, "Latitude")
    if lon is None or lat is None or (lon == 0 and lat == 0) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return lon, lat


@dataclass(frozen=True, slots=True)
class Command:
    """The envelope every MANSCDP body has: `Notify`/`Response`/`Query`/`Control`, CmdType, SN, DeviceID."""

    root: str
    cmd_type: str
    sn: int
    device_id: str
    element: ET.Element

    @classmethod
    def of(cls, body: bytes) -> Command:
        el = parse(body)
        cmd_type = _text(el, "CmdType")
        if cmd_type is None:
            raise Gb28181Error(Reason.BAD_XML, f"<{el.tag[:40]}> without CmdType")
        sn = _int(el, "SN", required=True)
        device_id = _text(el, "DeviceID")
        if device_id is None or len(device_id) > 64:
            raise Gb28181Error(Reason.BAD_BODY, "no DeviceID (or longer than 64 characters)")
        assert sn is not None
        return cls(el.tag, cmd_type, sn, device_id, el)


@dataclass(frozen=True, slots=True)
class Channel:
    """One Item of a Catalog response (Annex A 目录查询应答): a camera channel, an alarm input, a directory."""

    channel_id: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None
    civil_code: str | None = None
    address: str | None = None
    parent_id: str | None = None
    parental: bool = False
    status: str | None = None  # ON / OFF
    lon: float | None = None
    lat: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, item: ET.Element) -> Channel:
        channel_id = _text(item, "DeviceID")
        if channel_id is None or len(channel_id) > 64:
            raise Gb28181Error(Reason.BAD_BODY, "a catalog Item without DeviceID (or longer than 64 characters)")
        pos = position(item)
        known = {"DeviceID", "Name", "Manufacturer", "Model", "Owner", "CivilCode", "Address", "ParentID",
                 "Parental", "Status", "Longitude", "Latitude"}
        extra = {c.tag: (c.text or "").strip()[:200] for c in list(item)[:32] if c.tag not in known and len(c) == 0}

        def short(tag: str) -> str | None:
            value = _text(item, tag)
            return value[:200] if value else None

        return cls(channel_id, short("Name"), short("Manufacturer"), short("Model"), short("Owner"),
                   short("CivilCode"), short("Address"), short("ParentID"), _text(item, "Parental") == "1",
                   (short("Status") or "").upper() or None, pos[0] if pos else None, pos[1] if pos else None, extra)

    def as_json(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "name": self.name, "manufacturer": self.manufacturer,
                "model": self.model, "owner": self.owner, "civil_code": self.civil_code, "address": self.address,
                "parent_id": self.parent_id, "parental": self.parental, "status": self.status, "lon": self.lon,
                "lat": self.lat, "extra": self.extra}


@dataclass(frozen=True, slots=True)
class CatalogPart:
    sum_num: int
    items: tuple[Channel, ...]


def catalog_part(cmd: Command, max_items: int) -> CatalogPart:
    sum_num = _int(cmd.element, "SumNum", required=True)
    assert sum_num is not None
    if not 0 <= sum_num <= max_items:
        raise Gb28181Error(Reason.BAD_BODY, f"SumNum {sum_num} (limit {max_items})")
    listing = cmd.element.find("DeviceList")
    items = [] if listing is None else listing.findall("Item")
    if len(items) > max_items:
        raise Gb28181Error(Reason.BAD_BODY, f"{len(items)} items in one response (limit {max_items})")
    return CatalogPart(sum_num, tuple(Channel.of(item) for item in items))


@dataclass(frozen=True, slots=True)
class Alarm:
    """A `Notify/Alarm` (Annex A 报警通知): which source (`channel_id`, its DeviceID), how, what, when, where."""

    channel_id: str
    sn: int
    method: int
    alarm_type: int | None
    priority: int | None
    time: datetime | None  # UTC
    description: str | None
    position: tuple[float, float] | None
    event_type: int | None

    @property
    def type(self) -> str:
        """The event's type: the table's name for (method, type), else `<method>_alarm`."""
        if self.alarm_type is not None and (self.method, self.alarm_type) in ALARM_TYPES:
            return ALARM_TYPES[(self.method, self.alarm_type)]
        return f"{ALARM_METHODS[self.method]}_alarm"


def local_time(value: str | None, utc_offset_min: int) -> datetime | None:
    """A MANSCDP time (`2016-01-01T12:00:00`, the device's local time without a zone) in UTC."""
    if value is None:
        return None
    try:
        naive = datetime.fromisoformat(value.replace(" ", "T")[:26])
    except ValueError:
        raise Gb28181Error(Reason.BAD_BODY, f"time {value[:40]!r}") from None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=timezone(timedelta(minutes=utc_offset_min)))
    return naive.astimezone(UTC)


def alarm(cmd: Command, utc_offset_min: int) -> Alarm:
    el = cmd.element
    method = _int(el, "AlarmMethod", required=True)
    if method not in ALARM_METHODS:
        raise Gb28181Error(Reason.BAD_BODY, f"AlarmMethod {method}")
    info = el.find("Info")
    alarm_type = _int(info, "AlarmType") if info is not None else None
    if alarm_type is None:
        alarm_type = _int(el, "AlarmType")  # some 2011-edition devices put it at the top
    param = info.find("AlarmTypeParam") if info is not None else None
    event_type = _int(param, "EventType") if param is not None else None
    description = _text(el, "AlarmDescription")
    return Alarm(cmd.device_id, cmd.sn, method, alarm_type, _int(el, "AlarmPriority"),
                 local_time(_text(el, "AlarmTime"), utc_offset_min), description[:500] if description else None,
                 position(el), event_type)


def keepalive_status(cmd: Command) -> str:
    return (_text(cmd.element, "Status") or "OK").upper()


def _document(root: str, fields: list[tuple[str, str]]) -> bytes:
    """A platform body, GB2312 as the standard's examples (its text here is ASCII, so UTF-8 readers agree)."""
    el = ET.Element(root)
    for tag, value in fields:
        ET.SubElement(el, tag).text = value
    return b'<?xml version="1.0" encoding="GB2312"?>\r\n' + ET.tostring(el, encoding="unicode").encode("gb2312")


def catalog_query(sn: int, device_id: str) -> bytes:
    """Annex A 目录查询: the platform asks a device for its channels."""
    return _document("Query", [("CmdType", "Catalog"), ("SN", str(sn)), ("DeviceID", device_id)])


def alarm_response(sn: int, device_id: str) -> bytes:
    """Annex A 报警通知应答: the platform's MESSAGE after the 200 OK, with the alarm's SN and DeviceID."""
    return _document("Response", [("CmdType", "Alarm"), ("SN", str(sn)), ("DeviceID", device_id), ("Result", "OK")])
