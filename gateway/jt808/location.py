"""The location report (0x0200, and each item of a batch, 0x0704): the basic block, the alarm and status bits,
and the additional items, each a row of a table.

Basic block (JT/T 808-2019 Table 23; the same in 2013): alarm flags DWORD, status DWORD, latitude DWORD and
longitude DWORD in 1e-6 degrees (the hemisphere in status bits 2 and 3), altitude WORD (m), speed WORD
(1/10 km/h), direction WORD (0-359, north 0, clockwise), time BCD[6] YYMMDDhhmmss in GMT+8. Then additional
items: id BYTE, length BYTE, value.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from gateway.jt808.errors import Jt808Error, Jt808Reason
from gateway.jt808.frames import bcd_digits

GMT8 = timezone(timedelta(hours=8))
_GMT8_OFFSET = timedelta(hours=8)
_BASIC = struct.Struct(">IIIIHHH6s")

# Alarm flag bits (Table 24 of the 2013 edition, Table 25 of 2019) → the event type they raise on cg.events;
# the cleared bit sends "<type>_cleared". The names are the device profile's event types
# (device-profiles/vehicle-terminal.yaml).
ALARM_BITS: dict[int, str] = {
    0: "emergency",  # 紧急报警 (SOS button)
    1: "overspeed",  # 超速报警
    2: "fatigue",  # 疲劳驾驶
    3: "danger_warning",  # 危险预警 (2019: 危险驾驶行为报警)
    4: "gnss_fault",  # GNSS 模块发生故障
    5: "gnss_antenna_cut",  # GNSS 天线未接或被剪断
    6: "gnss_antenna_short",  # GNSS 天线短路
    7: "power_low",  # 终端主电源欠压
    8: "power_off",  # 终端主电源掉电
    9: "display_fault",  # 终端 LCD 或显示器故障
    10: "tts_fault",  # TTS 模块故障
    11: "camera_fault",  # 摄像头故障
    12: "ic_card_fault",  # 道路运输证 IC 卡模块故障
    13: "overspeed_warning",  # 超速预警
    14: "fatigue_warning",  # 疲劳驾驶预警
    18: "driving_timeout",  # 当天累计驾驶超时
    19: "parking_timeout",  # 超时停车
    20: "area",  # 进出区域 (additional item 0x12 says which area and the direction)
    21: "route",  # 进出路线
    22: "route_time",  # 路段行驶时间不足/过长
    23: "route_deviation",  # 路线偏离报警
    24: "vss_fault",  # 车辆 VSS 故障
    25: "fuel_abnormal",  # 车辆油量异常
    26: "stolen",  # 车辆被盗 (通过车辆防盗器)
    27: "illegal_ignition",  # 车辆非法点火
    28: "illegal_movement",  # 车辆非法位移
    29: "collision",  # 碰撞预警 (2019: 碰撞侧翻报警)
    30: "rollover",  # 侧翻预警
    31: "door_opened",  # 非法开门报警
}

# Status bits that the track record carries as booleans (Table 24/26): the rest stay in `status_flags`.
STATUS_ACC_ON, STATUS_POSITIONED, STATUS_SOUTH, STATUS_WEST = 1 << 0, 1 << 1, 1 << 2, 1 << 3
STATUS_COORDS_ENCRYPTED = 1 << 5
STATUS_LOAD = (8, 2)  # bits 8-9: 00 empty, 01 half, 10 reserved, 11 full
STATUS_DOOR_LOCKED = 1 << 12
LOAD_NAMES = {0: "empty", 1: "half", 2: "reserved", 3: "full"}


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """An additional item of one fixed-size integer: its name in the track record, struct format and scale."""

    name: str
    fmt: str
    scale: float = 1.0


# Additional items (Table 27 of 2019, 2013 alike) that are one scaled integer.
ITEMS: dict[int, ItemSpec] = {
    0x01: ItemSpec("mileage_km", ">I", 0.1),  # 里程, 1/10 km
    0x02: ItemSpec("fuel_l", ">H", 0.1),  # 油量, 1/10 L
    0x03: ItemSpec("recorder_speed_kmh", ">H", 0.1),  # 行驶记录功能获取的速度, 1/10 km/h
    0x04: ItemSpec("alarm_event_id", ">H"),  # 需要人工确认报警事件的 ID
    0x25: ItemSpec("vehicle_signals", ">I"),  # 扩展车辆信号状态位
    0x2A: ItemSpec("io_status", ">H"),  # IO 状态位
    0x2B: ItemSpec("analog", ">I"),  # 模拟量
    0x30: ItemSpec("signal_strength", ">B"),  # 无线通信网络信号强度
    0x31: ItemSpec("satellites", ">B"),  # GNSS 定位卫星数
    # The video terminal's items (JT/T 1078-2016 Table 13, carried in 0x0200 of both editions).
    0x14: ItemSpec("video_alarm_flags", ">I"),  # 视频相关报警: the bits of VIDEO_ALARM_BITS
    0x15: ItemSpec("video_lost_channels", ">I"),  # 视频信号丢失报警状态: bit n, logical channel n + 1
    0x16: ItemSpec("video_blocked_channels", ">I"),  # 视频信号遮挡报警状态: bit n, logical channel n + 1
    0x17: ItemSpec("storage_fault_flags", ">H"),  # 存储器故障: bits 0-11 main storage 1-12, 12-15 disaster backup 1-4
}
ITEM_OVERSPEED, ITEM_AREA, ITEM_ROUTE_TIME, ITEM_ABNORMAL_DRIVING = 0x11, 0x12, 0x13, 0x18

# Video alarm bits of item 0x14 (JT/T 1078-2016 Table 14) → the event type they raise, as ALARM_BITS; a report
# without the item leaves them as they were (a terminal without video never sends it).
VIDEO_ALARM_BITS: dict[int, str] = {
    0: "video_signal_lost",  # 视频信号丢失报警
    1: "video_signal_blocked",  # 视频信号遮挡报警
    2: "video_storage_fault",  # 存储单元故障报警
    3: "video_device_fault",  # 其他视频设备故障报警
    4: "overcrowded",  # 客车超员报警
    5: "abnormal_driving",  # 异常驾驶行为报警 (item 0x18 says which)
    6: "video_storage_full",  # 特殊报警录像达到存储阈值报警
}
# Item 0x18 (Table 15): behaviour bits WORD, then the fatigue level BYTE (0-100).
ABNORMAL_DRIVING_BITS = {0: "fatigue", 1: "phone_call", 2: "smoking"}
# 0x11 / 0x12 location type: 0 none (over-speed only), 1 circle, 2 rectangle, 3 polygon, 4 route segment.
AREA_TYPES = {0: "none", 1: "circle", 2: "rectangle", 3: "polygon", 4: "route"}


@dataclass(frozen=True, slots=True)
class Location:
    """One position report as sent: raw integers (lat/lon as unsigned 1e-6 degrees) and its items in order."""

    alarm: int
    status: int
    lat_e6: int
    lon_e6: int
    altitude_m: int
    speed_dkmh: int  # 1/10 km/h
    direction: int
    time: datetime  # aware (UTC)
    items: tuple[tuple[int, bytes], ...] = field(default_factory=tuple)

    @property
    def positioned(self) -> bool:
        return bool(self.status & STATUS_POSITIONED)

    @property
    def lat(self) -> float:
        return -self.lat_e6 / 1e6 if self.status & STATUS_SOUTH else self.lat_e6 / 1e6

    @property
    def lon(self) -> float:
        return -self.lon_e6 / 1e6 if self.status & STATUS_WEST else self.lon_e6 / 1e6

    def alarms(self) -> list[str]:
        return [name for bit, name in ALARM_BITS.items() if self.alarm >> bit & 1]


@functools.lru_cache(maxsize=4096)  # a fleet's reports share their seconds: one datetime each (bench/jt808.py)
def bcd_time(raw: bytes) -> datetime:
    """BCD[6] YYMMDDhhmmss in GMT+8 (Beijing time, as the standard says) → UTC."""
    digits = bcd_digits(raw, "time", Jt808Reason.BAD_BODY)
    y, mo, d, h, mi, s = ((b >> 4) * 10 + (b & 0xF) for b in raw)
    try:
        return datetime(2000 + y, mo, d, h, mi, s, tzinfo=UTC) - _GMT8_OFFSET
    except ValueError as exc:
        raise Jt808Error(Jt808Reason.BAD_BODY, f"time {digits}: {exc}") from None


def to_bcd_time(at: datetime) -> bytes:
    return bytes.fromhex(at.astimezone(GMT8).strftime("%y%m%d%H%M%S"))


def decode_location(body: bytes) -> Location:
    if len(body) < _BASIC.size:
        raise Jt808Error(Jt808Reason.BAD_BODY, f"location report of {len(body)} bytes, at least {_BASIC.size}")
    alarm, status, lat, lon, altitude, speed, direction, time_raw = _BASIC.unpack_from(body)
    items: list[tuple[int, bytes]] = []
    at = _BASIC.size
    while at < len(body):
        if at + 2 > len(body):
            raise Jt808Error(Jt808Reason.BAD_BODY, f"additional item cut short at byte {at}")
        item_id, length = body[at], body[at + 1]
        value = body[at + 2:at + 2 + length]
        if len(value) != length:
            raise Jt808Error(Jt808Reason.BAD_BODY, f"additional item {item_id:#04x} says {length} bytes, "
                                                   f"{len(value)} left")
        items.append((item_id, value))
        at += 2 + length
    return Location(alarm, status, lat, lon, altitude, speed, direction, bcd_time(time_raw), tuple(items))


def encode_location(loc: Location) -> bytes:
    body = _BASIC.pack(loc.alarm, loc.status, loc.lat_e6, loc.lon_e6, loc.altitude_m, loc.speed_dkmh,
                       loc.direction, to_bcd_time(loc.time))
    return body + b"".join(bytes((item_id, len(value))) + value for item_id, value in loc.items)


def item(item_id: int, value: float) -> tuple[int, bytes]:
    """A scaled-integer additional item from its value in the record's unit (``item(0x01, 1234.5)``: mileage)."""
    spec = ITEMS[item_id]
    return item_id, struct.pack(spec.fmt, round(value / spec.scale))


def overspeed_item(area_type: int = 0, area_id: int = 0) -> tuple[int, bytes]:
    return ITEM_OVERSPEED, bytes((area_type,)) + (struct.pack(">I", area_id) if area_type else b"")


def abnormal_driving_item(behaviours: int, fatigue_level: int = 0) -> tuple[int, bytes]:
    return ITEM_ABNORMAL_DRIVING, struct.pack(">HB", behaviours, fatigue_level)


def area_item(area_type: int, area_id: int, leaving: bool) -> tuple[int, bytes]:
    return ITEM_AREA, struct.pack(">BIB", area_type, area_id, 1 if leaving else 0)


def item_fields(items: tuple[tuple[int, bytes], ...]) -> dict[str, object]:
    """The items the platform uses, as record fields; other items are left out (counted by the caller)."""
    out: dict[str, object] = {}
    for item_id, value in items:
        spec = ITEMS.get(item_id)
        if spec is not None:
            if len(value) != struct.calcsize(spec.fmt):
                raise Jt808Error(Jt808Reason.BAD_BODY, f"item {item_id:#04x} ({spec.name}) of {len(value)} bytes")
            (raw,) = struct.unpack(spec.fmt, value)
            out[spec.name] = raw if spec.scale == 1.0 else round(raw * spec.scale, 3)
        elif item_id == ITEM_OVERSPEED:
            if len(value) not in (1, 5) or (value[0] != 0) != (len(value) == 5):
                raise Jt808Error(Jt808Reason.BAD_BODY, f"over-speed item of {len(value)} bytes, type {value[:1].hex()}")
            out["overspeed_area_type"] = AREA_TYPES.get(value[0], "unknown")
            if len(value) == 5:
                out["overspeed_area_id"] = struct.unpack_from(">I", value, 1)[0]
        elif item_id == ITEM_AREA:
            if len(value) != 6:
                raise Jt808Error(Jt808Reason.BAD_BODY, f"in/out area item of {len(value)} bytes, 6 expected")
            area_type, area_id, direction = struct.unpack(">BIB", value)
            out["area_type"] = AREA_TYPES.get(area_type, "unknown")
            out["area_id"] = area_id
            out["area_direction"] = "out" if direction else "in"
        elif item_id == ITEM_ABNORMAL_DRIVING:
            if len(value) != 3:
                raise Jt808Error(Jt808Reason.BAD_BODY, f"abnormal-driving item of {len(value)} bytes, 3 expected")
            behaviours, out["fatigue_level"] = struct.unpack(">HB", value)
            out["abnormal_driving"] = [name for bit, name in ABNORMAL_DRIVING_BITS.items() if behaviours >> bit & 1]
        elif item_id == ITEM_ROUTE_TIME:
            if len(value) != 7:
                raise Jt808Error(Jt808Reason.BAD_BODY, f"route-time item of {len(value)} bytes, 7 expected")
            segment, seconds, result = struct.unpack(">IHB", value)
            out["route_segment_id"], out["route_segment_s"] = segment, seconds
            out["route_segment_result"] = "too_long" if result else "too_short"
    return out
