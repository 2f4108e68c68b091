"""Strict NMEA 0183 parsing for the ``track`` channel: raw RMC/GGA sentences → fixes → one track point.

GPS trackers publish raw NMEA 0183 over MQTT. This module owns the decision "is this payload a usable
position, and if not, why": every payload either becomes :class:`NmeaFix` values or raises
:class:`NmeaRejected` with one of :data:`REJECT_REASONS`, which the gateway sends to the dead-letter topic.
The contract is the corpus in ``shared/data/nmea`` (README.md, expected.json → ``rules``).

pynmea2 decodes the fields (degrees-minutes → decimal degrees, typed numeric fields, the checksum XOR),
but it is lenient where the gateway must not be, so the checks it skips run here first:

* framing: ``$`` + 5-character address + fields + ``*`` + two hex digits, nothing else on the line
  (pynmea2 accepts a missing ``$``, a missing checksum, and leading/trailing blanks);
* field count: RMC ≥ 11 fields, GGA ≥ 14 (pynmea2 pads missing fields with ``''``);
* field formats: pynmea2's typed getters return the raw string when conversion fails, so every field
  used is matched against a pre-compiled pattern before pynmea2 reads it;
* empty coordinates are ``None``, never pynmea2's ``0.0``;
* time is decoded here with integer arithmetic (pynmea2 truncates ``float(".1234") * 1e6`` and loses a
  microsecond for 4+ fraction digits), and the date with the corpus year pivot (80–99 → 19xx, 00–79 →
  20xx; ``strptime("%y")`` pivots at 69);
* RMC validity ignores the NMEA 4.10 navigational-status field (u-blox always sends ``V`` = "not
  provided"; pynmea2 calls those fixes invalid).

Shapes: ``NmeaFix.time_utc`` is a naive ``time`` (the name carries the zone); ``datetime_utc`` is
tz-aware UTC. :class:`TrackPoint` differs from the first sketch in two ways: ``time`` is
``datetime | None`` (a GGA-only point has no date), and ``lat``/``lon`` are plain floats because
:func:`merge_fixes` only builds points from valid fixes, so ``fix_valid`` is always ``True`` on a point
(kept so consumers need not know that).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

import pynmea2

__all__ = [
    "REJECT_REASONS",
    "NmeaFix",
    "NmeaRejected",
    "TrackPoint",
    "merge_fixes",
    "parse_payload",
    "parse_sentence",
]

REJECT_REASONS: Final = frozenset(
    {
        "checksum_mismatch",
        "missing_checksum",
        "bad_framing",
        "missing_start",
        "field_count",
        "bad_field",
        "not_nmea",
        "unsupported_type",
    }
)

KNOTS_TO_MPS: Final = 1852.0 / 3600.0  # 1 international knot = 1852 m/h, exactly

# Minimum data-field counts (corpus rule "field_count"): RMC has 11 in NMEA 2.0 (12/13 with the 2.3 mode
# and 4.10 nav-status fields), GGA always 14. Extra trailing fields (SiRF TriG sends a 15th) are tolerated.
_MIN_FIELDS: Final = {"RMC": 11, "GGA": 14}

# Address field: two-character talker + three-character type, upper-case letters and digits (NMEA 0183 §5.3).
_ADDRESS = re.compile(r"[A-Z0-9]{5}")
# A sentence whose "$" was lost still starts with an address and a comma.
_HEADLESS = re.compile(r"[A-Z][A-Z0-9]{4},")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")  # the standard says upper case; lower case is harmless, pynmea2 takes both
# Outside printable ASCII, or one of the reserved characters that may not appear inside a sentence body.
_BAD_BODY_CHAR = re.compile(r"[^\x20-\x7e]|[$*!\\^~]")
_TIME = re.compile(r"(\d\d)(\d\d)(\d\d)(?:\.(\d+))?")  # hhmmss[.s+]
_DATE = re.compile(r"(\d\d)(\d\d)(\d\d)")  # ddmmyy
# ddmm.m+ / dddmm.m+ : the same shape pynmea2's dm_to_sd() decodes (it needs the decimal point).
_LAT = re.compile(r"(\d\d)(\d\d\.\d+)")
_LON = re.compile(r"(\d\d\d)(\d\d\.\d+)")
_UNSIGNED = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_SIGNED = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_RMC_MODES: Final = frozenset("ADEFMNPRS")  # NMEA 2.3 mode indicator
_RMC_VALID_MODES: Final = frozenset("ADFRP")  # autonomous, differential, float/fixed RTK, precise; not E/M/N/S


class NmeaRejected(Exception):
    """A payload the track channel refuses; ``reason`` is one of :data:`REJECT_REASONS`."""

    def __init__(self, reason: str, detail: str, line: int | None = None) -> None:
        if reason not in REJECT_REASONS:
            raise ValueError(f"unknown NMEA reject reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.line = line  # 1-based line of the payload, set by parse_payload()


@dataclass(frozen=True, slots=True)
class NmeaFix:
    """One accepted RMC or GGA sentence. ``lat``/``lon`` must not be used as a position unless ``fix_valid``."""

    talker: str
    sentence_type: str
    fix_valid: bool
    fix_quality: int | None
    lat: float | None
    lon: float | None
    time_utc: dt.time | None
    date: dt.date | None
    datetime_utc: dt.datetime | None
    speed_mps: float | None
    course_deg: float | None
    hdop: float | None
    satellites: int | None
    altitude_m: float | None


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One usable position: an RMC and/or GGA of the same epoch, merged by :func:`merge_fixes`."""

    time: dt.datetime | None  # UTC, tz-aware; None when only a GGA (no date) was available
    lat: float
    lon: float
    speed_mps: float | None
    course_deg: float | None
    hdop: float | None
    satellites: int | None
    altitude_m: float | None
    fix_quality: int | None  # GGA quality, None without a GGA
    fix_valid: bool


def _bad(detail: str) -> NmeaRejected:
    return NmeaRejected("bad_field", detail)


def _check_framing(s: str) -> tuple[str, str]:
    """Return (body between '$' and '*', checksum hex) of a well-framed line, or raise with the reason."""
    if not s:
        raise NmeaRejected("not_nmea", "empty line")
    if s[0] != "$":
        if _HEADLESS.match(s):
            raise NmeaRejected("missing_start", "looks like NMEA but the '$' start delimiter is missing")
        start = s.find("$")
        if start > 0 and _ADDRESS.match(s, start + 1):
            raise NmeaRejected("bad_framing", f"{start} character(s) before the '$' start delimiter")
        raise NmeaRejected("not_nmea", "does not start with '$'")
    address = s[1:6]
    if not _ADDRESS.fullmatch(address):
        raise NmeaRejected("not_nmea", "no '$' + 5-character address field")
    star = s.find("*")
    if star < 0:
        raise NmeaRejected("missing_checksum", "no '*hh' checksum field (truncated or checksum omitted)")
    if (len(s) > 6 and s[6] not in ",*") or star != len(s) - 3 or not _HEX2.fullmatch(s, star + 1):
        raise NmeaRejected(
            "bad_framing", "does not match $AAAAA,...*hh (checksum must be exactly two hex digits at the end)"
        )
    bad_char = _BAD_BODY_CHAR.search(s, 1, star)
    if bad_char:
        raise NmeaRejected("bad_framing", f"reserved or non-printable character {bad_char.group()!r} in the sentence")
    return s[1:star], s[star + 1 :]


def _parse_time(field: str) -> dt.time | None:
    if not field:
        return None
    m = _TIME.fullmatch(field)
    if not m:
        raise _bad(f"time {field!r} is not hhmmss[.ss]")
    hh, mm, ss, frac = m.groups()
    # Exact: the first six fraction digits are the microseconds (further digits are below resolution).
    micro = int((frac or "").ljust(6, "0")[:6])
    try:
        return dt.time(int(hh), int(mm), int(ss), micro)
    except ValueError:  # hour 24+, minute/second 60+ (a leap second cannot be represented either)
        raise _bad(f"time {field!r} is out of range") from None


def _parse_date(field: str) -> dt.date | None:
    if not field:
        return None
    m = _DATE.fullmatch(field)
    if not m:
        raise _bad(f"date {field!r} is not ddmmyy")
    dd, mm, yy = (int(g) for g in m.groups())
    year = 1900 + yy if yy >= 80 else 2000 + yy  # corpus rule: 80–99 → 19xx, 00–79 → 20xx
    try:
        return dt.date(year, mm, dd)
    except ValueError:
        raise _bad(f"date {field!r} is not a calendar date") from None


def _check_position(lat: str, lat_dir: str, lon: str, lon_dir: str) -> bool:
    """Validate the four position fields; True when a position is present, False when it is empty."""
    if not lat and not lon and lat_dir in ("", "N", "S") and lon_dir in ("", "E", "W"):
        return False  # empty position: None, never pynmea2's (0.0, 0.0)
    for value, hemi, pattern, dirs, limit, name in (
        (lat, lat_dir, _LAT, ("N", "S"), 90, "latitude"),
        (lon, lon_dir, _LON, ("E", "W"), 180, "longitude"),
    ):
        m = pattern.fullmatch(value)
        if not m:
            raise _bad(f"{name} {value!r} is not {'ddmm.mm' if limit == 90 else 'dddmm.mm'}")
        degrees, minutes = int(m.group(1)), float(m.group(2))
        if minutes >= 60 or degrees + minutes / 60 > limit:
            raise _bad(f"{name} {value!r} is out of range")
        if hemi not in dirs:
            raise _bad(f"{name} hemisphere {hemi!r} is not {' or '.join(dirs)}")
    return True


def _number(field: str, name: str, pattern: re.Pattern[str] = _UNSIGNED) -> str:
    """Check an optional numeric field before pynmea2 converts it (it would return the raw string)."""
    if field and not pattern.fullmatch(field):
        raise _bad(f"{name} {field!r} is not a number")
    return field


def _parse_rmc(talker: str, data: list[str]) -> NmeaFix:
    status = data[1]
    if status not in ("A", "V"):
        raise _bad(f"RMC status {status!r} is not A or V")
    has_pos = _check_position(*data[2:6])
    _number(data[6], "speed")
    if _number(data[7], "course") and float(data[7]) > 360:
        raise _bad(f"course {data[7]!r} is over 360 degrees")
    time_utc, date = _parse_time(data[0]), _parse_date(data[8])
    mode = data[11] if len(data) > 11 else ""  # NMEA 2.3+; data[12] is the 4.10 nav status, ignored
    if mode and mode not in _RMC_MODES:
        raise _bad(f"RMC mode indicator {mode!r} is not one of {''.join(sorted(_RMC_MODES))}")
    msg = pynmea2.RMC(talker, "RMC", data)
    speed_kn: float | None = msg.spd_over_grnd
    return NmeaFix(
        talker=talker,
        sentence_type="RMC",
        fix_valid=status == "A" and has_pos and (not mode or mode in _RMC_VALID_MODES),
        fix_quality=None,
        lat=msg.latitude if has_pos else None,
        lon=msg.longitude if has_pos else None,
        time_utc=time_utc,
        date=date,
        datetime_utc=(
            dt.datetime.combine(date, time_utc, tzinfo=dt.UTC) if date is not None and time_utc is not None else None
        ),
        speed_mps=None if speed_kn is None else speed_kn * KNOTS_TO_MPS,
        course_deg=msg.true_course,
        hdop=None,
        satellites=None,
        altitude_m=None,
    )


def _parse_gga(talker: str, data: list[str]) -> NmeaFix:
    time_utc = _parse_time(data[0])
    has_pos = _check_position(*data[1:5])
    if len(data[5]) != 1 or data[5] not in "012345678":
        raise _bad(f"GGA quality {data[5]!r} is not a digit 0-8")
    if data[6] and not data[6].isdigit():
        raise _bad(f"satellites in use {data[6]!r} is not a number")
    _number(data[7], "HDOP")
    _number(data[8], "altitude", _SIGNED)
    msg = pynmea2.GGA(talker, "GGA", data)
    quality: int = msg.gps_qual
    # pynmea2 leaves num_sats and horizontal_dil as strings; they were checked above.
    return NmeaFix(
        talker=talker,
        sentence_type="GGA",
        fix_valid=1 <= quality <= 5 and has_pos,  # 0 none, 6 estimated, 7 manual, 8 simulator
        fix_quality=quality,
        lat=msg.latitude if has_pos else None,
        lon=msg.longitude if has_pos else None,
        time_utc=time_utc,
        date=None,
        datetime_utc=None,
        speed_mps=None,
        course_deg=None,
        hdop=float(data[7]) if data[7] else None,
        satellites=int(data[6]) if data[6] else None,
        altitude_m=msg.altitude,
    )


_PARSERS: Final = {"RMC": _parse_rmc, "GGA": _parse_gga}


def parse_sentence(line: bytes | str) -> NmeaFix:
    """Parse one RMC or GGA sentence (trailing CR/LF allowed); raise :class:`NmeaRejected` otherwise."""
    if isinstance(line, bytes | bytearray | memoryview):
        try:
            line = bytes(line).decode("utf-8")
        except UnicodeDecodeError:
            raise NmeaRejected("not_nmea", "not text (binary data)") from None
    body, checksum = _check_framing(line.rstrip("\r\n"))
    # The checksum is checked before the type: a corrupted address must read as corruption, not as a type.
    expected = int(checksum, 16)
    actual = pynmea2.NMEASentence.checksum(body)
    if expected != actual:
        raise NmeaRejected("checksum_mismatch", f"checksum *{checksum} but XOR of body is {actual:02X}")
    address = body[:5]
    talker, sentence_type = address[:2], address[2:]
    parser = _PARSERS.get(sentence_type)
    if parser is None or talker[0] == "P":  # "P..." is a proprietary address, not a talker
        raise NmeaRejected("unsupported_type", f"{address} carries no position for the track channel (RMC/GGA only)")
    data = body[6:].split(",") if len(body) > 5 else []  # framing guarantees body[5] == ","
    need = _MIN_FIELDS[sentence_type]
    if len(data) < need:
        raise NmeaRejected(
            "field_count", f"{sentence_type} has {len(data)} fields, NMEA 0183 v2.0+ needs at least {need}"
        )
    return parser(talker, data)


def parse_payload(payload: bytes) -> list[NmeaFix]:
    """Parse an MQTT payload of one sentence per line; any bad line rejects the whole payload."""
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise NmeaRejected("not_nmea", "payload is not text (binary data)") from None
    fixes: list[NmeaFix] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line:  # the final CRLF, or blank lines between sentences
            continue
        try:
            fixes.append(parse_sentence(line))
        except NmeaRejected as exc:
            raise NmeaRejected(exc.reason, f"line {number}: {exc.detail}", line=number) from None
    if not fixes:
        raise NmeaRejected("not_nmea", "empty payload")
    return fixes


def merge_fixes(fixes: list[NmeaFix]) -> TrackPoint | None:
    """Merge the latest usable epoch of ``fixes`` into one point; None when no epoch is usable.

    Sentences belong to the same epoch when their ``time_utc`` is equal (a sentence without time is an
    epoch of its own). An epoch is usable when every RMC/GGA in it is a valid fix: an RMC and a GGA of the
    same epoch that disagree (e.g. status A but quality 0) are not trusted. Position, speed, course and
    time come from the RMC; HDOP, satellites, altitude and quality from the GGA. When several epochs are
    usable, the one whose last sentence comes latest in the list wins.
    """
    epochs: dict[object, list[NmeaFix]] = {}
    last_seen: dict[object, int] = {}
    for index, fix in enumerate(fixes):
        key: object = fix.time_utc if fix.time_utc is not None else ("untimed", index)
        epochs.setdefault(key, []).append(fix)
        last_seen[key] = index
    for key in sorted(epochs, key=last_seen.__getitem__, reverse=True):
        epoch = epochs[key]
        if not all(f.fix_valid for f in epoch):
            continue
        rmc = next((f for f in reversed(epoch) if f.sentence_type == "RMC"), None)
        gga = next((f for f in reversed(epoch) if f.sentence_type == "GGA"), None)
        pos = rmc or gga
        if pos is None or pos.lat is None or pos.lon is None:
            continue
        return TrackPoint(
            time=rmc.datetime_utc if rmc else None,
            lat=pos.lat,
            lon=pos.lon,
            speed_mps=rmc.speed_mps if rmc else None,
            course_deg=rmc.course_deg if rmc else None,
            hdop=gga.hdop if gga else None,
            satellites=gga.satellites if gga else None,
            altitude_m=gga.altitude_m if gga else None,
            fix_quality=gga.fix_quality if gga else None,
            fix_valid=True,
        )
    return None
