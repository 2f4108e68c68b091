"""Also checked in the security issue: date ranges a client may ask for are capped (no answer carries a decade)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_coverage_ranges_are_capped(client: TestClient, as_user) -> None:
    leader = as_user("api-leader")
    decade = client.get("/coverage", headers=leader, params={"day_from": "2016-01-01", "day_to": "2026-01-01"})
    assert decade.status_code == 422 and decade.json()["type"].endswith("/bad-range"), decade.text
    backwards = client.get("/coverage", headers=leader, params={"day_from": "2026-02-01", "day_to": "2026-01-01"})
    assert backwards.status_code == 422
    assert client.get("/coverage", headers=leader, params={"day_from": "2026-01-01",
                                                           "day_to": "2026-12-31"}).status_code == 200


def test_track_playback_ranges_are_capped(client: TestClient, as_user) -> None:
    r = client.get("/patrol/tracks/some-device", headers=as_user("api-leader"),
                   params={"start": "2020-01-01T00:00:00+08:00", "end": "2026-01-01T00:00:00+08:00"})
    assert r.status_code == 422 and r.json()["type"].endswith("/bad-range"), r.text
