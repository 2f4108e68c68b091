"""NMEA 0183 sentences as a GNSS receiver writes them ($GNRMC, $GNGGA), with their checksums."""

from __future__ import annotations

from datetime import datetime

KNOTS_PER_MPS = 1.943844


def checksum(body: str) -> str:
    """XOR of the characters between `$` and `*`, as two upper-case hex digits."""
    value = 0
    for ch in body:
        value ^= ord(ch)
    return f"{value:02X}"


def sentence(body: str) -> str:
    """`$body*CS\\r\\n` (body without the leading `$`)."""
    return f"${body}*{checksum(body)}\r\n"


def _dm(value: float, width: int) -> str:
    """Degrees and decimal minutes (ddmm.mmmm); minutes that round to 60 carry into the degrees."""
    a = abs(value)
    deg = int(a)
    minutes = round((a - deg) * 60, 4)
    if minutes >= 60:
        deg, minutes = deg + 1, 0.0
    return f"{deg:0{width}d}{minutes:07.4f}"


def _lat(lat: float) -> tuple[str, str]:
    return _dm(lat, 2), "N" if lat >= 0 else "S"


def _lon(lon: float) -> tuple[str, str]:
    return _dm(lon, 3), "E" if lon >= 0 else "W"


def _time(t: datetime) -> str:
    return f"{t:%H%M%S}.{t.microsecond // 1000:03d}"


def rmc(t: datetime, lon: float, lat: float, speed_mps: float, course_deg: float) -> str:
    """Recommended minimum fix; `t` in UTC."""
    la, ns = _lat(lat)
    lo, ew = _lon(lon)
    return sentence(f"GNRMC,{_time(t)},A,{la},{ns},{lo},{ew},{speed_mps * KNOTS_PER_MPS:.2f},"
                    f"{course_deg % 360:.1f},{t:%d%m%y},,,A")


def gga(t: datetime, lon: float, lat: float, *, satellites: int = 10, hdop: float = 0.9,
        altitude_m: float = 30.0) -> str:
    """Fix data (quality 1, GPS/BeiDou fix); `t` in UTC."""
    la, ns = _lat(lat)
    lo, ew = _lon(lon)
    return sentence(f"GNGGA,{_time(t)},{la},{ns},{lo},{ew},1,{satellites:02d},{hdop:.1f},{altitude_m:.1f},M,"
                    "0.0,M,,")
