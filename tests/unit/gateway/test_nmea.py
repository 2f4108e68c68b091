"""gateway.nmea: the corpus contract (shared/data/nmea), rejection reasons, round-trips and merge_fixes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from functools import reduce
from operator import xor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.nmea import (
    KNOTS_TO_MPS,
    REJECT_REASONS,
    NmeaFix,
    NmeaRejected,
    TrackPoint,
    merge_fixes,
    parse_payload,
    parse_sentence,
)

# The corpus lives beside the repository (../shared/data/nmea); a plain clone does not have it.
CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nmea"
EXPECTED = CORPUS / "expected.json"
TOL = 1e-6  # expected.json → rules.tolerance_deg
UTC = dt.UTC


def _corpus() -> dict[str, Any] | None:
    return json.loads(EXPECTED.read_text(encoding="utf-8")) if EXPECTED.is_file() else None


CORPUS_DATA = _corpus()
NO_CORPUS = pytest.mark.skip(reason=f"NMEA corpus not found at {CORPUS}")
ENTRIES = (
    [pytest.param(e, id=e["id"]) for e in CORPUS_DATA["sentences"]]
    if CORPUS_DATA
    else [pytest.param(None, id="corpus-absent", marks=NO_CORPUS)]
)
FILES = (
    sorted({e["file"] for e in CORPUS_DATA["sentences"] if e["file"].endswith(".nmea")})
    if CORPUS_DATA
    else [pytest.param(None, id="corpus-absent", marks=NO_CORPUS)]
)


def _raw(entry: dict[str, Any]) -> bytes:
    """The entry's bytes as stored in its corpus file (line N of a CRLF file, or the whole binary file)."""
    data = (CORPUS / entry["file"]).read_bytes()
    if "payload_b64" in entry:
        assert data == base64.b64decode(entry["payload_b64"])
        return data
    raw = data.split(b"\r\n")[entry["line"] - 1]
    assert raw == entry["sentence"].encode()
    return raw


def _frame(body: str) -> str:
    """A sentence with a correct checksum around ``body`` (the text between '$' and '*')."""
    return f"${body}*{reduce(xor, map(ord, body), 0):02X}"


# --- the corpus -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRIES)
def test_corpus_entry(entry: dict[str, Any]) -> None:
    raw = _raw(entry)
    payload = raw if "payload_b64" in entry else raw + b"\r\n"
    if entry["verdict"] == "reject":
        with pytest.raises(NmeaRejected) as exc:
            parse_payload(payload)
        assert exc.value.reason == entry["reject_reason"], exc.value.detail
        assert exc.value.detail
        if "sentence" in entry:
            with pytest.raises(NmeaRejected) as exc:
                parse_sentence(entry["sentence"])
            assert exc.value.reason == entry["reject_reason"]
        return
    fix = parse_sentence(entry["sentence"])
    assert parse_payload(payload) == [fix]
    assert parse_sentence(raw + b"\r\n") == fix
    assert (fix.talker, fix.sentence_type) == (entry["talker"], entry["sentence_type"])
    assert fix.fix_valid is entry["fix_valid"]
    assert fix.fix_quality == entry["fix_quality"]
    for got, want in ((fix.lat, entry["lat"]), (fix.lon, entry["lon"])):
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, abs=TOL)
    assert fix.time_utc == (entry["time_utc"] and dt.time.fromisoformat(entry["time_utc"]))
    assert fix.date == (entry["date"] and dt.date.fromisoformat(entry["date"]))
    assert fix.datetime_utc == (entry["datetime_utc"] and dt.datetime.fromisoformat(entry["datetime_utc"]))
    if fix.datetime_utc is not None:
        assert fix.datetime_utc.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_as_one_payload(name: str) -> None:
    """A whole CRLF file as one MQTT payload: accepted only if every line is, else the first bad line decides."""
    entries = sorted((e for e in CORPUS_DATA["sentences"] if e["file"] == name), key=lambda e: e["line"])
    first_bad = next((e for e in entries if e["verdict"] == "reject"), None)
    payload = (CORPUS / name).read_bytes()
    if first_bad is None:
        assert [f.sentence_type for f in parse_payload(payload)] == [e["sentence_type"] for e in entries]
        return
    with pytest.raises(NmeaRejected) as exc:
        parse_payload(payload)
    assert (exc.value.reason, exc.value.line) == (first_bad["reject_reason"], first_bad["line"])
    assert exc.value.detail.startswith(f"line {first_bad['line']}: ")


@pytest.mark.skipif(CORPUS_DATA is None, reason=f"NMEA corpus not found at {CORPUS}")
def test_corpus_is_complete() -> None:
    entries = CORPUS_DATA["sentences"]
    counts = CORPUS_DATA["counts"]
    assert len(entries) == 53 == counts["accept"] + counts["reject"]
    assert sum(e["verdict"] == "accept" for e in entries) == counts["accept"]
    assert sum(e["verdict"] == "accept" and e["fix_valid"] for e in entries) == counts["accept_fix_valid"]
    assert {e["reject_reason"] for e in entries if e["verdict"] == "reject"} <= REJECT_REASONS


# --- framing and field rules beyond the corpus ----------------------------------------------------------

RMC_OK = "GPRMC,123519.00,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W,A"
GGA_OK = "GPGGA,123519.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "not_nmea"),
        ("\x00\x01\x02", "not_nmea"),
        ("$GP", "not_nmea"),
        ("$gprmc,1*00", "not_nmea"),
        ("junk$GPRMC,1*00", "bad_framing"),
        (_frame(RMC_OK) + " ", "bad_framing"),
        (_frame(RMC_OK)[:-1], "bad_framing"),
        (_frame(RMC_OK)[:-2] + "G0", "bad_framing"),
        (_frame("GPRMCX,1"), "bad_framing"),
        (_frame(RMC_OK + "\t"), "bad_framing"),
        (_frame(RMC_OK + "$GPGGA"), "bad_framing"),
        (_frame(RMC_OK + ",é"), "bad_framing"),
        (_frame(RMC_OK)[:-3], "missing_checksum"),
        (_frame(RMC_OK)[1:], "missing_start"),
        (_frame("GPGGA"), "field_count"),
        (_frame(GGA_OK.rsplit(",", 1)[0]), "field_count"),
        (_frame("GPGSV,3,1,11,03,03,111,00"), "unsupported_type"),
        (_frame("PGRME,15.0,M,45.0,M,25.0,M"), "unsupported_type"),
        (_frame("PGRMC,1"), "unsupported_type"),
    ],
)
def test_framing_rejections(line: str, reason: str) -> None:
    with pytest.raises(NmeaRejected) as exc:
        parse_sentence(line)
    assert exc.value.reason == reason, exc.value.detail


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("123519.00", "246000"),  # hour 24
        ("123519.00", "1235"),
        ("123519.00", "123519."),
        ("4807.038,N", "4860.000,N"),  # 60 minutes
        ("4807.038,N", "9100.000,N"),
        ("4807.038,N", "480.0380,N"),  # degrees must be two digits
        ("4807.038,N", "4807,N"),  # pynmea2 needs the decimal point too
        ("4807.038,N", "4807.038,E"),
        ("4807.038,N", "4807.038,"),
        ("4807.038,N", ","),  # half a position
        ("01131.000,E", "18100.000,E"),
        ("01131.000,E", "1131.000,E"),
        ("022.4", "nan"),
        ("022.4", "1e3"),
        ("022.4", "-1.0"),
        ("084.4", "361.0"),
        ("230394", "320194"),
        ("230394", "2303-4"),
        (",A,4807", ",X,4807"),
        (",A,4807", ",,4807"),
        ("W,A", "W,X"),
    ],
)
def test_rmc_field_rejections(old: str, new: str) -> None:
    assert old in RMC_OK
    with pytest.raises(NmeaRejected) as exc:
        parse_sentence(_frame(RMC_OK.replace(old, new, 1)))
    assert exc.value.reason == "bad_field", exc.value.detail
    assert exc.value.detail


@pytest.mark.parametrize(
    ("old", "new"), [(",1,08,", ",9,08,"), (",1,08,", ",,08,"), (",08,", ",8a,"), ("545.4", "5-4")]
)
def test_gga_field_rejections(old: str, new: str) -> None:
    with pytest.raises(NmeaRejected) as exc:
        parse_sentence(_frame(GGA_OK.replace(old, new, 1)))
    assert exc.value.reason == "bad_field", exc.value.detail


def test_typed_values_and_units() -> None:
    rmc = parse_sentence(_frame(RMC_OK))
    assert rmc.speed_mps == pytest.approx(22.4 * 1852 / 3600)
    assert rmc.course_deg == pytest.approx(84.4)
    assert (rmc.hdop, rmc.satellites, rmc.altitude_m, rmc.fix_quality) == (None, None, None, None)
    gga = parse_sentence(_frame(GGA_OK))
    assert (gga.hdop, gga.satellites, gga.altitude_m, gga.fix_quality) == (0.9, 8, 545.4, 1)
    assert (gga.speed_mps, gga.course_deg, gga.date, gga.datetime_utc) == (None, None, None, None)
    assert parse_sentence(_frame(GGA_OK.replace("545.4", "-12.5"))).altitude_m == -12.5


def test_lowercase_checksum_is_accepted() -> None:
    # The first variant whose checksum has a hex letter in it.
    line = next(x for n in range(100) if not (x := _frame(RMC_OK.replace("123519.00", f"1235{n:02d}")))[-2:].isdigit())
    assert parse_sentence(line[:-2] + line[-2:].lower()) == parse_sentence(line)


@pytest.mark.parametrize(("yy", "year"), [("80", 1980), ("99", 1999), ("00", 2000), ("69", 2069), ("79", 2079)])
def test_two_digit_year_pivot(yy: str, year: int) -> None:
    fix = parse_sentence(_frame(RMC_OK.replace("230394", "2303" + yy)))
    assert fix.date == dt.date(year, 3, 23)
    assert fix.datetime_utc == dt.datetime(year, 3, 23, 12, 35, 19, tzinfo=UTC)


@pytest.mark.parametrize("nav_status", ["S", "C", "U", "V", ""])
def test_nmea_410_nav_status_does_not_affect_validity(nav_status: str) -> None:
    assert parse_sentence(_frame(f"{RMC_OK},{nav_status}")).fix_valid


def test_time_fraction_is_exact() -> None:
    fix = parse_sentence(_frame(RMC_OK.replace("123519.00", "123519.1234567")))
    assert fix.time_utc == dt.time(12, 35, 19, 123456)  # truncated to microseconds, no float rounding


def test_binary_bytes_are_not_nmea() -> None:
    with pytest.raises(NmeaRejected) as exc:
        parse_sentence(b"\xa0\xa2\x00\x29")
    assert exc.value.reason == "not_nmea"


# --- parse_payload ----------------------------------------------------------------------------------------


def test_payload_with_several_sentences() -> None:
    payload = f"{_frame(RMC_OK)}\r\n{_frame(GGA_OK)}\r\n".encode()
    assert [f.sentence_type for f in parse_payload(payload)] == ["RMC", "GGA"]
    assert parse_payload(payload.replace(b"\r\n", b"\n")) == parse_payload(payload)


@pytest.mark.parametrize("payload", [b"", b"\r\n", b"\r\n\r\n"])
def test_empty_payload_is_not_nmea(payload: bytes) -> None:
    with pytest.raises(NmeaRejected) as exc:
        parse_payload(payload)
    assert exc.value.reason == "not_nmea"


def test_one_bad_line_rejects_the_payload_and_names_it() -> None:
    bad = _frame(GGA_OK)[:-2] + "00"
    with pytest.raises(NmeaRejected) as exc:
        parse_payload(f"{_frame(RMC_OK)}\r\n{bad}\r\n".encode())
    assert (exc.value.reason, exc.value.line) == ("checksum_mismatch", 2)
    assert exc.value.detail.startswith("line 2: checksum *00")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=120) | st.text(max_size=120).map(str.encode))
def test_any_payload_parses_or_is_rejected_with_a_reason(payload: bytes) -> None:
    try:
        fixes = parse_payload(payload)
    except NmeaRejected as exc:
        assert exc.reason in REJECT_REASONS
        assert exc.detail
    else:
        assert fixes


# --- round trips and mutations ------------------------------------------------------------------------------


@st.composite
def _hhmmss(draw: st.DrawFn) -> tuple[str, dt.time]:
    t = draw(st.times())
    digits = draw(st.integers(0, 6))
    micro = t.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits)
    frac = f".{t.microsecond:06d}"[: digits + 1] if digits else ""
    return f"{t:%H%M%S}{frac}", t.replace(microsecond=micro)


@st.composite
def _position(draw: st.DrawFn) -> tuple[list[str], float | None, float | None]:
    if draw(st.integers(0, 9)) == 0:
        return ["", "", "", ""], None, None
    fields: list[str] = []
    values: list[float] = []
    for width, limit, dirs in ((2, 90, "NS"), (3, 180, "EW")):
        deg = draw(st.integers(0, limit - 1))
        places = draw(st.integers(1, 6))
        minutes = draw(st.integers(0, 60 * 10**places - 1))
        text = f"{deg:0{width}d}{minutes // 10**places:02d}.{minutes % 10**places:0{places}d}"
        hemi = draw(st.sampled_from(dirs))
        fields += [text, hemi]
        value = deg + minutes / 10**places / 60
        values.append(-value if hemi in "SW" else value)
    return fields, values[0], values[1]


_decimal = st.integers(0, 99999).map(lambda n: f"{n // 100}.{n % 100:02d}")


@settings(max_examples=150, deadline=None)
@given(
    hhmmss=_hhmmss(),
    position=_position(),
    status=st.sampled_from("AV"),
    speed=st.none() | _decimal,
    course=st.none() | st.integers(0, 35999).map(lambda n: f"{n // 100}.{n % 100:02d}"),
    date=st.none() | st.dates(dt.date(1980, 1, 1), dt.date(2079, 12, 31)),
    mode=st.sampled_from([None, "", *"ADEFMNPRS"]),
)
def test_rmc_round_trip(
    *,
    hhmmss: tuple[str, dt.time],
    position: tuple[list[str], float | None, float | None],
    status: str,
    speed: str | None,
    course: str | None,
    date: dt.date | None,
    mode: str | None,
) -> None:
    (time_text, time_utc), (pos_fields, lat, lon) = hhmmss, position
    fields = [time_text, status, *pos_fields, speed or "", course or "", f"{date:%d%m%y}" if date else "", "", ""]
    fix = parse_sentence(_frame(",".join(["GNRMC", *fields, *([mode] if mode is not None else [])])))
    assert (fix.talker, fix.sentence_type, fix.time_utc, fix.date) == ("GN", "RMC", time_utc, date)
    assert fix.fix_valid is (status == "A" and lat is not None and mode in (None, "", *"ADFRP"))
    assert (fix.lat is None, fix.lon is None) == (lat is None, lon is None)
    if lat is not None:
        assert fix.lat == pytest.approx(lat, abs=1e-9)
        assert fix.lon == pytest.approx(lon, abs=1e-9)
    assert fix.datetime_utc == (dt.datetime.combine(date, time_utc, tzinfo=UTC) if date else None)
    assert fix.speed_mps == (None if speed is None else pytest.approx(float(speed) * KNOTS_TO_MPS))
    assert fix.course_deg == (None if course is None else pytest.approx(float(course)))


@settings(max_examples=150, deadline=None)
@given(
    hhmmss=_hhmmss(),
    position=_position(),
    quality=st.integers(0, 8),
    satellites=st.none() | st.integers(0, 99),
    hdop=st.none() | _decimal,
    altitude_dm=st.none() | st.integers(-99999, 999999),
)
def test_gga_round_trip(
    *,
    hhmmss: tuple[str, dt.time],
    position: tuple[list[str], float | None, float | None],
    quality: int,
    satellites: int | None,
    hdop: str | None,
    altitude_dm: int | None,
) -> None:
    (time_text, time_utc), (pos_fields, lat, lon) = hhmmss, position
    alt = "" if altitude_dm is None else f"{altitude_dm / 10:.1f}"
    sats = "" if satellites is None else f"{satellites:02d}"
    fields = [time_text, *pos_fields, str(quality), sats, hdop or "", alt, "M", "-3.1", "M", "", ""]
    fix = parse_sentence(_frame(",".join(["BDGGA", *fields])))
    assert (fix.talker, fix.sentence_type, fix.time_utc, fix.fix_quality) == ("BD", "GGA", time_utc, quality)
    assert fix.fix_valid is (1 <= quality <= 5 and lat is not None)
    assert (fix.lat is None) == (lat is None)
    if lat is not None:
        assert (fix.lat, fix.lon) == (pytest.approx(lat, abs=1e-9), pytest.approx(lon, abs=1e-9))
    assert fix.satellites == satellites
    assert fix.hdop == (None if hdop is None else float(hdop))
    assert fix.altitude_m == (None if altitude_dm is None else pytest.approx(altitude_dm / 10))


VALID_LINES = [
    _frame(RMC_OK),
    _frame(GGA_OK),
    "$GNRMC,091232.000,A,4813.0535,N,00824.8697,E,0.00,0.00,101015,,,A,V*06",
    "$GNGGA,074155.799,3114.8770,N,12135.2463,E,1,05,1.3,156.9,M,8.3,M,,0000,4.9*77",
    "$GPRMC,,V,,,,,,,,,,N*53",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID_LINES), st.data())
def test_single_character_change_is_rejected_or_harmless(line: str, data: st.DataObject) -> None:
    """The XOR checksum catches every single-character change in the body; only the hex case may change."""
    original = parse_sentence(line)
    index = data.draw(st.integers(0, len(line) - 1))
    char = data.draw(st.characters(codec="utf-8") | st.sampled_from("$*,.0123456789ABCDEFNSEWAV\r\n"))
    assume(char != line[index])
    mutated = line[:index] + char + line[index + 1 :]
    for candidate in (mutated, mutated.encode()):
        try:
            fix = parse_sentence(candidate)
        except NmeaRejected as exc:
            assert exc.reason in REJECT_REASONS
        else:
            assert fix == original


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(VALID_LINES), st.data())
def test_single_byte_change_is_rejected_or_harmless(line: str, data: st.DataObject) -> None:
    raw = bytearray(line.encode())
    original = parse_sentence(line)
    index = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    raw[index] = byte
    try:
        fix = parse_payload(bytes(raw))
    except NmeaRejected as exc:
        assert exc.reason in REJECT_REASONS
    else:
        assert fix == [original]


# --- merge_fixes ---------------------------------------------------------------------------------------------

RMC_T1 = "GNRMC,074155.799,A,3114.8770,N,12135.2463,E,0.30,4.94,250215,,,A"
GGA_T1 = "GNGGA,074155.799,3114.8770,N,12135.2463,E,1,05,1.3,156.9,M,8.3,M,,0000"
RMC_T2 = "GNRMC,074156.799,A,3114.8800,N,12135.2500,E,1.00,5.00,250215,,,A"
GGA_T2 = "GNGGA,074156.799,3114.8800,N,12135.2500,E,2,07,0.9,157.0,M,8.3,M,,0000"


def _fixes(*bodies: str) -> list[NmeaFix]:
    return [parse_sentence(_frame(b)) for b in bodies]


def test_merge_rmc_and_gga_of_the_same_epoch() -> None:
    for order in ((RMC_T1, GGA_T1), (GGA_T1, RMC_T1)):
        point = merge_fixes(_fixes(*order))
        assert point == TrackPoint(
            time=dt.datetime(2015, 2, 25, 7, 41, 55, 799000, tzinfo=UTC),
            lat=pytest.approx(31.24795, abs=TOL),
            lon=pytest.approx(121.5874383, abs=TOL),
            speed_mps=pytest.approx(0.30 * KNOTS_TO_MPS),
            course_deg=4.94,
            hdop=1.3,
            satellites=5,
            altitude_m=156.9,
            fix_quality=1,
            fix_valid=True,
        )


def test_merge_rmc_alone_and_gga_alone() -> None:
    rmc_only = merge_fixes(_fixes(RMC_T1))
    assert rmc_only is not None
    assert rmc_only.time == dt.datetime(2015, 2, 25, 7, 41, 55, 799000, tzinfo=UTC)
    assert (rmc_only.hdop, rmc_only.satellites, rmc_only.altitude_m, rmc_only.fix_quality) == (None,) * 4
    gga_only = merge_fixes(_fixes(GGA_T1))
    assert gga_only is not None
    assert (gga_only.time, gga_only.speed_mps, gga_only.course_deg) == (None, None, None)
    assert (gga_only.fix_quality, gga_only.satellites) == (1, 5)
    assert gga_only.lat == pytest.approx(31.24795, abs=TOL)


def test_merge_takes_the_latest_epoch_and_never_mixes_epochs() -> None:
    point = merge_fixes(_fixes(RMC_T1, GGA_T1, RMC_T2, GGA_T2))
    assert point is not None
    assert (point.time, point.fix_quality, point.satellites) == (
        dt.datetime(2015, 2, 25, 7, 41, 56, 799000, tzinfo=UTC),
        2,
        7,
    )
    mixed = merge_fixes(_fixes(RMC_T1, GGA_T2))
    assert mixed is not None
    assert (mixed.time, mixed.speed_mps, mixed.fix_quality) == (None, None, 2)  # the later GGA, alone


def test_merge_skips_unusable_epochs() -> None:
    lost = (RMC_T2.replace(",A,3114", ",V,3114"), GGA_T2.replace(",2,07,", ",0,07,"))
    point = merge_fixes(_fixes(RMC_T1, GGA_T1, *lost))
    assert point is not None
    assert point.time == dt.datetime(2015, 2, 25, 7, 41, 55, 799000, tzinfo=UTC)
    assert merge_fixes(_fixes(*lost)) is None


def test_merge_does_not_trust_an_epoch_whose_sentences_disagree() -> None:
    assert merge_fixes(_fixes(RMC_T1, GGA_T1.replace(",1,05,", ",6,05,"))) is None
    assert merge_fixes(_fixes(RMC_T1.replace(",,,A", ",,,N"), GGA_T1)) is None


def test_merge_nothing() -> None:
    assert merge_fixes([]) is None
    assert merge_fixes(_fixes("GPRMC,,V,,,,,,,,,,N", "GPGGA,201716.684,,,,,0,00,,,M,0.0,M,,0000")) is None
