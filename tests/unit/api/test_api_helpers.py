"""Pure helpers of the API: media sniffing, feed event ids, case-list cursors, evaluation periods."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.errors import ApiError
from api.queries.cases import decode_cursor, encode_cursor
from api.queries.feed import parse_event_id
from api.routes.media import sniff
from api.routes.scoring import period_bounds


@pytest.mark.parametrize(("head", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"#!AMR\n", "audio/amr"),
    (b"OggS\x00\x02", "audio/ogg"),
    (b"ID3\x04\x00", "audio/mpeg"),
    (b"\x00\x00\x00\x20ftypM4A \x00", "audio/mp4"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "audio/webm"),  # a MediaRecorder's WebM (the handheld's voice)
    (b"<html>", None),
    (b"", None),
])
def test_sniff(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


@pytest.mark.parametrize(("value", "expected"), [
    ("812-40", (812, 40)), (" 9-1 ", (9, 1)), ("", None), (None, None), ("x-1", None), ("12", None), ("1-2-3", None),
])
def test_parse_event_id(value: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_event_id(value) == expected


def test_cursor_round_trip_and_garbage() -> None:
    at = datetime(2026, 11, 24, 1, 2, 3, 456789, tzinfo=UTC)
    case_id = "0b9c1a52-3f0e-4d5e-9a57-7f4f0c7d2a11"
    assert decode_cursor(encode_cursor(at, case_id)) == (at, case_id)
    with pytest.raises(ApiError):
        decode_cursor("garbage")


@pytest.mark.parametrize(("period", "day", "first", "last"), [
    ("day", date(2026, 11, 24), date(2026, 11, 24), date(2026, 11, 25)),
    ("xun", date(2026, 11, 24), date(2026, 11, 21), date(2026, 12, 1)),
    ("xun", date(2026, 2, 5), date(2026, 2, 1), date(2026, 2, 11)),
    ("month", date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1)),
    ("year", date(2026, 6, 1), date(2026, 1, 1), date(2027, 1, 1)),
])
def test_period_bounds_in_city_time(period: str, day: date, first: date, last: date) -> None:
    start, end = period_bounds(period, day)
    assert (start.date(), end.date(), start.utcoffset().total_seconds()) == (first, last, 8 * 3600)
