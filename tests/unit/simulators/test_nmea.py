"""The trackers' NMEA sentences: valid checksums, and the gateway's strict parser reads the same fix back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway import nmea as parser
from simulators import nmea


def test_checksum_of_a_known_sentence() -> None:
    t = datetime(2026, 11, 24, 1, 20, tzinfo=UTC)
    raw = nmea.rmc(t, 116.9432, 31.4611, 5.83 / nmea.KNOTS_PER_MPS, 87.5) + nmea.gga(
        t, 116.9432, 31.4611, satellites=9, hdop=0.9, altitude_m=32.5)
    # The same bytes as the real receiver's pair in tests/fixtures/payloads/gps-tracker/cases.yaml.
    assert raw == ("$GNRMC,012000.000,A,3127.6660,N,11656.5920,E,5.83,87.5,241126,,,A*7F\r\n"
                   "$GNGGA,012000.000,3127.6660,N,11656.5920,E,1,09,0.9,32.5,M,0.0,M,,*4F\r\n")


@pytest.mark.parametrize(("lon", "lat"), [(116.94, 31.46), (116.9999999999, 31.99999999), (-73.98, -40.5),
                                          (0.0001, 0.0)])
def test_the_gateway_parser_accepts_and_reads_back_the_fix(lon: float, lat: float) -> None:
    t = datetime(2026, 3, 1, 23, 59, 59, 123000, tzinfo=UTC)
    raw = (nmea.rmc(t, lon, lat, 8.0, 271.3) + nmea.gga(t, lon, lat, satellites=11, hdop=1.1)).encode()
    fixes = parser.parse_payload(raw)
    point = parser.merge_fixes(fixes)
    assert point is not None and point.fix_valid
    assert point.lon == pytest.approx(lon, abs=2e-6) and point.lat == pytest.approx(lat, abs=2e-6)
    assert point.time == t
    assert point.speed_mps == pytest.approx(8.0, abs=0.01) and point.satellites == 11


def test_every_sentence_checksum_is_the_xor_of_its_body() -> None:
    line = nmea.rmc(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 116.95, 31.47, 3.0, 12.0)
    body, cs = line[1:].rstrip("\r\n").split("*")
    x = 0
    for ch in body:
        x ^= ord(ch)
    assert cs == f"{x:02X}"
