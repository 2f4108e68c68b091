"""Hand-built tracks through the real stack: `city load` (streets → segments, plans) → cg.tracks → a real worker
(patrol consumer + sinks + case builder) restarted half-way → exact coverage rows, rejects, patrol alarms, no
case; then the API's /patrol routes over the same rows.

The network is the unit tests' (tests/unit/patrol/helpers.py) placed at lon 118.3+, away from other tests' cells.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import psycopg
import pytest
from confluent_kafka import Producer

from civicgrid.bus import records, topics
from civicgrid.settings import Settings
from civicgrid.store.city import load_city
from tests.support.services import start_service, stop_service, wait_for
from tests.unit.patrol.helpers import Walker, frame

CST = timezone(timedelta(hours=8))
# Expected from the walk below (worked out by hand from the pass rule; see the unit tests for each piece):
# the whole plan (M:001 ×5, M:002 ×6, S1:001 ×4, S1:002 ×5), then S1:002 down (×6), a detour east along M
# (M:002 ×7) for 1,000 s at x = 250 m (outside RG-A: raise after 900 s), and back (M:002 ×8).
PASSES = {"M:001": 5, "M:002": 8, "S1:001": 4, "S1:002": 6}


@dataclass
class PatrolCity:
    tag: str
    at: object
    grid_a: str
    cells: tuple[str, str]
    inspector_id: int


@pytest.fixture(scope="module")
def patrol_city(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PatrolCity]:
    tag = uuid.uuid4().hex[:6]
    at = frame(118.3 + random.random() * 0.2, 32.3)
    street = 520 + random.randrange(70)  # street codes 001-599; others use 001, 060-089, 400-499
    cells = (f"341523{street:03d}00101", f"341523{street:03d}00102")
    grid_a, grid_b = f"RGP-A-{tag}", f"RGP-B-{tag}"

    def ring(x0: float, x1: float) -> list[list[float]]:
        return [list(at(x0, -150)), list(at(x1, -150)), list(at(x1, 150)), list(at(x0, 150)), list(at(x0, -150))]

    out = tmp_path_factory.mktemp("patrol-city")
    (out / "cells.geojson").write_bytes(orjson.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": cells[0], "responsibility_grid": grid_a},
         "geometry": {"type": "Polygon", "coordinates": [ring(-100, 160)]}},
        {"type": "Feature", "properties": {"code": cells[1], "responsibility_grid": grid_b},
         "geometry": {"type": "Polygon", "coordinates": [ring(160, 400)]}}]}))
    streets = [(f"P{tag}-M", "main", (0, 0), (300, 0)), (f"P{tag}-S1", "secondary", (100, -100), (100, 100)),
               (f"P{tag}-S2", "secondary", (200, -100), (200, 100))]
    (out / "streets.geojson").write_bytes(orjson.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": sid, "name": sid, "road_class": rc},
         "geometry": {"type": "LineString", "coordinates": [list(at(*a)), list(at(*b))]}}
        for sid, rc, a, b in streets]}))
    (out / "city.json").write_bytes(orjson.dumps({
        "grids": [{"id": grid_a, "name": "A"}, {"id": grid_b, "name": "B"}],
        "inspectors": [{"username": f"patrol-{tag}", "display_name": "巡查员", "responsibility_grid_id": grid_a}]}))
    with psycopg.connect(settings.db.url.get_secret_value(), autocommit=True) as conn:
        for _ in range(2):  # idempotent
            counts = load_city(conn, out)
        assert counts["road_segments"] == 7 and counts["patrol_plans"] == 1
        (uid,) = conn.execute("SELECT id FROM users WHERE username = %s", (f"patrol-{tag}",)).fetchone()
        plans = conn.execute("SELECT responsibility_grid_id, window_start::text, window_end::text, main_road_passes, "
                             "secondary_road_passes FROM patrol_plans WHERE inspector_user_id = %s", (uid,)).fetchall()
        assert plans == [(grid_a, "07:30:00", "18:30:00", 5, 4)]
        segs = dict(conn.execute("SELECT id, responsibility_grid_id FROM road_segments WHERE street_id LIKE %s",
                                 (f"P{tag}-%",)).fetchall())
    assert {k.split("-", 1)[1]: v for k, v in segs.items()} == {
        "M:001": grid_a, "M:002": grid_a, "M:003": grid_b, "S1:001": grid_a, "S1:002": grid_a, "S2:001": grid_b,
        "S2:002": grid_b}
    yield PatrolCity(tag, at, grid_a, cells, uid)
    # The database is shared: other tests rank every grid that has cells (scoring by region).
    with psycopg.connect(settings.db.url.get_secret_value(), autocommit=True) as conn:
        conn.execute("UPDATE grid_cells SET responsibility_grid_id = NULL WHERE code = ANY(%s)", (list(cells),))


def produce(settings: Settings, fixes, extra: dict | None = None) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 5})
    for f in fixes:
        data = {"lon": f.lon, "lat": f.lat, "fix_valid": f.valid, "hdop": f.hdop, **(extra or {})}
        ts = datetime.fromtimestamp(f.t, UTC)
        rec = records.device_record(device_id=f.device_id, kind="handheld", profile="handheld", channel="track",
                                    seq=f.seq, ts=ts, received_at=ts, data=data,
                                    links={"component_code": None, "grid_cell_code": None,
                                           "inspector_user_id": f.inspector_user_id})
        producer.produce(topics.TRACKS, records.dumps(rec), f.device_id.encode())
    assert producer.flush(30) == 0


@pytest.fixture
def patrol_worker(settings: Settings, tmp_path: Path) -> Iterator:
    streams = settings.streams.model_copy(update={"app_id": f"patrol-{uuid.uuid4().hex[:6]}",
                                                  "roles": ("patrol", "sinks", "cases")})
    patrol = settings.patrol.model_copy(update={"offline_check_s": 0.0, "batch": 50})
    worker = settings.model_copy(update={"streams": streams, "patrol": patrol})
    procs = []

    def start():
        procs.append(start_service("worker", worker, tmp_path / "worker.log"))
        return procs[-1]

    yield start, tmp_path / "worker.log"
    for p in procs:
        stop_service(p)


def test_tracks_to_coverage_rejects_and_alarms_across_a_restart(settings: Settings, db: psycopg.Connection,
                                                                 patrol_city: PatrolCity, patrol_worker) -> None:
    start, log = patrol_worker
    c = patrol_city
    device = f"hh-{c.tag}"
    yesterday = datetime.now(CST).date() - timedelta(days=1)
    t0 = datetime(yesterday.year, yesterday.month, yesterday.day, 8, 0, tzinfo=CST).timestamp()
    w = Walker(t=t0, device=device, inspector=c.inspector_id, at=c.at)
    w.to(200, 0).to(0, 0).to(200, 0).to(0, 0).to(200, 0).to(100, 0)
    w.to(100, 100).to(100, -100).to(100, 100).to(100, -100).to(100, 100)
    first = list(w.fixes)
    w.to(100, 0).to(250, 0, speed=2.5).stay(1000).to(100, 0, speed=2.5)
    second = w.fixes[len(first):]
    noisy = [dataclasses.replace(f, seq=10_000 + k, t=f.t + 3, hdop=9.5) for k, f in enumerate(first[5:8])]
    dup = second[3]

    proc = start()
    produce(settings, sorted(first + noisy, key=lambda f: f.t))
    wait_for(lambda: db.execute("SELECT count(*) FROM track_points WHERE device_id = %s", (device,)).fetchone()[0]
             == len(first), 90, "the first half stored", proc, log)
    stop_service(proc)  # a restart half-way: state and positions come back from the database
    proc = start()
    produce(settings, [*second[:4], dup, *second[4:]])

    def row():
        r = db.execute("SELECT segments_required, segments_met, plan_met_pct, cells_visited, detail, "
                       "responsibility_grid_id, device_id, by_class, inside_grid_s, outside_grid_s, distance_m "
                       "FROM patrol_coverage WHERE inspector_user_id = %s AND day = %s",
                       (c.inspector_id, yesterday)).fetchone()
        return r if r and r[4]["points"] == len(w.fixes) else None

    r = wait_for(row, 90, "coverage of every clean fix", proc, log)
    passes = {k.split("-", 1)[1]: v for k, v in r[4]["passes"].items()}
    assert {k: v for k, v in passes.items() if k in PASSES} == PASSES
    assert r[:4] == (4, 4, 100.0, 2) and r[5:7] == (c.grid_a, device)
    assert r[7] == {"main": {"required_passes": 5, "segments": 2, "segments_met": 2},
                    "secondary": {"required_passes": 4, "segments": 2, "segments_met": 2}}
    assert r[9] > 1000 and r[8] > 0
    rejects = db.execute("SELECT seq, reason FROM track_rejects WHERE device_id = %s ORDER BY seq",
                         (device,)).fetchall()
    assert rejects == [(dup.seq, "duplicate"), (10_000, "poor_precision"), (10_001, "poor_precision"),
                       (10_002, "poor_precision")]
    assert db.execute("SELECT count(*) FROM track_points WHERE device_id = %s AND segment_id IS NOT NULL "
                      "AND grid_cell_code = ANY(%s)", (device, list(c.cells))).fetchone()[0] == len(w.fixes)

    alarms = wait_for(lambda: db.execute("SELECT rule, action FROM alarms WHERE device_id = %s ORDER BY time, action "
                                         "DESC", (device,)).fetchall() or None, 30, "patrol alarms stored")
    assert alarms == [("patrol_outside_grid", "raise"), ("patrol_outside_grid", "clear")]
    heat = dict(db.execute("SELECT grid_cell_code, visits FROM patrol_cell_visits WHERE device_id = %s",
                           (device,)).fetchall())
    assert heat == {c.cells[0]: 5, c.cells[1]: 4}
    assert db.execute("SELECT count(*) FROM case_evidence WHERE device_id = %s", (device,)).fetchone()[0] == 0

    # The API over the same rows.
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.users import create_user

    create_user(db, f"lead-{c.tag}", "leader", password="correct-horse-battery")
    with TestClient(create_app(settings, background=False)) as client:
        token = client.post("/auth/token", data={"username": f"lead-{c.tag}", "password": "correct-horse-battery"})
        h = {"Authorization": f"Bearer {token.json()['access_token']}"}
        (cov,) = client.get("/patrol/coverage", params={"day": str(yesterday), "inspector_id": c.inspector_id},
                            headers=h).json()
        assert {k: cov[k] for k in ("inspector_name", "responsibility_grid_id", "plan_met_pct", "segments_required",
                                    "segments_met", "cells_visited", "device_id")} == {
            "inspector_name": "巡查员", "responsibility_grid_id": c.grid_a, "plan_met_pct": 100.0,
            "segments_required": 4, "segments_met": 4, "cells_visited": 2, "device_id": device}
        grids = {g["responsibility_grid_id"]: g for g in client.get("/patrol/coverage/grids",
                                                                    params={"day": str(yesterday)}, headers=h).json()}
        g = grids[c.grid_a]
        assert (g["inspectors"], g["plan_met_pct"], g["cells_visited"], g["cells_in_grid"]) == (1, 100.0, 1, 1)
        start = datetime.fromtimestamp(t0 - 60, UTC).isoformat()
        end = datetime.fromtimestamp(w.t + 60, UTC).isoformat()
        track = client.get(f"/patrol/tracks/{device}", params={"start": start, "end": end, "max_points": 20},
                           headers=h).json()
        props = track["properties"]
        assert track["geometry"]["type"] == "LineString" and props["points_total"] == len(w.fixes)
        assert props["simplified"] and 2 <= props["points_returned"] <= 20
        assert len(props["times"]) == len(track["geometry"]["coordinates"]) == props["points_returned"]
        assert props["times"] == sorted(props["times"])
        full = client.get(f"/patrol/tracks/{device}", params={"start": start, "end": end}, headers=h).json()
        assert full["properties"]["points_returned"] == len(w.fixes) and not full["properties"]["simplified"]
        heat = client.get("/patrol/heatmap", params={"day": str(yesterday), "grid_prefix": c.cells[0][:12]},
                          headers=h).json()
        assert heat == [{"grid_cell_code": c.cells[0], "visits": 5, "inspectors": 1},
                        {"grid_cell_code": c.cells[1], "visits": 4, "inspectors": 1}]
        assert client.get("/patrol/heatmap", params={"grid_prefix": "12%"}, headers=h).status_code == 422
